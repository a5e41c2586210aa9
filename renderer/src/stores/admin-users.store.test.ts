import { beforeEach, describe, expect, it } from 'vitest';
import type { AdminInvite, AdminMember } from '../../../app/ipc/admin-contract.ts';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { useAdminUsersStore } from './admin-users.store.ts';

let fake: FakeBridge;
const ME: AdminMember = { userId: 'u1', name: 'Office', email: 'office@g.example', role: 'admin', createdAt: '2026-01-01T00:00:00Z', you: true };
const TOM: AdminMember = { userId: 'u2', name: 'Tom', email: 'tom@g.example', role: 'teacher', createdAt: '2026-01-02T00:00:00Z', you: false };
const INVITE: AdminInvite = { id: 'i1', email: 'new@g.example', role: 'teacher', status: 'pending', sends: 1, sentAt: '2026-01-03T00:00:00Z', expiresAt: '2026-01-10T00:00:00Z', mail: 'queued' };

beforeEach(() => {
  fake = installFakeBridge().answer('admin:members', { members: [ME, TOM] }).answer('admin:invites', { invites: [] });
  useAdminUsersStore.setState(useAdminUsersStore.getInitialState(), true);
});

describe('useAdminUsersStore', () => {
  it('invites someone and lists the invitation the service made', async () => {
    await useAdminUsersStore.getState().load();
    fake.answer('admin:invite', INVITE).answer('admin:invites', { invites: [INVITE] });
    expect(await useAdminUsersStore.getState().invite('new@g.example', 'teacher')).toBe(true);
    expect(fake.inputsOf('admin:invite')).toEqual([{ email: 'new@g.example', role: 'teacher' }]);
    expect(useAdminUsersStore.getState()).toMatchObject({ invites: [INVITE], message: 'Invitation sent to new@g.example as teacher.', error: null });
  });

  it('changes a role in place and keeps who "you" are', async () => {
    await useAdminUsersStore.getState().load();
    fake.answer('admin:changeRole', { ...TOM, role: 'photographer', you: false });
    await useAdminUsersStore.getState().changeRole(TOM, 'photographer');
    expect(useAdminUsersStore.getState().members?.map((m) => [m.name, m.role, m.you])).toEqual([
      ['Office', 'admin', true],
      ['Tom', 'photographer', false],
    ]);
    expect(useAdminUsersStore.getState().message).toBe('Tom is now photographer.');
  });

  it('keeps the service’s sentence when it refuses, and changes nothing', async () => {
    await useAdminUsersStore.getState().load();
    fake.fail('admin:removeMember', { code: 'conflict', message: 'The school must keep at least one admin.' });
    await useAdminUsersStore.getState().remove(TOM);
    expect(useAdminUsersStore.getState().error?.message).toBe('The school must keep at least one admin.');
    expect(useAdminUsersStore.getState().members).toHaveLength(2);
  });
});
