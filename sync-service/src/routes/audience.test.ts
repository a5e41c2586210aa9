import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3Server } from '../../../app/test/s3-server.ts';
import { buildApp } from '../app.ts';
import type { Role } from '../db/schema.ts';
import { todayUtc, type PublicEvent } from '../services/events.ts';
import type { FeedPage } from '../services/feed.ts';
import type { PublicMedia } from '../services/media.ts';
import { S3ObjectStore } from '../services/storage.ts';
import { TEST_DATABASES } from '../test/databases.ts';
import { injectAs, TEST_SCRYPT, startHarness, type Harness } from '../test/harness.ts';

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
type Who = 'admin' | 'teacher' | 'parentA' | 'parentB' | 'pupil' | 'otherAdmin';

const OBJECT = Buffer.from('a photo of the school play');

let s3: S3Server;
let client: S3Client;

beforeAll(async () => {
  s3 = await startS3Server();
  client = s3.client();
}, 60_000);
afterAll(() => s3.close());

/** Counts the SQL statements a Kysely instance runs (every query passes through a plugin once). */
class QueryCounter implements KyselyPlugin {
  count = 0;
  transformQuery: KyselyPlugin['transformQuery'] = (args) => {
    this.count += 1;
    return args.node;
  };
  transformResult: KyselyPlugin['transformResult'] = (args) => Promise.resolve(args.result);
}

