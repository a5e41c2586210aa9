import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DATABASES } from '../test/databases.ts';
import type { Db } from './database.ts';
import { migrateToLatest } from './migrations.ts';

describe.each(TEST_DATABASES)('migrations on $name', (target) => {
  let db: Db;
  beforeAll(async () => {
    db = await target.open();
  });
  afterAll(() => db.close());

  it('creates the schema once and is a no-op when run again', async () => {
    const first = await migrateToLatest(db);
    const applied = first.results?.map((r) => [r.migrationName, r.status]) ?? [];
    expect(applied[0]).toEqual(['0001_schools_users_events', 'Success']);
    expect(applied).toContainEqual(['0003_plans_quotas_media', 'Success']);
    expect(applied).toContainEqual(['0002_people_consent_changes', 'Success']);
    expect(applied.every(([, status]) => status === 'Success')).toBe(true);
    const second = await migrateToLatest(db);
    expect(second.results).toEqual([]);
    // Kysely's introspection lists every schema on PostgreSQL; look at ours only.
    const schema = db.kind === 'postgres' ? (await sql<{ s: string }>`select current_schema() as s`.execute(db.kysely)).rows[0]?.s : undefined;
    const tables = (await db.kysely.introspection.getTables())
      .filter((t) => schema === undefined || t.schema === schema)
      .map((t) => t.name)
      .sort();
    expect(tables).toEqual(expect.arrayContaining(['audit_log', 'events', 'memberships', 'refresh_tokens', 'schools', 'users']));
    expect(tables).toEqual(expect.arrayContaining(['media', 'plans', 'reservations', 'subscriptions', 'usage']));
    expect(tables).toEqual(
      expect.arrayContaining(['changes', 'classes', 'consents', 'device_checkpoints', 'families', 'family_members', 'family_students', 'students']),
    );
    expect(tables).toEqual(
      expect.arrayContaining(['event_classes', 'event_families', 'invites', 'object_deletions', 'oidc_logins', 'outbox']),
    );
  });

  it('keeps its bookkeeping in its own PostgreSQL schema even when another schema has some', async () => {
    // Regression: unpinned, the migrator saw another schema's kysely_migration table and skipped creating its own.
    const other = await target.open();
    try {
      await migrateToLatest(other);
      expect((await migrateToLatest(other)).results).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('enforces the constraints the code relies on', async () => {
    const now = new Date().toISOString();
    await db.kysely.insertInto('schools').values({ id: 's1', name: 'S', slug: 's', created_at: now }).execute();
    await expect(db.kysely.insertInto('schools').values({ id: 's2', name: 'T', slug: 's', created_at: now }).execute()).rejects.toThrow();
    // Foreign keys are on (SQLite needs the pragma).
    await expect(
      db.kysely.insertInto('memberships').values({ user_id: 'nobody', school_id: 's1', role: 'admin', created_at: now }).execute(),
    ).rejects.toThrow();
    await expect(
      db.kysely.insertInto('users').values({ id: 'u1', email: 'A@b.c', password_hash: 'x', name: 'A', created_at: now }).execute(),
    ).rejects.toThrow();
    await db.kysely.insertInto('users').values({ id: 'u1', email: 'a@b.c', password_hash: 'x', name: 'A', created_at: now }).execute();
    await expect(
      db.kysely
        .insertInto('memberships')
        .values({ user_id: 'u1', school_id: 's1', role: 'superuser' as 'admin', created_at: now })
        .execute(),
    ).rejects.toThrow();
    const row = await sql<{ one: number }>`select 1 as one`.execute(db.kysely);
    expect(row.rows[0]?.one).toBe(1);
  });
});
