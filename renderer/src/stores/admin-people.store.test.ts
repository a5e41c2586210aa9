import { beforeEach, describe, expect, it } from 'vitest';
import type { AdminPeople } from '../../../app/ipc/admin-contract.ts';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { useAdminPeopleStore } from './admin-people.store.ts';

let fake: FakeBridge;
const no = { granted: false, setBy: null, setAt: null };
const yes = { granted: true, setBy: 'u1', setAt: '2026-05-01T10:00:00Z' };
const PEOPLE: AdminPeople = {
  classes: [{ id: 'c1', name: 'Year 3' }],
  students: [{ id: 's1', name: 'Ana Lima', classId: 'c1', className: 'Year 3', familyIds: [], consent: { publish: yes, yearbook: no } }],
  families: [],
};
const WITHDRAWN = { at: '2026-05-02T10:00:00Z', purpose: 'publish', before: true, after: false, via: 'api', by: 'Office' };

beforeEach(() => {
  fake = installFakeBridge().answer('admin:people', PEOPLE);
  useAdminPeopleStore.setState(useAdminPeopleStore.getInitialState(), true);
});

describe('useAdminPeopleStore', () => {
  it('withdraws consent in place and refreshes the open history drawer', async () => {
    await useAdminPeopleStore.getState().load();
    fake.answer('admin:consentHistory', { changes: [] });
    await useAdminPeopleStore.getState().openHistory('s1');
    expect(useAdminPeopleStore.getState().history).toEqual({ studentId: 's1', name: 'Ana Lima', changes: [] });
    fake.answer('admin:setConsent', { publish: { ...no, setBy: 'u1' }, yearbook: no }).answer('admin:consentHistory', { changes: [WITHDRAWN] });
    await useAdminPeopleStore.getState().setConsent('s1', 'publish', false);
    expect(fake.inputsOf('admin:setConsent')).toEqual([{ studentId: 's1', purpose: 'publish', granted: false }]);
    expect(useAdminPeopleStore.getState().people?.students[0]?.consent?.publish.granted).toBe(false);
    expect(useAdminPeopleStore.getState().history?.changes).toEqual([WITHDRAWN]);
  });

  it('shows the service’s refusal as a sentence and leaves the badges as they were', async () => {
    await useAdminPeopleStore.getState().load();
    fake.fail('admin:setConsent', { code: 'forbidden', message: 'Only admins and the student’s parents can set consent.' });
    await useAdminPeopleStore.getState().setConsent('s1', 'publish', false);
    expect(useAdminPeopleStore.getState().error?.message).toBe('Only admins and the student’s parents can set consent.');
    expect(useAdminPeopleStore.getState().people?.students[0]?.consent?.publish.granted).toBe(true);
  });
});
