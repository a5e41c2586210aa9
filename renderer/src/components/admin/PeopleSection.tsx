import { useEffect, useState } from 'react';
import type { AdminConsentPurpose, AdminFamily, AdminStudent } from '../../../../app/ipc/admin-contract.ts';
import { useAdminPeopleStore } from '../../stores/admin-people.store.ts';
import { useAdminUsersStore } from '../../stores/admin-users.store.ts';
import { ErrorNote } from '../ErrorNote.tsx';
import { ConsentHistoryDrawer } from './ConsentHistoryDrawer.tsx';
import { InvitesList } from './InvitesList.tsx';
import { RosterImport } from './RosterImport.tsx';

const PURPOSES: Array<{ purpose: AdminConsentPurpose; label: string }> = [
  { purpose: 'publish', label: 'Publish' },
  { purpose: 'yearbook', label: 'Yearbook' },
];

/** A student's consent per purpose, as buttons that grant or withdraw it (opt-in: no answer is no). */
function ConsentToggles({ student }: { student: AdminStudent }): React.JSX.Element {
  const setConsent = useAdminPeopleStore((s) => s.setConsent);
  const busy = useAdminPeopleStore((s) => s.busy);
  return (
    <span className="consent-badges" aria-label={`Consent of ${student.name}`}>
      {PURPOSES.map(({ purpose, label }) => {
        const granted = student.consent?.[purpose].granted === true;
        return (
          <button
            key={purpose}
            type="button"
            className={granted ? 'badge good' : 'badge bad'}
            aria-pressed={granted}
            disabled={busy === 'consent'}
            title={granted ? `${label}: consent given — click to withdraw` : `${label}: no consent — click to record it`}
            onClick={() => void setConsent(student.id, purpose, !granted)}
          >
            {granted ? '✓' : '✕'} {label}
          </button>
        );
      })}
    </span>
  );
}

/**
 * A family's new access code, shown this once: a parent without an invitation creates their account with it
 * on the gallery's sign-in page. Nothing keeps it; leaving the screen forgets it.
 */
function AccessCodePanel(): React.JSX.Element | null {
  const made = useAdminPeopleStore((s) => s.accessCode);
  const forget = useAdminPeopleStore((s) => s.forgetAccessCode);
  if (!made) return null;
  return (
    <div className="confirm" role="region" aria-label={`Access code of ${made.familyName}`}>
      <p>
        Give this code to the family: it lets one parent create their account at {made.signInUrl ?? 'the school’s gallery'}. It is shown only now.
      </p>
      <label>
        Access code of {made.familyName}
        <input type="text" readOnly value={made.code} onFocus={(e) => e.target.select()} />
      </label>
      <button type="button" onClick={forget}>
        Done
      </button>
    </div>
  );
}

