import type { AdminInvite } from '../../../../app/ipc/admin-contract.ts';
import { useAdminUsersStore } from '../../stores/admin-users.store.ts';

/** The school's invitations: pending ones can be sent again (a new link) or revoked. */
export function InvitesList({ invites }: { invites: AdminInvite[] | null }): React.JSX.Element {
  const resend = useAdminUsersStore((s) => s.resend);
  const revoke = useAdminUsersStore((s) => s.revoke);
  const busy = useAdminUsersStore((s) => s.busy);
  if (!invites) return <p className="muted">Reading the invitations…</p>;
  if (invites.length === 0) return <p className="muted">No invitations yet.</p>;
  return (
    <table className="admin-table" aria-label="Invitations">
      <thead>
        <tr>
          <th>E-mail</th>
          <th>Role</th>
          <th>Status</th>
          <th>Mail</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {invites.map((invite) => (
          <tr key={invite.id} aria-label={`Invitation to ${invite.email}`}>
            <td>{invite.email}</td>
            <td>{invite.role}</td>
            <td>
              <span className={invite.status === 'pending' ? 'badge warn' : invite.status === 'accepted' ? 'badge good' : 'badge'}>{invite.status}</span>
            </td>
            <td className="muted">{invite.mail ?? '—'}{invite.sends > 1 ? ` · sent ${invite.sends} times` : ''}</td>
            <td className="row-actions">
              {invite.status === 'pending' ? (
                <>
                  <button type="button" disabled={busy} onClick={() => void resend(invite)}>
                    Resend
                  </button>
                  <button type="button" disabled={busy} onClick={() => void revoke(invite)}>
                    Revoke
                  </button>
                </>
              ) : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
