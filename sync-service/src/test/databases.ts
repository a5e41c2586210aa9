/**
 * The databases every suite runs on: a temp SQLite file and a private schema on the CI PostgreSQL.
 * Each `open()` gets a fresh, empty database, so test files never see each other's rows and
 * parallel runs (forks, or two CI jobs on one server) never collide.
 *
 * `open()` connects as the owner (it migrates); `connectAsService()` then opens the same database as the
 * service runs in production: on PostgreSQL through {@link SERVICE_ROLE}, a login role that owns no table,
 * is no superuser and has only the privileges `migrate` grants, so row-level security binds it.
 *
 * PostgreSQL unreachable: in CI (`CI=true`) the PostgreSQL suite is kept and fails at `open()`, because
 * a silently skipped half of the matrix is how "works on SQLite only" bugs ship; locally it is left
 * out with the reason printed.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { grantServiceRole, openDatabase, type Db } from '../db/database.ts';
import type { ScopeSetting } from '../db/tenant-scope.ts';

export const POSTGRES_URL = process.env.KEEPSAKE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The service's login in the PostgreSQL suites (made once per server; trust authentication on 127.0.0.1). */
export const SERVICE_ROLE = 'keepsake_service_test';

/** {@link POSTGRES_URL} with another login role. */
export function postgresUrlAs(role: string, url = POSTGRES_URL): string {
  const parsed = new URL(url);
  parsed.username = role;
  parsed.password = '';
  return parsed.href;
}

/** A fresh database, opened as its owner. */
export interface TestDb extends Db {
  /**
   * The same database through the service's restricted login (call it after migrating: it grants the
   * role what `migrate` grants). `outsideScope` is the scope of queries run outside any tenant scope
   * (none by default, as in production). On SQLite, the same handle (closed with the database).
   */
  connectAsService(options?: { outsideScope?: ScopeSetting }): Promise<Db>;
}

/** One entry of the matrix. */
export interface TestDatabase {
  name: 'sqlite' | 'postgres';
  /** A fresh empty database; `close` drops it. */
  open(): Promise<TestDb>;
}

const sqlite: TestDatabase = {
  name: 'sqlite',
  open() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keepsake-sync-test-'));
    const db = openDatabase({ kind: 'sqlite', file: path.join(dir, 'sync.db') });
    return Promise.resolve({
      ...db,
      // One handle, as the service has: SQLite has no roles, and closing the database closes it.
      connectAsService: () => Promise.resolve({ ...db, close: () => Promise.resolve() }),
      async close() {
        await db.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    });
  },
};

/** Why PostgreSQL cannot be used, or undefined when it can. */
async function postgresProblem(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (error) {
    return `${POSTGRES_URL}: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Creates {@link SERVICE_ROLE} unless it exists. Test files run in parallel and roles are per server, so
 * the check and the creation happen under an advisory lock (and a lost race is tolerated anyway).
 */
export async function ensureServiceRole(client: pg.Client): Promise<void> {
  await client.query('select pg_advisory_lock(hashtext($1))', [`keepsake:${SERVICE_ROLE}`]);
  try {
    const found = await client.query('select 1 from pg_roles where rolname = $1', [SERVICE_ROLE]);
    if (found.rowCount === 0) {
      await client.query(`create role ${SERVICE_ROLE} login nosuperuser nobypassrls nocreatedb nocreaterole`).catch((error: unknown) => {
        // 42710 duplicate_object, 23505 unique_violation: another server session made it first.
        const code = (error as { code?: string }).code;
        if (code !== '42710' && code !== '23505') throw error;
      });
    }
  } finally {
    await client.query('select pg_advisory_unlock(hashtext($1))', [`keepsake:${SERVICE_ROLE}`]);
  }
}

function postgres(problem: string | undefined): TestDatabase {
  return {
    name: 'postgres',
    async open() {
      if (problem !== undefined) throw new Error(`PostgreSQL is required in CI but not reachable: ${problem}`);
      const schema = `t_${randomBytes(8).toString('hex')}`;
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`create schema ${schema}`);
      await ensureServiceRole(admin);
      await admin.end();
      const options = `-c search_path=${schema}`;
      const db = openDatabase({ kind: 'postgres', connectionString: POSTGRES_URL }, { options, max: 4 });
      return {
        ...db,
        async connectAsService(connect = {}) {
          await grantServiceRole(db.kysely, SERVICE_ROLE);
          const target = { kind: 'postgres', connectionString: postgresUrlAs(SERVICE_ROLE) } as const;
          return openDatabase(target, { options, max: 4, ...(connect.outsideScope === undefined ? {} : { outsideScope: connect.outsideScope }) });
        },
        async close() {
          await db.close();
          const cleanup = new pg.Client({ connectionString: POSTGRES_URL });
          await cleanup.connect();
          await cleanup.query(`drop schema if exists ${schema} cascade`);
          await cleanup.end();
        },
      };
    },
  };
}

async function matrix(): Promise<TestDatabase[]> {
  const problem = await postgresProblem();
  if (problem === undefined || process.env.CI === 'true') return [sqlite, postgres(problem)];
  // eslint-disable-next-line no-console -- the skip must be visible in the test output.
  console.warn(`[sync-service tests] PostgreSQL suite skipped (set CI=true to make this fail): ${problem}`);
  return [sqlite];
}

/** The databases to `describe.each` over. */
export const TEST_DATABASES: TestDatabase[] = await matrix();
