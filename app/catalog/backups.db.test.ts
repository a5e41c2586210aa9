import Sqlite from 'better-sqlite3';
import { readdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main, type Io } from '../cli/main.ts';
import type { ContentHash } from '../shared/ids.ts';
import { tempDir, type TempDir } from '../test/fixtures.ts';
import { backupCatalog, defaultBackupDir, listBackups, restoreCatalog } from './backups.ts';
import { Catalog } from './catalog.ts';
import { catalogPath } from './database.ts';

let dir: TempDir;
let library: string;

beforeEach(async () => {
  dir = await tempDir('keepsake-backup-');
  library = dir.join('library');
});
afterEach(async () => {
  await dir.cleanup();
});

function addAssets(catalog: Catalog, from: number, count: number): void {
  catalog.transaction(() => {
    for (let i = from; i < from + count; i++) {
      const asset = catalog.assets.insert({
        hash: `${i}`.padStart(32, '0') as ContentHash,
        eventId: null,
        path: `Sports Day/IMG_${i}.JPG`,
        originalName: `IMG_${i}.JPG`,
        size: i,
        mtimeMs: 0,
        kind: 'photo',
        mime: 'image/jpeg',
        sortTime: i,
      });
      catalog.tags.tagAsset(asset.id, ['relay']);
    }
  });
}

const quiet: Io = { out: () => undefined, err: () => undefined, isTTY: false };

describe('catalog backups', () => {
  it('restores the catalog exactly as it was backed up, keeping the one it replaces', async () => {
    const catalog = Catalog.open(library);
    addAssets(catalog, 1, 50);
    const backup = await backupCatalog(catalog, defaultBackupDir(library), { now: new Date('2026-12-01T10:00:00.000Z') });
    addAssets(catalog, 51, 25);
    catalog.tags.tagAsset(catalog.assets.getByPath('Sports Day/IMG_1.JPG')[0]!.id, ['final']);
    catalog.close();

    const { replaced } = await restoreCatalog(library, backup.file);
    expect(replaced).toMatch(/catalog\.db\.before-restore-/);
    const restored = Catalog.open(library, { create: false });
    expect(restored.assets.count()).toBe(50);
    expect(restored.tags.list()).toEqual([expect.objectContaining({ name: 'relay', count: 50 })]);
    restored.close();
    // The replaced catalog is still there, whole, with what was added after the backup.
    const before = new Sqlite(replaced!, { readonly: true });
    expect(before.prepare('SELECT count(*) AS n FROM assets').get()).toEqual({ n: 75 });
    before.close();
  });

  it('takes a consistent backup while another connection keeps writing', async () => {
    const catalog = Catalog.open(library);
    addAssets(catalog, 1, 200);
    // A second writer in a worker commits batches for as long as the backup runs.
    const writer = new Worker(
      `const Sqlite = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))});
       const db = new Sqlite(${JSON.stringify(catalogPath(library))});
       db.pragma('busy_timeout = 5000');
       const insert = db.prepare("INSERT INTO tags (name) VALUES (?)");
       let n = 0; const end = Date.now() + 1500;
       while (Date.now() < end) { db.transaction(() => { for (let i = 0; i < 50; i++) insert.run('w' + n++); })(); }
       db.close();`,
      { eval: true },
    );
    const backups = [];
    for (let i = 0; i < 3; i++) backups.push(await backupCatalog(catalog, dir.join('backups'), { now: new Date(Date.UTC(2026, 11, 1, 10, 0, i)) }));
    await new Promise((resolve) => writer.once('exit', resolve));
    catalog.close();
    for (const backup of backups) {
      const copy = new Sqlite(backup.file, { readonly: true });
      expect(copy.pragma('quick_check', { simple: true })).toBe('ok');
      // Whole transactions only: the writer's tags arrive 50 at a time (plus the one tag of the assets).
      expect(((copy.prepare('SELECT count(*) AS n FROM tags').get() as { n: number }).n - 1) % 50).toBe(0);
      copy.close();
    }
  });

  it('keeps only the newest backups it is asked to keep', async () => {
    const catalog = Catalog.open(library);
    addAssets(catalog, 1, 5);
    for (let i = 0; i < 5; i++) await backupCatalog(catalog, dir.join('backups'), { keep: 3, now: new Date(Date.UTC(2026, 11, 1, 10, i)) });
    catalog.close();
    const backups = await listBackups(dir.join('backups'));
    expect(backups.map((backup) => backup.takenAt)).toEqual(['2026-12-01T10:04:00.000Z', '2026-12-01T10:03:00.000Z', '2026-12-01T10:02:00.000Z']);
    expect((await readdir(dir.join('backups'))).sort()).toEqual(backups.map((backup) => path.basename(backup.file)).sort());
  });

  it('refuses a damaged or foreign backup and leaves the catalog as it is', async () => {
    const catalog = Catalog.open(library);
    addAssets(catalog, 1, 10);
    catalog.close();
    const junk = dir.join('junk.db');
    await writeFile(junk, Buffer.alloc(8192, 0x41));
    await expect(restoreCatalog(library, junk)).rejects.toMatchObject({ code: 'corrupt-media', message: expect.stringMatching(/not a usable catalog backup.*left as it is/) });
    await expect(restoreCatalog(library, dir.join('nowhere.db'))).rejects.toMatchObject({ code: 'not-found' });
    const still = Catalog.open(library, { create: false });
    expect(still.assets.count()).toBe(10);
    still.close();
  });

  it('backs up and restores from the CLI', async () => {
    expect(await main(['init', library], quiet)).toBe(0);
    const catalog = Catalog.open(library);
    addAssets(catalog, 1, 3);
    catalog.close();
    let out = '';
    const capture: Io = { out: (text) => (out += text), err: () => undefined, isTTY: false };
    expect(await main(['backup', '--library', library, '--json'], capture)).toBe(0);
    const { file, kept } = JSON.parse(out) as { file: string; kept: number };
    expect(kept).toBe(1);
    const again = Catalog.open(library);
    addAssets(again, 4, 3);
    again.close();
    out = '';
    expect(await main(['restore', file, '--library', library, '--json'], capture)).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ restored: file, assets: 3 });
  });
});
