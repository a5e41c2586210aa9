import { CreateMultipartUploadCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EXIT } from '../cli/main.ts';
import { runCli } from '../test/cli.ts';
import { openEngine, type Engine } from '../engine.ts';
import { AppError } from '../shared/errors.ts';
import type { AssetId } from '../shared/ids.ts';
import { useFaultProxy, type FaultProxy } from '../test/fault-proxy.ts';
import { exiftool, makeJpeg, makeVideo, useTempDir, type TempDir } from '../test/fixtures.ts';
import { useS3Server, type S3Server } from '../test/s3-server.ts';
import { lifecycleRules } from './cloud.service.ts';
import { staticCredentials } from './credentials.ts';
import type { EventManifest, QuotaReserver } from './publisher.ts';
import { manifestAssetSchema } from '../sync/protocol.ts';

// Publishing an event to a real S3 API (s3rver on loopback, through a counting proxy), with real photos and
// a real video imported into a real library; read back with rclone, a client nobody here wrote.

const exec = promisify(execFile);
const SCHOOL = 'greenfield';
const GPS = { latitude: 51.5007, longitude: -0.1246, altitude: 12 };

interface Rig {
  dir: TempDir;
  s3: S3Server;
  proxy: FaultProxy;
  engine: Engine;
  eventId: number;
  assets: Array<{ id: AssetId; originalName: string }>;
  /** Works the upload jobs until none is left. */
  run(): Promise<void>;
  keys(prefix?: string): Promise<string[]>;
  object(key: string): Promise<Buffer>;
}

const engines: Engine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
  vi.unstubAllEnvs();
});

async function rig(options: { quota?: QuotaReserver } = {}): Promise<Rig> {
  const dir = await useTempDir('keepsake-publish-');
  const card = dir.join('card', 'DCIM', '100CANON');
  for (const [i, name] of ['IMG_0001.JPG', 'IMG_0002.JPG', 'IMG_0003.JPG'].entries()) {
    await makeJpeg(path.join(card, name), {
      seed: i + 1,
      exif: { dateTimeOriginal: `2026:05:14 10:0${i}:00`, make: 'Canon', model: 'EOS R6', gps: GPS, bodySerialNumber: '0123456789', orientation: 1 },
    });
  }
  await makeVideo(path.join(card, 'MVI_0004.MP4'), { durationSec: 1, location: GPS, creationTime: '2026-05-14T10:05:00Z' });
  const s3 = await useS3Server();
  const proxy = await useFaultProxy({ host: '127.0.0.1', port: s3.port });
  const engine = await openEngine({
    libraryPath: dir.join('library'),
    credentials: staticCredentials({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }),
    uploaderTiming: { backoffMs: 20, offlineProbeMs: 100 },
    ...(options.quota ? { quota: options.quota } : {}),
  });
  engines.push(engine);
  const report = await engine.imports.run({ source: dir.join('card'), event: 'Sports Day' });
  expect(report.imported).toHaveLength(4);
  engine.cloud.configure({ endpoint: proxy.endpoint, bucket: s3.bucket, pathStyle: true, school: SCHOOL, allowOriginals: true, partSizeMiB: 5, concurrency: 2 });
  const eventId = report.event.id!;
  const assets = engine.catalog.assets.listEventPage(eventId as never, { limit: 10 }).items.map((a) => ({ id: a.id, originalName: a.originalName }));
  return {
    dir,
    s3,
    proxy,
    engine,
    eventId,
    assets,
    async run() {
      engine.jobs.start();
      await engine.jobs.whenIdle(['publish', 'manifest']);
      // A run that failed an upload would pass the assertions on what did arrive: fail it here.
      expect(engine.catalog.jobs.listFailed({ limit: 50 })).toEqual([]);
    },
    async keys(prefix = `schools/${SCHOOL}/`) {
      const out = await s3.client().send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
      return (out.Contents ?? []).map((o) => o.Key!).sort();
    },
    async object(key) {
      const out = await s3.client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
      return Buffer.from(await out.Body!.transformToByteArray());
    },
  };
}

function assetKeys(keys: string[], hash: string): string[] {
  return keys.filter((k) => k.includes(`/${hash}/`)).map((k) => path.basename(k));
}

function hashOf(r: Rig, id: AssetId): string {
  return r.engine.catalog.assets.get(id)!.hash;
}

