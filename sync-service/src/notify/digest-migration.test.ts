/**
 * Migration 0014 on SQLite and PostgreSQL: a database holding digests per family (0011) is migrated, and
 * its rows become digests per parent, one a parent and event however many of their families had one.
 */
import { Migrator, sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS, migrateToLatest } from '../db/migrations.ts';
import { asService } from '../db/tenant-scope.ts';
import { TEST_DATABASES, type TestDb } from '../test/databases.ts';

const BEFORE_0014 = Object.fromEntries(Object.entries(MIGRATIONS).filter(([name]) => name < '0014'));

describe.each(TEST_DATABASES)('digests per parent (migration 0014) on $name', (target) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await target.open();
  });
  afterAll(() => db.close());

  it('moves each family digest to its parents, once per parent and event, and pending again what was being sent', async () => {
    const schema = db.kind === 'postgres' ? (await sql<{ s: string }>`select current_schema() as s`.execute(db.kysely)).rows[0]?.s : undefined;
    const migrator = new Migrator({ db: db.kysely, provider: { getMigrations: () => Promise.resolve(BEFORE_0014) }, ...(schema === undefined ? {} : { migrationTableSchema: schema }) });
    const early = await asService(() => migrator.migrateToLatest());
    expect(early.error).toBeUndefined();
    expect(early.results?.at(-1)?.migrationName).toBe('0013_favourites');

    const raw = db.kysely as unknown as Kysely<Record<string, Record<string, unknown>>>;
    const at = '2026-06-12T10:00:00.000Z';
    await raw.insertInto('schools').values({ id: 's1', name: 'Greenfield', slug: 'greenfield', created_at: at }).execute();
    await raw.insertInto('events').values({ id: 'e1', school_id: 's1', name: 'Sports Day', starts_on: '2026-06-12', state: 'published', version: 1, created_at: at, updated_at: at }).execute();
    for (const [id, role] of [['both', 'parent'], ['one', 'parent'], ['left', 'teacher']] as const) {
      await raw.insertInto('users').values({ id, email: `${id}@families.test`, password_hash: 'x', name: id, created_at: at }).execute();
      await raw.insertInto('memberships').values({ user_id: id, school_id: 's1', role, created_at: at }).execute();
    }
    // "both" is a parent in families f1 and f2; "one" in f1 only; "left" is no longer a parent here.
    for (const id of ['f1', 'f2']) await raw.insertInto('families').values({ id, school_id: 's1', name: id, created_at: at, updated_at: at }).execute();
    for (const [family_id, user_id] of [['f1', 'both'], ['f2', 'both'], ['f1', 'one'], ['f2', 'left']]) await raw.insertInto('family_members').values({ family_id, user_id }).execute();
    const digest = (id: string, family_id: string, number: number, state: string, new_media: number) => ({
      id,
      school_id: 's1',
      family_id,
      event_id: 'e1',
      number,
      new_media,
      state,
      opened_at: at,
      claim_id: state === 'sending' ? 'claim' : null,
      lease_expires_at: state === 'sending' ? at : null,
      created_at: at,
      updated_at: at,
      sent_at: state === 'sent' ? at : null,
    });
    await raw
      .insertInto('notification_digests')
      .values([digest('d1', 'f1', 1, 'sent', 7), digest('d2', 'f1', 2, 'sending', 3), digest('d3', 'f2', 1, 'sent', 7), digest('d4', 'f2', 2, 'pending', 3)])
      .execute();

    const rest = await migrateToLatest(db);
    expect(rest.results?.map((r) => r.migrationName)).toContain('0014_digests_per_recipient');
    const rows = await asService(() =>
      raw.selectFrom('notification_digests').select(['user_id', 'event_id', 'number', 'new_media', 'state', 'claim_id', 'sent_at']).orderBy('user_id').orderBy('number').execute(),
    );
    expect(rows.map((row) => ({ ...row, number: Number(row.number), new_media: Number(row.new_media) }))).toEqual([
      { user_id: 'both', event_id: 'e1', number: 1, new_media: 7, state: 'sent', claim_id: null, sent_at: at },
      { user_id: 'both', event_id: 'e1', number: 2, new_media: 3, state: 'pending', claim_id: null, sent_at: null },
      { user_id: 'one', event_id: 'e1', number: 1, new_media: 7, state: 'sent', claim_id: null, sent_at: at },
      { user_id: 'one', event_id: 'e1', number: 2, new_media: 3, state: 'pending', claim_id: null, sent_at: null },
    ]);
    // One digest per parent, event and number from now on; the account's removal takes its digests along.
    const { family_id: _family, ...twin } = digest('d5', 'f1', 2, 'pending', 1);
    await expect(raw.insertInto('notification_digests').values({ ...twin, user_id: 'one' }).execute()).rejects.toThrow(/unique|duplicate/i);
    await raw.deleteFrom('users').where('id', '=', 'one').execute();
    expect((await raw.selectFrom('notification_digests').select('user_id').distinct().execute()).map((row) => row.user_id)).toEqual(['both']);
  });
});
