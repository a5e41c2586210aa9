import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AdminMember } from '../../../../app/ipc/admin-contract.ts';
import { useAdminUsersStore } from '../../stores/admin-users.store.ts';
import { installFakeBridge, type FakeBridge } from '../../test/fake-bridge.ts';
import { UsersSection } from './UsersSection.tsx';

let fake: FakeBridge;
const ME: AdminMember = { userId: 'u1', name: 'Office', email: 'office@g.example', role: 'admin', createdAt: '2026-01-01T00:00:00Z', you: true };
const TOM: AdminMember = { userId: 'u2', name: 'Tom', email: 'tom@g.example', role: 'teacher', createdAt: '2026-01-02T00:00:00Z', you: false };

beforeEach(() => {
  fake = installFakeBridge().answer('admin:members', { members: [ME, TOM] }).answer('admin:invites', { invites: [] });
  useAdminUsersStore.setState(useAdminUsersStore.getInitialState(), true);
});
afterEach(cleanup);

describe('UsersSection', () => {
  it('asks before changing a role, and changes nothing on Cancel', async () => {
    render(<UsersSection />);
    fireEvent.change(await screen.findByLabelText('Role of Tom'), { target: { value: 'photographer' } });
    const confirm = screen.getByRole('alertdialog', { name: 'Confirm' });
    expect(confirm.textContent).toContain('Make Tom photographer?');
    fireEvent.click(within(confirm).getByRole('button', { name: 'Cancel' }));
    expect(fake.inputsOf('admin:changeRole')).toEqual([]);
    expect(screen.queryByRole('alertdialog')).toBeNull();
  });

  it('removes access once confirmed and says so; one’s own row has no remove button', async () => {
    fake.answer('admin:removeMember', { removed: true });
    render(<UsersSection />);
    const own = await screen.findByRole('row', { name: 'Office' });
    expect(within(own).queryByRole('button', { name: 'Remove access' })).toBeNull();
    fireEvent.click(within(screen.getByRole('row', { name: 'Tom' })).getByRole('button', { name: 'Remove access' }));
    fireEvent.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Remove access' }));
    expect(await screen.findByText('Tom no longer has access to the school.')).toBeTruthy();
    expect(fake.inputsOf('admin:removeMember')).toEqual([{ userId: 'u2' }]);
    expect(screen.queryByRole('row', { name: 'Tom' })).toBeNull();
  });
});
