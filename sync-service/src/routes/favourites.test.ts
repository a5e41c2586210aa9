/**
 * The parents' side of the gallery API on both databases: family favourites, the "photos of my child"
 * filter, consent set by parents, the per-event counts, and a sweep of everything a parent can fetch
 * for any trace of another family's child.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3Server } from '../../../app/test/s3-server.ts';
import type { ManifestAssetInput } from '../../../app/sync/protocol.ts';
import { buildApp } from '../app.ts';
import type { EventMediaCount, PublicMedia } from '../services/media.ts';
import type { FamilyChild, PublicFamily } from '../services/people.ts';
import { S3ObjectStore } from '../services/storage.ts';
import { TEST_DATABASES } from '../test/databases.ts';
import { injectAs, TEST_SCRYPT, startHarness, type Harness } from '../test/harness.ts';

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
const BODY = Buffer.from('gallery object');

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3Server();
}, 30_000);
afterAll(() => s3?.close());

describe.each(TEST_DATABASES)('the parents gallery API on $name', (target) => {
  let h: Harness;
  let app: FastifyInstance;
  let school: string;
  let admin: string;
  let teacher: string;
  /** Parents: Lima (two of them) and Okafor. */
  const parent = { lima: '', limaCo: '', okafor: '' };
  const kids = { ana: '', leo: '', chidi: '' };
  const families = { lima: '', okafor: '' };
  const events = { sports: '', okaforOnly: '' };
  /** Assets of Sports Day by who is tagged in them. */
  const asset = { ana: 'asset-ana', leo: 'asset-leo', anaAndChidi: 'asset-ana-chidi', nobody: 'asset-nobody', chidi: 'asset-chidi' };

  const call = (method: Method, url: string, token: string, body?: unknown) => injectAs(app, method, url, token, body);
  async function ok<T>(method: Method, url: string, token: string, body?: unknown, status = 200): Promise<T> {
    const response = await call(method, url, token, body);
    expect(response.statusCode, `${method} ${url}: ${response.body}`).toBe(status);
    return (response.body === '' ? undefined : response.json()) as T;
  }
  const s = (path: string) => `/v1/schools/${school}${path}`;
  const listing = async (token: string, query = '', eventId = events.sports) =>
    (await ok<{ media: PublicMedia[] }>('GET', s(`/events/${eventId}/media${query}`), token)).media;
  const ids = (media: PublicMedia[]) => media.map((m) => m.assetId);

  async function publish(eventId: string, assets: Array<[id: string, people: string[]]>): Promise<void> {
    const manifest: ManifestAssetInput[] = [];
    for (const [id, people] of assets) {
      const variants: ManifestAssetInput['variants'] = {};
      for (const variant of ['thumb', 'preview'] as const) {
        const key = `schools/greenfield/events/${eventId}/${id}/${variant}.jpg`;
        await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: BODY }));
        variants[variant] = { key, size: BODY.length, hash: `${id}-${variant}` };
      }
      manifest.push({ id, kind: 'photo', capturedAt: null, width: 10, height: 10, durationSec: null, rating: 0, title: null, description: null, tags: [], people, thumbhash: null, variants });
    }
    await ok('PUT', s(`/events/${eventId}/manifest`), admin, { assets: manifest });
  }

  beforeAll(async () => {
    h = await startHarness(target);
    app = buildApp({ db: h.db.kysely, tokens: h.tokens, refreshTtlSeconds: 3600, scrypt: TEST_SCRYPT, media: { store: new S3ObjectStore(s3.client(), s3.bucket), urlTtlSeconds: 300 } });
    await app.ready();
    school = await h.createSchool('greenfield');
    admin = await h.tokens.issue(await h.createUser('admin@g.test', [[school, 'admin']]));
    teacher = await h.tokens.issue(await h.createUser('teacher@g.test', [[school, 'teacher']]));
    const family = async (name: string, parents: string[], children: string[]): Promise<{ id: string; parents: string[]; children: string[] }> => {
      const made = await ok<PublicFamily>('POST', s('/families'), admin, { name }, 201);
      const tokens: string[] = [];
      for (const email of parents) {
        const user = await h.createUser(email, [[school, 'parent']]);
        await ok('POST', s(`/families/${made.id}/members`), admin, { userId: user });
        tokens.push(await h.tokens.issue(user));
      }
      const kidIds: string[] = [];
      for (const child of children) {
        const student = await ok<{ id: string }>('POST', s('/students'), admin, { name: child }, 201);
        await ok('POST', s(`/families/${made.id}/students`), admin, { studentId: student.id });
        await ok('PUT', s(`/students/${student.id}/consent/publish`), admin, { granted: true });
        kidIds.push(student.id);
      }
      return { id: made.id, parents: tokens, children: kidIds };
    };
    const lima = await family('Lima', ['maria@lima.test', 'joao@lima.test'], ['Ana Sofia Lima', 'Leo Lima']);
    const okafor = await family('Okafor', ['ngozi@okafor.test'], ['Chidi Okafor']);
    [families.lima, families.okafor] = [lima.id, okafor.id];
    [parent.lima, parent.limaCo] = lima.parents as [string, string];
    parent.okafor = okafor.parents[0] ?? '';
    [kids.ana, kids.leo] = lima.children as [string, string];
    kids.chidi = okafor.children[0] ?? '';
    events.sports = (await ok<{ id: string }>('POST', s('/events'), admin, { name: 'Sports Day', startsOn: '2026-06-12', state: 'published' }, 201)).id;
    events.okaforOnly = (
      await ok<{ id: string }>('POST', s('/events'), admin, { name: 'Okafor Portraits', startsOn: '2026-06-13', state: 'published', audience: { scope: 'some', familyIds: [okafor.id] } }, 201)
    ).id;
    await publish(events.sports, [
      [asset.ana, [kids.ana]],
      [asset.leo, [kids.leo]],
      [asset.anaAndChidi, [kids.ana, kids.chidi]],
      [asset.nobody, []],
      [asset.chidi, [kids.chidi]],
    ]);
    await publish(events.okaforOnly, [['asset-portrait', [kids.chidi]]]);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  it('keeps favourites per family: both parents see them, the other family does not, and the filter lists only them', async () => {
    expect((await listing(parent.lima)).map((m) => m.favourite)).toEqual([false, false, false, false, false]);
    expect(await ok('PUT', s(`/events/${events.sports}/favourites/${asset.leo}`), parent.lima, {})).toEqual({ assetId: asset.leo, favourite: true });
    // Marking it twice is the same as once.
    await ok('PUT', s(`/events/${events.sports}/favourites/${asset.leo}`), parent.lima);
    await ok('PUT', s(`/events/${events.sports}/favourites/${asset.nobody}`), parent.limaCo);

    const seenByCoParent = await listing(parent.limaCo);
    expect(seenByCoParent.filter((m) => m.favourite === true).map((m) => m.assetId)).toEqual([asset.leo, asset.nobody]);
    expect(ids(await listing(parent.lima, '?favourites=1'))).toEqual([asset.leo, asset.nobody]);
    expect(await ok('GET', s(`/events/${events.sports}/favourites`), parent.lima)).toEqual({ eventId: events.sports, assetIds: [asset.leo, asset.nobody] });
    expect((await listing(parent.okafor)).some((m) => m.favourite === true)).toBe(false);
    expect(ids(await listing(parent.okafor, '?favourites=1'))).toEqual([]);

    // Paging through favourites only: one per page, the cursor moving past the media in between.
    const first = await ok<{ media: PublicMedia[]; nextCursor: string | null }>('GET', s(`/events/${events.sports}/media?favourites=1&limit=1`), parent.lima);
    expect([ids(first.media), first.nextCursor]).toEqual([[asset.leo], '1']);
    const second = await ok<{ media: PublicMedia[]; nextCursor: string | null }>('GET', s(`/events/${events.sports}/media?favourites=1&limit=1&cursor=1`), parent.lima);
    expect(ids(second.media)).toEqual([asset.nobody]);

    await ok('DELETE', s(`/events/${events.sports}/favourites/${asset.nobody}`), parent.lima, undefined, 204);
    expect(ids(await listing(parent.limaCo, '?favourites=1'))).toEqual([asset.leo]);
    // Unmarking what is not marked is fine.
    await ok('DELETE', s(`/events/${events.sports}/favourites/${asset.nobody}`), parent.lima, undefined, 204);
  });

  it('refuses favourites to staff, of media that is not there, and in an event the family cannot see', async () => {
    const refused = async (method: Method, url: string, token: string, status: number) => {
      const response = await call(method, url, token, method === 'PUT' ? {} : undefined);
      expect(response.statusCode, response.body).toBe(status);
      expect(response.json<{ code: string; message: string }>().message).not.toBe('');
    };
    await refused('PUT', s(`/events/${events.sports}/favourites/${asset.leo}`), teacher, 403);
    await refused('GET', s(`/events/${events.sports}/favourites`), admin, 403);
    await refused('GET', s(`/events/${events.sports}/media?favourites=1`), teacher, 403);
    await refused('PUT', s(`/events/${events.sports}/favourites/no-such-asset`), parent.lima, 404);
    await refused('PUT', s(`/events/${events.okaforOnly}/favourites/asset-portrait`), parent.lima, 404);
    await refused('GET', s(`/events/${events.okaforOnly}/favourites`), parent.lima, 404);
    const bad = await call('GET', s(`/events/${events.sports}/media?favourites=yes`), parent.lima);
    expect(bad.statusCode).toBe(400);
  });

  it("filters to one of the parent's children and names only the parent's own children in each media", async () => {
    const all = await listing(parent.lima);
    expect(all.map((m) => [m.assetId, m.children])).toEqual([
      [asset.ana, [kids.ana]],
      [asset.leo, [kids.leo]],
      [asset.anaAndChidi, [kids.ana]],
      [asset.nobody, []],
      [asset.chidi, []],
    ]);
    expect(all.every((m) => m.people === undefined)).toBe(true);
    expect(ids(await listing(parent.lima, `?child=${kids.ana}`))).toEqual([asset.ana, asset.anaAndChidi]);
    expect(ids(await listing(parent.lima, `?child=${kids.leo}`))).toEqual([asset.leo]);
    // Another family's child, or a made-up id: the same 404, so the filter tells nothing about who exists.
    for (const other of [kids.chidi, 'no-such-student']) {
      const response = await call('GET', s(`/events/${events.sports}/media?child=${other}`), parent.lima);
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({ code: 'not-found', message: 'No such child in your family.' });
    }
    // Staff filter by anyone and keep the full tag list.
    expect(ids(await listing(teacher, `?child=${kids.chidi}`))).toEqual([asset.anaAndChidi, asset.chidi]);
    expect(await ok('GET', s('/family/children'), parent.limaCo)).toEqual({
      children: [
        { id: kids.ana, firstName: 'Ana', consent: { publish: true, yearbook: false } },
        { id: kids.leo, firstName: 'Leo', consent: { publish: true, yearbook: false } },
      ] satisfies FamilyChild[],
    });
    expect((await call('GET', s('/family/children'), teacher)).statusCode).toBe(403);
  });

  it('lets a parent withdraw their own child’s consent, which hides the media from every family at once', async () => {
    const counts = async (token: string) => (await ok<{ events: EventMediaCount[] }>('GET', s('/media/counts'), token)).events.find((e) => e.eventId === events.sports)?.mediaCount;
    expect([await counts(parent.lima), await counts(parent.okafor), await counts(teacher)]).toEqual([5, 5, 5]);

    const withdrawn = await ok<{ publish: { granted: boolean; setBy: string | null } }>('PUT', s(`/students/${kids.ana}/consent/publish`), parent.lima, { granted: false });
    expect(withdrawn.publish.granted).toBe(false);
    expect(ids(await listing(parent.lima))).toEqual([asset.leo, asset.nobody, asset.chidi]);
    expect(ids(await listing(parent.okafor))).toEqual([asset.leo, asset.nobody, asset.chidi]);
    expect(ids(await listing(parent.lima, `?child=${kids.ana}`))).toEqual([]);
    expect([await counts(parent.lima), await counts(parent.okafor), await counts(teacher)]).toEqual([3, 3, 5]);
    expect((await call('GET', s(`/events/${events.sports}/media/${asset.ana}/preview`), parent.okafor)).statusCode).toBe(404);

    // Audited with who and when, and in the change feed the desktops read.
    const audit = (await h.audit('consent.set')).filter((row) => row.subject === `student:${kids.ana}`).at(-1);
    expect(JSON.parse(audit?.detail ?? '{}')).toEqual({ purpose: 'publish', before: true, after: false, role: 'parent', via: 'api' });
    expect(audit?.actor_user_id).not.toBeNull();
    expect(Date.now() - Date.parse(audit?.at ?? '')).toBeLessThan(60_000);
    const feed = await ok<{ changes: Array<{ entity: string; id: string; data?: { publish?: { granted: boolean } } }> }>('GET', s('/changes?since=0'), admin);
    expect(feed.changes.find((c) => c.entity === 'consent' && c.id === kids.ana)?.data?.publish?.granted).toBe(false);

    await ok('PUT', s(`/students/${kids.ana}/consent/publish`), parent.limaCo, { granted: true });
    expect(ids(await listing(parent.okafor))).toEqual([asset.ana, asset.leo, asset.anaAndChidi, asset.nobody, asset.chidi]);
  });

  it("refuses a parent another family's child and the fields only staff set", async () => {
    const chidi = await call('PUT', s(`/students/${kids.chidi}/consent/publish`), parent.lima, { granted: false });
    expect(chidi.statusCode).toBe(404);
    expect((await call('GET', s(`/students/${kids.chidi}/consent`), parent.lima)).statusCode).toBe(404);
    const extra = await call('PUT', s(`/students/${kids.ana}/consent/publish`), parent.lima, { granted: false, setBy: 'someone-else' });
    expect(extra.statusCode).toBe(400);
    expect((await call('PATCH', s(`/students/${kids.ana}`), parent.lima, { name: 'Renamed' })).statusCode).toBe(403);
    expect((await call('POST', s(`/families/${families.lima}/students`), parent.lima, { studentId: kids.chidi })).statusCode).toBe(403);
    // Nothing changed: Chidi's photos are still there for his family.
    expect(ids(await listing(parent.okafor, `?child=${kids.chidi}`))).toEqual([asset.anaAndChidi, asset.chidi]);
  });

  it("never hands a parent another family's child, by name or id, in anything the gallery can fetch", async () => {
    await ok('PUT', s(`/events/${events.sports}/favourites/${asset.anaAndChidi}`), parent.lima);
    const urls = [
      '/events',
      `/events/${events.sports}`,
      `/events/${events.sports}/media`,
      `/events/${events.sports}/media?child=${kids.ana}`,
      `/events/${events.sports}/media?favourites=1`,
      `/events/${events.sports}/media/${asset.anaAndChidi}/preview`,
      `/events/${events.sports}/favourites`,
      '/media/counts',
      '/family/children',
      '/students',
      `/students/${kids.ana}`,
      `/students/${kids.ana}/consent`,
      '/families',
      `/families/${families.lima}`,
    ];
    const answers: LightMyRequestResponse[] = [];
    for (const url of urls) {
      const response = await call('GET', s(url), parent.lima);
      expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
      answers.push(response);
    }
    const session = await injectAs(app, 'GET', '/v1/web/session', parent.lima);
    answers.push(session);
    const everything = answers.map((a) => a.body).join('\n');
    // The sweep saw the photo both children are in, and the parent's own child.
    expect(everything).toContain(asset.anaAndChidi);
    expect(everything).toContain(kids.ana);
    for (const secret of [kids.chidi, 'Chidi', 'Okafor', families.okafor, events.okaforOnly]) expect(everything, secret).not.toContain(secret);
  });
});
