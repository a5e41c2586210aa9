import { useEffect, useState } from 'react';
import { useAdminReportsStore, type AuditFilterForm } from '../../stores/admin-reports.store.ts';
import { useAdminUsersStore } from '../../stores/admin-users.store.ts';
import { ErrorNote } from '../ErrorNote.tsx';

/** The actions the filter offers, in words; the log may hold others, listed under "Any action". */
const ACTIONS: Array<{ value: string; label: string }> = [
  { value: '', label: 'Any action' },
  { value: 'role.change', label: 'Role changes' },
  { value: 'member.remove', label: 'Access removed' },
  { value: 'invite.create,invite.resend,invite.revoke,invite.accept', label: 'Invitations' },
  { value: 'event.create,event.update', label: 'Events' },
  { value: 'consent.set', label: 'Consent' },
  { value: 'roster.import,student.create,student.update,student.erased', label: 'Students and rosters' },
  { value: 'class.create,family.create,family.erased', label: 'Classes and families' },
  { value: 'media.published,media.erased', label: 'Publishing' },
];

/** The school's audit log: who did what, newest first, filtered by action, person and days, a page at a time. */
export function AuditSection(): React.JSX.Element {
  const entries = useAdminReportsStore((s) => s.entries);
  const nextCursor = useAdminReportsStore((s) => s.nextCursor);
  const error = useAdminReportsStore((s) => s.auditError);
  const busy = useAdminReportsStore((s) => s.busy);
  const initial = useAdminReportsStore((s) => s.filters);
  const filter = useAdminReportsStore((s) => s.filter);
  const more = useAdminReportsStore((s) => s.more);
  const members = useAdminUsersStore((s) => s.members);
  const loadMembers = useAdminUsersStore((s) => s.load);
  const [form, setForm] = useState<AuditFilterForm>(initial);

  useEffect(() => {
    void filter(useAdminReportsStore.getState().filters);
    if (!useAdminUsersStore.getState().members) void loadMembers();
  }, [filter, loadMembers]);

  const set = (field: keyof AuditFilterForm) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) => setForm((f) => ({ ...f, [field]: e.target.value }));

  return (
    <section aria-label="Audit log">
      <form
        className="inline-form"
        aria-label="Filter the audit log"
        onSubmit={(e) => {
          e.preventDefault();
          void filter(form);
        }}
      >
        <label>
          Action
          <select value={form.action} onChange={set('action')}>
            {ACTIONS.map((a) => (
              <option key={a.value} value={a.value}>
                {a.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Person
          <select value={form.actor} onChange={set('actor')}>
            <option value="">Anyone</option>
            {(members ?? []).map((m) => (
              <option key={m.userId} value={m.userId}>
                {m.name || m.email}
              </option>
            ))}
          </select>
        </label>
        <label>
          From
          <input type="date" value={form.from} onChange={set('from')} />
        </label>
        <label>
          To
          <input type="date" value={form.to} onChange={set('to')} />
        </label>
        <button type="submit" className="primary" disabled={busy}>
          Show
        </button>
      </form>
      {error ? <ErrorNote error={error} /> : null}
      {entries && entries.length === 0 ? <p className="muted">Nothing recorded matches these filters.</p> : null}
      {entries && entries.length > 0 ? (
        <table className="admin-table" aria-label="Audit entries">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>Action</th>
              <th>What</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((entry) => (
              <tr key={entry.id}>
                <td>{new Date(entry.at).toLocaleString()}</td>
                <td>{entry.actor ? entry.actor.name || entry.actor.email : <span className="muted">the service</span>}</td>
                <td>
                  <code>{entry.action}</code>
                </td>
                <td>{entry.summary}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {nextCursor ? (
        <button type="button" disabled={busy} onClick={() => void more()}>
          Older entries
        </button>
      ) : null}
    </section>
  );
}
