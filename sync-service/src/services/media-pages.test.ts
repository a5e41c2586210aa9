/**
 * The gallery listing's prepared copies of events' media (`media-pages.ts`), on both databases, with
 * two instances of the service on one database (as a load balancer runs them; each keeps its own
 * copies): whatever one instance has prepared, a change made through the other (consent withdrawn, a
 * new manifest, a student erased, the audience narrowed) shows at the very next request, and what
 * depends on the caller (favourites, their own children, staff's tags) is never carried from one
 * caller's page to another's.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3Server } from '../../../app/test/s3-server.ts';
import type { ManifestAssetInput } from '../../../app/sync/protocol.ts';
import { buildApp } from '../app.ts';
import type { PublicFamily } from './people.ts';
import type { PublicMedia } from './media.ts';
import { S3ObjectStore } from './storage.ts';
import { TEST_DATABASES } from '../test/databases.ts';
import { injectAs, TEST_SCRYPT, startHarness, type Harness } from '../test/harness.ts';

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
type Page = { media: PublicMedia[]; nextCursor: string | null };
const BODY = Buffer.from('gallery object');
/** Short enough that a test can outlive half of it. */
const URL_TTL_SECONDS = 2;

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3Server();
}, 30_000);
afterAll(() => s3?.close());

describe.each(TEST_DATABASES)('prepared gallery listings on $name, two instances', (target) => {
  let h: Harness;
  /** Two instances of the service on the same database. */
  let one: FastifyInstance;
  let two: FastifyInstance;
  let school: string;
  let admin: string;
  let teacher: string;
  const parent = { lima: '', okafor: '' };
  const kids = { ana: '', chidi: '' };
  const families = { lima: '', okafor: '' };

  async function ok<T>(app: FastifyInstance, method: Method, url: string, token: string, body?: unknown, status = 200): Promise<T> {
    const response = await injectAs(app, method, url, token, body);
    expect(response.statusCode, `${method} ${url}: ${response.body}`).toBe(status);
    return (response.body === '' ? undefined : response.json()) as T;
  }
  const s = (path: string) => `/v1/schools/${school}${path}`;
  const page = (app: FastifyInstance, token: string, eventId: string, query = '') => ok<Page>(app, 'GET', s(`/events/${eventId}/media${query}`), token);
  const ids = async (app: FastifyInstance, token: string, eventId: string, query = '') => (await page(app, token, eventId, query)).media.map((m) => m.assetId);

  async function publish(app: FastifyInstance, eventId: string, assets: Array<[id: string, people: string[]]>): Promise<void> {
    const manifest: ManifestAssetInput[] = [];
    for (const [id, people] of assets) {
      const variants: ManifestAssetInput['variants'] = {};
      for (const variant of ['thumb', 'preview'] as const) {
        const key = `schools/prepared/events/${eventId}/${id}/${variant}.jpg`;
        await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: BODY }));
        variants[variant] = { key, size: BODY.length, hash: `${id}-${variant}` };
      }
      manifest.push({ id, kind: 'photo', capturedAt: null, width: 10, height: 10, durationSec: null, rating: 0, title: null, description: null, tags: [], people, thumbhash: null, variants });
    }
    await ok(app, 'PUT', s(`/events/${eventId}/manifest`), admin, { assets: manifest });
  }
  const newEvent = async (name: string) => (await ok<{ id: string }>(one, 'POST', s('/events'), admin, { name, startsOn: '2026-06-12', state: 'published' }, 201)).id;

  beforeAll(async () => {
    h = await startHarness(target);
    const instance = () =>
      buildApp({ db: h.db.kysely, tokens: h.tokens, refreshTtlSeconds: 3600, scrypt: TEST_SCRYPT, media: { store: new S3ObjectStore(s3.client(), s3.bucket), urlTtlSeconds: URL_TTL_SECONDS } });
    one = instance();
    two = instance();
    await Promise.all([one.ready(), two.ready()]);
    school = await h.createSchool('prepared');
    admin = await h.tokens.issue(await h.createUser('admin@p.test', [[school, 'admin']]));
    teacher = await h.tokens.issue(await h.createUser('teacher@p.test', [[school, 'teacher']]));
    const family = async (name: string, email: string, child: string): Promise<[family: string, parent: string, child: string]> => {
      const made = await ok<PublicFamily>(one, 'POST', s('/families'), admin, { name }, 201);
      const user = await h.createUser(email, [[school, 'parent']]);
      await ok(one, 'POST', s(`/families/${made.id}/members`), admin, { userId: user });
      const student = await ok<{ id: string }>(one, 'POST', s('/students'), admin, { name: child }, 201);
      await ok(one, 'POST', s(`/families/${made.id}/students`), admin, { studentId: student.id });
      await ok(one, 'PUT', s(`/students/${student.id}/consent/publish`), admin, { granted: true });
      return [made.id, await h.tokens.issue(user), student.id];
    };
    [families.lima, parent.lima, kids.ana] = await family('Lima', 'maria@lima.test', 'Ana Lima');
    [families.okafor, parent.okafor, kids.chidi] = await family('Okafor', 'ngozi@okafor.test', 'Chidi Okafor');
  }, 60_000);
  afterAll(async () => {
    await one?.close();
    await two?.close();
    await h?.close();
  });

  it('hides media at the next request on both instances once consent is withdrawn through one, and shows them again once it is back', async () => {
    const event = await newEvent('Sports Day');
    await publish(one, event, [
      ['ana', [kids.ana]],
      ['both', [kids.ana, kids.chidi]],
      ['nobody', []],
    ]);
    // Both instances prepare the event.
    for (const app of [one, two]) expect(await ids(app, parent.okafor, event)).toEqual(['ana', 'both', 'nobody']);

    await ok(two, 'PUT', s(`/students/${kids.ana}/consent/publish`), admin, { granted: false });
    for (const app of [one, two]) {
      expect(await ids(app, parent.okafor, event)).toEqual(['nobody']);
      expect(await ids(app, parent.lima, event)).toEqual(['nobody']);
      // One URL at a time follows the same rule.
      expect((await injectAs(app, 'GET', s(`/events/${event}/media/ana/preview`), parent.okafor)).statusCode).toBe(404);
    }
    // Staff still see everything, with who is tagged.
    expect((await page(one, teacher, event)).media.map((m) => [m.assetId, m.people])).toEqual([
      ['ana', [kids.ana]],
      ['both', [kids.ana, kids.chidi]],
      ['nobody', []],
    ]);

    await ok(one, 'PUT', s(`/students/${kids.ana}/consent/publish`), admin, { granted: true });
    expect(await ids(two, parent.okafor, event)).toEqual(['ana', 'both', 'nobody']);
  });

  it('lists a new manifest published through the other instance at the next request, and stops listing what it left out', async () => {
    const event = await newEvent('Summer Fair');
    await publish(one, event, [
      ['first', []],
      ['second', []],
    ]);
    const before = await page(one, parent.lima, event);
    expect(before.media.map((m) => m.assetId)).toEqual(['first', 'second']);
    expect(await ids(two, parent.lima, event)).toEqual(['first', 'second']);

    await publish(two, event, [
      ['third', []],
      ['first', []],
    ]);
    for (const app of [one, two]) {
      const after = await page(app, parent.lima, event);
      expect(after.media.map((m) => m.assetId)).toEqual(['third', 'first']);
      expect(after.media[0]?.variants.thumb?.url).toContain(`/${event}/third/thumb.jpg`);
      expect((await injectAs(app, 'GET', s(`/events/${event}/media/second/preview`), parent.lima)).statusCode).toBe(404);
    }
    // Paging follows the new positions.
    const firstPage = await page(one, parent.lima, event, '?limit=1');
    expect([firstPage.media.map((m) => m.assetId), firstPage.nextCursor]).toEqual([['third'], '0']);
    expect(await ids(one, parent.lima, event, '?limit=1&cursor=0')).toEqual(['first']);
  });

  it('drops an erased student’s media from both instances’ listings at once', async () => {
    const event = await newEvent('Portraits');
    const made = await ok<{ id: string }>(one, 'POST', s('/students'), admin, { name: 'Leaving Kid' }, 201);
    await ok(one, 'PUT', s(`/students/${made.id}/consent/publish`), admin, { granted: true });
    await publish(one, event, [
      ['leaving', [made.id]],
      ['staying', []],
    ]);
    for (const app of [one, two]) expect(await ids(app, teacher, event)).toEqual(['leaving', 'staying']);
    for (const app of [one, two]) expect(await ids(app, parent.lima, event)).toEqual(['leaving', 'staying']);

    await ok(two, 'DELETE', s(`/students/${made.id}`), admin, undefined, 204);
    for (const app of [one, two]) {
      expect(await ids(app, teacher, event)).toEqual(['staying']);
      expect(await ids(app, parent.lima, event)).toEqual(['staying']);
    }
  });

  it('closes the gallery to a family at once when the audience is narrowed through the other instance', async () => {
    const event = await newEvent('Class Trip');
    await publish(one, event, [['trip', []]]);
    expect(await ids(one, parent.lima, event)).toEqual(['trip']);
    await ok(two, 'PATCH', s(`/events/${event}`), admin, { version: 1, audience: { scope: 'some', familyIds: [families.okafor] } });
    expect((await injectAs(one, 'GET', s(`/events/${event}/media`), parent.lima)).statusCode).toBe(404);
    expect(await ids(one, parent.okafor, event)).toEqual(['trip']);
  });

  it("never shows a parent another family's favourites or children from a page another caller had prepared", async () => {
    const event = await newEvent('Concert');
    await publish(one, event, [
      ['ana', [kids.ana]],
      ['chidi', [kids.chidi]],
      ['both', [kids.ana, kids.chidi]],
    ]);
    await ok(one, 'PUT', s(`/events/${event}/favourites/ana`), parent.lima, {});
    // Staff first, then each family, all from the same prepared copy.
    expect((await page(one, teacher, event)).media.map((m) => [m.assetId, m.people, m.favourite, m.children])).toEqual([
      ['ana', [kids.ana], undefined, undefined],
      ['chidi', [kids.chidi], undefined, undefined],
      ['both', [kids.ana, kids.chidi], undefined, undefined],
    ]);
    const lima = (await page(one, parent.lima, event)).media;
    expect(lima.map((m) => [m.assetId, m.favourite, m.children, 'people' in m])).toEqual([
      ['ana', true, [kids.ana], false],
      ['chidi', false, [], false],
      ['both', false, [kids.ana], false],
    ]);
    const okafor = (await page(one, parent.okafor, event)).media;
    expect(okafor.map((m) => [m.assetId, m.favourite, m.children, 'people' in m])).toEqual([
      ['ana', false, [], false],
      ['chidi', false, [kids.chidi], false],
      ['both', false, [kids.chidi], false],
    ]);
    expect(await ids(one, parent.okafor, event, '?favourites=1')).toEqual([]);
    expect(await ids(one, parent.lima, event, '?favourites=1')).toEqual(['ana']);
    expect(await ids(one, parent.okafor, event, `?child=${kids.chidi}`)).toEqual(['chidi', 'both']);
    // A favourite marked through the other instance shows at once.
    await ok(two, 'PUT', s(`/events/${event}/favourites/chidi`), parent.okafor, {});
    expect(await ids(one, parent.okafor, event, '?favourites=1')).toEqual(['chidi']);
    expect(await ids(one, parent.lima, event, '?favourites=1')).toEqual(['ana']);
  });

  it('hands out URLs with at least half their lifetime left, signing new ones as the kept ones age', async () => {
    const event = await newEvent('Open Day');
    await publish(one, event, [['open', []]]);
    const expiry = async () => Date.parse((await page(one, parent.lima, event)).media[0]?.variants.thumb?.expiresAt ?? '');
    const first = await expiry();
    expect(first - Date.now()).toBeGreaterThanOrEqual((URL_TTL_SECONDS * 1000) / 2);
    // Past half the first URL's lifetime, the listing signs a new one.
    await new Promise((resolve) => setTimeout(resolve, (URL_TTL_SECONDS * 1000) / 2 + 200));
    const later = await expiry();
    expect(later).toBeGreaterThan(first);
    expect(later - Date.now()).toBeGreaterThanOrEqual((URL_TTL_SECONDS * 1000) / 2);
  });
});
