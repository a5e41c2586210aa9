/**
 * Opens the one Kysely instance the service uses, over SQLite or PostgreSQL as the configuration
 * says. Everything above this module is written once against Kysely and runs on both.
 */
import Sqlite from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { DatabaseTarget } from '../config.ts';
import type { Database } from './schema.ts';

/** An open database and the way to close it (the pool or the file handle). */
export interface Db {
  kysely: Kysely<Database>;
  kind: DatabaseTarget['kind'];
  close(): Promise<void>;
}

/** Extra pg pool settings; tests use `options` to pin `search_path` to their own schema. */
export interface PostgresExtras {
  options?: string;
  max?: number;
}

/** Opens the database named by `target`; does not migrate. */
export function openDatabase(target: DatabaseTarget, extras: PostgresExtras = {}): Db {
  if (target.kind === 'sqlite') {
    fs.mkdirSync(path.dirname(target.file), { recursive: true });
    const file = new Sqlite(target.file);
    // WAL lets readers run while a write commits; foreign keys are off by default in SQLite.
    file.pragma('journal_mode = WAL');
    file.pragma('foreign_keys = ON');
    // Wait for a competing writer (e.g. the migrate command) instead of failing at once.
    file.pragma('busy_timeout = 5000');
    const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: file }) });
    return { kysely, kind: 'sqlite', close: () => kysely.destroy() };
  }
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    max: extras.max ?? 10,
    ...(extras.options === undefined ? {} : { options: extras.options }),
  });
  // An idle client losing its connection emits 'error' on the pool; unhandled, it would crash the process.
  pool.on('error', () => undefined);
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { kysely, kind: 'postgres', close: () => kysely.destroy() };
}

/** One round trip, for /readyz. */
export async function ping(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}
