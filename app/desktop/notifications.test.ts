import { describe, expect, it } from 'vitest';
import type { Result } from '../ipc/contract.ts';
import { ImportNotifier, importFinishedNotification, trackImports } from './notifications.ts';

const failed = (n: number) => Array.from({ length: n }, (_, i) => ({ source: `/card/IMG_${i}.JPG`, reason: 'truncated JPEG' }));
const base = { importId: 'a'.repeat(32), state: 'completed', imported: 1204, duplicates: 0, failed: failed(3), error: null };

describe(importFinishedNotification.name, () => {
  it('says how many photos went into which event and how many could not be read', () => {
    expect(importFinishedNotification(base, 'Sports Day')).toEqual({ title: 'Import finished', body: 'Imported 1,204 photos into Sports Day · 3 could not be read' });
  });

  it('mentions what was already in the library and drops what did not happen', () => {
    expect(importFinishedNotification({ ...base, imported: 1, failed: [], duplicates: 12 }, 'Play')).toEqual({ title: 'Import finished', body: 'Imported 1 photo into Play · 12 already in the library' });
    expect(importFinishedNotification({ ...base, failed: [] }, null).body).toBe('Imported 1,204 photos');
  });

  it('tells a stopped import apart from a failed one', () => {
    expect(importFinishedNotification({ ...base, state: 'cancelled', imported: 300, failed: [] }, 'Sports Day')).toEqual({
      title: 'Import stopped',
      body: 'Stopped after 300 photos into Sports Day. Start it again to finish: nothing is copied twice.',
    });
    const disk = { code: 'disk-full', message: 'the disk is full' };
    expect(importFinishedNotification({ ...base, state: 'failed', imported: 10, failed: [], error: disk }, 'Sports Day')).toEqual({
      title: 'Import failed',
      body: '10 photos imported into Sports Day before it stopped: the disk is full',
    });
  });
});

describe(ImportNotifier.name, () => {
  it('names the event an import was started for, once', () => {
    const notifier = new ImportNotifier();
    notifier.started(base.importId, 'Sports Day');
    expect(notifier.finished(base).body).toMatch(/into Sports Day/);
    expect(notifier.finished(base).body).not.toMatch(/into/);
  });
});

describe(trackImports.name, () => {
  it('remembers the event of an import started through the guard, and nothing for other calls or failures', async () => {
    const notifier = new ImportNotifier();
    const answers: Record<string, Result> = {
      'import:start': { ok: true, value: { importId: base.importId } },
      'events:list': { ok: true, value: [] },
    };
    const target = trackImports({ call: (method) => Promise.resolve(answers[method] ?? { ok: false, error: { code: 'invalid-input', message: 'no' } }) }, notifier);
    expect(await target.call('import:start', { source: '/card', event: 'Sports Day' })).toEqual(answers['import:start']);
    await target.call('events:list', {});
    expect(notifier.finished(base).body).toBe('Imported 1,204 photos into Sports Day · 3 could not be read');
  });
});
