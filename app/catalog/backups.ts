import Sqlite from 'better-sqlite3';
import { copyFile, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileExists, syncDirectory, tempPathFor } from '../fs/durable-files.ts';
import { AppError, toAppError } from '../shared/errors.ts';
import type { Catalog } from './catalog.ts';
import { catalogPath, KEEPSAKE_DIR } from './database.ts';
import { SCHEMA_VERSION } from './migrations/index.ts';

/** One backup file of a catalog. */
export interface CatalogBackup {
  file: string;
  bytes: number;
  /** When it was taken (from its name), ISO-8601. */
  takenAt: string;
}

/** Backups kept when the caller names no number. */
export const DEFAULT_BACKUPS_KEPT = 10;
const PREFIX = 'catalog-';
const SUFFIX = '.db';

/** Where a library keeps its catalog backups unless told otherwise: `<library>/.keepsake/backups`. */
export function defaultBackupDir(libraryRoot: string): string {
  return path.join(libraryRoot, KEEPSAKE_DIR, 'backups');
}

/**
 * Takes an online backup of a live catalog with SQLite's backup API (never a copy of the file, which a
 * concurrent writer or the WAL would leave inconsistent), checks it, writes it durably under a dated name in
 * `dir`, and keeps only the newest `keep` backups there.
 */
export async function backupCatalog(catalog: Catalog, dir: string, options: { keep?: number; now?: Date } = {}): Promise<CatalogBackup> {
  const keep = options.keep ?? DEFAULT_BACKUPS_KEPT;
  if (!Number.isInteger(keep) || keep < 1) throw new AppError('invalid-input', `The number of backups to keep must be a whole number of at least 1, got ${keep}.`);
  const takenAt = (options.now ?? new Date()).toISOString();
  const file = path.join(dir, `${PREFIX}${takenAt.replace(/[:.]/g, '-')}${SUFFIX}`);
  const temp = tempPathFor(file);
  try {
    await mkdir(dir, { recursive: true });
    await catalog.db.backup(temp);
    // The copy inherits WAL mode; a backup is one self-contained file, so it goes back to a rollback journal
    // (no -wal or -shm beside it, now or when it is read). The catalog turns WAL on again when restored.
    const copy = new Sqlite(temp, { fileMustExist: true });
    try {
      copy.pragma('journal_mode = DELETE');
    } finally {
      copy.close();
    }
    const problem = checkFile(temp);
    if (problem) throw new AppError('io', `The backup did not pass its integrity check (${problem}); the catalog was not backed up.`);
    const handle = await open(temp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
    await syncDirectory(dir);
  } catch (error) {
    await rm(temp, { force: true });
    throw toAppError(error, `Cannot back up the catalog to ${dir}`);
  }
  for (const old of (await listBackups(dir)).slice(keep)) await rm(old.file, { force: true });
  return { file, bytes: (await stat(file)).size, takenAt };
}

/** The backups in `dir`, newest first. */
export async function listBackups(dir: string): Promise<CatalogBackup[]> {
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw toAppError(error, `Cannot read ${dir}`);
  });
  const backups: CatalogBackup[] = [];
  for (const name of names.filter((entry) => entry.startsWith(PREFIX) && entry.endsWith(SUFFIX)).sort().reverse()) {
    const stamp = name.slice(PREFIX.length, -SUFFIX.length);
    const match = /^(\d{4}-\d{2}-\d{2}T\d{2})-(\d{2})-(\d{2})-(\d{3})Z$/.exec(stamp);
    if (!match) continue;
    const file = path.join(dir, name);
    backups.push({ file, bytes: (await stat(file)).size, takenAt: `${match[1]}:${match[2]}:${match[3]}.${match[4]}Z` });
  }
  return backups;
}

/**
 * Puts a backup in place of a library's catalog. The library's engine must be closed. The backup is checked
 * first (integrity, and a schema this version can open); the current catalog is kept beside it as
 * `catalog.db.before-restore-<time>` rather than deleted; the swap is a rename, so a crash leaves one or the other.
 */
export async function restoreCatalog(libraryRoot: string, backupFile: string, options: { now?: Date } = {}): Promise<{ replaced: string | null }> {
  try {
    await stat(backupFile);
  } catch (error) {
    throw toAppError(error, `Cannot read the backup ${backupFile}`);
  }
  const problem = checkFile(backupFile);
  if (problem) throw new AppError('corrupt-media', `${backupFile} is not a usable catalog backup (${problem}). The current catalog was left as it is.`);
  const target = catalogPath(libraryRoot);
  await mkdir(path.dirname(target), { recursive: true });
  const temp = tempPathFor(target);
  try {
    await copyFile(backupFile, temp);
    const handle = await open(temp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    let replaced: string | null = null;
    if (await fileExists(target)) {
      replaced = `${target}.before-restore-${(options.now ?? new Date()).toISOString().replace(/[:.]/g, '-')}`;
      await rename(target, replaced);
    }
    // The WAL and shared memory belong to the file being replaced; left behind, SQLite would replay them into the backup.
    await rm(`${target}-wal`, { force: true });
    await rm(`${target}-shm`, { force: true });
    await rename(temp, target);
    await syncDirectory(path.dirname(target));
    return { replaced };
  } catch (error) {
    await rm(temp, { force: true });
    throw toAppError(error, `Cannot restore the catalog of ${libraryRoot}`);
  }
}

/** Why a catalog file cannot be used, or null when it passes SQLite's quick_check and has a schema this version opens. */
function checkFile(file: string): string | null {
  let db: Sqlite.Database | null = null;
  try {
    db = new Sqlite(file, { readonly: true, fileMustExist: true });
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version < 1) return 'it holds no Keepsake catalog';
    if (version > SCHEMA_VERSION) return `it was written by a newer Keepsake (schema ${version}; this one reads up to ${SCHEMA_VERSION})`;
    const rows = db.pragma('quick_check') as Array<{ quick_check: string }>;
    const problems = rows.map((row) => row.quick_check).filter((text) => text !== 'ok');
    return problems.length === 0 ? null : problems.slice(0, 3).join('; ');
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    db?.close();
  }
}
