/**
 * SQLite backups through SQLite's online backup API (better-sqlite3's `db.backup()`), which copies a
 * consistent snapshot while the service keeps reading and writing. Never `cp` a live file: with WAL the
 * newest commits live in `-wal`, and a copy taken mid-write is torn.
 */
import Sqlite from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';

/** Opens `file` read-only and checks every page; throws unless SQLite answers `ok`. */
export function integrityCheck(file: string): void {
  const db = new Sqlite(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
    const problems = rows.map((row) => row.integrity_check).filter((line) => line !== 'ok');
    if (problems.length > 0 || rows.length === 0) throw new Error(`${file} failed PRAGMA integrity_check: ${problems.slice(0, 5).join('; ')}`);
  } finally {
    db.close();
  }
}

/**
 * Copies `source` (possibly open and being written by the service) to `target` as one snapshot, then
 * checks the copy. The copy is written next to `target` and renamed into place, so a crash never leaves
 * a half-written file under the final name.
 */
export async function backupSqlite(source: string, target: string): Promise<void> {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const partial = `${target}.partial`;
  fs.rmSync(partial, { force: true });
  const db = new Sqlite(source, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    await db.backup(partial);
  } finally {
    db.close();
  }
  try {
    // The copy inherits WAL mode; switch it to a rollback journal so the backup is one self-contained file
    // (no -wal / -shm beside it, even after it is opened to be checked).
    const copy = new Sqlite(partial, { fileMustExist: true });
    try {
      copy.pragma('journal_mode = DELETE');
    } finally {
      copy.close();
    }
    integrityCheck(partial);
    fs.renameSync(partial, target);
  } catch (error) {
    fs.rmSync(partial, { force: true });
    throw error;
  }
}

/**
 * Writes the backup `source` into the database file `target` (stop the service first). Checked
 * before and after; the backup API replaces the target's pages and takes care of its WAL.
 */
export async function restoreSqlite(source: string, target: string): Promise<void> {
  integrityCheck(source);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const db = new Sqlite(source, { readonly: true, fileMustExist: true });
  try {
    await db.backup(target);
  } finally {
    db.close();
  }
  integrityCheck(target);
}