/** The school's people: classes, students with consent and its history, families with parents, roster import, invitations. */
export function PeopleSection(): React.JSX.Element {
  const people = useAdminPeopleStore((s) => s.people);
  const error = useAdminPeopleStore((s) => s.error);
  const load = useAdminPeopleStore((s) => s.load);
  const addClass = useAdminPeopleStore((s) => s.addClass);
  const openHistory = useAdminPeopleStore((s) => s.openHistory);
  const dismiss = useAdminPeopleStore((s) => s.dismiss);
  const busy = useAdminPeopleStore((s) => s.busy);
  const message = useAdminPeopleStore((s) => s.message);
  const newAccessCode = useAdminPeopleStore((s) => s.newAccessCode);
  const revokeAccessCode = useAdminPeopleStore((s) => s.revokeAccessCode);
  const forgetAccessCode = useAdminPeopleStore((s) => s.forgetAccessCode);
  const invites = useAdminUsersStore((s) => s.invites);
  const loadUsers = useAdminUsersStore((s) => s.load);
  const usersError = useAdminUsersStore((s) => s.error);
  const usersMessage = useAdminUsersStore((s) => s.message);
  const invite = useAdminUsersStore((s) => s.invite);
  const [className, setClassName] = useState('');
  const [parent, setParent] = useState({ email: '', familyId: '' });
  /** The family whose new access code waits for the admin's yes. */
  const [replacing, setReplacing] = useState<AdminFamily | null>(null);

  useEffect(() => {
    void load();
    void loadUsers();
  }, [load, loadUsers]);
  // A code is shown once: leaving the screen forgets it.
  useEffect(() => forgetAccessCode, [forgetAccessCode]);

  const classOf = (id: string | null): string => people?.classes.find((c) => c.id === id)?.name ?? '—';
  const studentName = (id: string): string => people?.students.find((s) => s.id === id)?.name ?? 'a student';

  return (
    <section aria-label="People">
      {error ? <ErrorNote error={error} onDismiss={dismiss} /> : null}
      <h2>Classes</h2>
      <ul className="chips" aria-label="Classes">
        {(people?.classes ?? []).map((c) => (
          <li key={c.id} className="badge">
            {c.name} · {people?.students.filter((s) => s.classId === c.id).length ?? 0}
          </li>
        ))}
      </ul>
      <form
        className="inline-form"
        aria-label="Add a class"
        onSubmit={(e) => {
          e.preventDefault();
          if (className.trim()) void addClass(className.trim()).then((done) => done && setClassName(''));
        }}
      >
        <label>
          New class
          <input value={className} maxLength={100} onChange={(e) => setClassName(e.target.value)} />
        </label>
        <button type="submit">Add class</button>
      </form>

      <h2>Roster import</h2>
      <RosterImport />

      <h2>Students</h2>
      {people && people.students.length === 0 ? <p className="muted">No students yet: import a roster.</p> : null}
      {people && people.students.length > 0 ? (
        <table className="admin-table" aria-label="Students">
          <thead>
            <tr>
              <th>Name</th>
              <th>Class</th>
              <th>Consent</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {people.students.map((student) => (
              <tr key={student.id} aria-label={student.name}>
                <td>{student.name}</td>
                <td>{student.className ?? classOf(student.classId)}</td>
                <td>
                  <ConsentToggles student={student} />
                </td>
                <td className="row-actions">
                  <button type="button" onClick={() => void openHistory(student.id)}>
                    History
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}

      <h2>Families</h2>
      {people && people.families.length === 0 ? <p className="muted">No families yet.</p> : null}
      {people && people.families.length > 0 ? (
        <table className="admin-table" aria-label="Families">
          <thead>
            <tr>
              <th>Family</th>
              <th>Children</th>
              <th>Parents who can sign in</th>
              <th>Access code</th>
            </tr>
          </thead>
          <tbody>
            {people.families.map((family) => (
              <tr key={family.id} aria-label={family.name}>
                <td>
                  {family.name}
                  {family.email && family.email !== family.name ? <span className="muted"> · {family.email}</span> : null}
                </td>
                <td>{family.studentIds.map(studentName).join(', ') || '—'}</td>
                <td>{family.parents.length > 0 ? family.parents.map((p) => `${p.name} (${p.email})`).join(', ') : <span className="muted">None yet: invite one</span>}</td>
                <td className="row-actions">
                  <button type="button" disabled={busy === 'code'} onClick={() => setReplacing(family)}>
                    New access code
                  </button>
                  <button type="button" disabled={busy === 'code'} onClick={() => void revokeAccessCode(family.id)}>
                    Revoke code
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}

      {replacing ? (
        <div className="confirm" role="alertdialog" aria-label="Confirm">
          {/* The service does not say whether a family has a code, so the admin is always asked. */}
          <p>This replaces the family’s current code, if they have one: a code already given to {replacing.name} stops working. Make a new access code?</p>
          <button
            type="button"
            className="primary"
            onClick={() => {
              setReplacing(null);
              void newAccessCode(replacing.id);
            }}
          >
            Make a new code
          </button>
          <button type="button" onClick={() => setReplacing(null)}>
            Cancel
          </button>
        </div>
      ) : null}
      {message ? (
        <p className="good" role="status">
          {message}
        </p>
      ) : null}
      <AccessCodePanel />

      {people && people.families.length > 0 ? (
        <form
          className="inline-form"
          aria-label="Invite a parent"
          onSubmit={(e) => {
            e.preventDefault();
            const familyId = parent.familyId || people.families[0]?.id;
            if (parent.email.trim() && familyId) void invite(parent.email.trim(), 'parent', familyId).then((done) => done && setParent({ email: '', familyId }));
          }}
        >
          <label>
            Parent’s e-mail
            <input type="email" value={parent.email} maxLength={320} onChange={(e) => setParent((p) => ({ ...p, email: e.target.value }))} />
          </label>
          <label>
            Family
            <select value={parent.familyId || people.families[0]?.id} onChange={(e) => setParent((p) => ({ ...p, familyId: e.target.value }))}>
              {people.families.map((f) => (
                <option key={f.id} value={f.id}>
                  {f.name}
                </option>
              ))}
            </select>
          </label>
          <button type="submit">Invite a parent</button>
        </form>
      ) : null}

      <h2>Invitations</h2>
      {usersError ? <ErrorNote error={usersError} /> : null}
      {usersMessage ? (
        <p className="good" role="status">
          {usersMessage}
        </p>
      ) : null}
      <InvitesList invites={invites} />
      <ConsentHistoryDrawer />
    </section>
  );
}
