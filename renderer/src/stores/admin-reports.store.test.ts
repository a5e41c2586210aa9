import { beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntryView } from '../../../app/ipc/admin-contract.ts';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { auditInput, useAdminReportsStore } from './admin-reports.store.ts';

let fake: FakeBridge;
const entry = (id: string): AuditEntryView => ({ id, at: '2026-05-01T10:00:00Z', action: 'role.change', subject: `user:${id}`, actor: null, summary: 'teacher → admin' });

beforeEach(() => {
  fake = installFakeBridge();
  useAdminReportsStore.setState(useAdminReportsStore.getInitialState(), true);
});

describe('useAdminReportsStore', () => {
  it('sends only the filters filled in, an action group as a list', () => {
    expect(auditInput({ action: 'invite.create,invite.revoke', actor: '', from: '2026-05-01', to: '' }, null)).toEqual({ limit: 50, actions: ['invite.create', 'invite.revoke'], from: '2026-05-01' });
  });

  it('reads the first page under new filters, then appends older pages until the last', async () => {
    fake.answer('admin:audit', (input) => ((input as { cursor?: string }).cursor ? { entries: [entry('c')], nextCursor: null } : { entries: [entry('a'), entry('b')], nextCursor: 'next' }));
    await useAdminReportsStore.getState().filter({ action: 'role.change', actor: '', from: '', to: '' });
    await useAdminReportsStore.getState().more();
    expect(useAdminReportsStore.getState().entries?.map((e) => e.id)).toEqual(['a', 'b', 'c']);
    expect(useAdminReportsStore.getState().nextCursor).toBeNull();
    expect(fake.inputsOf('admin:audit')).toEqual([
      { limit: 50, actions: ['role.change'] },
      { limit: 50, actions: ['role.change'], cursor: 'next' },
    ]);
  });

  it('shows the service’s refusal to a member who is not an admin', async () => {
    fake.fail('admin:audit', { code: 'forbidden', message: 'Only the school’s admins can read its audit log.' });
    await useAdminReportsStore.getState().filter({ action: '', actor: '', from: '', to: '' });
    expect(useAdminReportsStore.getState()).toMatchObject({ entries: null, auditError: { code: 'forbidden', message: 'Only the school’s admins can read its audit log.' } });
  });
});
