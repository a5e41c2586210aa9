import Sqlite from 'better-sqlite3';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ContentHash } from '../shared/ids.ts';
import { Catalog } from './catalog.ts';
import { catalogPath, migrate, openDatabase } from './database.ts';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations/index.ts';

const dirs: string[] = [];
async function tempLibrary(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keepsake-db-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

function tables(db: Sqlite.Database): string[] {
  return (db.prepare("SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') ORDER BY name").all() as Array<{ name: string }>).map(
    (row) => row.name,
  );
}

function insertAsset(db: Sqlite.Database, hash: string, name: string): void {
  db.prepare(
    `INSERT INTO assets (hash, path, original_name, size, mtime_ms, kind, mime, sort_time, imported_at, updated_at)
     VALUES (@hash, @name, @name, 1, 0, 'photo', 'image/jpeg', 0, 'now', 'now')`,
  ).run({ hash, name });
}

/** A library with 2,000 assets whose catalog has an index page scribbled over, as a failing disk leaves it. */
async function damagedLibrary(options: { damage?: boolean } = {}): Promise<string> {
  const library = await tempLibrary();
  const catalog = Catalog.open(library);
  const event = catalog.events.create({ name: 'Sports Day', folder: 'Sports Day' });
  catalog.transaction(() => {
    for (let i = 0; i < 2000; i += 1) {
      catalog.assets.insert({
        hash: `h${i}` as ContentHash,
        eventId: event.id,
        path: `Sports Day/IMG_${i}.JPG`,
        originalName: `IMG_${i}.JPG`,
        size: i,
        mtimeMs: 0,
        kind: 'photo',
        mime: 'image/jpeg',
        sortTime: i,
      });
    }
  });
  catalog.db.pragma('wal_checkpoint(TRUNCATE)');
  catalog.close();
  if (options.damage === false) return library;
  const file = catalogPath(library);
  const handle = await open(file, 'r+');
  const { size } = await stat(file);
  await handle.write(Buffer.alloc(4096, 0x5a), 0, 4096, Math.floor(size / 4096 / 2) * 4096);
  await handle.close();
  return library;
}

describe('openDatabase', () => {
  it('creates the catalog under .keepsake with WAL and foreign keys on', async () => {
    const library = await tempLibrary();
    const catalog = Catalog.open(library);
    expect(catalog.file).toBe(path.join(library, '.keepsake', 'catalog.db'));
    expect(catalog.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(catalog.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(catalog.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(catalog.readOnly).toBe(false);
    catalog.close();
  });

  it('opens a damaged catalog read-only and says why', async () => {
    const library = await damagedLibrary();
    const damaged = Catalog.open(library);
    expect(damaged.readOnly).toBe(true);
    expect(damaged.damage).toMatch(/failed its integrity check.*read-only/);
    expect(await damaged.integrity).toBe(damaged.damage);
    expect(() => damaged.assertWritable()).toThrow(/read-only/);
    expect(() => damaged.events.create({ name: 'Play', folder: 'Play' })).toThrow();
    damaged.close();
  });

  it('checks a large catalog in the background, and turns it read-only the moment the check fails', async () => {
    const sound = await damagedLibrary({ damage: false });
    const fine = Catalog.open(sound, { backgroundCheckAboveBytes: 0 });
    expect(await fine.integrity).toBeNull();
    expect(fine.readOnly).toBe(false);
    fine.close();

    const library = await damagedLibrary();
    const reported: string[] = [];
    const catalog = Catalog.open(library, { backgroundCheckAboveBytes: 0 });
    catalog.onDamage((damage) => reported.push(damage));
    // Opened at once, without waiting for the check to read the whole file.
    expect(catalog.readOnly).toBe(false);
    const damage = await catalog.integrity;
    expect(damage).toMatch(/failed its integrity check.*read-only/);
    expect(reported).toEqual([damage]);
    expect(catalog.readOnly).toBe(true);
    expect(() => catalog.events.create({ name: 'Play', folder: 'Play' })).toThrow();
    catalog.close();
  });

  it('refuses a file that is not a catalog with a clear message', async () => {
    const library = await tempLibrary();
    const file = catalogPath(library);
    await Catalog.open(library).close();
    const handle = await open(file, 'w');
    await handle.write(Buffer.from('this is a holiday photo, not a database'.repeat(200)));
    await handle.close();
    await rm(`${file}-wal`, { force: true });
    await rm(`${file}-shm`, { force: true });
    expect(() => openDatabase(file)).toThrow(/not a Keepsake catalog/);
  });

  it('refuses a catalog written by a newer version', async () => {
    const library = await tempLibrary();
    const catalog = Catalog.open(library);
    catalog.db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    catalog.close();
    expect(() => Catalog.open(library)).toThrow(/newer Keepsake/);
  });
});

describe('migrations', () => {
  it('are numbered 1..n without gaps', () => {
    expect(MIGRATIONS.map((migration) => migration.version)).toEqual(MIGRATIONS.map((_, index) => index + 1));
  });

  it('0001 creates the library tables from an empty file', () => {
    const db = new Sqlite(':memory:');
    migrate(db, 1);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    expect(tables(db)).toEqual(
      expect.arrayContaining(['library', 'events', 'assets', 'sidecars', 'tags', 'asset_tags', 'people', 'consents', 'asset_people', 'import_sessions', 'import_items', 'jobs']),
    );
    db.close();
  });

  it('0002 adds search and queues every existing asset for indexing', () => {
    const db = new Sqlite(':memory:');
    migrate(db, 1);
    insertAsset(db, 'a', 'IMG_1.JPG');
    insertAsset(db, 'b', 'IMG_2.JPG');
    migrate(db, 2);
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    expect(tables(db)).toEqual(expect.arrayContaining(['search_fts', 'search_dirty', 'meta']));
    expect(db.prepare('SELECT count(*) AS n FROM search_dirty').get()).toEqual({ n: 2 });
    insertAsset(db, 'c', 'IMG_3.JPG');
    expect(db.prepare('SELECT count(*) AS n FROM search_dirty').get()).toEqual({ n: 3 });
    db.close();
  });

  it('0003 adds placeholders and queues the derivatives of every existing asset, then of every new one', () => {
    const db = new Sqlite(':memory:');
    migrate(db, 2);
    insertAsset(db, 'a', 'IMG_1.JPG');
    migrate(db, 3);
    expect(db.pragma('user_version', { simple: true })).toBe(3);
    expect(db.prepare('SELECT thumbhash FROM assets').get()).toEqual({ thumbhash: null });
    insertAsset(db, 'b', 'IMG_2.JPG');
    expect(db.prepare("SELECT kind, asset_id AS assetId, state FROM jobs ORDER BY asset_id").all()).toEqual([
      { kind: 'thumbs', assetId: 1, state: 'queued' },
      { kind: 'thumbs', assetId: 2, state: 'queued' },
    ]);
    db.close();
  });

  it('rolls a failing migration back whole, leaving the version where it was', () => {
    const db = new Sqlite(':memory:');
    migrate(db, 1);
    db.exec('CREATE TABLE meta (key TEXT)'); // 0002 creates meta too: it must fail and leave nothing behind.
    expect(() => migrate(db, 2)).toThrow();
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    expect(tables(db)).not.toContain('search_dirty');
    db.close();
  });
});
