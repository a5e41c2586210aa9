import { beforeEach, describe, expect, it } from 'vitest';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { UPLOADING } from '../test/publish-fixtures.ts';
import { useUploadsStore } from './uploads.store.ts';

let fake: FakeBridge;

beforeEach(() => {
  fake = installFakeBridge().answer('uploads:status', UPLOADING);
  useUploadsStore.setState(useUploadsStore.getInitialState(), true);
});

describe('useUploadsStore', () => {
  it('follows the engine’s progress events until told to stop', () => {
    const stop = useUploadsStore.getState().follow();
    fake.emit('uploads:progress', { ...UPLOADING, paused: true });
    expect(useUploadsStore.getState().view?.paused).toBe(true);
    stop();
    fake.emit('uploads:progress', UPLOADING);
    expect(useUploadsStore.getState().view?.paused).toBe(true);
  });

  it('says how many failed uploads were queued again', async () => {
    fake.answer('uploads:retry', { ...UPLOADING, failures: [], retried: 3 });
    await useUploadsStore.getState().retry();
    expect(useUploadsStore.getState()).toMatchObject({ message: '3 uploads queued again.', view: { failures: [] } });
    expect(useUploadsStore.getState().view).not.toHaveProperty('retried');
    expect(fake.inputsOf('uploads:retry')).toEqual([{}]);
  });

  it('retries chosen failed uploads by id, and says so when one is no longer failed', async () => {
    fake.answer('uploads:retry', { ...UPLOADING, failures: [], retried: 1 });
    await useUploadsStore.getState().retry([41]);
    expect(useUploadsStore.getState().message).toBe('1 upload queued again.');
    fake.answer('uploads:retry', { ...UPLOADING, failures: [], retried: 0 });
    await useUploadsStore.getState().retry([41]);
    expect(useUploadsStore.getState().message).toBe('Nothing queued again: that upload is no longer failed.');
    expect(fake.inputsOf('uploads:retry')).toEqual([{ ids: [41] }, { ids: [41] }]);
  });

  it('sets and clears the bandwidth limit', async () => {
    fake.answer('uploads:setLimit', (input) => ({ ...UPLOADING, limitKbps: (input as { kbps: number | null }).kbps }));
    await useUploadsStore.getState().setLimit(500);
    expect(useUploadsStore.getState()).toMatchObject({ message: 'Limited to 500 KB/s.', view: { limitKbps: 500 } });
    await useUploadsStore.getState().setLimit(null);
    expect(fake.inputsOf('uploads:setLimit')).toEqual([{ kbps: 500 }, { kbps: null }]);
    expect(useUploadsStore.getState().message).toBe('No bandwidth limit.');
  });
});
