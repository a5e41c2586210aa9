import { create } from 'zustand';
import type { AdminInvite, AdminMember, SchoolRoleName } from '../../../app/ipc/admin-contract.ts';
import { asCallError, call, type CallError } from '../bridge/keepsake.ts';

interface AdminUsersState {
  members: AdminMember[] | null;
  invites: AdminInvite[] | null;
  error: CallError | null;
  message: string | null;
  busy: boolean;
  load(): Promise<void>;
  /** A parent's invitation names the family they join. */
  invite(email: string, role: SchoolRoleName, familyId?: string): Promise<boolean>;
  resend(invite: AdminInvite): Promise<void>;
  revoke(invite: AdminInvite): Promise<void>;
  changeRole(member: AdminMember, role: SchoolRoleName): Promise<void>;
  remove(member: AdminMember): Promise<void>;
  dismiss(): void;
}

/** The school's members and invitations: invite staff and families, change roles, remove access. */
export const useAdminUsersStore = create<AdminUsersState>((set, get) => {
  const run = async (work: () => Promise<string | null>): Promise<boolean> => {
    set({ busy: true, error: null, message: null });
    try {
      set({ message: await work() });
      return true;
    } catch (error) {
      set({ error: asCallError(error) });
      return false;
    } finally {
      set({ busy: false });
    }
  };
  const reloadInvites = async (): Promise<void> => set({ invites: (await call('admin:invites', {})).invites });
  return {
    members: null,
    invites: null,
    error: null,
    message: null,
    busy: false,
    async load() {
      await run(async () => {
        const [{ members }, { invites }] = await Promise.all([call('admin:members', {}), call('admin:invites', {})]);
        set({ members, invites });
        return null;
      });
    },
    invite(email, role, familyId) {
      return run(async () => {
        const made = await call('admin:invite', { email, role, ...(familyId ? { familyId } : {}) });
        await reloadInvites();
        return `Invitation sent to ${made.email} as ${made.role}.`;
      });
    },
    async resend(invite) {
      await run(async () => {
        await call('admin:resendInvite', { inviteId: invite.id });
        await reloadInvites();
        return `Invitation sent again to ${invite.email}; the earlier link no longer works.`;
      });
    },
    async revoke(invite) {
      await run(async () => {
        await call('admin:revokeInvite', { inviteId: invite.id });
        await reloadInvites();
        return `The invitation to ${invite.email} is revoked.`;
      });
    },
    async changeRole(member, role) {
      await run(async () => {
        const changed = await call('admin:changeRole', { userId: member.userId, role });
        set({ members: (get().members ?? []).map((m) => (m.userId === changed.userId ? { ...changed, you: m.you } : m)) });
        return `${member.name || member.email} is now ${changed.role}.`;
      });
    },
    async remove(member) {
      await run(async () => {
        await call('admin:removeMember', { userId: member.userId });
        set({ members: (get().members ?? []).filter((m) => m.userId !== member.userId) });
        return `${member.name || member.email} no longer has access to the school.`;
      });
    },
    dismiss() {
      set({ error: null, message: null });
    },
  };
});
