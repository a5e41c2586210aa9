import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash, randomUUID } from 'node:crypto';
import net from 'node:net';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3Server } from '../../../app/test/s3-server.ts';
import { buildApp } from '../app.ts';
import type { ManifestAsset, PublicMedia } from '../services/media.ts';
import { ObjectDeletionWorker } from '../services/object-deletions.ts';
import { S3ObjectStore, type ObjectStore } from '../services/storage.ts';
import { TEST_DATABASES } from '../test/databases.ts';
import { TEST_SCRYPT, startHarness, type Harness } from '../test/harness.ts';

let s3: S3Server;
let client: S3Client;
/** A port nothing listens on: an object store that is down. */
let closedPort: number;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function exists(key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
    return true;
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw error;
  }
}

beforeAll(async () => {
  s3 = await startS3Server();
  client = s3.client();
  closedPort = await freePort();
});
afterAll(() => s3.close());

describe.each(TEST_DATABASES)('erasure reaches the bucket on $name', (target) => {
  let h: Harness;
  let app: FastifyInstance;
  let worker: ObjectDeletionWorker;
  let school: string;
  let slug: string;
  let admin: string;
  let adminId: string;

  const realStore = () => new S3ObjectStore(client, s3.bucket);
  const downStore = () => new S3ObjectStore(s3.client({ endpoint: `http://127.0.0.1:${closedPort}`, maxAttempts: 1 }), s3.bucket);

  function appOver(store: ObjectStore, deletions: ObjectDeletionWorker): FastifyInstance {
    return buildApp({ db: h.db.kysely, tokens: h.tokens, refreshTtlSeconds: 3600, scrypt: TEST_SCRYPT, media: { store, urlTtlSeconds: 60 }, objectDeletions: deletions });
  }

  function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, via = app, as = admin): Promise<LightMyRequestResponse> {
    return via.inject({ method, url: `/v1/schools/${school}${url}`, headers: { authorization: `Bearer ${as}` }, ...(body === undefined ? {} : { payload: body as Record<string, unknown> }) });
  }

  async function ok<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, via = app): Promise<T> {
    const response = await call(method, url, body, via);
    expect(response.statusCode, `${method} ${url}: ${response.body}`).toBeLessThan(300);
    return (response.body === '' ? undefined : response.json()) as T;
  }

  const student = async (name: string) => (await ok<{ id: string }>('POST', '/students', { name })).id;

  /** An event with `tags.length` photos (thumb + preview in s3rver), photo i tagged with `tags[i]`; published. */
  async function publishEvent(name: string, tags: string[][], via = app): Promise<{ eventId: string; assets: ManifestAsset[] }> {
    const eventId = (await ok<{ id: string }>('POST', '/events', { name, startsOn: '2026-06-12', state: 'published' }, via)).id;
    const assets: ManifestAsset[] = [];
    for (const [i, people] of tags.entries()) {
      const id = createHash('sha256').update(`${eventId}-${i}`).digest('hex').slice(0, 32);
      const variants: ManifestAsset['variants'] = {};
      for (const [variant, ext] of [
        ['thumb', 'webp'],
        ['preview', 'jpg'],
      ] as const) {
        const key = `schools/${slug}/events/${eventId}/${id}/${variant}.${ext}`;
        const body = Buffer.from(`${variant} of photo ${i} `.repeat(i + 2));
        await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
        variants[variant] = { key, size: body.length, hash: `h-${id}-${variant}` };
      }
      assets.push({ id, kind: 'photo', capturedAt: null, width: 800, height: 600, durationSec: null, rating: 0, title: null, description: null, tags: [], people, variants });
    }
    await ok('PUT', `/events/${eventId}/manifest`, { assets }, via);
    return { eventId, assets };
  }

  const keysOf = (assets: ManifestAsset[]) => assets.flatMap((a) => Object.values(a.variants).map((v) => v?.key ?? ''));
  const galleryIds = async (eventId: string, via = app) => (await ok<{ media: PublicMedia[] }>('GET', `/events/${eventId}/media`, undefined, via)).media.map((m) => m.assetId);
  const queued = () => h.db.kysely.selectFrom('object_deletions').selectAll().where('school_id', '=', school).execute();

  /** The school's usage next to the sizes the bucket really holds for what is still published. */
  async function usageAgainstBucket(): Promise<{ used: number; published: number; inBucket: number }> {
    const usage = await h.db.kysely.selectFrom('usage').select('used_bytes').where('school_id', '=', school).executeTakeFirstOrThrow();
    const rows = await h.db.kysely.selectFrom('media').select(['object_key', 'size']).where('school_id', '=', school).execute();
    let inBucket = 0;
    for (const row of rows) inBucket += (await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: row.object_key }))).ContentLength ?? 0;
    return { used: Number(usage.used_bytes), published: rows.reduce((sum, row) => sum + Number(row.size), 0), inBucket };
  }

  beforeAll(async () => {
    h = await startHarness(target);
    slug = `erase-${randomUUID().slice(0, 8)}`;
    school = await h.createSchool(slug);
    adminId = await h.createUser(`admin@${slug}.test`, [[school, 'admin']]);
    admin = await h.tokens.issue(adminId);
    worker = new ObjectDeletionWorker(h.db.kysely, realStore());
    app = appOver(realStore(), worker);
  });
  afterAll(async () => {
    await worker.stop();
    await app.close();
    await h.close();
  });

  it('erases a student tagged in 3 of 5 photos: those objects leave the bucket, the rest and the usage stay true', async () => {
    const kid = await student('Tagged Kid');
    const other = await student('Other Kid');
    const { eventId, assets } = await publishEvent('Sports Day', [[kid], [kid, other], [other], [], [kid]]);
    const erased = [assets[0], assets[1], assets[4]] as ManifestAsset[];
    const kept = [assets[2], assets[3]] as ManifestAsset[];
    const bytesOf = (list: ManifestAsset[]) => list.reduce((sum, a) => sum + Object.values(a.variants).reduce((s, v) => s + (v?.size ?? 0), 0), 0);
    expect((await usageAgainstBucket()).used).toBe(bytesOf(assets));

    await ok('DELETE', `/students/${kid}`);
    // Off the gallery at the commit, before any object is deleted.
    expect(await galleryIds(eventId)).toEqual(kept.map((a) => a.id));
    await worker.idle();

    for (const key of keysOf(erased)) expect(await exists(key), key).toBe(false);
    for (const key of keysOf(kept)) expect(await exists(key), key).toBe(true);
    expect(await usageAgainstBucket()).toEqual({ used: bytesOf(kept), published: bytesOf(kept), inBucket: bytesOf(kept) });
    expect(await queued()).toEqual([]);

    const audit = (await h.audit('media.erased')).filter((row) => row.subject === `student:${kid}`);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ school_id: school, actor_user_id: adminId });
    expect(JSON.parse(audit[0]?.detail ?? '{}')).toEqual({ assets: 3, objects: 6, bytes: bytesOf(erased), events: 1, objectsToDelete: 6, activityRows: 0 });
    expect(JSON.stringify(await h.audit('media.erased'))).not.toContain('Tagged Kid');
    // The untagged student's photo is still there for them; erasing someone tagged nowhere touches nothing.
    const nobody = await student('Untagged Kid');
    await ok('DELETE', `/students/${nobody}`);
    expect(await galleryIds(eventId)).toEqual(kept.map((a) => a.id));
    expect((await h.audit('media.erased')).filter((row) => row.subject === `student:${nobody}`)).toEqual([]);
  });

  it('erases while the store is down: the erasure succeeds, and the objects go once the store is back', async () => {
    const downWorker = new ObjectDeletionWorker(h.db.kysely, downStore(), { baseDelayMs: 60_000 });
    const offline = appOver(realStore(), downWorker);
    try {
      const kid = await student('Offline Kid');
      const { eventId, assets } = await publishEvent('Concert', [[kid], [], [kid]], offline);
      const response = await call('DELETE', `/students/${kid}`, undefined, offline);
      expect(response.statusCode, response.body).toBe(204);
      await downWorker.idle();
      expect(await galleryIds(eventId, offline)).toEqual([assets[1]?.id]);

      const doomed = keysOf([assets[0], assets[2]] as ManifestAsset[]);
      for (const key of doomed) expect(await exists(key), key).toBe(true);
      const waiting = await queued();
      expect(waiting.map((row) => row.object_key).sort()).toEqual([...doomed].sort());
      for (const row of waiting) {
        expect(row.attempts).toBe(1);
        expect(row.last_error).toMatch(/^The object store refused the deletion request: /);
        expect(Date.parse(row.next_attempt_at)).toBeGreaterThan(Date.now() + 30_000);
        expect(row.claimed_until).toBeNull();
      }

      // The service restarts with the store back: the start-up drain does not wait out the backoff.
      await downWorker.stop();
      const restarted = new ObjectDeletionWorker(h.db.kysely, realStore());
      await restarted.start();
      await restarted.stop();
      for (const key of doomed) expect(await exists(key), key).toBe(false);
      expect(await exists(assets[1]?.variants.thumb?.key ?? '')).toBe(true);
      expect(await queued()).toEqual([]);
      const usage = await usageAgainstBucket();
      expect(usage.used).toBe(usage.inBucket);
    } finally {
      await downWorker.stop();
      await offline.close();
    }
  });

  it('retries in the background with backoff until the store answers again', async () => {
    let down = true;
    const real = realStore();
    const broken = downStore();
    const flaky: ObjectStore = {
      head: (key) => real.head(key),
      list: (prefix) => real.list(prefix),
      deleteMany: (keys) => (down ? broken.deleteMany(keys) : real.deleteMany(keys)),
      presignGet: (key, options) => real.presignGet(key, options),
    };
    const retrying = new ObjectDeletionWorker(h.db.kysely, flaky, { baseDelayMs: 50, pollMs: 25 });
    const via = appOver(real, retrying);
    try {
      await retrying.start();
      const kid = await student('Flaky Kid');
      const { assets } = await publishEvent('Fair', [[kid]], via);
      await ok('DELETE', `/students/${kid}`, undefined, via);
      await retrying.idle();
      expect((await queued()).map((row) => row.attempts)).toEqual([1, 1]);
      down = false;
      const deadline = Date.now() + 5000;
      while ((await queued()).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      expect(await queued()).toEqual([]);
      for (const key of keysOf(assets)) expect(await exists(key), key).toBe(false);
    } finally {
      await retrying.stop();
      await via.close();
    }
  });

  it('erases a family: its children’s photos leave the bucket; a child shared with another family stays', async () => {
    const parentId = await h.createUser(`parent-${randomUUID().slice(0, 6)}@${slug}.test`, [[school, 'parent']]);
    const family = (await ok<{ id: string }>('POST', '/families', { name: 'The Leavers', email: `leavers-${randomUUID().slice(0, 6)}@${slug}.test` })).id;
    const otherFamily = (await ok<{ id: string }>('POST', '/families', { name: 'The Stayers' })).id;
    const [first, second, shared] = [await student('Leaver One'), await student('Leaver Two'), await student('Shared Kid')];
    for (const id of [first, second, shared]) await ok('POST', `/families/${family}/students`, { studentId: id });
    await ok('POST', `/families/${otherFamily}/students`, { studentId: shared });
    await ok('POST', `/families/${family}/members`, { userId: parentId });
    const { eventId, assets } = await publishEvent('Leavers Day', [[first], [second, shared], [shared], []]);

    expect((await call('DELETE', `/families/${family}`, undefined, app, await h.tokens.issue(parentId))).statusCode).toBe(403);
    await ok('DELETE', `/families/${family}`);
    await worker.idle();
    for (const key of keysOf([assets[0], assets[1]] as ManifestAsset[])) expect(await exists(key), key).toBe(false);
    for (const key of keysOf([assets[2], assets[3]] as ManifestAsset[])) expect(await exists(key), key).toBe(true);
    expect(await galleryIds(eventId)).toEqual([assets[2]?.id, assets[3]?.id]);
    expect((await call('GET', `/families/${family}`)).statusCode).toBe(404);
    expect((await call('GET', `/students/${first}`)).statusCode).toBe(404);
    expect((await ok<{ familyIds: string[] }>('GET', `/students/${shared}`)).familyIds).toEqual([otherFamily]);
    const usage = await usageAgainstBucket();
    expect(usage.used).toBe(usage.inBucket);
    const audit = (await h.audit('media.erased')).filter((row) => row.subject === `student:${first}` || row.subject === `student:${second}`);
    expect(audit.map((row) => (JSON.parse(row.detail) as { assets: number }).assets).sort()).toEqual([1, 1]);
  });
});
