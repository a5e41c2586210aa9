import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEngine, type Engine } from '../engine.ts';
import { tempDir, type TempDir } from '../test/fixtures.ts';
import type { PushEvent } from './contract.ts';
import { createLibraryHolder, type LibraryHolder } from './library-holder.ts';
import { RecentLibraries } from './recent-libraries.ts';

let dir: TempDir;
let holder: LibraryHolder;
let opened: Engine[];

beforeEach(async () => {
  dir = await tempDir('keepsake-holder-');
  opened = [];
  holder = createLibraryHolder({
    openEngine: async (libraryPath, create) => {
      const engine = await openEngine({ libraryPath, create, logSink: () => undefined, volumes: { roots: [dir.join('mounts')], intervalMs: 50 } });
      opened.push(engine);
      return engine;
    },
    recent: new RecentLibraries(dir.join('config')),
    suggestedPath: dir.join('Pictures', 'Keepsake'),
  });
});

afterEach(async () => {
  await holder.close();
  await dir.cleanup();
});

describe(createLibraryHolder.name, () => {
  it('answers that no library is open until one is', async () => {
    expect(await holder.call('library:info', {})).toEqual({ ok: false, error: { code: 'not-found', message: 'No library is open yet.', hint: expect.any(String) } });
    expect(await holder.call('events:list', {})).toMatchObject({ ok: false, error: { code: 'not-found', message: 'No library is open yet.' } });
    expect(await holder.call('no:such', {})).toMatchObject({ ok: false, error: { code: 'unknown-method' } });
    expect(await holder.call('library:recent', {})).toEqual({ ok: true, value: { libraries: [], suggested: dir.join('Pictures', 'Keepsake') } });
    expect(holder.engine).toBeNull();
  });

  it('refuses a folder that is not a library unless asked to create one, and says why', async () => {
    await mkdir(dir.join('holiday-photos'), { recursive: true });
    const refused = await holder.call('library:open', { path: dir.join('holiday-photos') });
    expect(refused).toMatchObject({ ok: false, error: { code: 'not-found', message: expect.stringMatching(/is not a Keepsake library: it has no \.keepsake/) } });
    expect(await holder.call('library:open', { path: dir.join('nowhere') })).toMatchObject({ ok: false, error: { code: 'not-found', message: expect.stringMatching(/There is no folder at/) } });
    expect(await holder.call('library:open', { path: 'relative/library', create: true })).toMatchObject({ ok: false, error: { code: 'invalid-input', message: expect.stringMatching(/not a full path/) } });
    await writeFile(dir.join('a-file'), 'x');
    expect(await holder.call('library:open', { path: dir.join('a-file'), create: true })).toMatchObject({ ok: false, error: { code: 'invalid-input', message: expect.stringMatching(/is a file/) } });
    expect(opened).toHaveLength(0);
  });

  it('creates a library, serves it, and remembers it in the recent list', async () => {
    const created = await holder.call('library:open', { path: dir.join('School 2026'), create: true });
    expect(created).toEqual({ ok: true, value: { root: dir.join('School 2026'), name: 'School 2026', readOnly: false, damage: null } });
    expect(await holder.call('library:info', {})).toMatchObject({ ok: true, value: { root: dir.join('School 2026') } });
    expect(await holder.call('events:create', { name: 'Sports Day' })).toMatchObject({ ok: true });
    const recent = await holder.call('library:recent', {});
    expect(recent).toMatchObject({ ok: true, value: { libraries: [{ path: dir.join('School 2026'), name: 'School 2026', available: true, openedAt: expect.any(String) }] } });
    const stored = JSON.parse(await readFile(dir.join('config', 'recent-libraries.json'), 'utf8')) as { version: number };
    expect(stored.version).toBe(1);
  });

  it('switches to another library, closing the one it opened, and keeps push listeners', async () => {
    const events: PushEvent[] = [];
    holder.subscribe((event) => events.push(event));
    await holder.call('library:open', { path: dir.join('first'), create: true });
    await holder.call('library:open', { path: dir.join('second'), create: true });
    expect(await holder.call('library:info', {})).toMatchObject({ ok: true, value: { root: dir.join('second') } });
    // The first engine's catalog is closed: a read throws.
    expect(() => opened[0]!.catalog.events.list()).toThrow();
    await mkdir(dir.join('mounts', 'EOS_DIGITAL', 'DCIM', '100CANON'), { recursive: true });
    await writeFile(dir.join('mounts', 'EOS_DIGITAL', 'DCIM', '100CANON', 'IMG_0001.JPG'), 'x');
    opened[1]!.volumes.start();
    const until = Date.now() + 10_000;
    while (!events.some((event) => event.event === 'volume:inserted') && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events).toContainEqual({ event: 'volume:inserted', payload: expect.objectContaining({ label: 'EOS_DIGITAL', mediaCount: 1 }) });
    const recent = await holder.call('library:recent', {});
    expect(recent.ok && (recent.value as { libraries: Array<{ path: string }> }).libraries.map((library) => library.path)).toEqual([dir.join('second'), dir.join('first')]);
  });

  it('reopens an existing library without create', async () => {
    const engine = await openEngine({ libraryPath: dir.join('existing'), logSink: () => undefined });
    await engine.close();
    expect(await holder.call('library:open', { path: dir.join('existing') })).toMatchObject({ ok: true, value: { root: dir.join('existing') } });
  });
});
