import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3Server } from '../../../app/test/s3-server.ts';
import { buildApp } from '../app.ts';
import { S3ObjectStore } from '../services/storage.ts';
import { EventService } from '../services/events.ts';
import { MediaService } from '../services/media.ts';
import { QuotaService } from '../services/quota.ts';
import { createMetrics } from '../metrics.ts';
import { TEST_DATABASES } from '../test/databases.ts';
import { injectAs, PASSWORD, seedTwoSchools, startHarness, TEST_SCRYPT, type Harness, type TwoSchoolsRole } from '../test/harness.ts';
import { AnalyticsReportSchema, type AnalyticsReport } from './analytics.schemas.ts';
import { AnalyticsService } from './analytics.service.ts';
import { ActivityRetention } from './activity-retention.ts';

let s3: S3Server;

beforeAll(async () => {
  s3 = await startS3Server();
}, 60_000);
afterAll(() => s3.close());

/** A photo asset id (the desktop's content hashes are hex). */
const assetId = (n: number) => `${String(n).padStart(4, '0')}aa11bb22cc33dd44ee55ff66`;

describe.each(TEST_DATABASES)('gallery analytics on $name', (target) => {
  let h: Harness;
  let app: FastifyInstance;
  let school: string;
  let otherSchool: string;
  let token: Record<TwoSchoolsRole, string>;
  /** Parents of two families of Greenfield (the first family has two). */
  const parents = { one: '', oneCo: '', two: '' };
  const parentIds = { one: '', two: '' };
  const families = { one: '', two: '' };
  const events = { sports: '', forFamilyOne: '', draft: '', riverside: '' };
  /** Assets of Sports Day: three the families see and one tagging a child without publish consent. */
  const sports = [assetId(1), assetId(2), assetId(3)];
  const unconsented = assetId(4);
  const familyOnly = assetId(5);

  const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, as: string | undefined, body?: unknown): Promise<LightMyRequestResponse> => injectAs(app, method, url, as, body);
  const view = (as: string, eventId: string, asset: string, schoolId = school) => call('POST', `/v1/schools/${schoolId}/events/${eventId}/media/${asset}/views`, as);
  const download = (as: string, eventId: string, asset: string) => call('GET', `/v1/schools/${school}/events/${eventId}/media/${asset}/preview?download=1`, as);
  const report = (as: string, query = '', schoolId = school) => call('GET', `/v1/schools/${schoolId}/analytics${query}`, as);
  const activityRows = () => h.db.kysely.selectFrom('media_activity').selectAll().where('school_id', '=', school).execute();

  async function ok<T>(response: Promise<LightMyRequestResponse>): Promise<T> {
    const answered = await response;
    if (answered.statusCode >= 300) throw new Error(`${answered.statusCode} ${answered.body}`);
    return answered.json<T>();
  }

  /** Uploads a thumb and a preview per asset into s3rver and publishes them as the event's manifest. */
  async function publish(schoolId: string, slug: string, eventId: string, assets: Array<{ id: string; people: string[] }>): Promise<void> {
    const variants = (id: string) =>
      Object.fromEntries(
        (['thumb', 'preview'] as const).map((variant, i) => {
          const body = Buffer.from(`${variant} of ${id}`.repeat(i + 1));
          return [variant, { key: `schools/${slug}/events/${eventId}/${id}/${variant}.${variant === 'thumb' ? 'webp' : 'jpg'}`, size: body.length, hash: `h-${id}-${variant}`, body }];
        }),
      );
    const manifest = assets.map((asset, i) => {
      const made = variants(asset.id);
      return {
        id: asset.id,
        kind: 'photo',
        capturedAt: `2026-06-12T10:0${i}:00.000Z`,
        width: 1200,
        height: 800,
        durationSec: null,
        rating: 0,
        title: null,
        description: null,
        tags: [],
        people: asset.people,
        variants: Object.fromEntries(Object.entries(made).map(([variant, { key, size, hash }]) => [variant, { key, size, hash }])),
        made,
      };
    });
    for (const asset of manifest) {
      for (const object of Object.values(asset.made)) await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: object.key, Body: object.body }));
    }
    const admin = schoolId === school ? token.admin : token.otherAdmin;
    await ok(call('PUT', `/v1/schools/${schoolId}/events/${eventId}/manifest`, admin, { assets: manifest.map(({ made: _made, ...asset }) => asset) }));
  }

  beforeAll(async () => {
    h = await startHarness(target);
    app = buildApp({ db: h.db.kysely, tokens: h.tokens, refreshTtlSeconds: 3600, scrypt: TEST_SCRYPT, media: { store: new S3ObjectStore(s3.client(), s3.bucket), urlTtlSeconds: 60 } });
    ({ school, otherSchool, token } = await seedTwoSchools(h));
    const url = (path: string) => `/v1/schools/${school}${path}`;
    for (const key of ['one', 'two'] as const) {
      families[key] = (await ok<{ id: string }>(call('POST', url('/families'), token.admin, { name: `Family ${key}` }))).id;
    }
    const parent = async (email: string, family: string) => {
      const id = await h.createUser(email, [[school, 'parent']]);
      await ok(call('POST', url(`/families/${family}/members`), token.admin, { userId: id }));
      return { id, token: await h.tokens.issue(id) };
    };
    const one = await parent('one@family.test', families.one);
    const oneCo = await parent('one-co@family.test', families.one);
    const two = await parent('two@family.test', families.two);
    Object.assign(parents, { one: one.token, oneCo: oneCo.token, two: two.token });
    Object.assign(parentIds, { one: one.id, two: two.id });
    const consented = (await ok<{ id: string }>(call('POST', url('/students'), token.admin, { name: 'Consented child' }))).id;
    await ok(call('PUT', url(`/students/${consented}/consent/publish`), token.admin, { granted: true }));
    const refused = (await ok<{ id: string }>(call('POST', url('/students'), token.admin, { name: 'Child without consent' }))).id;
    const event = async (schoolId: string, as: string, body: Record<string, unknown>) =>
      (await ok<{ id: string }>(call('POST', `/v1/schools/${schoolId}/events`, as, { startsOn: '2026-06-12', state: 'published', ...body }))).id;
    events.sports = await event(school, token.admin, { name: 'Sports Day' });
    events.forFamilyOne = await event(school, token.admin, { name: 'Family portraits', audience: { scope: 'some', familyIds: [families.one] } });
    events.draft = await event(school, token.admin, { name: 'Rehearsal', state: 'draft' });
    events.riverside = await event(otherSchool, token.otherAdmin, { name: 'Riverside picnic' });
    await publish(school, 'greenfield', events.sports, [...sports.map((id) => ({ id, people: [consented] })), { id: unconsented, people: [consented, refused] }]);
    await publish(school, 'greenfield', events.forFamilyOne, [{ id: familyOnly, people: [] }]);
    await publish(school, 'greenfield', events.draft, [{ id: assetId(6), people: [] }]);
    await publish(otherSchool, 'riverside', events.riverside, [{ id: assetId(7), people: [] }]);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  it('counts two families’ views and downloads once a day each, and aggregates them per media, event and school', async () => {
    const [first, second] = sports as [string, string, string];
    // Family one opens the first photo ten times (both its parents), the second once; family two opens the first.
    for (let i = 0; i < 10; i++) expect((await view(i % 2 === 0 ? parents.one : parents.oneCo, events.sports, first)).statusCode).toBe(204);
    expect((await view(parents.one, events.sports, second)).statusCode).toBe(204);
    expect((await view(parents.two, events.sports, first)).statusCode).toBe(204);
    expect((await view(parents.one, events.forFamilyOne, familyOnly)).statusCode).toBe(204);
    // Downloads: family one saves the first photo twice, family two the second once; a plain (inline) URL is no download.
    for (const as of [parents.one, parents.one, parents.two]) expect((await download(as, events.sports, as === parents.two ? second : first)).statusCode).toBe(200);
    expect((await call('GET', `/v1/schools/${school}/events/${events.sports}/media/${first}/preview`, parents.two)).statusCode).toBe(200);
    // Staff looking count apart, whoever of them it is.
    expect((await view(token.photographer, events.sports, first)).statusCode).toBe(204);
    expect((await view(token.teacher, events.sports, first)).statusCode).toBe(204);
    expect((await view(token.admin, events.sports, unconsented)).statusCode).toBe(204);

    // One row per asset, family, kind and day: the ten opens are one.
    const rows = await activityRows();
    expect(rows).toHaveLength(8);
    expect(rows.filter((row) => row.asset_id === first && row.kind === 'view' && row.family_id === families.one)).toHaveLength(1);
    expect(rows.every((row) => /^\d{4}-\d{2}-\d{2}$/.test(row.day))).toBe(true);
    expect(Object.keys(rows[0] ?? {}).sort()).toEqual(['asset_id', 'audience', 'day', 'event_id', 'family_id', 'kind', 'school_id']);

    const response = await report(token.admin);
    expect(response.statusCode, response.body).toBe(200);
    const body = AnalyticsReportSchema.parse(response.json()) satisfies AnalyticsReport;
    expect(body.mostViewed).toEqual([
      { eventId: events.sports, eventName: 'Sports Day', assetId: first, views: 2, downloads: 1 },
      { eventId: events.sports, eventName: 'Sports Day', assetId: second, views: 1, downloads: 1 },
      { eventId: events.forFamilyOne, eventName: 'Family portraits', assetId: familyOnly, views: 1, downloads: 0 },
    ]);
    expect(body.mostDownloaded.map((a) => [a.assetId, a.downloads])).toEqual([
      [first, 1],
      [second, 1],
    ]);
    expect(body.families).toEqual({ active: 2, total: 2, withAccount: 2 });
    expect(body.events).toEqual([
      { eventId: events.sports, name: 'Sports Day', views: 3, downloads: 2, staffViews: 2, staffDownloads: 0, activeFamilies: 2 },
      { eventId: events.forFamilyOne, name: 'Family portraits', views: 1, downloads: 0, staffViews: 0, staffDownloads: 0, activeFamilies: 1 },
    ]);

    const narrowed = AnalyticsReportSchema.parse((await report(token.admin, `?eventId=${events.forFamilyOne}&limit=1`)).json());
    expect(narrowed.eventId).toBe(events.forFamilyOne);
    expect(narrowed.mostViewed.map((a) => a.assetId)).toEqual([familyOnly]);
    expect(narrowed.families.active).toBe(1);
    expect(narrowed.storage.byEvent.map((e) => e.eventId)).toEqual([events.forFamilyOne]);
    const top = AnalyticsReportSchema.parse((await report(token.admin, '?limit=1')).json());
    expect(top.mostViewed.map((a) => a.assetId)).toEqual([first]);
  });

  it('refuses a view of media the parent may not see, with the media URL’s 404, and records nothing', async () => {
    const before = (await activityRows()).length;
    const refusals: Array<[string, LightMyRequestResponse]> = [
      ['an event for another family', await view(parents.two, events.forFamilyOne, familyOnly)],
      ['a child without consent', await view(parents.one, events.sports, unconsented)],
      ['a draft', await view(parents.one, events.draft, assetId(6))],
      ['an asset not in the event', await view(parents.one, events.sports, familyOnly)],
      ['another school’s event under this school', await view(parents.one, events.riverside, assetId(7))],
      ['another school', await view(parents.one, events.riverside, assetId(7), otherSchool)],
    ];
    for (const [what, response] of refusals) {
      expect(response.statusCode, what).toBe(404);
      expect(response.json<{ code: string }>().code, what).toBe('not-found');
    }
    // The media URL answers the same for the same requests.
    expect((await call('GET', `/v1/schools/${school}/events/${events.forFamilyOne}/media/${familyOnly}/thumb`, parents.two)).statusCode).toBe(404);
    expect((await call('GET', `/v1/schools/${school}/events/${events.sports}/media/${unconsented}/thumb`, parents.one)).statusCode).toBe(404);
    expect((await call('POST', `/v1/schools/${school}/events/${events.sports}/media/${sports[0] ?? ''}/views`, undefined)).statusCode).toBe(401);
    const extra = await call('POST', `/v1/schools/${school}/events/${events.sports}/media/${sports[0] ?? ''}/views`, parents.one, { familyId: families.two });
    expect(extra.statusCode).toBe(400);
    expect((await activityRows()).length).toBe(before);
  });

  it('gives the report to the school’s admins only', async () => {
    for (const who of [parents.one, token.parent, token.teacher, token.photographer]) {
      const response = await report(who);
      expect(response.statusCode).toBe(403);
      expect(response.json()).toEqual({ code: 'forbidden', message: "Only admins can see the school's analytics." });
    }
    // Riverside's admin learns nothing of Greenfield, even its existence; nor through an event id.
    expect((await report(token.otherAdmin)).statusCode).toBe(404);
    const foreignEvent = await report(token.admin, `?eventId=${events.riverside}`);
    expect(foreignEvent.statusCode).toBe(404);
    expect(foreignEvent.body).not.toContain('Riverside');
    const riverside = AnalyticsReportSchema.parse((await report(token.otherAdmin, '', otherSchool)).json());
    expect(riverside.mostViewed).toEqual([]);
    expect(riverside.events).toEqual([]);
    expect(JSON.stringify(riverside)).not.toContain(events.sports);
  });

  it('refuses dates that are not days, and a range that ends before it starts', async () => {
    for (const query of ['?from=2026-02-30', '?to=yesterday', '?from=2026-06-02&to=2026-06-01', '?limit=0', '?limit=101', '?school=x']) {
      const response = await report(token.admin, query);
      expect(response.statusCode, query).toBe(400);
      expect(response.json<{ code: string }>().code).toBe('invalid-input');
    }
    expect((await report(token.admin, '?from=2026-06-01&to=2026-06-01')).statusCode).toBe(200);
  });

  it('reports the storage the quota counts, by event and by variant', async () => {
    const quota = await ok<{ usedBytes: number; reservedBytes: number; limitBytes: number; byEvent: Array<{ eventId: string; usedBytes: number; reservedBytes: number; assets: number }> }>(
      call('GET', `/v1/schools/${school}/quota`, token.admin),
    );
    const { storage } = AnalyticsReportSchema.parse((await report(token.admin)).json());
    expect({ usedBytes: storage.usedBytes, reservedBytes: storage.reservedBytes, limitBytes: storage.limitBytes }).toEqual({
      usedBytes: quota.usedBytes,
      reservedBytes: quota.reservedBytes,
      limitBytes: quota.limitBytes,
    });
    expect(storage.freeBytes).toBe(quota.limitBytes - quota.usedBytes - quota.reservedBytes);
    expect(storage.byEvent.map(({ byVariant: _variants, ...entry }) => entry)).toEqual(quota.byEvent);
    expect(storage.usedBytes).toBeGreaterThan(0);
    expect(storage.byVariant.map((v) => v.variant).sort()).toEqual(['preview', 'thumb']);
    expect(storage.byVariant.reduce((sum, v) => sum + v.bytes, 0)).toBe(storage.usedBytes);
    // Sports Day: four assets, a thumb and a preview each.
    const sportsStorage = storage.byEvent.find((e) => e.eventId === events.sports);
    expect(sportsStorage?.byVariant.map((v) => [v.variant, v.objects])).toEqual([
      ['preview', 4],
      ['thumb', 4],
    ]);
    expect(sportsStorage?.byVariant.reduce((sum, v) => sum + v.bytes, 0)).toBe(sportsStorage?.usedBytes);
  });

  it('buckets by UTC day: the same family on two days is two views, and from/to pick the days', async () => {
    // The service with a clock of its own, over the same database (outside a request: the service's scope).
    let today = new Date('2026-06-12T23:59:00.000Z');
    const events2 = new EventService(h.db.kysely);
    const analytics = new AnalyticsService({
      db: h.db.kysely,
      events: events2,
      media: new MediaService(h.db.kysely, events2, undefined),
      quota: new QuotaService(h.db.kysely),
      metrics: createMetrics(),
      now: () => today,
    });
    const parentOne = { userId: parentIds.one, schoolId: school, role: 'parent' as const };
    const asset = sports[2] as string;
    await analytics.recordView(parentOne, events.sports, asset);
    await analytics.recordView(parentOne, events.sports, asset);
    today = new Date('2026-06-13T00:01:00.000Z');
    await analytics.recordView(parentOne, events.sports, asset);
    await analytics.recordView({ userId: parentIds.two, schoolId: school, role: 'parent' }, events.sports, asset);
    const admin = { userId: 'admin', schoolId: school, role: 'admin' as const };
    const views = async (from: string, to: string) => {
      const result = await analytics.report(admin, { from, to, eventId: events.sports, limit: 10 });
      return { asset: result.mostViewed.find((a) => a.assetId === asset)?.views ?? 0, families: result.families.active };
    };
    expect(await views('2026-06-12', '2026-06-13')).toEqual({ asset: 3, families: 2 });
    expect(await views('2026-06-12', '2026-06-12')).toEqual({ asset: 1, families: 1 });
    expect(await views('2026-06-13', '2026-06-13')).toEqual({ asset: 2, families: 2 });
    expect(await views('2026-06-14', '2026-06-30')).toEqual({ asset: 0, families: 0 });
  });

  it('counts views, downloads, publishes and sign-ins in /metrics, without ids in the labels', async () => {
    const metrics = async () => (await call('GET', '/metrics', undefined)).body;
    /** A sample's value (0 when the series has not appeared yet). */
    const value = (text: string, series: string) => Number(text.split('\n').find((line) => line.startsWith(`${series} `))?.slice(series.length + 1) ?? 0);
    const series = [
      'media_views_total{audience="family"}',
      'media_views_total{audience="staff"}',
      'media_downloads_total{audience="family",variant="preview"}',
      'media_publishes_total',
      'media_published_assets_total',
      'sign_ins_total{method="password",outcome="success"}',
      'sign_ins_total{method="password",outcome="failure"}',
    ];
    const before = await metrics();
    // Repeats count here (each accepted request) though the report counts them once a day.
    for (const as of [parents.one, parents.one, parents.two]) expect((await view(as, events.sports, sports[0] ?? '')).statusCode).toBe(204);
    expect((await view(token.teacher, events.sports, sports[0] ?? '')).statusCode).toBe(204);
    expect((await view(parents.two, events.forFamilyOne, familyOnly)).statusCode).toBe(404);
    expect((await download(parents.two, events.sports, sports[1] ?? '')).statusCode).toBe(200);
    await publish(school, 'greenfield', events.draft, [{ id: assetId(6), people: [] }, { id: assetId(8), people: [] }]);
    const signIn = (password: string) => call('POST', '/v1/auth/sign-in', undefined, { email: 'admin@g.test', password });
    expect((await signIn(PASSWORD)).statusCode).toBe(200);
    expect((await signIn('not the password')).statusCode).toBe(401);
    expect((await signIn('not the password either')).statusCode).toBe(401);
    expect((await call('POST', '/v1/auth/sign-in', undefined, { email: 'admin@g.test' })).statusCode).toBe(400);
    const after = await metrics();
    expect(series.map((name) => value(after, name) - value(before, name))).toEqual([3, 1, 1, 1, 2, 1, 2]);
    for (const id of [school, otherSchool, families.one, families.two, parentIds.one, events.sports, ...sports]) expect(after).not.toContain(id);
  });

  it('erases an erased student’s media’s views and downloads with them, and the report stops naming them', async () => {
    const url = (path: string) => `/v1/schools/${school}${path}`;
    const kid = (await ok<{ id: string }>(call('POST', url('/students'), token.admin, { name: 'Erased child' }))).id;
    await ok(call('PUT', url(`/students/${kid}/consent/publish`), token.admin, { granted: true }));
    const [tagged, untagged] = [assetId(20), assetId(21)];
    const autumn = (await ok<{ id: string }>(call('POST', `/v1/schools/${school}/events`, token.admin, { name: 'Autumn Fair', startsOn: '2026-10-01', state: 'published' }))).id;
    await publish(school, 'greenfield', autumn, [{ id: tagged, people: [kid] }, { id: untagged, people: [] }]);
    for (const as of [parents.one, parents.two, token.teacher]) {
      for (const asset of [tagged, untagged]) expect((await view(as, autumn, asset)).statusCode).toBe(204);
    }
    expect((await download(parents.one, autumn, tagged)).statusCode).toBe(200);
    const ofAutumn = async () => (await activityRows()).filter((row) => row.event_id === autumn);
    expect((await ofAutumn()).filter((row) => row.asset_id === tagged)).toHaveLength(4);

    expect((await call('DELETE', url(`/students/${kid}`), token.admin)).statusCode).toBe(204);
    // Only the untagged photo's rows are left: two families' views and the staff's.
    expect((await ofAutumn()).map((row) => [row.asset_id, row.audience, row.kind]).sort()).toEqual([
      [untagged, 'family', 'view'],
      [untagged, 'family', 'view'],
      [untagged, 'staff', 'view'],
    ]);
    const body = AnalyticsReportSchema.parse((await report(token.admin, `?eventId=${autumn}`)).json());
    expect(body.mostViewed.map((a) => [a.assetId, a.views])).toEqual([[untagged, 2]]);
    expect(body.mostDownloaded).toEqual([]);
    expect(body.events).toEqual([{ eventId: autumn, name: 'Autumn Fair', views: 2, downloads: 0, staffViews: 1, staffDownloads: 0, activeFamilies: 2 }]);
    // Audited once with the media, with the count: no entry per row.
    const audit = (await h.audit('media.erased')).filter((row) => row.subject === `student:${kid}`);
    expect(audit.map((row) => JSON.parse(row.detail) as { assets: number; activityRows: number })).toEqual([expect.objectContaining({ assets: 1, activityRows: 4 })]);
  });

  it('erases a family’s activity with the family, counted in its erasure’s audit entry, and the report counts the families left', async () => {
    const before = AnalyticsReportSchema.parse((await report(token.admin)).json());
    const rows = (await activityRows()).filter((row) => row.family_id === families.two);
    expect(rows.length).toBeGreaterThan(0);
    expect((await call('DELETE', `/v1/schools/${school}/families/${families.two}`, token.admin)).statusCode).toBe(204);
    expect((await activityRows()).filter((row) => row.family_id === families.two)).toEqual([]);
    const audit = (await h.audit('family.erased')).filter((row) => row.subject === `family:${families.two}`);
    expect(audit.map((row) => (JSON.parse(row.detail) as { activityRows: number }).activityRows)).toEqual([rows.length]);
    const after = AnalyticsReportSchema.parse((await report(token.admin)).json());
    expect(after.families).toEqual({ active: before.families.active - 1, total: before.families.total - 1, withAccount: before.families.withAccount - 1 });
    const views = (body: AnalyticsReport) => body.events.reduce((sum, e) => sum + e.views, 0);
    expect(views(after)).toBe(views(before) - rows.filter((row) => row.kind === 'view').length);
  });

  it('deletes every school’s activity older than the retention, and the report counts the days kept', async () => {
    const db = h.db.kysely;
    // 400 days kept on 2027-07-01, today included: from 2026-05-28 on.
    const retention = new ActivityRetention(db, { retentionDays: 400, now: () => new Date('2027-07-01T12:00:00.000Z') });
    expect(retention.keptSince()).toBe('2026-05-28');
    const row = (schoolId: string, eventId: string, asset: string, day: string) => ({ school_id: schoolId, event_id: eventId, asset_id: asset, family_id: schoolId === school ? families.one : null, audience: 'family' as const, kind: 'view' as const, day });
    await db
      .insertInto('media_activity')
      .values([
        row(school, events.sports, sports[0] ?? '', '2026-05-27'),
        row(school, events.sports, sports[1] ?? '', '2026-05-27'),
        row(school, events.sports, sports[1] ?? '', '2026-05-28'),
        row(otherSchool, events.riverside, assetId(7), '2025-01-01'),
      ])
      .execute();
    const inMay = async () => AnalyticsReportSchema.parse((await report(token.admin, '?from=2026-05-01&to=2026-05-31')).json());
    expect((await inMay()).mostViewed.map((a) => [a.assetId, a.views])).toEqual([[sports[1], 2], [sports[0], 1]]);

    expect(await retention.runOnce()).toBe(3);
    const left = await db.selectFrom('media_activity').select(['school_id', 'day']).where('day', '<', '2026-06-01').execute();
    expect(left).toEqual([{ school_id: school, day: '2026-05-28' }]);
    const may = await inMay();
    expect(may.mostViewed.map((a) => [a.assetId, a.views])).toEqual([[sports[1], 1]]);
    expect(may.families.active).toBe(1);
    // Idempotent: a second pass (another instance) finds nothing; the days after are untouched.
    expect(await retention.runOnce()).toBe(0);
    expect((await activityRows()).filter((r) => r.day >= '2026-06-12').length).toBeGreaterThan(0);
  });

  it('documents the report’s answer in the OpenAPI document', async () => {
    const document = (await call('GET', '/v1/openapi.json', undefined)).json<{ paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: { properties?: Record<string, unknown> } }> }> }>> }>();
    const answer = document.paths['/v1/schools/{schoolId}/analytics']?.get?.responses['200']?.content?.['application/json']?.schema;
    expect(Object.keys(answer?.properties ?? {})).toEqual(['range', 'eventId', 'mostViewed', 'mostDownloaded', 'families', 'events', 'storage']);
    expect(document.paths['/v1/schools/{schoolId}/events/{eventId}/media/{assetId}/views']?.post?.responses).toHaveProperty('204');
  });
});