async function manifestOf(r: Rig): Promise<EventManifest> {
  const key = (await r.keys()).find((k) => k.endsWith('/manifest.json'))!;
  return JSON.parse((await r.object(key)).toString('utf8')) as EventManifest;
}

const sends = (r: Rig) => r.proxy.requests.filter((q) => (q.op === 'PutObject' || q.op === 'UploadPart') && q.outcome === 'forwarded');

describe('publishing an event', () => {
  it('sends each asset’s derivatives under the key layout with a manifest, and nothing again when unchanged', async () => {
    const r = await rig();
    const plan = await r.engine.cloud.publisher.publish(r.eventId as never);
    expect(plan).toMatchObject({ queued: 4, unchanged: 0, held: [] });
    const progress: number[] = [];
    r.engine.cloud.on('progress', (p) => progress.push(p.bytesSent));
    await r.run();
    // The engine reports the uploads as they go, for the UI.
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toBeGreaterThan(10_000);
    const keys = await r.keys();
    const [photo, , , video] = r.assets.sort((a, b) => a.originalName.localeCompare(b.originalName));
    expect(assetKeys(keys, hashOf(r, photo!.id))).toEqual(['preview.jpg', 'thumb.webp']);
    expect(assetKeys(keys, hashOf(r, video!.id))).toEqual(['poster.jpg', 'proxy.mp4', 'thumb.webp']);
    expect(keys.every((k) => k.startsWith(`schools/${SCHOOL}/events/`))).toBe(true);
    // The camera's names never leave the machine.
    expect(keys.some((k) => /IMG_|MVI_/i.test(k))).toBe(false);
    expect(r.engine.catalog.cloud.publicationCounts(r.eventId as never)).toMatchObject({ published: 4, new: 0 });

    const manifest = await manifestOf(r);
    expect(manifest.assets).toHaveLength(4);
    expect(manifest.event.name).toBe('Sports Day');
    const text = JSON.stringify(manifest);
    expect(text).not.toMatch(/IMG_|MVI_|gps|latitude|51\.50|EOS|0123456789/i);
    // Every variant the manifest names is in the bucket with the bytes it says.
    for (const asset of manifest.assets) for (const variant of Object.values(asset.variants)) expect((await r.object(variant.key)).length).toBe(variant.size);
    // Each photo carries the catalog's thumbhash, which the service checks and the gallery paints first.
    const photoEntry = manifest.assets.find((a) => a.id === hashOf(r, photo!.id));
    expect(photoEntry?.thumbhash).toBe(r.engine.catalog.assets.get(photo!.id)?.thumbhash);
    expect(photoEntry?.thumbhash).toMatch(/^[A-Za-z0-9+/]{8,}={0,2}$/);
    expect(manifestAssetSchema.safeParse({ ...photoEntry, people: [] }).success).toBe(true);

    const before = sends(r).length;
    const again = await r.engine.cloud.publisher.publish(r.eventId as never);
    expect(again).toMatchObject({ queued: 0, unchanged: 4 });
    await r.run();
    expect(sends(r).length).toBe(before);
  });

  it('re-publishes what an edit changed, by itself: a rating or a tag rewrites the manifest and sends no media', async () => {
    const r = await rig();
    await r.engine.cloud.publisher.publish(r.eventId as never);
    await r.run();
    const before = sends(r).length;
    const id = r.assets[0]!.id;
    r.engine.catalog.assets.setCulling(id, { rating: 5 });
    r.engine.catalog.tags.tagAsset(id, ['final']);
    expect(r.engine.catalog.cloud.getPublication(id)?.state).toBe('modified');
    // Nothing of the asset's own files is read again to find it unchanged: only the manifest is hashed.
    const fingerprint = vi.spyOn(r.engine.cloud.connection().uploader, 'fingerprint');
    await r.run();
    expect(fingerprint.mock.calls.map(([file]) => path.basename(file))).toEqual([expect.stringMatching(/^manifest-\d+\.json$/)]);
    fingerprint.mockRestore();
    const sent = sends(r).slice(before);
    expect(sent.map((q) => path.basename(q.key ?? ''))).toEqual(['manifest.json']);
    const entry = (await manifestOf(r)).assets.find((a) => a.id === hashOf(r, id))!;
    expect(entry).toMatchObject({ rating: 5, tags: ['final'] });
    expect(r.engine.catalog.cloud.getPublication(id)?.state).toBe('published');
  });

  it('holds back an asset tagged with a child without publish consent, says why, and takes it down when consent is withdrawn', async () => {
    const r = await rig();
    const people = r.engine.catalog.people;
    const ana = people.upsert({ name: 'Ana Lima', classGroup: '5B' }).person;
    const [first, second] = r.assets;
    people.tagAsset(first!.id, ana.id);
    const plan = await r.engine.cloud.publisher.publish(r.eventId as never);
    expect(plan.queued).toBe(3);
    expect(plan.held).toEqual([{ assetId: first!.id, name: first!.originalName, reason: 'tagged with Ana Lima (5B): no consent to publish on record' }]);
    await r.run();
    expect(assetKeys(await r.keys(), hashOf(r, first!.id))).toEqual([]);
    expect(r.engine.catalog.cloud.getPublication(first!.id)).toMatchObject({ state: 'blocked', reason: expect.stringMatching(/Ana Lima/) });

    // Consent granted: the next publish sends it.
    people.setConsent(ana.id, 'publish', true, 'parent');
    people.tagAsset(second!.id, ana.id);
    // The photo just tagged with Ana was marked modified by the tagging itself: it is re-checked too.
    expect((await r.engine.cloud.publisher.publish(r.eventId as never)).queued).toBe(2);
    await r.run();
    expect(assetKeys(await r.keys(), hashOf(r, first!.id))).toEqual(['preview.jpg', 'thumb.webp']);

    // Withdrawn: both of Ana's photos leave the bucket without anyone publishing again.
    people.setConsent(ana.id, 'publish', false, 'parent');
    await r.run();
    const keys = await r.keys();
    expect(assetKeys(keys, hashOf(r, first!.id))).toEqual([]);
    expect(assetKeys(keys, hashOf(r, second!.id))).toEqual([]);
    expect(r.engine.catalog.cloud.getPublication(second!.id)).toMatchObject({ state: 'blocked', reason: 'tagged with Ana Lima (5B): consent to publish denied' });
    expect((await manifestOf(r)).assets).toHaveLength(2);
  });

  it('removes a photo rejected in culling, and unpublishing takes the whole event down', async () => {
    const r = await rig();
    await r.engine.cloud.publisher.publish(r.eventId as never);
    await r.run();
    const rejected = r.assets[1]!;
    r.engine.catalog.assets.setCulling(rejected.id, { flag: 'reject' });
    // The edit alone takes it down.
    await r.run();
    expect(assetKeys(await r.keys(), hashOf(r, rejected.id))).toEqual([]);
    expect(await r.engine.cloud.publisher.publish(r.eventId as never)).toMatchObject({ rejected: 1, removing: 0, unchanged: 3 });
    expect((await manifestOf(r)).assets).toHaveLength(3);

    expect(r.engine.cloud.publisher.unpublish(r.eventId as never).removing).toBe(3);
    await r.run();
    expect(await r.keys()).toEqual([]);
    expect(r.engine.catalog.cloud.publicationsOf(r.eventId as never)).toEqual([]);
    expect(r.engine.catalog.cloud.objectsOfEvent(r.eventId as never)).toEqual([]);
  });

  it('publishes stripped originals only when the plan allows; rclone reads back no GPS and no serial from anything', async () => {
    const r = await rig();
    r.engine.cloud.configure({ allowOriginals: false });
    await expect(r.engine.cloud.publisher.publish(r.eventId as never, { originals: true })).rejects.toMatchObject({ code: 'forbidden' });
    r.engine.cloud.configure({ allowOriginals: true, originalsStorageClass: 'STANDARD_IA' });
    await r.engine.cloud.publisher.publish(r.eventId as never, { originals: true });
    await r.run();
    const keys = await r.keys();
    expect(keys.filter((k) => /\/original\.(jpg|mp4)$/.test(k))).toHaveLength(4);
    const originalPut = r.proxy.requests.find((q) => q.op === 'PutObject' && q.key?.endsWith('/original.jpg'))!;
    expect(originalPut.headers['x-amz-storage-class']).toBe('STANDARD_IA');
    expect(originalPut.headers['x-amz-tagging']).toBe('keepsake-variant=original');

    const out = r.dir.join('readback');
    // --fast-list: s3rver's delimiter listings do not satisfy rclone's directory walk; one flat listing does.
    await exec('rclone', ['copy', '--fast-list', `s3:${r.s3.bucket}/schools/${SCHOOL}`, out], {
      // Only what rclone needs: no proxy or CA settings from the environment.
      env: {
        PATH: process.env.PATH,
        HOME: r.dir.path,
        RCLONE_CONFIG_S3_TYPE: 's3',
        RCLONE_CONFIG_S3_PROVIDER: 'Other',
        RCLONE_CONFIG_S3_ENDPOINT: r.s3.endpoint,
        RCLONE_CONFIG_S3_ACCESS_KEY_ID: 'S3RVER',
        RCLONE_CONFIG_S3_SECRET_ACCESS_KEY: 'S3RVER',
        RCLONE_CONFIG_S3_FORCE_PATH_STYLE: 'true',
        RCLONE_CONFIG_S3_REGION: 'us-east-1',
      },
    });
    const files = (await readdir(out, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
    const media = files.filter((f) => /\.(jpg|webp|mp4)$/.test(f));
    expect(media.length).toBe(keys.length - 1); // all but the manifest
    for (const file of media) {
      const tags = await exiftool(file, '-a', '-G1', '-ee');
      const found = Object.keys(tags).filter((tag) => /GPS|Serial|Location|OwnerName/i.test(tag));
      expect(found, path.relative(out, file)).toEqual([]);
    }
    // The originals are the photographer's pictures, not re-encodes: same size class as the files imported.
    const original = media.find((f) => f.endsWith('original.jpg'))!;
    expect((await readFile(original)).length).toBeGreaterThan(10_000);
  });

  it('cancels the uploads in flight at once; the assets stay to publish, and the next publish sends them', async () => {
    const r = await rig();
    const preview = (q: { op: string; key?: string | undefined }) => q.op === 'PutObject' && (q.key ?? '').endsWith('/preview.jpg');
    const removeHold = r.proxy.addFault({ match: preview, action: { kind: 'hold' } });
    await r.engine.cloud.publisher.publish(r.eventId as never);
    r.engine.jobs.start();
    await r.proxy.waitFor(preview, { timeoutMs: 20_000 });
    const cancelled = await r.engine.cloud.cancel();
    expect(cancelled.jobs).toBeGreaterThan(0);
    await r.engine.jobs.whenIdle(['publish', 'manifest']);
    removeHold();
    r.proxy.releaseHeld();
    expect(r.engine.cloud.status().queue).toMatchObject({ queued: 0, running: 0 });
    const counts = r.engine.catalog.cloud.publicationCounts(r.eventId as never);
    expect(counts.published).toBeLessThan(4);
    expect(counts.new).toBe(4 - counts.published);

    const again = await r.engine.cloud.publisher.publish(r.eventId as never);
    expect(again.queued).toBe(4 - counts.published);
    await r.run();
    expect(r.engine.catalog.cloud.publicationCounts(r.eventId as never).published).toBe(4);
  });

  it('asks the sync service for room first, and queues nothing when the school is out of quota', async () => {
    const asked: number[] = [];
    const full = await rig({
      quota: {
        reserve: ({ bytes }) => {
          asked.push(bytes);
          return Promise.reject(new AppError('quota-exceeded', 'Greenfield has 12 MB of its 5 GB left.'));
        },
      },
    });
    await expect(full.engine.cloud.publisher.publish(full.eventId as never)).rejects.toMatchObject({ code: 'quota-exceeded' });
    expect(asked).toHaveLength(1);
    expect(asked[0]).toBeGreaterThan(10_000);
    expect(full.engine.catalog.jobs.counts('publish').queued).toBe(0);
    expect(full.engine.catalog.cloud.publicationsOf(full.eventId as never)).toEqual([]);
  });

  it('aborts multipart uploads left behind in the bucket, never one it is still sending', async () => {
    const r = await rig();
    const client = r.s3.client();
    await client.send(new CreateMultipartUploadCommand({ Bucket: r.s3.bucket, Key: `schools/${SCHOOL}/events/x/orphan/original.mp4` }));
    await client.send(new CreateMultipartUploadCommand({ Bucket: r.s3.bucket, Key: 'schools/another-school/events/y/z/original.mp4' }));
    const ours = await client.send(new CreateMultipartUploadCommand({ Bucket: r.s3.bucket, Key: `schools/${SCHOOL}/events/x/ours/original.mp4` }));
    r.engine.catalog.cloud.createUpload({ key: `schools/${SCHOOL}/events/x/ours/original.mp4`, file: '/f', size: 10, hash: 'h', uploadId: ours.UploadId!, partSize: 5 << 20, checksum: 'md5' });
    // Younger than a week: kept (another desktop may still be sending it).
    expect(await r.engine.cloud.abortStaleUploads()).toBe(0);
    expect(await r.engine.cloud.abortStaleUploads({ olderThanMs: 0 })).toBe(1);
    const left = await r.engine.cloud.connection().store.listMultipartUploads('schools/');
    expect(left.map((u) => u.key).sort()).toEqual(['schools/another-school/events/y/z/original.mp4', `schools/${SCHOOL}/events/x/ours/original.mp4`]);
  });

  it('says clearly that a store without lifecycle support cannot take the rules, and what the rules are', async () => {
    const r = await rig();
    await expect(r.engine.cloud.applyLifecycle({ archiveAfterDays: 30 })).rejects.toMatchObject({
      code: 'unsupported-media',
      message: expect.stringMatching(/does not support lifecycle rules/),
    });
    expect(lifecycleRules(SCHOOL, 30, 'GLACIER')).toEqual([
      expect.objectContaining({ Filter: { And: { Prefix: `schools/${SCHOOL}/`, Tags: [{ Key: 'keepsake-variant', Value: 'original' }] } }, Transitions: [{ Days: 30, StorageClass: 'GLACIER' }] }),
      expect.objectContaining({ Filter: { Prefix: `schools/${SCHOOL}/` }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }),
    ]);
    expect(() => lifecycleRules(SCHOOL, 0, 'GLACIER')).toThrow(/at least 1/);
  });
});

describe('keepsake CLI: publish, uploads, backup and restore through the bucket', () => {
  const cli = (...argv: string[]) => runCli(argv);

  it('publishes from the command line, pauses and resumes, and backs the catalog up with retention and restores it', async () => {
    const r = await rig();
    const library = r.engine.libraryRoot;
    await r.engine.close();
    engines.splice(engines.indexOf(r.engine), 1);
    vi.stubEnv('KEEPSAKE_S3_ACCESS_KEY_ID', 'S3RVER');
    vi.stubEnv('KEEPSAKE_S3_SECRET_ACCESS_KEY', 'S3RVER');

    expect((await cli('uploads', 'pause', '--library', library)).code).toBe(EXIT.ok);
    expect(JSON.parse((await cli('uploads', '--json', '--library', library)).out)).toMatchObject({ paused: true, configured: true });
    expect((await cli('uploads', 'resume', '--library', library)).code).toBe(EXIT.ok);

    const published = await cli('publish', 'Sports Day', '--library', library, '--json');
    expect(published.code, published.err).toBe(EXIT.ok);
    expect(JSON.parse(published.out)).toMatchObject({ plan: { queued: 4 }, finished: true, failed: [], publications: { published: 4 } });
    const status = JSON.parse((await cli('uploads', '--json', '--library', library)).out);
    expect(status).toMatchObject({ paused: false, inFlight: [], queue: { queued: 0, running: 0 } });
    expect(status.stored.objects).toBeGreaterThanOrEqual(10);

    for (let i = 0; i < 3; i++) expect((await cli('backup', '--cloud', '--keep', '2', '--library', library)).code).toBe(EXIT.ok);
    const backups = (await r.keys(`schools/${SCHOOL}/backups/`)).filter((k) => k.endsWith('.db'));
    expect(backups).toHaveLength(2);

    // Lose the event from the catalog, then bring it back from the bucket.
    {
      const engine = await openEngine({ libraryPath: library, create: false });
      engine.catalog.db.prepare('DELETE FROM assets').run();
      await engine.close();
    }
    const restored = await cli('restore', '--cloud', '--library', library, '--json');
    expect(restored.code, restored.err).toBe(EXIT.ok);
    expect(JSON.parse(restored.out)).toMatchObject({ assets: 4 });

    const wrong = await cli('publish', 'No Such Event', '--library', library);
    expect(wrong.code).toBe(EXIT.notFound);
    vi.stubEnv('KEEPSAKE_S3_ACCESS_KEY_ID', 'NOT-A-KEY');
    const denied = await cli('publish', 'Sports Day', '--library', library);
    expect(denied.code).toBe(EXIT.usage);
    expect(denied.err).toMatch(/refused the credentials/);
  });
});
