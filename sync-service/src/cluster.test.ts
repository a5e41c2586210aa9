/**
 * Two real instances of the service (two processes, as a load balancer would run them) on one PostgreSQL
 * database and one Redis, started at the same moment (so their migrations race), with a client that
 * switches between them on every request: they must behave as one service. They run as in production:
 * migrations as the owner (`DATABASE_MIGRATION_URL`), requests as a restricted role (`DATABASE_URL`) under
 * row-level security. Needs PostgreSQL and Redis: in CI (`CI=true`) their absence fails the suite; locally
 * it is skipped with the reason.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePem } from './auth/keys.ts';
import { SERVICE_ROOT } from './config.ts';
import { ensureServiceRole, POSTGRES_URL, postgresUrlAs, SERVICE_ROLE } from './test/databases.ts';

const REDIS_URL = process.env.KEEPSAKE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function problem(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    return `PostgreSQL ${POSTGRES_URL}: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
  const redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (error) {
    return `Redis ${REDIS_URL}: ${(error as Error).message}`;
  } finally {
    redis.disconnect();
  }
}

const PROBLEM = await problem();
if (PROBLEM !== undefined && process.env.CI !== 'true') {
  // eslint-disable-next-line no-console -- the skip must be visible in the test output.
  console.warn(`[sync-service tests] two-instance suite skipped (set CI=true to make this fail): ${PROBLEM}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const database = `keepsake_cluster_${randomBytes(6).toString('hex')}`;
const ownerUrl = POSTGRES_URL.replace(/\/[^/]*$/, `/${database}`);
const serviceUrl = postgresUrlAs(SERVICE_ROLE, ownerUrl);
const instances: ChildProcess[] = [];
const bases: string[] = [];
const PASSWORD = 'a long enough secret';
// Rate-limit counters live in Redis for a minute: a fresh account per run keeps runs independent.
const EMAIL = `head-${randomBytes(4).toString('hex')}@cluster.test`;

async function post(base: string, path: string, body: unknown, token?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json().catch(() => ({}))) as Record<string, unknown> };
}

describe.skipIf(PROBLEM !== undefined && process.env.CI !== 'true')('two instances on one PostgreSQL and one Redis', () => {
  beforeAll(async () => {
    if (PROBLEM !== undefined) throw new Error(`PostgreSQL and Redis are required in CI: ${PROBLEM}`);
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`create database ${database}`);
    await ensureServiceRole(admin);
    await admin.end();
    const prefix = `cluster-${randomBytes(4).toString('hex')}`;
    const env = {
      ...process.env,
      DATABASE_URL: serviceUrl,
      DATABASE_MIGRATION_URL: ownerUrl,
      REDIS_URL,
      // Each test run gets its own Redis keys through a distinct sign-in account and IPs; the window is short.
      RATE_LIMIT_WINDOW: '60',
      RATE_LIMIT_SIGN_IN_PER_ACCOUNT: '4',
      JWT_PRIVATE_KEY: generatePem(),
      JWT_ISSUER: 'https://sync.cluster.test',
      LOG_LEVEL: 'warn',
      KEEPSAKE_SYNC_DATA: `/tmp/${prefix}`,
    };
    const ports = [await freePort(), await freePort()];
    // Both start at once: their migrations race for Kysely's lock on the same database.
    for (const port of ports) {
      instances.push(spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: SERVICE_ROOT, env: { ...env, PORT: String(port) }, stdio: 'ignore' }));
      bases.push(`http://127.0.0.1:${port}`);
    }
    for (const base of bases) {
      let ready = false;
      for (let i = 0; i < 200 && !ready; i++) {
        ready = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
        if (!ready) await new Promise((r) => setTimeout(r, 100));
      }
      if (!ready) throw new Error(`instance ${base} did not start`);
    }
    const created = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts', 'create-school', '--name', 'Greenfield Primary', '--slug', 'greenfield', '--admin-email', EMAIL, '--admin-password', PASSWORD],
      { cwd: SERVICE_ROOT, env, encoding: 'utf8' },
    );
    expect(created.status, created.stderr).toBe(0);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(
      instances.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`drop database if exists ${database} with (force)`);
    await admin.end();
  });

  it('signs in on one, works on the other, rotates and detects reuse across both, and shares rate limits', async () => {
    const [a, b] = bases as [string, string];
    const signIn = await post(a, '/v1/auth/sign-in', { email: EMAIL, password: PASSWORD });
    expect(signIn.status).toBe(200);
    const session = signIn.json as { accessToken: string; refreshToken: string; memberships: Array<{ schoolId: string }> };
    const schoolId = session.memberships[0]!.schoolId;

    // A token from A is good on B (one shared signing key); an event made on A is seen on B.
    const created = await post(b, `/v1/schools/${schoolId}/events`, { name: 'Sports Day', startsOn: '2026-05-14' }, session.accessToken);
    expect(created.status).toBe(201);
    const listed = await fetch(`${a}/v1/schools/${schoolId}/events`, { headers: { authorization: `Bearer ${session.accessToken}` } });
    expect(((await listed.json()) as { events: Array<{ name: string }> }).events.map((e) => e.name)).toEqual(['Sports Day']);

    // Optimistic concurrency holds across instances: the second writer of version 1 gets 409.
    const eventId = (created.json as { id: string }).id;
    const patch = (base: string, name: string) =>
      fetch(`${base}/v1/schools/${schoolId}/events/${eventId}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${session.accessToken}` },
        body: JSON.stringify({ version: 1, name }),
      }).then((r) => r.status);
    expect((await Promise.all([patch(a, 'Sports Day (morning)'), patch(b, 'Sports Day (afternoon)')])).sort()).toEqual([200, 409]);

    // Refresh on B, then the spent token on A: reuse is detected, the session is revoked everywhere.
    const rotated = await post(b, '/v1/auth/refresh', { refreshToken: session.refreshToken });
    expect(rotated.status).toBe(200);
    expect((await post(a, '/v1/auth/refresh', { refreshToken: session.refreshToken })).status).toBe(401);
    expect((await post(b, '/v1/auth/refresh', { refreshToken: (rotated.json as { refreshToken: string }).refreshToken })).status).toBe(401);

    // Sign-ins for one account (4 a minute, the one above included) are counted once, in Redis, whichever
    // instance they reach: alone, each instance would have let all six through (three each).
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await post(i % 2 === 0 ? a : b, '/v1/auth/sign-in', { email: EMAIL, password: 'wrong' })).status);
    // The successful sign-in above was the first of the four: three wrong passwords are let through.
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429]);
  }, 60_000);

  it('serves through the restricted role, under forced row-level security, with the owner only migrating', async () => {
    const owner = new pg.Client({ connectionString: ownerUrl });
    await owner.connect();
    try {
      // The instances' pools keep their connections for a while after the requests above.
      const logins = await owner.query<{ usename: string }>(
        'select distinct usename from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
      );
      expect(logins.rows.map((r) => r.usename)).toEqual([SERVICE_ROLE]);
      const events = await owner.query<{ owner: string; rls: boolean; forced: boolean }>(
        "select pg_get_userbyid(relowner) as owner, relrowsecurity as rls, relforcerowsecurity as forced from pg_class where relname = 'events' and relnamespace = 'public'::regnamespace",
      );
      expect(events.rows[0]).toMatchObject({ rls: true, forced: true });
      expect(events.rows[0]?.owner).not.toBe(SERVICE_ROLE);
    } finally {
      await owner.end();
    }
  });
});
