import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AdminPeople } from '../../../../app/ipc/admin-contract.ts';
import { useAdminPeopleStore } from '../../stores/admin-people.store.ts';
import { useAdminUsersStore } from '../../stores/admin-users.store.ts';
import { installFakeBridge, type FakeBridge } from '../../test/fake-bridge.ts';
import { PeopleSection } from './PeopleSection.tsx';

let fake: FakeBridge;
const PEOPLE: AdminPeople = {
  classes: [{ id: 'c1', name: 'Year 3' }],
  students: [{ id: 's1', name: 'Ana Lima', classId: 'c1', className: 'Year 3', familyIds: ['f1'], consent: null }],
  families: [{ id: 'f1', name: 'lima@home.example', email: 'lima@home.example', parents: [], studentIds: ['s1'] }],
};
const CODE = { familyId: 'f1', code: 'ABCD-EFGH-JKLM-NPQR', createdAt: '2026-05-01T10:00:00Z', signInUrl: 'https://sync.greenfield.example/sign-in' };

beforeEach(() => {
  fake = installFakeBridge().answer('admin:people', PEOPLE).answer('admin:members', { members: [] }).answer('admin:invites', { invites: [] });
  useAdminPeopleStore.setState(useAdminPeopleStore.getInitialState(), true);
  useAdminUsersStore.setState(useAdminUsersStore.getInitialState(), true);
});
afterEach(cleanup);

const familyRow = async () => screen.findByRole('row', { name: 'lima@home.example' });

describe('PeopleSection: family access codes', () => {
  it('asks before replacing a family’s code, and makes none on Cancel', async () => {
    render(<PeopleSection />);
    fireEvent.click(within(await familyRow()).getByRole('button', { name: 'New access code' }));
    const confirm = screen.getByRole('alertdialog', { name: 'Confirm' });
    expect(confirm.textContent).toContain('This replaces the family’s current code');
    fireEvent.click(within(confirm).getByRole('button', { name: 'Cancel' }));
    expect(fake.inputsOf('admin:familyAccessCode')).toEqual([]);
    expect(screen.queryByRole('alertdialog')).toBeNull();
  });

  it('shows the new code once in a copyable field with where the parent uses it, and forgets it on leaving', async () => {
    fake.answer('admin:familyAccessCode', CODE);
    const { unmount } = render(<PeopleSection />);
    fireEvent.click(within(await familyRow()).getByRole('button', { name: 'New access code' }));
    fireEvent.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Make a new code' }));
    const panel = await screen.findByRole('region', { name: 'Access code of lima@home.example' });
    expect(fake.inputsOf('admin:familyAccessCode')).toEqual([{ familyId: 'f1' }]);
    expect(panel.textContent).toContain('Give this code to the family: it lets one parent create their account at https://sync.greenfield.example/sign-in. It is shown only now.');
    const field = within(panel).getByLabelText<HTMLInputElement>('Access code of lima@home.example');
    expect(field.value).toBe('ABCD-EFGH-JKLM-NPQR');
    expect(field.readOnly).toBe(true);
    unmount();
    expect(useAdminPeopleStore.getState().accessCode).toBeNull();
    render(<PeopleSection />);
    await familyRow();
    expect(screen.queryByDisplayValue('ABCD-EFGH-JKLM-NPQR')).toBeNull();
  });

  it('revokes the code, hiding it and saying so', async () => {
    fake.answer('admin:familyAccessCode', CODE).answer('admin:revokeFamilyAccessCode', { revoked: true });
    render(<PeopleSection />);
    const row = await familyRow();
    fireEvent.click(within(row).getByRole('button', { name: 'New access code' }));
    fireEvent.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Make a new code' }));
    await screen.findByRole('region', { name: 'Access code of lima@home.example' });
    fireEvent.click(within(row).getByRole('button', { name: 'Revoke code' }));
    expect(await screen.findByText('lima@home.example has no access code now: any code given to them no longer works.')).toBeTruthy();
    expect(fake.inputsOf('admin:revokeFamilyAccessCode')).toEqual([{ familyId: 'f1' }]);
    expect(screen.queryByRole('region', { name: 'Access code of lima@home.example' })).toBeNull();
  });

  it('says the service’s refusal as a sentence and shows no code', async () => {
    fake.fail('admin:familyAccessCode', { code: 'forbidden', message: 'Only the school’s admins can make family access codes.' });
    render(<PeopleSection />);
    fireEvent.click(within(await familyRow()).getByRole('button', { name: 'New access code' }));
    fireEvent.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Make a new code' }));
    expect((await screen.findByRole('alert')).textContent).toContain('Only the school’s admins can make family access codes.');
    expect(screen.queryByRole('region', { name: /Access code of/ })).toBeNull();
  });
});
