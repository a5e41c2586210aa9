/**
 * Opens the one Kysely instance the service uses, over SQLite or PostgreSQL as the configuration
 * says. Everything above this module is written once against Kysely and runs on both. On PostgreSQL
 * every connection carries the tenant scope (`scoped-driver.ts`) that row-level security checks.
 */
import Sqlite from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { Kysely, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { DatabaseTarget } from '../config.ts';
import type { Database } from './schema.ts';
import { ScopedPostgresDialect } from './scoped-driver.ts';
import type { ScopeSetting } from './tenant-scope.ts';

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
  /** The scope of queries run outside any tenant scope; see {@link ScopedPostgresDialect}. No rows by default. */
  outsideScope?: ScopeSetting;
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
    const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: preparingOnce(file) }) });
    return { kysely, kind: 'sqlite', close: () => kysely.destroy() };
  }
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    max: extras.max ?? 10,
    ...(extras.options === undefined ? {} : { options: extras.options }),
  });
  // An idle client losing its connection emits 'error' on the pool; unhandled, it would crash the process.
  pool.on('error', () => undefined);
  const dialect = new ScopedPostgresDialect({ pool, ...(extras.outsideScope === undefined ? {} : { outsideScope: extras.outsideScope }) });
  const kysely = new Kysely<Database>({ dialect });
  // Kysely ends the pool only if it ever used it; a handle closed unused must not keep working.
  const close = async () => {
    await kysely.destroy();
    if (!pool.ending) await pool.end();
  };
  return { kysely, kind: 'postgres', close };
}

/** How many prepared statements a SQLite database keeps (the service's queries are a few hundred shapes). */
export const STATEMENT_CACHE_SIZE = 1000;

/**
 * The SQLite file as Kysely sees it, with each statement prepared once and kept (least recently used out first):
 * Kysely asks for a new one per query, and preparing was a tenth of a gallery request's time. A statement still
 * iterating (busy) is never handed out twice; a fresh one is prepared instead.
 */
export function preparingOnce(file: Sqlite.Database, size = STATEMENT_CACHE_SIZE): { prepare(sql: string): Sqlite.Statement; close(): void } {
  const kept = new Map<string, Sqlite.Statement>();
  return {
    prepare(text) {
      const found = kept.get(text);
      if (found !== undefined && !found.busy) {
        // Most recently used last.
        kept.delete(text);
        kept.set(text, found);
        return found;
      }
      const statement = file.prepare(text);
      if (found === undefined) {
        kept.set(text, statement);
        if (kept.size > size) kept.delete(kept.keys().next().value as string);
      }
      return statement;
    },
    close() {
      kept.clear();
      file.close();
    },
  };
}

/** One round trip, for /readyz. */
export async function ping(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}

/** The login role's powers that matter to row-level security (PostgreSQL). */
export interface RoleStanding {
  role: string;
  /** Superusers and BYPASSRLS roles skip every policy. */
  bypassesRowSecurity: boolean;
  /** Tables of the current schema this role owns (FORCE makes the policies apply to it anyway). */
  ownedTables: number;
}

/** Who this connection logs in as, and whether row-level security binds it. */
export async function roleStanding(db: Kysely<Database>): Promise<RoleStanding> {
  const result = await sql<{ role: string; bypass: boolean; owned: number }>`
    select r.rolname as role, (r.rolsuper or r.rolbypassrls) as bypass,
      (select count(*)::int from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = current_schema() and c.relkind = 'r' and c.relowner = r.oid) as owned
    from pg_roles r where r.rolname = current_user`.execute(db);
  const row = result.rows[0];
  if (row === undefined) throw new Error('The database did not say which role this connection uses.');
  return { role: row.role, bypassesRowSecurity: row.bypass, ownedTables: row.owned };
}

/**
 * Lets `role` (the service's login, not the owner) use the current schema's tables: read and write rows
 * (SELECT, INSERT, UPDATE, DELETE), take sequence values, and read the migrations table so a start-up
 * finds the schema up to date. Nothing else: no DDL, no TRUNCATE, no REFERENCES, no change to the
 * migration history. Idempotent; `migrate` runs it after each migration run. PostgreSQL only.
 */
export async function grantServiceRole(db: Kysely<Database>, role: string): Promise<void> {
  const who = sql.id(role);
  // Instances starting together all grant: one at a time, or PostgreSQL reports "tuple concurrently updated".
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${'keepsake.grants'}))`.execute(trx);
    const schema = sql.id((await sql<{ schema: string }>`select current_schema() as schema`.execute(trx)).rows[0]?.schema ?? 'public');
    const tables = await sql<{ name: string }>`
      select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind in ('r', 'p') order by c.relname`.execute(trx);
    await sql`grant usage on schema ${schema} to ${who}`.execute(trx);
    for (const { name } of tables.rows) {
      const table = sql.id(name);
      if (name === 'kysely_migration' || name === 'kysely_migration_lock') {
        await sql`grant select on ${table} to ${who}`.execute(trx);
      } else {
        await sql`grant select, insert, update, delete on ${table} to ${who}`.execute(trx);
      }
    }
    await sql`grant usage on all sequences in schema ${schema} to ${who}`.execute(trx);
  });
}
