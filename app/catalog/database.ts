import Sqlite, { type Database } from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../shared/errors.ts';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations/index.ts';

/** Where a library keeps its catalog, cache and logs. */
export const KEEPSAKE_DIR = '.keepsake';
/** The catalog file's name inside {@link KEEPSAKE_DIR}. */
export const CATALOG_FILE = 'catalog.db';

/** The catalog file of the library at `libraryRoot`. */
export function catalogPath(libraryRoot: string): string {
  return path.join(libraryRoot, KEEPSAKE_DIR, CATALOG_FILE);
}

/** How an opened catalog database came out. */
export interface OpenedDatabase {
  db: Database;
  /** Set when the integrity check failed: the catalog is then open read-only and this says why. */
  damage: string | null;
  /** True when the file was too large to check before use: the caller checks it in the background. */
  checkDeferred: boolean;
}

/** Options of {@link openDatabase}. */
export interface OpenDatabaseOptions {
  create?: boolean;
  /**
   * Files larger than this are checked after opening, in the background, instead of before (default 64 MiB,
   * about 80,000 assets: ~0.3 s of checking). A million-asset catalog takes 7 s to check, too long to wait
   * for at every start; it is opened at once and turned read-only if the check then fails.
   */
  backgroundCheckAboveBytes?: number;
}

/** See {@link OpenDatabaseOptions.backgroundCheckAboveBytes}. */
export const BACKGROUND_CHECK_ABOVE_BYTES = 64 * 1024 * 1024;

/**
 * Opens (creating if needed) a catalog file, checks its integrity and brings its schema up to date.
 * A damaged file is opened read-only and reported, never silently used or "repaired" by writing to it.
 */
export function openDatabase(file: string, options: OpenDatabaseOptions = {}): OpenedDatabase {
  if (options.create !== false) mkdirSync(path.dirname(file), { recursive: true });
  let db: Database;
  try {
    db = new Sqlite(file, { fileMustExist: options.create === false });
  } catch (error) {
    throw openError(file, error);
  }
  let damage: string | null;
  try {
    // A migration writes, so a catalog about to be migrated is always checked first, whatever its size.
    const large = fileBytes(db) > (options.backgroundCheckAboveBytes ?? BACKGROUND_CHECK_ABOVE_BYTES);
    if (large && (db.pragma('user_version', { simple: true }) as number) === SCHEMA_VERSION) {
      configure(db);
      return { db, damage: null, checkDeferred: true };
    }
    damage = integrityProblem(db);
  } catch (error) {
    // Damage bad enough that the check itself cannot run still opens read-only, so what is readable can be saved.
    if ((error as { code?: string }).code !== 'SQLITE_CORRUPT') {
      db.close();
      throw openError(file, error);
    }
    damage = damageReport([(error as Error).message]);
  }
  if (damage) {
    db.close();
    db = new Sqlite(file, { readonly: true, fileMustExist: true });
    db.pragma('query_only = ON');
    return { db, damage, checkDeferred: false };
  }
  configure(db);
  migrate(db);
  return { db, damage: null, checkDeferred: false };
}

function fileBytes(db: Database): number {
  return (db.prepare('SELECT page_count * page_size AS bytes FROM pragma_page_count, pragma_page_size').get() as { bytes: number }).bytes;
}

function configure(db: Database): void {
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode keeps the catalog consistent across power loss; only the last commits may be lost.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('cache_size = -65536');
  db.pragma('temp_store = MEMORY');
}

function integrityProblem(db: Database): string | null {
  const rows = db.pragma('quick_check', { simple: false }) as Array<{ quick_check: string }>;
  const problems = rows.map((row) => row.quick_check.replace(/\s+/g, ' ').trim()).filter((text) => text !== 'ok');
  return problems.length === 0 ? null : damageReport(problems);
}

/** The message of a failed integrity check, for a person. */
export function damageReport(problems: readonly string[]): string {
  return `The catalog failed its integrity check (${problems.slice(0, 3).join('; ')}). It is open read-only so nothing more is lost: restore it from a backup, or export what you need.`;
}

function openError(file: string, error: unknown): AppError {
  const code = (error as { code?: string }).code;
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new AppError('corrupt-media', `${file} is not a Keepsake catalog or is damaged beyond reading.`, { cause: error });
  }
  if (code === 'SQLITE_CANTOPEN') {
    return new AppError('io', `Cannot open the catalog ${file}: check the folder exists and is writable.`, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new AppError('io', `Cannot open the catalog ${file}: ${message}`, { cause: error });
}

/** Runs every migration newer than the file's `user_version`, each in its own transaction. */
export function migrate(db: Database, target: number = SCHEMA_VERSION): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new AppError(
      'conflict',
      `This catalog was written by a newer Keepsake (schema ${current}, this build knows ${SCHEMA_VERSION}). Update Keepsake to open it.`,
    );
  }
  for (const migration of MIGRATIONS) {
    if (migration.version <= current || migration.version > target) continue;
    db.transaction(() => {
      migration.up(db);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
}
