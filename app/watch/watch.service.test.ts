import { mkdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/catalog.ts';
import { hashFile } from '../ingest/content-hash.ts';
import { ImportService } from '../ingest/import.service.ts';
import { scanSource } from '../ingest/source-scanner.ts';
import { createLogger } from '../log/logger.ts';
import type { AssetId, ContentHash } from '../shared/ids.ts';
import { makeJpeg, tempDir, type TempDir } from '../test/fixtures.ts';
import { waitFor, writeSlowly } from '../test/watch-helpers.ts';
import { WatchService, type WatchServiceEvents } from './watch.service.ts';

const STABILITY_MS = 400;

/** The parts of the engine the watch uses, on a real catalog; metadata is not what these tests are about. */
interface Library {
  libraryRoot: string;
  catalog: Catalog;
  imports: ImportService;
  log: ReturnType<typeof createLogger>;
  close(): Promise<void>;
}

let dir: TempDir;
let engine: Library;
let services: WatchService[];

beforeEach(async () => {
  dir = await tempDir('keepsake-watch-');
  const libraryRoot = dir.join('library');
  const catalog = Catalog.open(libraryRoot);
  const log = createLogger('test');
  const imports = new ImportService({ catalog, libraryRoot, scanSource, metadata: { read: async () => ({}) }, log });
  engine = { libraryRoot, catalog, imports, log, close: async () => catalog.close() };
  engine.catalog.events.create({ name: 'Sports Day', folder: 'Sports Day' });
  await mkdir(eventDir('Sports Day'), { recursive: true });
  services = [];
});

afterEach(async () => {
  for (const service of services) await service.stop();
  await engine.close();
  await dir.cleanup();
});

function eventDir(...parts: string[]): string {
  return path.join(engine.libraryRoot, ...parts);
}

/** A started service on the test library, with every event it emits recorded by kind. */
async function startWatching(): Promise<{ service: WatchService; seen: { [K in keyof WatchServiceEvents]: WatchServiceEvents[K][0][] } }> {
  const service = new WatchService({
    catalog: engine.catalog,
    imports: engine.imports,
    libraryRoot: engine.libraryRoot,
    log: engine.log,
    stabilityMs: STABILITY_MS,
    watcher: { pollMs: 50, rescanMs: 300 },
  });
  services.push(service);
  const seen = { added: [], moved: [], missing: [], restored: [], skipped: [], error: [], ready: [] } as {
    [K in keyof WatchServiceEvents]: WatchServiceEvents[K][0][];
  };
  for (const name of Object.keys(seen) as Array<keyof WatchServiceEvents>) {
    (service.on as (event: string, listener: (value: unknown) => void) => WatchService)(name, (value) => void (seen[name] as unknown[]).push(value));
  }
  await service.start();
  return { service, seen };
}

function assetAt(relative: string) {
  return engine.catalog.assets.getByPath(relative)[0];
}

async function photo(file: string, seed: number): Promise<string> {
  return makeJpeg(file, { seed, width: 160, height: 120 });
}

describe(WatchService.name, () => {
  it('catalogues a file dropped into an event folder only once its writes finish', async () => {
    const { seen } = await startWatching();
    const bytes = await readFile(await photo(dir.join('outside', 'phone.jpg'), 1));
    const target = eventDir('Sports Day', 'phone.jpg');
    const sizesSeenWhileWriting: number[] = [];
    await writeSlowly(target, bytes, {
      chunks: 10,
      gapMs: 110,
      onChunk: () => {
        const asset = assetAt(path.join('Sports Day', 'phone.jpg'));
        if (asset) sizesSeenWhileWriting.push(asset.size);
      },
    });
    const asset = await waitFor(() => assetAt(path.join('Sports Day', 'phone.jpg')), 'the dropped photo to be catalogued');
    // Anything catalogued before the last chunk would have a partial size.
    expect(sizesSeenWhileWriting.every((size) => size === bytes.length)).toBe(true);
    expect(asset).toMatchObject({ size: bytes.length, hash: (await hashFile(target)).hash, status: 'ok', originalName: 'phone.jpg' });
    expect(seen.added).toEqual([{ path: path.join('Sports Day', 'phone.jpg'), assetId: asset.id, event: 'Sports Day' }]);
  });

  it('catalogues a file exactly once however many events it raises', async () => {
    const { service, seen } = await startWatching();
    const file = await photo(eventDir('Sports Day', 'IMG_0001.jpg'), 2);
    const bytes = await readFile(file);
    // Rewrites of the same bytes and touches, during and after its first write settles.
    for (let i = 0; i < 5; i++) {
      await writeFile(file, bytes);
      await utimes(file, new Date(), new Date());
    }
    await waitFor(() => seen.added.length === 1, 'the photo to be added');
    await writeFile(file, bytes);
    await service.settled();
    expect(seen.added).toHaveLength(1);
    expect(engine.catalog.assets.count()).toBe(1);
    expect(seen.error).toEqual([]);
  });

  it('keeps the asset, its tags and rating when the file is renamed or moved within the folders', async () => {
    const { service, seen } = await startWatching();
    await photo(eventDir('Sports Day', 'IMG_0002.jpg'), 3);
    const asset = await waitFor(() => assetAt(path.join('Sports Day', 'IMG_0002.jpg')), 'the photo to be added');
    engine.catalog.tags.tagAsset(asset.id, ['relay']);
    engine.catalog.assets.setCulling(asset.id, { rating: 4, flag: 'pick' });

    await mkdir(eventDir('Sports Day', 'best'));
    await rename(eventDir('Sports Day', 'IMG_0002.jpg'), eventDir('Sports Day', 'best', 'relay-final.jpg'));
    const moved = path.join('Sports Day', 'best', 'relay-final.jpg');
    await waitFor(() => seen.moved.length === 1, 'the move to be recognised');
    await service.settled();

    expect(seen.moved).toEqual([{ from: path.join('Sports Day', 'IMG_0002.jpg'), to: moved, assetId: asset.id }]);
    expect(engine.catalog.assets.get(asset.id)).toMatchObject({ path: moved, status: 'ok', rating: 4, flag: 'pick' });
    expect(engine.catalog.tags.forAsset(asset.id)).toEqual(['relay']);
    expect(seen.missing).toEqual([]);
    expect(engine.catalog.assets.count()).toBe(1);
  });

  it('marks the asset of a deleted file missing and keeps its row', async () => {
    const { seen } = await startWatching();
    await photo(eventDir('Sports Day', 'IMG_0003.jpg'), 4);
    const asset = await waitFor(() => assetAt(path.join('Sports Day', 'IMG_0003.jpg')), 'the photo to be added');
    engine.catalog.tags.tagAsset(asset.id, ['podium']);
    await rm(eventDir('Sports Day', 'IMG_0003.jpg'));
    await waitFor(() => seen.missing.length === 1, 'the asset to be marked missing');
    expect(seen.missing).toEqual([{ path: path.join('Sports Day', 'IMG_0003.jpg'), assetId: asset.id }]);
    expect(engine.catalog.assets.get(asset.id)).toMatchObject({ id: asset.id, status: 'missing', path: path.join('Sports Day', 'IMG_0003.jpg') });
    expect(engine.catalog.tags.forAsset(asset.id)).toEqual(['podium']);
  });

  it('reconciles an add, a delete and a move made while nobody watched', async () => {
    const first = await startWatching();
    for (const [name, seed] of [['keep.jpg', 10], ['gone.jpg', 11], ['move.jpg', 12]] as const) await photo(eventDir('Sports Day', name), seed);
    await waitFor(() => first.seen.added.length === 3, 'three photos to be added');
    await first.service.stop();
    const id = (name: string): AssetId => assetAt(path.join('Sports Day', name))!.id;
    const [keep, gone, move] = [id('keep.jpg'), id('gone.jpg'), id('move.jpg')];

    await rm(eventDir('Sports Day', 'gone.jpg'));
    await mkdir(eventDir('Sports Day', 'later'));
    await rename(eventDir('Sports Day', 'move.jpg'), eventDir('Sports Day', 'later', 'moved.jpg'));
    await photo(eventDir('Sports Day', 'new.jpg'), 13);
    // Old enough to count as written: the scan catalogues it at once rather than waiting for it to settle.
    const past = new Date(Date.now() - 60_000);
    await utimes(eventDir('Sports Day', 'new.jpg'), past, past);

    const second = await startWatching();
    expect(second.seen.ready[0]).toMatchObject({ events: 1, files: 3, added: 1, moved: 1, missing: 1, restored: 0 });
    expect(engine.catalog.assets.get(keep)).toMatchObject({ status: 'ok', path: path.join('Sports Day', 'keep.jpg') });
    expect(engine.catalog.assets.get(gone)).toMatchObject({ status: 'missing' });
    expect(engine.catalog.assets.get(move)).toMatchObject({ status: 'ok', path: path.join('Sports Day', 'later', 'moved.jpg') });
    expect(assetAt(path.join('Sports Day', 'new.jpg'))).toMatchObject({ status: 'ok' });
    expect(engine.catalog.assets.count()).toBe(4);
  });

  it('reconciles a large event read from the catalog in pages', async () => {
    const event = engine.catalog.events.findByName('Sports Day')!;
    const count = 2100;
    await Promise.all(Array.from({ length: count }, (_, i) => writeFile(eventDir('Sports Day', `F${String(i).padStart(4, '0')}.jpg`), '')));
    const stats = await Promise.all(Array.from({ length: count }, (_, i) => stat(eventDir('Sports Day', `F${String(i).padStart(4, '0')}.jpg`))));
    engine.catalog.transaction(() => {
      for (const [i, info] of stats.entries()) {
        const name = `F${String(i).padStart(4, '0')}.jpg`;
        engine.catalog.assets.insert({
          hash: i.toString(16).padStart(32, '0') as ContentHash,
          eventId: event.id,
          path: path.join('Sports Day', name),
          originalName: name,
          size: 0,
          mtimeMs: info.mtimeMs,
          kind: 'photo',
          mime: 'image/jpeg',
          sortTime: i,
        });
      }
    });
    // The last files by capture time sit on the second page of the catalog read.
    for (const i of [2095, 2097, 2099]) await rm(eventDir('Sports Day', `F${i}.jpg`));
    const { seen } = await startWatching();
    expect(seen.ready[0]).toMatchObject({ files: count - 3, added: 0, moved: 0, missing: 3 });
    expect(seen.missing.map((missing) => missing.path).sort()).toEqual([2095, 2097, 2099].map((i) => path.join('Sports Day', `F${i}.jpg`)));
  });

  it('ignores junk files and its own temp files', async () => {
    const { service, seen } = await startWatching();
    const jpeg = await readFile(await photo(dir.join('outside', 'x.jpg'), 20));
    await writeFile(eventDir('Sports Day', '._IMG_0009.jpg'), jpeg);
    await writeFile(eventDir('Sports Day', '.DS_Store'), 'mac');
    await writeFile(eventDir('Sports Day', 'Thumbs.db'), 'windows');
    await writeFile(eventDir('Sports Day', '.IMG_0009.jpg.keepsake-tmp'), jpeg);
    await mkdir(eventDir('Sports Day', '.Trashes'));
    await writeFile(eventDir('Sports Day', '.Trashes', 'old.jpg'), jpeg);
    await writeFile(eventDir('Sports Day', 'IMG_0009.jpg'), jpeg);
    await waitFor(() => seen.added.length === 1, 'the real photo to be added');
    await service.settled();
    expect(seen.added.map((added) => added.path)).toEqual([path.join('Sports Day', 'IMG_0009.jpg')]);
    expect(seen.skipped).toEqual([]);
    expect(engine.catalog.assets.count()).toBe(1);
  });

  it('watches a subfolder created after the watch began', async () => {
    const { seen } = await startWatching();
    await mkdir(eventDir('Sports Day', 'phone', 'day 2'), { recursive: true });
    await photo(eventDir('Sports Day', 'phone', 'day 2', 'IMG_0100.jpg'), 30);
    await waitFor(() => seen.added.length === 1, 'the photo in the new subfolder to be added');
    // A second file in the (now watched) subfolder is seen through its own watch.
    await photo(eventDir('Sports Day', 'phone', 'day 2', 'IMG_0101.jpg'), 31);
    await waitFor(() => seen.added.length === 2, 'the second photo to be added');
    expect(seen.added.map((added) => added.path).sort()).toEqual([
      path.join('Sports Day', 'phone', 'day 2', 'IMG_0100.jpg'),
      path.join('Sports Day', 'phone', 'day 2', 'IMG_0101.jpg'),
    ]);
  });

  it('reports a removed event folder without crashing, and takes its files back when it returns', async () => {
    engine.catalog.events.create({ name: 'Play', folder: 'Play' });
    await mkdir(eventDir('Play'));
    const { seen } = await startWatching();
    await photo(eventDir('Sports Day', 'IMG_0200.jpg'), 40);
    const asset = await waitFor(() => assetAt(path.join('Sports Day', 'IMG_0200.jpg')), 'the photo to be added');
    await rename(eventDir('Sports Day'), dir.join('pulled'));
    await waitFor(() => seen.missing.length === 1, 'the asset to be marked missing');
    expect(seen.error).toEqual([{ path: 'Sports Day', error: expect.objectContaining({ code: 'not-found' }) }]);
    expect(engine.catalog.assets.get(asset.id)).toMatchObject({ status: 'missing' });

    // The other event folder is still watched.
    await photo(eventDir('Play', 'scene1.jpg'), 41);
    await waitFor(() => seen.added.length === 2, 'the photo of the other event to be added');

    await rename(dir.join('pulled'), eventDir('Sports Day'));
    await waitFor(() => seen.restored.length === 1, 'the asset to be back');
    expect(engine.catalog.assets.get(asset.id)).toMatchObject({ status: 'ok', path: path.join('Sports Day', 'IMG_0200.jpg') });
  });

  it('watches the folder of an event created after the watch began', async () => {
    const { seen } = await startWatching();
    engine.catalog.events.create({ name: 'Field Trip', folder: 'Field Trip' });
    await photo(eventDir('Field Trip', 'before.jpg'), 60);
    await services[0]!.refreshEvents();
    await waitFor(() => seen.added.length === 1, 'the photo already in the new folder');
    await photo(eventDir('Field Trip', 'after.jpg'), 61);
    await waitFor(() => seen.added.length === 2, 'the photo dropped later');
    expect(seen.added.map((added) => [added.path, added.event])).toEqual([
      [path.join('Field Trip', 'before.jpg'), 'Field Trip'],
      [path.join('Field Trip', 'after.jpg'), 'Field Trip'],
    ]);
  });

  it('skips a second copy of content already in the library, and adopts it if the first goes', async () => {
    const { seen } = await startWatching();
    const first = await photo(eventDir('Sports Day', 'a.jpg'), 50);
    const asset = await waitFor(() => assetAt(path.join('Sports Day', 'a.jpg')), 'the photo to be added');
    await writeFile(eventDir('Sports Day', 'copy of a.jpg'), await readFile(first));
    await waitFor(() => seen.skipped.length === 1, 'the copy to be skipped');
    await rm(first);
    await waitFor(() => seen.moved.length === 1, 'the copy to take over');
    expect(engine.catalog.assets.get(asset.id)).toMatchObject({ status: 'ok', path: path.join('Sports Day', 'copy of a.jpg') });
    expect(seen.missing).toEqual([]);
  });
});