describe.each(TEST_DATABASES)('event audience, gallery expiry and consent on $name', (target) => {
  let h: Harness;
  let app: FastifyInstance;
  let school: string;
  let otherSchool: string;
  const token = {} as Record<Who, string>;
  let classA: string;
  let classB: string;
  let familyA: string;
  let familyB: string;
  let childA: string;
  let childB: string;
  let otherClass: string;
  let otherFamily: string;

  const send = (method: Method, url: string, as: string | undefined, body?: unknown, via = app): Promise<LightMyRequestResponse> =>
    injectAs(via, method, url, as, body);

  async function ok<T>(method: Method, url: string, as: string, body?: unknown): Promise<T> {
    const response = await send(method, url, as, body);
    if (response.statusCode >= 300) throw new Error(`${method} ${url}: ${response.statusCode} ${response.body}`);
    return response.json<T>();
  }

  const base = (schoolId = school) => `/v1/schools/${schoolId}`;
  const eventUrl = (id: string) => `${base()}/events/${id}`;
  const mediaUrl = (id: string) => `${eventUrl(id)}/media`;

  async function member(email: string, schoolId: string, role: Role): Promise<{ id: string; token: string }> {
    const id = await h.createUser(email, [[schoolId, role]]);
    return { id, token: await h.tokens.issue(id) };
  }

  async function setConsent(studentId: string, granted: boolean, as = token.admin): Promise<void> {
    await ok('PUT', `${base()}/students/${studentId}/consent/publish`, as, { granted });
  }

  /** A family with one parent and one child in `classId`, the child's publish consent granted. */
  async function family(label: string, classId: string): Promise<{ familyId: string; childId: string; parent: string }> {
    const made = await ok<{ id: string }>('POST', `${base()}/families`, token.admin, { name: `Family ${label}` });
    const parent = await member(`parent-${label}@g.test`, school, 'parent');
    await ok('POST', `${base()}/families/${made.id}/members`, token.admin, { userId: parent.id });
    const child = await ok<{ id: string }>('POST', `${base()}/students`, token.admin, { name: `Child ${label}`, classId });
    await ok('POST', `${base()}/families/${made.id}/students`, token.admin, { studentId: child.id });
    await setConsent(child.id, true);
    return { familyId: made.id, childId: child.id, parent: parent.token };
  }

  async function createEvent(body: Record<string, unknown>): Promise<PublicEvent> {
    const response = await send('POST', `${base()}/events`, token.admin, { startsOn: '2026-06-12', state: 'published', ...body });
    expect(response.statusCode, response.body).toBe(201);
    return response.json<PublicEvent>();
  }

  /** Publishes one asset per entry of `tagged` (the students tagged in it), each a real object in s3rver. */
  async function publish(eventId: string, tagged: string[][]): Promise<string[]> {
    const assets = [];
    for (const people of tagged) {
      const id = randomBytes(16).toString('hex');
      const key = `schools/greenfield/events/${eventId}/${id}/thumb.webp`;
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: OBJECT }));
      assets.push({
        id,
        kind: 'photo',
        capturedAt: '2026-06-12T10:00:00.000Z',
        width: 4000,
        height: 3000,
        durationSec: null,
        rating: 0,
        title: null,
        description: null,
        tags: [],
        people,
        variants: { thumb: { key, size: OBJECT.length, hash: `h-${id}` } },
      });
    }
    await ok('PUT', `${eventUrl(eventId)}/manifest`, token.admin, { assets });
    return assets.map((a) => a.id);
  }

  async function visibleEventIds(as: string): Promise<string[]> {
    return (await ok<{ events: PublicEvent[] }>('GET', `${base()}/events`, as)).events.map((e) => e.id);
  }

  async function galleryIds(eventId: string, as: string): Promise<string[]> {
    return (await ok<{ media: PublicMedia[] }>('GET', mediaUrl(eventId), as)).media.map((m) => m.assetId);
  }

  beforeAll(async () => {
    h = await startHarness(target);
    app = buildApp({
      db: h.db.kysely,
      tokens: h.tokens,
      refreshTtlSeconds: 3600,
      scrypt: TEST_SCRYPT,
      media: { store: new S3ObjectStore(client, s3.bucket), urlTtlSeconds: 60 },
    });
    school = await h.createSchool('greenfield');
    otherSchool = await h.createSchool('riverside');
    token.admin = (await member('admin@g.test', school, 'admin')).token;
    token.teacher = (await member('teacher@g.test', school, 'teacher')).token;
    token.pupil = (await member('pupil@g.test', school, 'student')).token;
    token.otherAdmin = (await member('admin@r.test', otherSchool, 'admin')).token;
    classA = (await ok<{ id: string }>('POST', `${base()}/classes`, token.admin, { name: '3A' })).id;
    classB = (await ok<{ id: string }>('POST', `${base()}/classes`, token.admin, { name: '3B' })).id;
    const a = await family('a', classA);
    const b = await family('b', classB);
    ({ familyId: familyA, childId: childA, parent: token.parentA } = a);
    ({ familyId: familyB, childId: childB, parent: token.parentB } = b);
    otherClass = (await ok<{ id: string }>('POST', `${base(otherSchool)}/classes`, token.otherAdmin, { name: '3A' })).id;
    otherFamily = (await ok<{ id: string }>('POST', `${base(otherSchool)}/families`, token.otherAdmin, { name: 'Family elsewhere' })).id;
  });
  afterAll(async () => {
    await app.close();
    await h.close();
  });

  it("shows a class's event, its media and its URLs to that class's parents only", async () => {
    const event = await createEvent({ name: 'Class 3A trip', audience: { scope: 'some', classIds: [classA] } });
    expect(event.audience).toEqual({ scope: 'some', classIds: [classA], familyIds: [] });
    const [assetId] = await publish(event.id, [[childA]]);

    expect(await visibleEventIds(token.parentA)).toContain(event.id);
    const seen = await send('GET', eventUrl(event.id), token.parentA);
    expect(seen.statusCode).toBe(200);
    // Parents are not told which other classes or families an event is for.
    expect(seen.json<PublicEvent>()).not.toHaveProperty('audience');
    expect(await galleryIds(event.id, token.parentA)).toEqual([assetId]);
    const url = await send('GET', `${mediaUrl(event.id)}/${assetId}/thumb`, token.parentA);
    expect(url.statusCode, url.body).toBe(200);
    const fetched = await fetch(url.json<{ url: string }>().url);
    expect(Buffer.from(await fetched.arrayBuffer())).toEqual(OBJECT);

    // Class B's parent, and a student account (not linked to a class), are told it does not exist.
    const missing = await send('GET', eventUrl('no-such-event'), token.parentB);
    for (const as of [token.parentB, token.pupil]) {
      expect(await visibleEventIds(as)).not.toContain(event.id);
      for (const path of [eventUrl(event.id), mediaUrl(event.id), `${mediaUrl(event.id)}/${assetId}/thumb`]) {
        const response = await send('GET', path, as);
        expect(response.statusCode, path).toBe(404);
        expect(response.json()).toEqual({ code: 'not-found', message: expect.any(String) });
      }
      expect((await send('GET', eventUrl(event.id), as)).json()).toEqual(missing.json());
    }

    // Staff see it with its audience, as before.
    const staff = (await ok<{ events: PublicEvent[] }>('GET', `${base()}/events`, token.teacher)).events.find((e) => e.id === event.id);
    expect(staff?.audience).toEqual({ scope: 'some', classIds: [classA], familyIds: [] });
    expect(await galleryIds(event.id, token.teacher)).toEqual([assetId]);
  });

  it("follows a child into a new class: the parent sees the new class's events", async () => {
    const event = await createEvent({ name: 'Class 3B assembly', audience: { scope: 'some', classIds: [classB] } });
    expect(await visibleEventIds(token.parentA)).not.toContain(event.id);
    await ok('PATCH', `${base()}/students/${childA}`, token.admin, { classId: classB });
    expect(await visibleEventIds(token.parentA)).toContain(event.id);
    await ok('PATCH', `${base()}/students/${childA}`, token.admin, { classId: classA });
    expect(await visibleEventIds(token.parentA)).not.toContain(event.id);
  });

  it('shows a family-targeted event to that family alone', async () => {
    const event = await createEvent({ name: 'Portrait session', audience: { scope: 'some', familyIds: [familyB] } });
    const [assetId] = await publish(event.id, [[childB]]);
    expect(await visibleEventIds(token.parentB)).toContain(event.id);
    expect(await galleryIds(event.id, token.parentB)).toEqual([assetId]);
    expect(await visibleEventIds(token.parentA)).not.toContain(event.id);
    expect((await send('GET', eventUrl(event.id), token.parentA)).statusCode).toBe(404);
    expect((await send('GET', mediaUrl(event.id), token.parentA)).statusCode).toBe(404);
    expect((await send('GET', eventUrl(event.id), token.pupil)).statusCode).toBe(404);
  });

  it('shows a school-wide event to every family and to students, and drafts to nobody but staff', async () => {
    const event = await createEvent({ name: 'Sports day' });
    expect(event.audience).toEqual({ scope: 'school' });
    const [assetId] = await publish(event.id, [[]]);
    for (const as of [token.parentA, token.parentB, token.pupil]) {
      expect(await visibleEventIds(as)).toContain(event.id);
      expect(await galleryIds(event.id, as)).toEqual([assetId]);
    }
    const draft = await createEvent({ name: 'Draft for 3A', state: 'draft', audience: { scope: 'some', classIds: [classA] } });
    expect((await send('GET', eventUrl(draft.id), token.parentA)).statusCode).toBe(404);
    expect(await visibleEventIds(token.teacher)).toContain(draft.id);
  });

  it('lists an expired gallery as expired, answers 410 for its media, and keeps it open to staff', async () => {
    const closed = await createEvent({ name: 'Winter fair 2020', startsOn: '2020-01-30', galleryExpiresOn: '2020-01-31' });
    const [assetId] = await publish(closed.id, [[childA]]);
    const yesterday = todayUtc(new Date(Date.now() - 86_400_000));
    const lastDay = await createEvent({ name: 'Open through today', startsOn: yesterday, galleryExpiresOn: todayUtc() });
    await publish(lastDay.id, [[]]);

    const listed = (await ok<{ events: PublicEvent[] }>('GET', `${base()}/events`, token.parentA)).events;
    expect(listed.find((e) => e.id === closed.id)).toMatchObject({ galleryExpiresOn: '2020-01-31', expired: true });
    expect(listed.find((e) => e.id === lastDay.id)).toMatchObject({ expired: false });
    expect((await send('GET', eventUrl(closed.id), token.parentA)).json()).toMatchObject({ expired: true });

    const gone = {
      code: 'gone',
      message: 'This gallery closed on 2020-01-31 (at the end of that day, UTC). Ask the school if you still need its photos.',
    };
    for (const as of [token.parentA, token.pupil]) {
      const page = await send('GET', mediaUrl(closed.id), as);
      expect(page.statusCode).toBe(410);
      expect(page.json()).toEqual(gone);
      const one = await send('GET', `${mediaUrl(closed.id)}/${assetId}/thumb`, as);
      expect(one.statusCode).toBe(410);
      expect(one.json()).toEqual(gone);
    }
    // On its last day a gallery is still open.
    expect((await send('GET', mediaUrl(lastDay.id), token.parentA)).statusCode).toBe(200);
    for (const as of [token.admin, token.teacher]) {
      expect(await galleryIds(closed.id, as)).toEqual([assetId]);
      expect((await send('GET', `${mediaUrl(closed.id)}/${assetId}/thumb`, as)).statusCode).toBe(200);
    }

    // Expiry never reveals an event the caller may not see: still 404, not 410.
    const closedFor3A = await createEvent({ name: 'Old 3A trip', startsOn: '2020-01-30', galleryExpiresOn: '2020-01-31', audience: { scope: 'some', classIds: [classA] } });
    expect((await send('GET', mediaUrl(closedFor3A.id), token.parentB)).statusCode).toBe(404);
    expect((await send('GET', mediaUrl(closedFor3A.id), token.parentA)).statusCode).toBe(410);

    // Reopened by moving the date: the gallery is back.
    await ok('PATCH', eventUrl(closed.id), token.admin, { version: closed.version, galleryExpiresOn: null });
    expect(await galleryIds(closed.id, token.parentA)).toEqual([assetId]);
  });

  it('hides media of a child whose consent is withdrawn at once, and shows it again when granted', async () => {
    const event = await createEvent({ name: 'Science fair' });
    const [ofA, ofB, ofBoth, ofNobody] = await publish(event.id, [[childA], [childB], [childA, childB], []]);
    expect(await galleryIds(event.id, token.parentA)).toEqual([ofA, ofB, ofBoth, ofNobody]);

    // Family B withdraws consent: every item tagged with their child leaves every parent's gallery.
    await setConsent(childB, false, token.parentB);
    for (const as of [token.parentA, token.parentB, token.pupil]) expect(await galleryIds(event.id, as)).toEqual([ofA, ofNobody]);
    for (const assetId of [ofB, ofBoth]) {
      const response = await send('GET', `${mediaUrl(event.id)}/${assetId}/thumb`, token.parentA);
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({ code: 'not-found', message: 'No such media in this event.' });
    }
    // Staff still see everything, with who is tagged.
    const staff = (await ok<{ media: PublicMedia[] }>('GET', mediaUrl(event.id), token.teacher)).media;
    expect(staff.map((m) => [m.assetId, m.people])).toEqual([
      [ofA, [childA]],
      [ofB, [childB]],
      [ofBoth, [childA, childB]],
      [ofNobody, []],
    ]);

    await setConsent(childB, true, token.parentB);
    expect(await galleryIds(event.id, token.parentA)).toEqual([ofA, ofB, ofBoth, ofNobody]);
    expect((await send('GET', `${mediaUrl(event.id)}/${ofB}/thumb`, token.parentA)).statusCode).toBe(200);
  });

  it('treats a child with no consent answer, or an id that is no student here, as not consenting', async () => {
    const undecided = await ok<{ id: string }>('POST', `${base()}/students`, token.admin, { name: 'New pupil', classId: classA });
    const event = await createEvent({ name: 'Book week' });
    const [plain, ofUndecided, ofStranger] = await publish(event.id, [[], [undecided.id], ['not-a-student-here']]);
    expect(await galleryIds(event.id, token.parentA)).toEqual([plain]);
    expect((await ok<{ media: PublicMedia[] }>('GET', mediaUrl(event.id), token.admin)).media.map((m) => m.assetId)).toEqual([plain, ofUndecided, ofStranger]);
  });

  it('pages by position when consent hides items, and reads a page of 100 in the same few queries as a page of 10', async () => {
    const event = await createEvent({ name: 'Concert' });
    const now = new Date().toISOString();
    // Rows written directly: this measures the listing, not the manifest check.
    const rows = Array.from({ length: 120 }, (_, position) => ({
      school_id: school,
      event_id: event.id,
      asset_id: `concert-${String(position).padStart(3, '0')}`,
      variant: 'thumb',
      position,
      kind: 'photo',
      object_key: `schools/greenfield/events/${event.id}/concert-${position}/thumb.webp`,
      size: 10,
      hash: `h-${position}`,
      width: 100,
      height: 100,
      duration_sec: null,
      captured_at: null,
      rating: 0,
      title: null,
      description: null,
      tags: '[]',
      // Every third item shows family B's child, whose consent is withdrawn below.
      people: JSON.stringify(position % 3 === 0 ? [childB] : [childA]),
      published_at: now,
    }));
    await h.db.kysely.insertInto('media').values(rows).execute();
    await setConsent(childB, false);
    try {
      const counter = new QueryCounter();
      const counted = buildApp({
        db: h.db.kysely.withPlugin(counter),
        tokens: h.tokens,
        refreshTtlSeconds: 3600,
        scrypt: TEST_SCRYPT,
        media: { store: new S3ObjectStore(client, s3.bucket), urlTtlSeconds: 60 },
      });
      try {
        const queriesFor = async (limit: number) => {
          counter.count = 0;
          const response = await send('GET', `${mediaUrl(event.id)}?limit=${limit}`, token.parentA, undefined, counted);
          expect(response.statusCode, response.body).toBe(200);
          return { count: counter.count, page: response.json<{ media: PublicMedia[]; nextCursor: string | null }>() };
        };
        // The event's first listing prepares its media (one query more, once per media version).
        await queriesFor(1);
        const ten = await queriesFor(10);
        const hundred = await queriesFor(100);
        expect(hundred.page.media).toHaveLength(66);
        expect(hundred.page.nextCursor).toBe('99');
        expect(ten.page.media.map((m) => m.assetId)).toEqual(['concert-001', 'concert-002', 'concert-004', 'concert-005', 'concert-007', 'concert-008']);
        // Membership, the event (audience included), the media version with the family's favourites, the page's consents.
        expect(hundred.count).toBe(ten.count);
        expect(hundred.count).toBeLessThanOrEqual(4);
      } finally {
        await counted.close();
      }
      const rest = await ok<{ media: PublicMedia[]; nextCursor: string | null }>('GET', `${mediaUrl(event.id)}?limit=100&cursor=99`, token.parentA);
      expect(rest.media).toHaveLength(14);
      expect(rest.nextCursor).toBeNull();
    } finally {
      await setConsent(childB, true);
    }
  });

  it('patches the audience with the version check, audits it and sends it to the desktops', async () => {
    const event = await createEvent({ name: 'Choir', galleryExpiresOn: '2099-09-30' });
    const changed = await send('PATCH', eventUrl(event.id), token.admin, { version: 1, audience: { scope: 'some', classIds: [classB], familyIds: [familyA, familyA] } });
    expect(changed.statusCode, changed.body).toBe(200);
    const updated = changed.json<PublicEvent>();
    expect(updated).toMatchObject({ version: 2, audience: { scope: 'some', classIds: [classB], familyIds: [familyA] } });
    // Family A is listed; family B's child is in class 3B: both see it now, the student account does not.
    expect(await visibleEventIds(token.parentA)).toContain(event.id);
    expect(await visibleEventIds(token.parentB)).toContain(event.id);
    expect(await visibleEventIds(token.pupil)).not.toContain(event.id);

    const stale = await send('PATCH', eventUrl(event.id), token.admin, { version: 1, audience: { scope: 'school' } });
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toEqual({ code: 'conflict', message: expect.stringContaining('version 2'), current: updated });
    expect((await ok<PublicEvent>('GET', eventUrl(event.id), token.admin)).audience).toEqual(updated.audience);

    const audit = (await h.audit('event.update')).filter((row) => row.subject === `event:${event.id}`);
    expect(audit.map((row) => JSON.parse(row.detail))).toEqual([
      { fields: ['audience'], version: 2, audience: { before: { scope: 'school' }, after: { scope: 'some', classIds: [classB], familyIds: [familyA] } } },
    ]);

    const feed = await ok<FeedPage>('GET', `${base()}/changes?since=0&limit=1000`, token.admin);
    const change = feed.changes.find((c) => c.entity === 'event' && c.id === event.id);
    expect(change?.data).toMatchObject({ audience: { scope: 'some', classIds: [classB], familyIds: [familyA] }, galleryExpiresOn: '2099-09-30', expired: false, version: 2 });

    const back = await ok<PublicEvent>('PATCH', eventUrl(event.id), token.admin, { version: 2, audience: { scope: 'school' } });
    expect(back).toMatchObject({ version: 3, audience: { scope: 'school' } });
    expect(await visibleEventIds(token.pupil)).toContain(event.id);
    const rows = await h.db.kysely.selectFrom('event_classes').select('class_id').where('event_id', '=', event.id).execute();
    expect(rows).toEqual([]);
  });

  it("refuses another school's classes and families exactly as ids that exist nowhere", async () => {
    const event = await createEvent({ name: 'Drama' });
    for (const [field, foreign] of [
      ['classIds', otherClass],
      ['familyIds', otherFamily],
    ] as const) {
      const cases = [foreign, 'no-such-id'].map(async (id) => {
        const response = await send('POST', `${base()}/events`, token.admin, { name: 'Leaky', startsOn: '2026-06-12', audience: { scope: 'some', [field]: [id] } });
        expect(response.statusCode).toBe(422);
        return response.json<{ code: string; message: string }>();
      });
      const [foreignAnswer, nowhereAnswer] = await Promise.all(cases);
      expect(foreignAnswer?.code).toBe('invalid-input');
      expect(foreignAnswer?.message.replace(foreign, 'ID')).toBe(nowhereAnswer?.message.replace('no-such-id', 'ID'));
      expect(foreignAnswer?.message).toMatch(new RegExp(`^audience\\.${field}: this school has no (class|family) ${foreign}\\.`));
      const patch = await send('PATCH', eventUrl(event.id), token.admin, { version: 1, audience: { scope: 'some', [field]: [foreign] } });
      expect(patch.statusCode).toBe(422);
    }
    expect((await ok<PublicEvent>('GET', eventUrl(event.id), token.admin)).audience).toEqual({ scope: 'school' });
    const names = (await ok<{ events: PublicEvent[] }>('GET', `${base()}/events`, token.admin)).events.map((e) => e.name);
    expect(names).not.toContain('Leaky');
  });

  it('validates the audience and the expiry date with useful messages', async () => {
    const post = (body: Record<string, unknown>) => send('POST', `${base()}/events`, token.admin, { name: 'Bad', startsOn: '2026-06-12', ...body });
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ audience: { scope: 'some' } }, 'audience: must name at least one class or family'],
      [{ audience: { scope: 'some', classIds: [], familyIds: [] } }, 'audience: must name at least one class or family'],
      [{ audience: { scope: 'class', classIds: [classA] } }, 'audience'],
      [{ audience: { scope: 'school', classIds: [classA] } }, 'classIds'],
      [{ audience: { scope: 'some', classIds: classA } }, 'audience.classIds: must be a list of class ids'],
      [{ audience: { scope: 'some', classIds: [classA], schoolId: otherSchool } }, 'schoolId'],
      [{ audience: 'everyone' }, 'audience'],
      [{ galleryExpiresOn: '2026-02-30' }, 'galleryExpiresOn: must be a date as YYYY-MM-DD'],
      [{ galleryExpiresOn: '2026-06-11' }, 'galleryExpiresOn (2026-06-11) is before startsOn (2026-06-12)'],
    ];
    for (const [body, message] of cases) {
      const response = await post(body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json()).toEqual({ code: 'invalid-input', message: expect.stringContaining(message) });
    }
    expect((await post({ audience: { scope: 'some', classIds: Array.from({ length: 501 }, (_, i) => `c${i}`) } })).json<{ message: string }>().message).toContain('at most 500');
    // Parents cannot set an audience, and cannot learn of an event by trying.
    expect((await send('POST', `${base()}/events`, token.parentA, { name: 'Mine', startsOn: '2026-06-12', audience: { scope: 'school' } })).statusCode).toBe(403);
  });
});
