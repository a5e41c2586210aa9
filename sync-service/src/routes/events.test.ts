import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PublicEvent } from '../services/events.ts';
import { TEST_DATABASES } from '../test/databases.ts';
import { startHarness, type Harness } from '../test/harness.ts';

describe.each(TEST_DATABASES)('events on $name', (target) => {
  let h: Harness;
  let school: string;
  let otherSchool: string;
  const token: Record<'admin' | 'photographer' | 'teacher' | 'parent' | 'outsider' | 'otherAdmin', string> = {
    admin: '',
    photographer: '',
    teacher: '',
    parent: '',
    outsider: '',
    otherAdmin: '',
  };
  let adminId: string;

  beforeAll(async () => {
    h = await startHarness(target);
    school = await h.createSchool('greenfield');
    otherSchool = await h.createSchool('riverside');
    adminId = await h.createUser('admin@g.test', [[school, 'admin']]);
    await h.createUser('photo@g.test', [[school, 'photographer']]);
    await h.createUser('teacher@g.test', [[school, 'teacher']]);
    await h.createUser('parent@g.test', [[school, 'parent']]);
    await h.createUser('outsider@r.test');
    await h.createUser('admin@r.test', [[otherSchool, 'admin']]);
    token.admin = await h.tokens.issue(adminId);
    for (const [who, email] of [
      ['photographer', 'photo@g.test'],
      ['teacher', 'teacher@g.test'],
      ['parent', 'parent@g.test'],
      ['outsider', 'outsider@r.test'],
      ['otherAdmin', 'admin@r.test'],
    ] as const) {
      token[who] = (await h.signIn(email)).accessToken;
    }
  });
  afterAll(() => h.close());

  const events = (schoolId = school) => `/v1/schools/${schoolId}/events`;
  async function create(body: Record<string, unknown>, as = token.admin): Promise<PublicEvent> {
    const response = await h.call('POST', events(), as, body);
    expect(response.statusCode, response.body).toBe(201);
    return response.json<PublicEvent>();
  }

  it('creates, gets and lists events', async () => {
    const created = await create({ name: 'Sports day', startsOn: '2026-06-12', location: 'Field' });
    expect(created).toMatchObject({
      schoolId: school,
      name: 'Sports day',
      startsOn: '2026-06-12',
      endsOn: null,
      location: 'Field',
      description: null,
      state: 'draft',
      audience: { scope: 'school' },
      galleryExpiresOn: null,
      expired: false,
      version: 1,
    });
    expect(created.createdAt).toBe(created.updatedAt);
    const got = await h.call('GET', `${events()}/${created.id}`, token.photographer);
    expect(got.json()).toEqual(created);
    const list = await h.call('GET', events(), token.teacher);
    expect(list.json<{ events: PublicEvent[] }>().events.map((e) => e.id)).toContain(created.id);
    const audit = await h.audit('event.create');
    expect(audit.find((row) => row.subject === `event:${created.id}`)).toMatchObject({ school_id: school, actor_user_id: adminId });
  });

  it('lets only admins and photographers create', async () => {
    expect((await h.call('POST', events(), token.photographer, { name: 'Play', startsOn: '2026-07-01' })).statusCode).toBe(201);
    const teacher = await h.call('POST', events(), token.teacher, { name: 'Play', startsOn: '2026-07-01' });
    expect(teacher.statusCode).toBe(403);
    expect(teacher.json()).toMatchObject({ code: 'forbidden' });
    expect((await h.call('POST', events(), token.parent, { name: 'Play', startsOn: '2026-07-01' })).statusCode).toBe(403);
  });

  it('validates event fields with useful messages', async () => {
    const bad = await h.call('POST', events(), token.admin, { name: '', startsOn: '2026-02-30' });
    expect(bad.statusCode).toBe(400);
    const message = bad.json<{ message: string }>().message;
    expect(message).toContain('name');
    expect(message).toContain('startsOn: must be a date as YYYY-MM-DD');
    const backwards = await h.call('POST', events(), token.admin, { name: 'Trip', startsOn: '2026-05-02', endsOn: '2026-05-01' });
    expect(backwards.statusCode).toBe(400);
    expect(backwards.json<{ message: string }>().message).toContain('before');
  });

  it('refuses mass assignment of school, version, id and timestamps', async () => {
    for (const extra of [{ schoolId: otherSchool }, { version: 99 }, { id: 'mine' }, { createdAt: '2000-01-01' }, { role: 'admin' }]) {
      const response = await h.call('POST', events(), token.admin, { name: 'Sneaky', startsOn: '2026-01-01', ...extra });
      expect(response.statusCode).toBe(400);
      expect(response.json<{ message: string }>().message).toContain(Object.keys(extra)[0]);
    }
    const made = await create({ name: 'Honest', startsOn: '2026-01-01' });
    const patch = await h.call('PATCH', `${events()}/${made.id}`, token.admin, { version: 1, name: 'x', schoolId: otherSchool });
    expect(patch.statusCode).toBe(400);
    const still = await h.call('GET', `${events()}/${made.id}`, token.admin);
    expect(still.json()).toMatchObject({ schoolId: school, name: 'Honest', version: 1 });
    const otherList = await h.call('GET', events(otherSchool), token.otherAdmin);
    expect(otherList.json<{ events: PublicEvent[] }>().events).toEqual([]);
  });

  it('patches with optimistic concurrency: version + 1, a stale version is a 409 with the current event', async () => {
    const made = await create({ name: 'Concert', startsOn: '2026-12-10' });
    const first = await h.call('PATCH', `${events()}/${made.id}`, token.photographer, { version: 1, name: 'Winter concert', endsOn: '2026-12-11' });
    expect(first.statusCode, first.body).toBe(200);
    const updated = first.json<PublicEvent>();
    expect(updated).toMatchObject({ name: 'Winter concert', endsOn: '2026-12-11', version: 2, createdAt: made.createdAt });
    expect(updated.updatedAt >= made.updatedAt).toBe(true);

    const stale = await h.call('PATCH', `${events()}/${made.id}`, token.admin, { version: 1, location: 'Hall' });
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toEqual({ code: 'conflict', message: expect.stringContaining('version 2'), current: updated });

    const cleared = await h.call('PATCH', `${events()}/${made.id}`, token.admin, { version: 2, endsOn: null, state: 'published' });
    expect(cleared.json()).toMatchObject({ endsOn: null, state: 'published', version: 3 });

    const audit = (await h.audit('event.update')).filter((row) => row.subject === `event:${made.id}`);
    expect(audit.map((row) => JSON.parse(row.detail))).toEqual([
      { fields: ['endsOn', 'name'], version: 2 },
      { fields: ['endsOn', 'state'], version: 3 },
    ]);
  });

  it('lets exactly one of two racing editors win', async () => {
    const made = await create({ name: 'Race', startsOn: '2026-03-03' });
    const url = `${events()}/${made.id}`;
    const results = await Promise.all([
      h.call('PATCH', url, token.admin, { version: 1, name: 'A' }),
      h.call('PATCH', url, token.photographer, { version: 1, name: 'B' }),
    ]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    expect((await h.call('GET', url, token.admin)).json()).toMatchObject({ version: 2 });
  });

  it('needs a version and at least one change; teachers cannot patch', async () => {
    const made = await create({ name: 'Fair', startsOn: '2026-04-04' });
    const url = `${events()}/${made.id}`;
    expect((await h.call('PATCH', url, token.admin, { name: 'x' })).statusCode).toBe(400);
    expect((await h.call('PATCH', url, token.admin, { version: 1 })).statusCode).toBe(400);
    expect((await h.call('PATCH', url, token.teacher, { version: 1, name: 'x' })).statusCode).toBe(403);
  });

  it('shows parents published events only, and hides the rest as not found', async () => {
    const draft = await create({ name: 'Secret draft', startsOn: '2026-08-01' });
    const published = await create({ name: 'Open day', startsOn: '2026-08-02', state: 'published' });
    const archived = await create({ name: 'Old', startsOn: '2020-08-02', state: 'archived' });
    const list = (await h.call('GET', events(), token.parent)).json<{ events: PublicEvent[] }>().events;
    expect(list.every((e) => e.state === 'published')).toBe(true);
    expect(list.map((e) => e.id)).toContain(published.id);
    expect((await h.call('GET', `${events()}/${published.id}`, token.parent)).statusCode).toBe(200);
    for (const hidden of [draft, archived]) {
      const response = await h.call('GET', `${events()}/${hidden.id}`, token.parent);
      expect(response.statusCode).toBe(404);
      // A parent cannot probe drafts by patching either: still 404, not 403.
      expect((await h.call('PATCH', `${events()}/${hidden.id}`, token.parent, { version: 1, name: 'x' })).statusCode).toBe(404);
    }
    expect((await h.call('PATCH', `${events()}/${published.id}`, token.parent, { version: 1, name: 'x' })).statusCode).toBe(403);
    const staff = (await h.call('GET', events(), token.teacher)).json<{ events: PublicEvent[] }>().events.map((e) => e.id);
    expect(staff).toEqual(expect.arrayContaining([draft.id, published.id, archived.id]));
  });

  it('answers non-members and cross-school requests with 404, the same as a school that does not exist', async () => {
    const made = await create({ name: 'Ours', startsOn: '2026-09-09', state: 'published' });
    const missing = await h.call('GET', events('no-such-school'), token.outsider);
    expect(missing.statusCode).toBe(404);
    for (const [method, url, as] of [
      ['GET', events(), token.outsider],
      ['POST', events(), token.outsider],
      ['GET', `${events()}/${made.id}`, token.outsider],
      ['PATCH', `${events()}/${made.id}`, token.otherAdmin],
      ['GET', `${events()}/${made.id}`, token.otherAdmin],
      // The other school's admin asking through their own school for our event id.
      ['GET', `${events(otherSchool)}/${made.id}`, token.otherAdmin],
      ['PATCH', `${events(otherSchool)}/${made.id}`, token.otherAdmin],
    ] as const) {
      const response = await h.call(method, url, as, method === 'GET' ? undefined : { version: 1, name: 'x', startsOn: '2026-01-01' });
      expect(response.statusCode, `${method} ${url}`).toBe(404);
      expect(response.json()).toEqual({ code: 'not-found', message: expect.any(String) });
    }
    expect(missing.json()).toEqual((await h.call('GET', events(), token.outsider)).json());
    expect((await h.call('GET', `${events()}/${made.id}`, token.admin)).json()).toMatchObject({ name: 'Ours', version: 1 });
  });

  it('requires a signed-in caller', async () => {
    expect((await h.call('GET', events(), undefined)).statusCode).toBe(401);
  });
});
