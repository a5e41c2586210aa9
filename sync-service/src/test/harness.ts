/**
 * A migrated database, a signing key and the app over them, plus seeding helpers, for the HTTP
 * suites. Seeding writes rows directly (there is no user-management API in this slice yet).
 *
 * The app connects as production does: on PostgreSQL through the restricted service role, so
 * row-level security is in force for every request. `db` is that same connection, with the service's
 * scope for queries run outside a request (seeding and checks in the tests); requests still run in
 * their own school's scope, or none, as the app sets it.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../app.ts';
import { generatePem, keysFromPem, type SigningKeys } from '../auth/keys.ts';
import { hashPassword, type ScryptParams } from '../auth/passwords.ts';
import type { Session } from '../auth/sessions.ts';
import { TokenService, type TokenSettings } from '../auth/tokens.ts';
import type { Db } from '../db/database.ts';
import { migrateToLatest } from '../db/migrations.ts';
import { SERVICE_SCOPE } from '../db/tenant-scope.ts';
import type { AuditLogTable, Role } from '../db/schema.ts';
import type { TestDatabase, TestDb } from './databases.ts';

/** Cheap enough for dozens of hashes per suite; production uses DEFAULT_SCRYPT. */
export const TEST_SCRYPT: ScryptParams = { N: 2 ** 10, r: 8, p: 1 };
export const TEST_TOKENS: TokenSettings = { issuer: 'https://sync.test', audience: 'keepsake', accessTtlSeconds: 900 };
export const PASSWORD = 'correct horse battery';

export interface Harness {
  /** The service's connection; outside a request it has every school's rows (see the module comment). */
  db: Db;
  /** The owner's connection (it migrated the database); on PostgreSQL in the tests, a superuser. */
  owner: TestDb;
  app: FastifyInstance;
  keys: SigningKeys;
  tokens: TokenService;
  createSchool(slug: string): Promise<string>;
  createUser(email: string, memberships?: Array<[schoolId: string, role: Role]>): Promise<string>;
  signIn(email: string, password?: string): Promise<Session>;
  /** `inject` with a bearer token and a JSON body. */
  call(method: 'GET' | 'POST' | 'PATCH', url: string, token: string | undefined, body?: unknown): Promise<LightMyRequestResponse>;
  audit(action: string): Promise<AuditLogTable[]>;
  close(): Promise<void>;
}

export async function startHarness(target: TestDatabase, options: { scrypt?: ScryptParams } = {}): Promise<Harness> {
  const scrypt = options.scrypt ?? TEST_SCRYPT;
  const owner = await target.open();
  let service: Db;
  try {
    await migrateToLatest(owner);
    service = await owner.connectAsService({ outsideScope: SERVICE_SCOPE });
  } catch (error) {
    // Drop the half-made database (on PostgreSQL, its schema) instead of leaking it.
    await owner.close();
    throw error;
  }
  // Closing `db` drops the database too (a test of a broken database closes it under the app); once.
  let closed: Promise<void> | undefined;
  const db: Db = {
    ...service,
    close: () => (closed ??= service.close().then(() => owner.close())),
  };
  const keys = keysFromPem(generatePem());
  const tokens = new TokenService(keys, TEST_TOKENS);
  const app = buildApp({ db: db.kysely, tokens, refreshTtlSeconds: 3600, scrypt });
  const now = () => new Date().toISOString();

  const call: Harness['call'] = (method, url, token, body) => injectAs(app, method, url, token, body);

  return {
    db,
    owner,
    app,
    keys,
    tokens,
    async createSchool(slug) {
      const id = randomUUID();
      await db.kysely.insertInto('schools').values({ id, name: `School ${slug}`, slug, created_at: now() }).execute();
      return id;
    },
    async createUser(email, memberships = []) {
      const id = randomUUID();
      const password_hash = await hashPassword(PASSWORD, scrypt);
      await db.kysely.insertInto('users').values({ id, email, password_hash, name: email.split('@')[0] ?? email, created_at: now() }).execute();
      for (const [school_id, role] of memberships) {
        await db.kysely.insertInto('memberships').values({ user_id: id, school_id, role, created_at: now() }).execute();
      }
      return id;
    },
    async signIn(email, password = PASSWORD) {
      const response = await call('POST', '/v1/auth/sign-in', undefined, { email, password });
      if (response.statusCode !== 200) throw new Error(`sign-in failed: ${response.statusCode} ${response.body}`);
      return response.json<Session>();
    },
    call,
    audit: (action) => db.kysely.selectFrom('audit_log').selectAll().where('action', '=', action).orderBy('at').execute(),
    async close() {
      await app.close();
      await db.close();
    },
  };
}

/** `inject` as a caller with a bearer token (none when `token` is undefined) and a JSON body, into any app. */
export function injectAs(
  app: FastifyInstance,
  method: 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  url: string,
  token: string | undefined,
  body?: unknown,
): Promise<LightMyRequestResponse> {
  return app.inject({
    method,
    url,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
  });
}

/** {@link Harness.call} for every method the people and change-feed routes use (PUT and DELETE too). */
export function send(
  h: Harness,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  url: string,
  token: string | undefined,
  body?: unknown,
): Promise<LightMyRequestResponse> {
  return injectAs(h.app, method, url, token, body);
}

/** The change rows of a school, oldest first (for atomicity checks that bypass the API). */
export function changeRows(h: Harness, schoolId: string) {
  return h.db.kysely.selectFrom('changes').selectAll().where('school_id', '=', schoolId).orderBy('seq').execute();
}

/** The principals {@link seedTwoSchools} makes: one of each staff role and a parent in Greenfield, an admin of Riverside. */
export type TwoSchoolsRole = 'admin' | 'photographer' | 'teacher' | 'parent' | 'otherAdmin';

/** Two schools (Greenfield, Riverside) and an access token for each of {@link TwoSchoolsRole}. */
export async function seedTwoSchools(h: Harness): Promise<{ school: string; otherSchool: string; token: Record<TwoSchoolsRole, string> }> {
  const school = await h.createSchool('greenfield');
  const otherSchool = await h.createSchool('riverside');
  const ids: Record<TwoSchoolsRole, string> = {
    admin: await h.createUser('admin@g.test', [[school, 'admin']]),
    photographer: await h.createUser('photo@g.test', [[school, 'photographer']]),
    teacher: await h.createUser('teacher@g.test', [[school, 'teacher']]),
    parent: await h.createUser('parent@g.test', [[school, 'parent']]),
    otherAdmin: await h.createUser('admin@r.test', [[otherSchool, 'admin']]),
  };
  const token = {} as Record<TwoSchoolsRole, string>;
  for (const who of Object.keys(ids) as TwoSchoolsRole[]) token[who] = await h.tokens.issue(ids[who]);
  return { school, otherSchool, token };
}
