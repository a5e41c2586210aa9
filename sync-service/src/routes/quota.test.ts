import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSchool } from '../services/schools.ts';
import { TEST_DATABASES } from '../test/databases.ts';
import { TEST_SCRYPT, startHarness, type Harness, seedTwoSchools, type TwoSchoolsRole } from '../test/harness.ts';

describe.each(TEST_DATABASES)('storage quota on $name', (target) => {
  let h: Harness;
  let school: string;
  let otherSchool: string;
  let event: string;
  let otherEvent: string;
  let token: Record<TwoSchoolsRole, string>;

  const now = () => new Date().toISOString();

  /** A plan of `limit` bytes for `schoolId`. */
  async function subscribe(schoolId: string, limit: number, extra: { originals?: boolean; video?: boolean } = {}): Promise<void> {
    const planId = `plan-${randomUUID()}`;
    await h.db.kysely
      .insertInto('plans')
      .values({ id: planId, name: `Tiny ${limit}`, storage_bytes: limit, originals_allowed: extra.originals ? 1 : 0, video_allowed: extra.video === false ? 0 : 1 })
      .execute();
    await h.db.kysely
      .insertInto('subscriptions')
      .values({ school_id: schoolId, plan_id: planId, created_at: now() })
      .onConflict((oc) => oc.column('school_id').doUpdateSet({ plan_id: planId }))
      .execute();
  }

  async function makeEvent(schoolId: string, name = 'Sports day'): Promise<string> {
    const id = randomUUID();
    await h.db.kysely
      .insertInto('events')
      .values({ id, school_id: schoolId, name, starts_on: '2026-06-12', ends_on: null, location: null, description: null, state: 'draft', version: 1, created_at: now(), updated_at: now() })
      .execute();
    return id;
  }

  async function usage(schoolId: string) {
    const row = await h.db.kysely.selectFrom('usage').selectAll().where('school_id', '=', schoolId).executeTakeFirstOrThrow();
    return { used: Number(row.used_bytes), reserved: Number(row.reserved_bytes) };
  }

  const reservations = (schoolId = school) => `/v1/schools/${schoolId}/quota/reservations`;

  beforeAll(async () => {
    h = await startHarness(target);
    ({ school, otherSchool, token } = await seedTwoSchools(h));
    event = await makeEvent(school);
    otherEvent = await makeEvent(otherSchool);
  });
  afterAll(() => h.close());

  it('grants exactly floor(limit / size) of 50 parallel reservations, never more than the plan', async () => {
    const racer = await h.createSchool(`race-${target.name}`);
    const raceEvent = await makeEvent(racer);
    const photographer = await h.tokens.issue(await h.createUser(`racer-${target.name}@g.test`, [[racer, 'photographer']]));
    const limit = 1000;
    const size = 70;
    await subscribe(racer, limit);
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => h.call('POST', reservations(racer), photographer, { eventId: raceEvent, bytes: size, objects: 3 })),
    );
    const granted = responses.filter((r) => r.statusCode === 201);
    const refused = responses.filter((r) => r.statusCode !== 201);
    expect(granted).toHaveLength(Math.floor(limit / size));
    expect(refused.every((r) => r.statusCode === 507)).toBe(true);
    const sum = granted.reduce((total, r) => total + r.json<{ bytes: number }>().bytes, 0);
    expect(sum).toBeLessThanOrEqual(limit);
    expect(await usage(racer)).toEqual({ used: 0, reserved: sum });
    const rows = await h.db.kysely.selectFrom('reservations').select('bytes').where('school_id', '=', racer).execute();
    expect(rows).toHaveLength(granted.length);
    expect(refused[0]?.json()).toEqual({
      code: 'quota-exceeded',
      message: `School race-${target.name} has 20 bytes of its 1 KB left; this publish needs 70 bytes.`,
      limitBytes: 1000,
      usedBytes: 0,
      reservedBytes: 980,
      neededBytes: 70,
    });
    expect(await h.audit('quota.reserve')).toHaveLength(granted.length);
  });

  it('answers 201 {id, bytes, expiresAt} and releases idempotently', async () => {
    await subscribe(school, 10_000);
    const before = await usage(school).catch(() => ({ used: 0, reserved: 0 }));
    const made = await h.call('POST', reservations(), token.admin, { eventId: event, bytes: 4000, objects: 12 });
    expect(made.statusCode, made.body).toBe(201);
    const body = made.json<{ id: string; bytes: number; expiresAt: string }>();
    expect(Object.keys(body).sort()).toEqual(['bytes', 'expiresAt', 'id']);
    expect(body.bytes).toBe(4000);
    expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now() + 3600_000);
    expect((await usage(school)).reserved).toBe(before.reserved + 4000);

    const released = await h.call('POST', `${reservations()}/${body.id}/release`, token.photographer);
    expect(released.statusCode, released.body).toBe(200);
    expect(released.json()).toEqual({ id: body.id, state: 'released', bytes: 4000 });
    expect((await usage(school)).reserved).toBe(before.reserved);
    const again = await h.call('POST', `${reservations()}/${body.id}/release`, token.photographer);
    expect(again.json()).toEqual({ id: body.id, state: 'released', bytes: 4000 });
    expect((await usage(school)).reserved).toBe(before.reserved);
    expect((await h.audit('quota.release')).filter((row) => row.subject === `reservation:${body.id}`)).toHaveLength(1);

    // Another school's reservation, or one that does not exist: 404.
    expect((await h.call('POST', `${reservations(otherSchool)}/${body.id}/release`, token.otherAdmin)).statusCode).toBe(404);
    expect((await h.call('POST', `${reservations()}/${randomUUID()}/release`, token.admin)).statusCode).toBe(404);
  });

  it('releases expired reservations on the school’s next reservation', async () => {
    await subscribe(school, 10_000);
    const first = (await h.call('POST', reservations(), token.admin, { eventId: event, bytes: 9000, objects: 1 })).json<{ id: string }>();
    expect((await h.call('POST', reservations(), token.admin, { eventId: event, bytes: 5000, objects: 1 })).statusCode).toBe(507);
    await h.db.kysely.updateTable('reservations').set({ expires_at: '2000-01-01T00:00:00.000Z' }).where('id', '=', first.id).execute();
    const second = await h.call('POST', reservations(), token.admin, { eventId: event, bytes: 5000, objects: 1 });
    expect(second.statusCode, second.body).toBe(201);
    const row = await h.db.kysely.selectFrom('reservations').selectAll().where('id', '=', first.id).executeTakeFirstOrThrow();
    expect(row.state).toBe('released');
    expect((await usage(school)).reserved).toBe(5000);
    expect((await h.audit('quota.expire')).some((entry) => entry.detail.includes(first.id))).toBe(true);
    await h.call('POST', `${reservations()}/${second.json<{ id: string }>().id}/release`, token.admin);
  });

  it('checks who reserves, for which event, with a strict body', async () => {
    const body = { eventId: event, bytes: 10, objects: 1 };
    expect((await h.call('POST', reservations(), token.teacher, body)).statusCode).toBe(403);
    expect((await h.call('POST', reservations(), token.parent, body)).statusCode).toBe(403);
    expect((await h.call('POST', reservations(), token.otherAdmin, body)).statusCode).toBe(404);
    expect((await h.call('POST', reservations(), undefined, body)).statusCode).toBe(401);
    const foreign = await h.call('POST', reservations(), token.admin, { ...body, eventId: otherEvent });
    expect(foreign.statusCode).toBe(404);
    const extra = await h.call('POST', reservations(), token.admin, { ...body, schoolId: otherSchool });
    expect(extra.statusCode).toBe(400);
    expect(extra.json<{ message: string }>().message).toMatch(/schoolId/);
    const negative = await h.call('POST', reservations(), token.admin, { ...body, bytes: -1 });
    expect(negative.statusCode).toBe(400);
    expect((await h.call('POST', reservations(), token.admin, { ...body, bytes: 1.5 })).statusCode).toBe(400);
  });

  it('shows admins the plan, usage and usage by event', async () => {
    await subscribe(school, 50_000);
    const held = (await h.call('POST', reservations(), token.photographer, { eventId: event, bytes: 1234, objects: 1 })).json<{ id: string }>();
    const quota = await h.call('GET', `/v1/schools/${school}/quota`, token.admin);
    expect(quota.statusCode, quota.body).toBe(200);
    expect(quota.json()).toMatchObject({
      plan: { name: 'Tiny 50000', storageBytes: 50_000, originalsAllowed: false, videoAllowed: true },
      usedBytes: 0,
      reservedBytes: 1234,
      limitBytes: 50_000,
      byEvent: [{ eventId: event, name: 'Sports day', usedBytes: 0, reservedBytes: 1234, assets: 0 }],
    });
    expect((await h.call('GET', `/v1/schools/${school}/quota`, token.photographer)).statusCode).toBe(403);
    expect((await h.call('GET', `/v1/schools/${school}/quota`, token.otherAdmin)).statusCode).toBe(404);
    await h.call('POST', `${reservations()}/${held.id}/release`, token.admin);
  });

  it('puts every new school on the default plan', async () => {
    const made = await createSchool(h.db.kysely, { name: 'Greenfield', slug: 'greenfield-new', adminEmail: 'head@gn.test', adminPassword: 'long enough pw' }, TEST_SCRYPT);
    const quota = await h.call('GET', `/v1/schools/${made.schoolId}/quota`, await h.tokens.issue(made.userId));
    expect(quota.json()).toEqual({
      plan: { id: 'standard', name: 'Standard', storageBytes: 100 * 1000 ** 3, originalsAllowed: false, videoAllowed: true },
      usedBytes: 0,
      reservedBytes: 0,
      limitBytes: 100 * 1000 ** 3,
      byEvent: [],
    });
  });
});
