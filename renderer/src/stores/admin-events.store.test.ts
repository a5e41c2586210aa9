import { beforeEach, describe, expect, it } from 'vitest';
import type { AdminEvent } from '../../../app/ipc/admin-contract.ts';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { useAdminEventsStore, type SchoolEventDraft } from './admin-events.store.ts';

let fake: FakeBridge;
const EVENT: AdminEvent = {
  id: 'e1',
  name: 'Sports Day',
  startsOn: '2026-05-14',
  endsOn: null,
  location: null,
  description: null,
  state: 'published',
  audience: { scope: 'school' },
  galleryExpiresOn: null,
  expired: false,
  version: 3,
  updatedAt: '2026-05-01T00:00:00Z',
};
const DRAFT: SchoolEventDraft = { name: ' Trip ', startsOn: '2026-06-01', endsOn: null, location: '  ', state: 'draft', audience: { scope: 'some', classIds: ['c1'], familyIds: [] }, galleryExpiresOn: '2026-09-01' };

beforeEach(() => {
  fake = installFakeBridge().answer('admin:events', { events: [EVENT] });
  useAdminEventsStore.setState(useAdminEventsStore.getInitialState(), true);
});

describe('useAdminEventsStore', () => {
  it('creates an event with its audience and expiry, trimmed, and lists it by date', async () => {
    await useAdminEventsStore.getState().load();
    fake.answer('admin:createEvent', { ...EVENT, id: 'e2', name: 'Trip', startsOn: '2026-06-01', version: 1 });
    await useAdminEventsStore.getState().save(DRAFT, null);
    expect(fake.inputsOf('admin:createEvent')).toEqual([{ ...DRAFT, name: 'Trip', location: null }]);
    expect(useAdminEventsStore.getState().events?.map((e) => e.name)).toEqual(['Trip', 'Sports Day']);
  });

  it('archives at the version it read, and keeps a conflict’s sentence when someone changed it meanwhile', async () => {
    await useAdminEventsStore.getState().load();
    fake.fail('admin:updateEvent', { code: 'conflict', message: 'The event was changed since version 3.', hint: 'Reload to see the latest version.' });
    await useAdminEventsStore.getState().archive(EVENT);
    expect(fake.inputsOf('admin:updateEvent')).toEqual([{ eventId: 'e1', version: 3, state: 'archived' }]);
    expect(useAdminEventsStore.getState().error).toMatchObject({ code: 'conflict', message: 'The event was changed since version 3.' });
    expect(useAdminEventsStore.getState().events?.[0]?.state).toBe('published');
  });
});
