/**
 * The databases every suite runs on: a temp SQLite file and a private schema on the CI PostgreSQL.
 * Each `open()` gets a fresh, empty database, so test files never see each other's rows and
 * parallel runs (forks, or two CI jobs on one server) never collide.
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
import { openDatabase, type Db } from '../db/database.ts';

export const POSTGRES_URL = process.env.KEEPSAKE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** One entry of the matrix. */
export interface TestDatabase {
  name: 'sqlite' | 'postgres';
  /** A fresh empty database; `close` drops it. */
  open(): Promise<Db>;
}

const sqlite: TestDatabase = {
  name: 'sqlite',
  open() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keepsake-sync-test-'));
    const db = openDatabase({ kind: 'sqlite', file: path.join(dir, 'sync.db') });
    return Promise.resolve({
      ...db,
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

function postgres(problem: string | undefined): TestDatabase {
  return {
    name: 'postgres',
    async open() {
      if (problem !== undefined) throw new Error(`PostgreSQL is required in CI but not reachable: ${problem}`);
      const schema = `t_${randomBytes(8).toString('hex')}`;
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`create schema ${schema}`);
      await admin.end();
      const db = openDatabase({ kind: 'postgres', connectionString: POSTGRES_URL }, { options: `-c search_path=${schema}`, max: 4 });
      return {
        ...db,
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
