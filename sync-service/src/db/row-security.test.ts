/**
 * Row-level security, the second wall (migration 0008): on PostgreSQL a query that forgets its
 * `where school_id` still reads and writes the scoped school's rows only, and outside any scope none.
 * The service's connection is the restricted test role, as in production. SQLite has no row-level
 * security: the checks that need it are not applicable there, and the unscoped route below shows
 * that on SQLite the services' own filters are the only wall.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../app.ts';
import { TEST_DATABASES, SERVICE_ROLE } from '../test/databases.ts';
import { startHarness, TEST_SCRYPT, type Harness } from '../test/harness.ts';
import { roleStanding, type Db } from './database.ts';
import { SHARED_TABLES } from './migrations.ts';
import { asService, withSchool, withoutScope } from './tenant-scope.ts';

/** Tenant tables with a `school_id` column that the seeding below fills for both schools. */
const SCHOOL_TABLES = ['memberships', 'events', 'classes', 'students', 'families', 'changes', 'audit_log', 'subscriptions', 'usage'] as const;

describe.each(TEST_DATABASES)('row-level security ($name)', (target) => {
  const postgres = target.name === 'postgres';
  /** A test of PostgreSQL's policies: SQLite has none, so there it is not registered (rather than skipped). */
  const onPostgres = (name: string, test: () => Promise<void>): void => {
    if (postgres) it(name, test);
  };
  let h: Harness;
  /** The service's login with no scope outside a request, exactly as production opens it. */
  let service: Db;
  const ids = { a: '', b: '', studentA: '', studentB: '', familyA: '', familyB: '', eventB: '' };

  /** A school with an event, a class, a student with consent, a family linking a parent to the student. */
  async function seedSchool(slug: string): Promise<{ school: string; student: string; family: string; event: string }> {
    const now = new Date().toISOString();
    const school = await h.createSchool(slug);
    const parent = await h.createUser(`parent@${slug}.test`, [[school, 'parent']]);
    const db = h.db.kysely;
    const event = randomUUID();
    const klass = randomUUID();
    const student = randomUUID();
    const family = randomUUID();
    await db.insertInto('events').values({ id: event, school_id: school, name: `${slug} sports day`, starts_on: '2026-05-14', ends_on: null, location: null, description: null, state: 'published', version: 1, created_at: now, updated_at: now }).execute();
    await db.insertInto('classes').values({ id: klass, school_id: school, name: `${slug} 3B`, created_at: now }).execute();
    await db.insertInto('students').values({ id: student, school_id: school, name: `${slug} pupil`, class_id: klass, remote_ref: null, created_at: now, updated_at: now, deleted_at: null }).execute();
    await db.insertInto('consents').values({ student_id: student, purpose: 'publish', granted: 1, set_by_user_id: parent, set_at: now }).execute();
    await db.insertInto('families').values({ id: family, school_id: school, name: `${slug} family`, email: null, access_code_hash: null, created_at: now, updated_at: now }).execute();
    await db.insertInto('family_members').values({ family_id: family, user_id: parent }).execute();
    await db.insertInto('family_students').values({ family_id: family, student_id: student }).execute();
    await db.insertInto('changes').values({ school_id: school, entity: 'event', entity_id: event, op: 'upsert', at: now }).execute();
    await db.insertInto('subscriptions').values({ school_id: school, plan_id: 'standard', created_at: now }).execute();
    await db.insertInto('usage').values({ school_id: school, used_bytes: 0, reserved_bytes: 0 }).execute();
    await db.insertInto('audit_log').values({ id: randomUUID(), school_id: school, actor_user_id: null, action: 'test.seed', subject: `school:${school}`, detail: '{}', at: now }).execute();
    return { school, student, family, event };
  }

  beforeAll(async () => {
    h = await startHarness(target);
    const a = await seedSchool('greenfield');
    const b = await seedSchool('riverside');
    Object.assign(ids, { a: a.school, b: b.school, studentA: a.student, studentB: b.student, familyA: a.family, familyB: b.family, eventB: b.event });
    // An entry about no school (a failed sign-in), which only the service's scope may read.
    await h.db.kysely.insertInto('audit_log').values({ id: randomUUID(), school_id: null, actor_user_id: null, action: 'test.no-school', subject: 'email:x', detail: '{}', at: new Date().toISOString() }).execute();
    service = await h.owner.connectAsService();
  });

  afterAll(async () => {
    await service?.close();
    await h?.close();
  });

  /** Every row of `table`, with no filter at all. */
  const everything = (table: (typeof SCHOOL_TABLES)[number]) => service.kysely.selectFrom(table).select('school_id').execute();

  onPostgres('a query with no where school_id sees only the scoped school’s rows, in every tenant table', async () => {
    await withSchool(ids.a, async () => {
      for (const table of SCHOOL_TABLES) {
        const rows = await everything(table);
        expect(rows.length, table).toBeGreaterThan(0);
        expect(new Set(rows.map((r) => r.school_id)), table).toEqual(new Set([ids.a]));
      }
      // Tables without school_id go through their parent rows.
      expect((await service.kysely.selectFrom('consents').select('student_id').execute()).map((r) => r.student_id)).toEqual([ids.studentA]);
      expect((await service.kysely.selectFrom('family_students').select('student_id').execute()).map((r) => r.student_id)).toEqual([ids.studentA]);
      expect((await service.kysely.selectFrom('family_members').select('family_id').execute()).map((r) => r.family_id)).toEqual([ids.familyA]);
      // A transaction takes the scope it was opened in.
      const inTransaction = await service.kysely.transaction().execute((trx) => trx.selectFrom('events').select('school_id').execute());
      expect(inTransaction.map((r) => r.school_id)).toEqual([ids.a]);
    });
    // The service's scope sees both schools and the entries about none.
    const all = await asService(() => service.kysely.selectFrom('audit_log').select('school_id').execute());
    expect(new Set(all.map((r) => r.school_id))).toEqual(new Set([ids.a, ids.b, null]));
  });

  onPostgres('the scope follows each query inside a transaction, and survives a rollback', async () => {
    const seen = await withSchool(ids.a, () =>
      service.kysely.transaction().execute(async (trx) => {
        const before = await trx.selectFrom('events').select('school_id').execute();
        const across = await asService(() => trx.selectFrom('memberships').select('school_id').execute());
        const after = await trx.selectFrom('events').select('school_id').execute();
        return { before, across, after };
      }),
    );
    expect(seen.before.map((r) => r.school_id)).toEqual([ids.a]);
    expect(new Set(seen.across.map((r) => r.school_id))).toEqual(new Set([ids.a, ids.b]));
    expect(seen.after.map((r) => r.school_id)).toEqual([ids.a]);

    // A switch inside a transaction that rolls back is undone by PostgreSQL; the next query must not trust it.
    await withSchool(ids.a, () =>
      service.kysely
        .transaction()
        .execute(async (trx) => {
          await withSchool(ids.b, () => trx.selectFrom('events').select('id').execute());
          throw new Error('roll back');
        })
        .catch(() => undefined),
    );
    for (const school of [ids.b, ids.a]) {
      const rows = await withSchool(school, () => service.kysely.selectFrom('events').select('school_id').execute());
      expect(rows.map((r) => r.school_id)).toEqual([school]);
    }
  });

  onPostgres('writing another school’s rows under a school’s scope is refused or touches nothing', async () => {
    const now = new Date().toISOString();
    await withSchool(ids.a, async () => {
      const event = { id: randomUUID(), school_id: ids.b, name: 'Planted', starts_on: '2026-06-01', ends_on: null, location: null, description: null, state: 'draft' as const, version: 1, created_at: now, updated_at: now };
      await expect(service.kysely.insertInto('events').values(event).execute()).rejects.toThrow(/row-level security/);
      await expect(service.kysely.insertInto('consents').values({ student_id: ids.studentB, purpose: 'yearbook', granted: 1, set_by_user_id: null, set_at: now }).execute()).rejects.toThrow(/row-level security/);
      await expect(service.kysely.insertInto('family_students').values({ family_id: ids.familyA, student_id: ids.studentB }).execute()).rejects.toThrow(/row-level security/);
      // Moving one of A's rows into B is refused too (WITH CHECK).
      await expect(service.kysely.updateTable('classes').set({ school_id: ids.b }).execute()).rejects.toThrow(/row-level security/);
      const renamed = await service.kysely.updateTable('events').set({ name: 'Hijacked' }).where('id', '=', ids.eventB).executeTakeFirst();
      expect(renamed.numUpdatedRows).toBe(0n);
      const removed = await service.kysely.deleteFrom('students').where('id', '=', ids.studentB).executeTakeFirst();
      expect(removed.numDeletedRows).toBe(0n);
    });
    const eventB = await asService(() => service.kysely.selectFrom('events').select('name').where('id', '=', ids.eventB).executeTakeFirstOrThrow());
    expect(eventB.name).toBe('riverside sports day');
    expect(await asService(() => service.kysely.selectFrom('students').select('id').where('id', '=', ids.studentB).execute())).toHaveLength(1);
  });

  onPostgres('with no scope nothing of any school is visible or writable (fail closed)', async () => {
    const check = async () => {
      for (const table of SCHOOL_TABLES) expect(await everything(table), table).toEqual([]);
      for (const table of ['consents', 'family_members', 'family_students'] as const) {
        expect(await service.kysely.selectFrom(table).selectAll().execute(), table).toEqual([]);
      }
      await expect(
        service.kysely.insertInto('classes').values({ id: randomUUID(), school_id: ids.a, name: 'Sneaked in', created_at: new Date().toISOString() }).execute(),
      ).rejects.toThrow(/row-level security/);
    };
    await check();
    await asService(() => withoutScope(check));
    // Shared tables stay readable: sign-in finds a user by e-mail before it knows any school.
    expect((await service.kysely.selectFrom('users').select('email').execute()).length).toBeGreaterThan(0);
    // And an entry about no school can always be appended, though not read back.
    await service.kysely.insertInto('audit_log').values({ id: randomUUID(), school_id: null, actor_user_id: null, action: 'test.append', subject: 'email:y', detail: '{}', at: new Date().toISOString() }).execute();
    expect(await service.kysely.selectFrom('audit_log').selectAll().where('action', '=', 'test.append').execute()).toEqual([]);
  });

  onPostgres('the service logs in as a role that owns no table and is no superuser', async () => {
    const standing = await roleStanding(service.kysely);
    expect(standing).toEqual({ role: SERVICE_ROLE, bypassesRowSecurity: false, ownedTables: 0 });
    const owners = await sql<{ tableowner: string }>`select distinct tableowner from pg_tables where schemaname = current_schema()`.execute(service.kysely);
    expect(owners.rows.map((r) => r.tableowner)).not.toContain(SERVICE_ROLE);
    // Nor may it change the schema or the migration history.
    await expect(sql`alter table events disable row level security`.execute(service.kysely)).rejects.toThrow(/must be owner/);
    await expect(sql`delete from kysely_migration`.execute(service.kysely)).rejects.toThrow(/permission denied/);
    await expect(sql`create table planted (id text)`.execute(service.kysely)).rejects.toThrow(/permission denied/);
  });

  onPostgres('every table outside the shared list has forced row-level security with a policy', async () => {
    const tables = await sql<{ name: string; rls: boolean; forced: boolean; policies: number; has_school_id: boolean }>`
      select c.relname as name, c.relrowsecurity as rls, c.relforcerowsecurity as forced,
        (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies,
        exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'school_id' and not a.attisdropped) as has_school_id
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind = 'r' order by c.relname`.execute(h.owner.kysely);
    const tenant = tables.rows.filter((t) => !SHARED_TABLES.includes(t.name));
    expect(tenant.length).toBeGreaterThanOrEqual(17);
    const unprotected = tenant.filter((t) => !t.rls || !t.forced || t.policies === 0).map((t) => t.name);
    // A new school table needs enableTenantRowSecurity in its migration (or, if all schools share it, SHARED_TABLES).
    expect(unprotected).toEqual([]);
    expect(tables.rows.filter((t) => t.has_school_id && SHARED_TABLES.includes(t.name)).map((t) => t.name)).toEqual([]);
  });

  it('a route that forgets its school filter leaks on SQLite and is contained on PostgreSQL', async () => {
    const app = buildApp({ db: service.kysely, tokens: h.tokens, refreshTtlSeconds: 3600, scrypt: TEST_SCRYPT });
    // Deliberately wrong: no membership check and no `where school_id`.
    const allNames = async () => ({ names: (await service.kysely.selectFrom('events').select('name').orderBy('name').execute()).map((r) => r.name) });
    app.get('/v1/schools/:schoolId/every-event-name', allNames);
    app.get('/v1/every-event-name', allNames);
    try {
      const names = async (url: string) => (await app.inject({ method: 'GET', url })).json<{ names: string[] }>().names;
      const both = ['greenfield sports day', 'riverside sports day'];
      expect(await names(`/v1/schools/${ids.a}/every-event-name`)).toEqual(postgres ? ['greenfield sports day'] : both);
      expect(await names(`/v1/schools/${ids.b}/every-event-name`)).toEqual(postgres ? ['riverside sports day'] : both);
      // No school in the URL: no school's rows. The service's wildcard in the URL is not the service's scope.
      expect(await names('/v1/every-event-name')).toEqual(postgres ? [] : both);
      expect(await names('/v1/schools/*/every-event-name')).toEqual(postgres ? [] : both);
      expect(await names('/v1/schools/%2A/every-event-name')).toEqual(postgres ? [] : both);
    } finally {
      await app.close();
    }
  });

  onPostgres('tells a connection its scope only when it changes: no extra round trip for a run of one school’s requests', async () => {
    const app = buildApp({ db: service.kysely, tokens: h.tokens, refreshTtlSeconds: 3600, scrypt: TEST_SCRYPT });
    const admins = {
      a: await h.tokens.issue(await h.createUser('head@greenfield.test', [[ids.a, 'admin']])),
      b: await h.tokens.issue(await h.createUser('head@riverside.test', [[ids.b, 'admin']])),
    };
    const query = vi.spyOn(pg.Client.prototype, 'query');
    const count = () => {
      const texts = query.mock.calls.map((call) => (typeof call[0] === 'string' ? call[0] : ''));
      const scopes = texts.filter((text) => text.includes('set_config')).length;
      return { scopes, queries: texts.length - scopes };
    };
    const list = async (school: 'a' | 'b') => {
      const response = await app.inject({ method: 'GET', url: `/v1/schools/${ids[school]}/events`, headers: { authorization: `Bearer ${admins[school]}` } });
      expect(response.statusCode).toBe(200);
      expect(response.json<{ events: Array<{ schoolId: string }> }>().events.map((e) => e.schoolId)).toEqual([ids[school]]);
    };
    try {
      await list('a');
      query.mockClear();
      for (let i = 0; i < 10; i++) await list('a');
      const sameSchool = count();
      expect(sameSchool.queries).toBeGreaterThanOrEqual(20);
      expect(sameSchool.scopes).toBe(0);

      query.mockClear();
      for (let i = 0; i < 10; i++) await list(i % 2 === 0 ? 'b' : 'a');
      const alternating = count();
      // Each request's first query switches the connection to its school; the rest reuse it.
      expect(alternating.scopes).toBeGreaterThanOrEqual(10);
      expect(alternating.scopes).toBeLessThanOrEqual(alternating.queries);
    } finally {
      query.mockRestore();
      await app.close();
    }
  });
});

