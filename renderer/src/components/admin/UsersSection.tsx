import { useEffect, useState } from 'react';
import type { AdminMember, SchoolRoleName } from '../../../../app/ipc/admin-contract.ts';
import { useAdminUsersStore } from '../../stores/admin-users.store.ts';
import { ErrorNote } from '../ErrorNote.tsx';
import { InvitesList } from './InvitesList.tsx';

const ROLES: SchoolRoleName[] = ['admin', 'photographer', 'teacher', 'parent', 'student'];

type Pending = { kind: 'role'; member: AdminMember; role: SchoolRoleName } | { kind: 'remove'; member: AdminMember };

/** Who has access to the school: invite staff, change roles and remove access, each confirmed first. */
export function UsersSection(): React.JSX.Element {
  const members = useAdminUsersStore((s) => s.members);
  const invites = useAdminUsersStore((s) => s.invites);
  const error = useAdminUsersStore((s) => s.error);
  const message = useAdminUsersStore((s) => s.message);
  const busy = useAdminUsersStore((s) => s.busy);
  const load = useAdminUsersStore((s) => s.load);
  const invite = useAdminUsersStore((s) => s.invite);
  const changeRole = useAdminUsersStore((s) => s.changeRole);
  const remove = useAdminUsersStore((s) => s.remove);
  const dismiss = useAdminUsersStore((s) => s.dismiss);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<SchoolRoleName>('teacher');
  const [pending, setPending] = useState<Pending | null>(null);

  useEffect(() => {
    void load();
  }, [load]);

  const confirm = async (): Promise<void> => {
    if (!pending) return;
    setPending(null);
    if (pending.kind === 'role') await changeRole(pending.member, pending.role);
    else await remove(pending.member);
  };
  const who = (member: AdminMember): string => member.name || member.email;

  return (
    <section aria-label="Users and roles">
      {error ? <ErrorNote error={error} onDismiss={dismiss} /> : null}
      {message ? (
        <p className="good" role="status">
          {message}
        </p>
      ) : null}
      <h2>Invite staff</h2>
      <form
        className="inline-form"
        aria-label="Invite someone"
        onSubmit={(e) => {
          e.preventDefault();
          if (email.trim()) void invite(email.trim(), role).then((done) => done && setEmail(''));
        }}
      >
        <label>
          E-mail
          <input type="email" value={email} maxLength={320} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value as SchoolRoleName)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary" disabled={busy}>
          Send invitation
        </button>
      </form>
      <InvitesList invites={invites} />

      <h2>Members</h2>
      {pending ? (
        <div className="confirm" role="alertdialog" aria-label="Confirm">
          <p>
            {pending.kind === 'role'
              ? `Make ${who(pending.member)} ${pending.role}? They get that role's access at their next request.`
              : `Remove ${who(pending.member)}'s access to the school? They are signed out of it at once.`}
          </p>
          <button type="button" className="primary" onClick={() => void confirm()}>
            {pending.kind === 'role' ? 'Change role' : 'Remove access'}
          </button>
          <button type="button" onClick={() => setPending(null)}>
            Cancel
          </button>
        </div>
      ) : null}
      {members ? (
        <table className="admin-table" aria-label="Members">
          <thead>
            <tr>
              <th>Name</th>
              <th>E-mail</th>
              <th>Role</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {members.map((member) => (
              <tr key={member.userId} aria-label={who(member)}>
                <td>
                  {who(member)}
                  {member.you ? <span className="muted"> (you)</span> : null}
                </td>
                <td>{member.email}</td>
                <td>
                  <select
                    aria-label={`Role of ${who(member)}`}
                    value={member.role}
                    disabled={member.you || busy}
                    onChange={(e) => setPending({ kind: 'role', member, role: e.target.value as SchoolRoleName })}
                  >
                    {ROLES.map((r) => (
                      <option key={r} value={r}>
                        {r}
                      </option>
                    ))}
                  </select>
                </td>
                <td className="row-actions">
                  {!member.you ? (
                    <button type="button" disabled={busy} onClick={() => setPending({ kind: 'remove', member })}>
                      Remove access
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
