import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine, type Engine } from '../engine.ts';
import { makeJpeg, tempDir, type TempDir } from '../test/fixtures.ts';
import { CALLS, type Method, type PushEvent, type Result } from './contract.ts';
import { createDispatcher, type Dispatcher } from './dispatcher.ts';
import { resolveMedia } from './media.ts';

let dir: TempDir;
let engine: Engine;
let dispatcher: Dispatcher;
const events: PushEvent[] = [];

async function ok<T>(method: string, input: unknown): Promise<T> {
  const result = await dispatcher.call(method, input);
  if (!result.ok) throw new Error(`${method}: ${result.error.code}: ${result.error.message}`);
  return result.value as T;
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  dir = await tempDir('keepsake-ipc-');
  for (let i = 1; i <= 3; i += 1) {
    await makeJpeg(dir.join('card', 'DCIM', '100CANON', `IMG_000${i}.JPG`), { seed: i, width: 160, height: 120, exif: { dateTimeOriginal: `2026:05:14 10:0${i}:00` } });
  }
  engine = await openEngine({ libraryPath: dir.join('library'), logSink: () => undefined, volumes: { roots: [dir.join('mounts')], intervalMs: 50 } });
  dispatcher = createDispatcher(engine);
  dispatcher.subscribe((event) => events.push(event));
  const { importId } = await ok<{ importId: string }>('import:start', { source: dir.join('card'), event: 'Sports Day', template: '{event}-{seq:3}' });
  await waitFor(() => events.some((event) => event.event === 'import:finished' && event.payload.importId === importId), 'the import');
  await engine.jobs.whenIdle(['thumbs']);
});

afterAll(async () => {
  await dispatcher.close();
  await engine.close();
  await dir.cleanup();
});

/** Everything a call could change, read straight from the catalog. */
function catalogState(): string {
  const { catalog } = engine;
  const assets = catalog.assets.listTimelinePage({ limit: 1000 }).items.map((asset) => ({ ...asset, tags: catalog.tags.forAsset(asset.id), people: catalog.people.forAsset(asset.id).map((p) => p.id) }));
  return JSON.stringify({ assets, events: catalog.events.list(), people: catalog.people.list(), tags: catalog.tags.list(), jobs: catalog.jobs.countsByKind() });
}

const BAD_VALUES: unknown[] = [
  null,
  'text',
  42,
  [],
  Number.NaN,
  Number.POSITIVE_INFINITY,
  -1,
  1.5,
  'x'.repeat(100_000),
  Array.from({ length: 20_000 }, () => 1),
  { nested: { deep: true } },
];

