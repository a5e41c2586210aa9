import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FakeBridge } from '../test/fake-bridge.ts';
import { installFakeBridge } from '../test/fake-bridge.ts';
import { PREVIEW_DEBOUNCE_MS, useImportStore } from './import.store.ts';

let fake: FakeBridge;
const ID = 'a'.repeat(32);
const progress = (filesDone: number) => ({
  importId: ID,
  phase: 'copying' as const,
  filesDone,
  filesTotal: 10,
  bytesDone: filesDone * 1000,
  bytesTotal: 10_000,
  bytesPerSec: 5_000_000,
  etaSec: 3,
  current: '/card/DCIM/IMG_0001.JPG',
  errors: [],
});

beforeEach(() => {
  fake = installFakeBridge();
  useImportStore.setState(useImportStore.getInitialState(), true);
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('useImportStore', () => {
  it('asks for a quick preview of ten names once typing pauses, and shows only the newest answer', async () => {
    fake.answer('import:preview', (input) => ({ event: 'Sports Day', names: [{ source: '/card/a.jpg', destination: `Sports Day/${(input as { template: string }).template}.jpg` }], duplicates: null, failed: [], total: 1 }));
    const store = useImportStore.getState();
    store.setField('source', '/card');
    store.setField('eventName', 'Sports Day');
    store.setField('template', '{event}');
    store.setField('template', '{event}-{seq:3}');
    await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS + 10);
    expect(fake.inputsOf('import:preview')).toEqual([{ source: '/card', event: 'Sports Day', limit: 10, quick: true, template: '{event}-{seq:3}' }]);
    expect(useImportStore.getState().preview?.names[0]?.destination).toBe('Sports Day/{event}-{seq:3}.jpg');
  });

  it('keeps the engine error of a template it cannot use', async () => {
    fake.fail('import:preview', { code: 'invalid-input', message: 'The rename template "{nope}" is not valid.' });
    useImportStore.getState().prefill({ source: '/card', eventName: 'X', template: '{nope}' });
    await vi.advanceTimersByTimeAsync(PREVIEW_DEBOUNCE_MS + 10);
    expect(useImportStore.getState().previewError?.message).toBe('The rename template "{nope}" is not valid.');
  });

  it('follows progress even when it arrives before the import id, then the summary and its event', async () => {
    vi.useRealTimers();
    const stop = useImportStore.getState().listen();
    let answer: (value: { importId: string }) => void = () => undefined;
    fake.answer('import:start', () => new Promise<{ importId: string }>((resolve) => (answer = resolve)));
    fake.answer('events:list', [{ id: 7, name: 'Sports Day' } as never]);
    useImportStore.getState().prefill({ source: '/card', eventName: 'Sports Day', tags: 'sports, 2026, sports' });
    const started = useImportStore.getState().start();
    await Promise.resolve();
    fake.emit('import:progress', progress(2));
    answer({ importId: ID });
    await started;
    expect(useImportStore.getState()).toMatchObject({ phase: 'running', importId: ID, progress: { filesDone: 2 } });
    expect(fake.inputsOf('import:start')).toEqual([{ source: '/card', event: 'Sports Day', tags: ['sports', '2026'] }]);
    fake.emit('import:progress', progress(5));
    expect(useImportStore.getState().progress?.filesDone).toBe(5);
    fake.emit('import:finished', { importId: ID, state: 'completed', imported: 9, duplicates: 1, failed: [], error: null });
    await vi.waitFor(() => expect(useImportStore.getState().eventId).toBe(7));
    expect(useImportStore.getState()).toMatchObject({ phase: 'finished', finished: { imported: 9, duplicates: 1 } });
    stop();
  });

  it('hears the end of an import started on the screen after the screen is left', async () => {
    fake.answer('import:start', { importId: ID }).answer('events:list', [{ id: 7, name: 'sports day' } as never]);
    const leaveScreen = useImportStore.getState().listen();
    useImportStore.getState().prefill({ source: '/card', eventName: 'Sports Day' });
    await useImportStore.getState().start();
    leaveScreen();
    fake.emit('import:finished', { importId: ID, state: 'completed', imported: 3, duplicates: 0, failed: [], error: null });
    expect(useImportStore.getState()).toMatchObject({ phase: 'finished', finished: { imported: 3 } });
    // Event names match whatever their case, as the engine matches them.
    await vi.waitFor(() => expect(useImportStore.getState().eventId).toBe(7));
  });

  it('cancels the running import by its id', async () => {
    fake.answer('import:start', { importId: ID }).answer('import:cancel', { cancelled: true });
    useImportStore.getState().prefill({ source: '/card', eventName: 'Sports Day' });
    await useImportStore.getState().start();
    await useImportStore.getState().cancel();
    expect(fake.inputsOf('import:cancel')).toEqual([{ importId: ID }]);
    expect(useImportStore.getState().cancelling).toBe(true);
  });

  it('returns to the form with the reason when the import cannot start', async () => {
    fake.fail('import:start', { code: 'not-found', message: 'There is no folder at /card.', hint: 'Check that the card is connected.' });
    useImportStore.getState().prefill({ source: '/card', eventName: 'Sports Day' });
    await useImportStore.getState().start();
    expect(useImportStore.getState()).toMatchObject({ phase: 'idle', error: { code: 'not-found', message: 'There is no folder at /card.' } });
  });
});
