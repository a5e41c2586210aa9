import { beforeEach, describe, expect, it } from 'vitest';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { PLAN } from '../test/publish-fixtures.ts';
import { usePublishStore } from './publish.store.ts';

let fake: FakeBridge;

beforeEach(() => {
  fake = installFakeBridge().answer('publish:plan', (input) => ({ ...PLAN, originals: { ...PLAN.originals, requested: (input as { originals: boolean }).originals } }));
  usePublishStore.setState(usePublishStore.getInitialState(), true);
});

describe('usePublishStore', () => {
  it('asks for the plan of the event it opens, without originals', async () => {
    await usePublishStore.getState().open(7);
    expect(fake.inputsOf('publish:plan')).toEqual([{ eventId: 7, originals: false }]);
    expect(usePublishStore.getState().plan?.newCount).toBe(2);
  });

  it('plans again with originals, and publishes with them', async () => {
    fake.answer('publish:start', { queued: 2, removing: 0, held: 1, reservedBytes: 2_000_000 });
    await usePublishStore.getState().open(7);
    await usePublishStore.getState().setOriginals(true);
    expect(fake.inputsOf('publish:plan').at(-1)).toEqual({ eventId: 7, originals: true });
    expect(await usePublishStore.getState().publish()).toBe(true);
    expect(fake.inputsOf('publish:start')).toEqual([{ eventId: 7, originals: true }]);
    expect(usePublishStore.getState().started).toEqual({ queued: 2, removing: 0, held: 1, reservedBytes: 2_000_000 });
  });

  it('ignores the plan of an event the user has left', async () => {
    let release!: () => void;
    fake.answer('publish:plan', (input) => {
      const { eventId } = input as { eventId: number };
      if (eventId === 7) return new Promise((resolve) => (release = () => resolve(PLAN)));
      return { ...PLAN, event: { id: 8, name: 'Field Trip' } };
    });
    const first = usePublishStore.getState().open(7);
    await usePublishStore.getState().open(8);
    release();
    await first;
    expect(usePublishStore.getState().plan?.event.name).toBe('Field Trip');
  });

  it('keeps the engine’s refusal when the school is out of room', async () => {
    fake.fail('publish:start', { code: 'quota-exceeded', message: 'Greenfield Primary has 1 MB left; this publish needs 2 MB.' });
    await usePublishStore.getState().open(7);
    expect(await usePublishStore.getState().publish()).toBe(false);
    expect(usePublishStore.getState().error?.code).toBe('quota-exceeded');
  });
});