describe(createDispatcher.name, () => {
  it('imports over the contract, pushing progress, thumbnail-ready and finished events', () => {
    const finished = events.find((event) => event.event === 'import:finished');
    expect(finished?.payload).toMatchObject({ state: 'completed', imported: 3, duplicates: 0, failed: [], error: null });
    const progress = events.filter((event) => event.event === 'import:progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)?.payload).toMatchObject({ filesDone: 3, filesTotal: 3 });
    const ready = new Set(events.flatMap((event) => (event.event === 'asset:thumbReady' ? [event.payload.assetId] : [])));
    expect(ready.size).toBe(3);
  });

  it('refuses bad input of every call with invalid-input and a sentence, and never touches the catalog', async () => {
    const before = catalogState();
    const methods = Object.keys(CALLS) as Method[];
    const inputs: unknown[] = [
      ...BAD_VALUES,
      { extra: 1 },
      JSON.parse('{"__proto__": {"polluted": true}}'),
      { constructor: { prototype: { polluted: true } } },
      { ids: [1.5], rating: 3 },
      { ids: [1], rating: 6 },
      { ids: [1], rating: Number.NaN },
      { ids: [-1], flag: 'pick' },
      { ids: Array.from({ length: 10_001 }, (_, i) => i + 1), rating: 1 },
      { ids: [1], tags: ['x'.repeat(201)] },
      { ids: [1], colorLabel: 'orange' },
      { query: 'x'.repeat(1001) },
      { eventId: Number.POSITIVE_INFINITY },
      { id: '1' },
      { importId: '../etc' },
    ];
    let refused = 0;
    for (const method of methods) {
      for (const input of inputs) {
        const result: Result = await dispatcher.call(method, input);
        const accepted = CALLS[method].safeParse(input).success;
        if (accepted) continue;
        refused += 1;
        expect(result.ok, `${method} ${JSON.stringify(input)?.slice(0, 80)}`).toBe(false);
        if (!result.ok) {
          expect(result.error.code).toBe('invalid-input');
          expect(result.error.message).toMatch(/^The .+\.$/);
          expect(JSON.stringify(result.error)).not.toMatch(/at .+\.ts:\d+/);
        }
      }
    }
    expect(refused).toBeGreaterThan(methods.length * 10);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(catalogState()).toBe(before);
  });

  it('answers an unknown method with one clean error', async () => {
    for (const method of ['nope', '__proto__', 'constructor', 'toString', '', 'events:list '.repeat(100)]) {
      const result = await dispatcher.call(method, {});
      expect(result).toEqual({ ok: false, error: { code: 'unknown-method', message: expect.stringMatching(/^Keepsake has no operation called/), hint: expect.any(String) } });
    }
  });

  it('round-trips every call against the real engine', async () => {
    const info = await ok<{ root: string; readOnly: boolean }>('library:info', {});
    expect(info).toMatchObject({ root: engine.libraryRoot, readOnly: false });
    expect(await ok('library:status', {})).toMatchObject({ assets: 3, unreadable: 0, events: 1 });
    const [event] = await ok<Array<{ id: number; name: string; assetCount: number; unreadableCount: number; unpublishedCount: number; version: number }>>('events:list', {});
    expect(event).toMatchObject({ name: 'Sports Day', assetCount: 3, unreadableCount: 0, unpublishedCount: 3 });
    const created = await ok<{ id: number; version: number; folder: string }>('events:create', { name: 'Play', startsOn: '2026-06-01', location: 'Hall' });
    expect(created.folder).toBe('Play');
    expect((await dispatcher.call('events:create', { name: 'play' })).ok).toBe(false);
    const updated = await ok<{ name: string; version: number }>('events:update', { id: created.id, version: created.version, name: 'Summer Play' });
    expect(updated).toMatchObject({ name: 'Summer Play', version: created.version + 1 });
    const stale = await dispatcher.call('events:update', { id: created.id, version: created.version, name: 'Again' });
    expect(stale).toMatchObject({ ok: false, error: { code: 'conflict', hint: expect.any(String) } });

    const first = await ok<{ items: Array<{ id: number; path: string }>; next: { sortTime: number; id: number } | null }>('assets:eventPage', { eventId: event!.id, limit: 2 });
    // Pages follow capture time; the rename numbers follow the order files finished copying, which varies.
    expect(first.items).toHaveLength(2);
    for (const asset of first.items) expect(asset.path).toMatch(/^Sports Day\/Sports Day-00[1-3]\.\w+$/);
    const second = await ok<{ items: Array<{ id: number }>; next: unknown }>('assets:eventPage', { eventId: event!.id, limit: 2, after: first.next });
    expect(second.items).toHaveLength(1);
    expect(second.next).toBeNull();
    expect(new Set([...first.items, ...second.items].map((asset) => asset.id)).size).toBe(3);
    const timeline = await ok<{ items: Array<{ id: number }> }>('assets:timelinePage', {});
    expect(timeline.items).toHaveLength(3);
    const ids = timeline.items.map((asset) => asset.id);

    expect(await ok('assets:setRating', { ids, rating: 4 })).toEqual({ updated: 3 });
    expect(await ok('assets:setFlag', { ids: [ids[0]], flag: 'pick' })).toEqual({ updated: 1 });
    expect(await ok('assets:setColorLabel', { ids: [ids[0]], colorLabel: 'green' })).toEqual({ updated: 1 });
    expect(await ok('assets:setText', { ids: [ids[0]], title: 'Relay', description: 'The final' })).toEqual({ updated: 1 });
    expect(await ok('tags:add', { ids, tags: ['final', 'relay'] })).toEqual({ updated: 3 });
    expect(await ok('tags:remove', { ids: [ids[1]], tags: ['relay'] })).toEqual({ updated: 1 });
    const missing = await dispatcher.call('assets:setRating', { ids: [ids[0], 999_999], rating: 1 });
    expect(missing).toMatchObject({ ok: false, error: { code: 'not-found' } });
    expect(engine.catalog.assets.get(ids[0] as never)?.rating).toBe(4);

    await writeFile(dir.join('roster.csv'), 'name,class,family email,publish\nAna Lima,4B,lima@example.org,yes\n');
    expect(await ok('people:importRoster', { file: dir.join('roster.csv') })).toEqual({ created: 1, updated: 0, errors: [] });
    const [ana] = await ok<Array<{ id: number; name: string }>>('people:list', {});
    expect(ana?.name).toBe('Ana Lima');
    expect(await ok('people:tag', { ids, personId: ana!.id })).toEqual({ updated: 3 });
    expect(await ok('people:untag', { ids: [ids[2]], personId: ana!.id })).toEqual({ updated: 1 });

    const detail = await ok<{ asset: { rating: number; flag: string; colorLabel: string; title: string }; tags: string[]; people: Array<{ name: string }>; variants: string[] }>('assets:get', { id: ids[0] });
    expect(detail.asset).toMatchObject({ rating: 4, flag: 'pick', colorLabel: 'green', title: 'Relay' });
    expect(detail.tags).toEqual(['final', 'relay']);
    expect(detail.people.map((p) => p.name)).toEqual(['Ana Lima']);
    expect(detail.variants).toEqual(['thumb', 'preview', 'original']);

    const found = await ok<{ items: Array<{ id: number }> }>('search:query', { query: 'tag:relay person:"Ana Lima" rating>=4' });
    expect(found.items.map((asset) => asset.id)).toEqual([ids[0]]);
    const badQuery = await dispatcher.call('search:query', { query: 'rating>=9' });
    expect(badQuery).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
    expect(await ok('search:suggest', { prefix: 're' })).toEqual({ tags: ['relay'], people: [], events: [] });
    expect(await ok('search:suggest', { prefix: 'an' })).toMatchObject({ people: ['Ana Lima'] });

    const preview = await ok<{ names: Array<{ destination: string }>; duplicates: number }>('import:preview', { source: dir.join('card'), event: 'Other', template: '{event}-{seq:2}' });
    expect(preview).toMatchObject({ names: [], duplicates: 3 });
    await makeJpeg(dir.join('card2', 'IMG_0100.JPG'), { seed: 100, width: 64, height: 48 });
    const fresh = await ok<{ names: Array<{ destination: string }> }>('import:preview', { source: dir.join('card2'), event: 'Other', template: '{event}-{seq:2}' });
    expect(fresh.names.map((name) => name.destination)).toEqual(['Other/Other-01.jpg']);
    expect(engine.catalog.events.findByName('Other')).toBeUndefined();
    // The quick preview hashes nothing: the card's files already in the library are named too, duplicates unknown.
    const quick = await ok<{ names: Array<{ destination: string }>; duplicates: number | null; total: number }>('import:preview', { source: dir.join('card'), event: 'Other', template: '{event}-{seq:2}', quick: true });
    expect(quick).toMatchObject({ duplicates: null, total: 3 });
    expect(quick.names.map((name) => name.destination)).toEqual(['Other/Other-01.jpg', 'Other/Other-02.jpg', 'Other/Other-03.jpg']);
    const gone = await dispatcher.call('import:preview', { source: dir.join('no-such-card'), event: 'Other' });
    expect(gone).toMatchObject({ ok: false, error: { code: 'not-found', message: expect.stringMatching(/card/), hint: expect.any(String) } });

    expect(await ok('import:cancel', { importId: '0'.repeat(32) })).toEqual({ cancelled: false });
    expect(await ok('jobs:progress', {})).toMatchObject({ paused: false, kinds: expect.arrayContaining([expect.objectContaining({ kind: 'thumbs' })]) });
    expect(await ok('assets:unreadable', {})).toEqual([]);
    expect(await ok('volumes:list', {})).toEqual([]);
  });

  it('serves a grid its positions, the visible assets in one batch, and each event its cover', async () => {
    const [sports] = (await ok<Array<{ id: number; name: string; coverAssetId: number | null }>>('events:list', {})).filter((event) => event.name === 'Sports Day');
    const { ids } = await ok<{ ids: number[] }>('assets:positions', { eventId: sports!.id });
    const paged = await ok<{ items: Array<{ id: number }> }>('assets:eventPage', { eventId: sports!.id, limit: 1000 });
    expect(ids).toEqual(paged.items.map((asset) => asset.id));
    expect(sports!.coverAssetId).not.toBeNull();
    expect(ids).toContain(sports!.coverAssetId);
    expect((await ok<{ ids: number[] }>('assets:positions', {})).ids).toEqual((await ok<{ items: Array<{ id: number }> }>('assets:timelinePage', { limit: 1000 })).items.map((asset) => asset.id));
    const many = await ok<Array<{ id: number; thumbhash: string | null }>>('assets:getMany', { ids: [ids[2], 999_999, ids[0]] });
    expect(many.map((asset) => asset.id)).toEqual([ids[2], ids[0]]);
    expect(many.every((asset) => typeof asset.thumbhash === 'string')).toBe(true);
    expect(await dispatcher.call('assets:positions', { eventId: 999_999 })).toMatchObject({ ok: false, error: { code: 'not-found' } });
    expect(await dispatcher.call('assets:getMany', { ids: Array.from({ length: 501 }, (_, i) => i + 1) })).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
  });

  it('pushes camera cards inserted and removed, and lists them', async () => {
    const { mkdir, rm } = await import('node:fs/promises');
    await mkdir(dir.join('mounts'), { recursive: true });
    engine.volumes.start();
    await makeJpeg(dir.join('mounts', 'EOS_DIGITAL', 'DCIM', '100CANON', 'IMG_0001.JPG'), { seed: 50, width: 32, height: 24 });
    await waitFor(() => events.some((event) => event.event === 'volume:inserted'), 'the card');
    expect(await ok('volumes:list', {})).toEqual([expect.objectContaining({ label: 'EOS_DIGITAL', mediaCount: 1 })]);
    await rm(dir.join('mounts', 'EOS_DIGITAL'), { recursive: true });
    await waitFor(() => events.some((event) => event.event === 'volume:removed'), 'the card to go');
    expect(events.find((event) => event.event === 'volume:removed')?.payload).toEqual({ path: dir.join('mounts', 'EOS_DIGITAL'), label: 'EOS_DIGITAL' });
    await engine.volumes.stop();
  });

  it('resolves media by id only, inside the library, with the variant’s MIME', async () => {
    const [asset] = engine.catalog.assets.listTimelinePage({ limit: 1 }).items;
    const thumb = await resolveMedia(engine, String(asset!.id), 'thumb');
    expect(thumb.mime).toBe('image/webp');
    expect(thumb.file.startsWith(await import('node:fs/promises').then((fs) => fs.realpath(engine.libraryRoot)))).toBe(true);
    expect((await resolveMedia(engine, asset!.id, 'original')).mime).toBe('image/jpeg');
    for (const [id, variant] of [['../1', 'thumb'], ['01', 'thumb'], ['1e3', 'thumb'], ['999999', 'thumb'], [String(asset!.id), 'proxy'], [String(asset!.id), '../../catalog.db'], ['-1', 'thumb']]) {
      await expect(resolveMedia(engine, id!, variant!)).rejects.toMatchObject({ code: 'not-found' });
    }
  });
});
