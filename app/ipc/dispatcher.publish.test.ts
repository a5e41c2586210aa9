import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openEngine, type Engine } from '../engine.ts';
import type { AssetId, PersonId } from '../shared/ids.ts';
import { makeJpeg, tempDir, type TempDir } from '../test/fixtures.ts';
import { startS3Server, type S3Server } from '../test/s3-server.ts';
import { startSyncService, type SyncServiceProcess } from '../test/sync-service.ts';
import { fileSessionStore, SyncClient } from '../sync/sync-client.ts';
import type { PushEvent } from './contract.ts';
import { createDispatcher, type Dispatcher } from './dispatcher.ts';
import type { ConfigureResult, PublishPanelPlan, SyncStatus, UploadsView } from './publish-contract.ts';
import { libraryCredentialsFile, librarySessionFile } from './publish-handlers.ts';

// The school connection and publishing through the contract, against the real sync service (SQLite) and
// s3rver: what the settings screen, the publish panel and the upload queue are told, and that nothing
// secret is ever in it.

let dir: TempDir;
let s3: S3Server;
let service: SyncServiceProcess;
let engine: Engine;
let dispatcher: Dispatcher;
let eventId: number;
const pushed: PushEvent[] = [];

async function ok<T>(method: string, input: unknown = {}): Promise<T> {
  const result = await dispatcher.call(method, input);
  if (!result.ok) throw new Error(`${method}: ${result.error.code}: ${result.error.message}`);
  return result.value as T;
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  dir = await tempDir('keepsake-ipc-publish-');
  s3 = await startS3Server();
  service = await startSyncService({
    env: { S3_ENDPOINT: s3.endpoint, S3_BUCKET: s3.bucket, S3_FORCE_PATH_STYLE: 'true', S3_REGION: 'us-east-1', S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER' },
  });
  for (let i = 1; i <= 3; i += 1) {
    await makeJpeg(dir.join('card', `IMG_000${i}.JPG`), { seed: i, width: 640, height: 480, exif: { dateTimeOriginal: `2026:05:14 10:0${i}:00` } });
  }
  // No key in the environment: the one entered in settings is the only one.
  for (const name of ['KEEPSAKE_S3_ACCESS_KEY_ID', 'KEEPSAKE_S3_SECRET_ACCESS_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'KEEPSAKE_S3_PROFILE']) vi.stubEnv(name, '');
  engine = await openEngine({ libraryPath: dir.join('library'), logSink: () => undefined, uploaderTiming: { maxRetries: 1, backoffMs: 10 } });
  await engine.imports.run({ source: dir.join('card'), event: 'Sports Day' });
  eventId = engine.catalog.events.findByName('Sports Day')!.id;
  const first = engine.catalog.assets.listEventPage(eventId as never, { limit: 10 }).items[0]!;
  const { person } = engine.catalog.people.upsert({ name: 'Ana Lima', classGroup: '3B' });
  engine.catalog.people.setConsent(person.id as PersonId, 'publish', false, 'office');
  engine.catalog.people.tagAsset(first.id as AssetId, person.id as PersonId);
  dispatcher = createDispatcher(engine, { feedPollMs: 0 });
  dispatcher.subscribe((event) => pushed.push(event));
}, 120_000);

afterAll(async () => {
  await dispatcher?.close();
  await engine?.close();
  vi.unstubAllEnvs();
  await service?.stop();
  await s3?.close();
  await dir?.cleanup();
});

describe('the school connection and publishing through the contract', () => {
  it('refuses a wrong password with a sentence, and stays signed out', async () => {
    const refused = await dispatcher.call('sync:signIn', { serverUrl: service.base, email: service.admin.email, password: 'not the password' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
    expect(await ok<SyncStatus>('sync:status')).toMatchObject({ signedIn: false, school: null });
  });

  it('refuses a sync service over plain http on another machine', async () => {
    const refused = await dispatcher.call('sync:signIn', { serverUrl: 'http://sync.school.example', email: 'a@b.example', password: 'x' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'invalid-input', message: expect.stringMatching(/https:\/\//) } });
  });

  it('signs in, links the school, keeps the token in a 0600 file and never answers with it', async () => {
    const status = await ok<SyncStatus>('sync:signIn', { serverUrl: service.base, email: service.admin.email, password: service.admin.password });
    expect(status).toMatchObject({ signedIn: true, email: service.admin.email, school: { slug: 'greenfield', name: 'Greenfield Primary' }, roles: [{ school: 'Greenfield Primary', role: 'admin' }] });
    const file = librarySessionFile(engine.libraryRoot);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const { refreshToken } = JSON.parse(await readFile(file, 'utf8')) as { refreshToken: string };
    const everything = JSON.stringify([status, await ok('sync:status'), pushed]);
    expect(everything).not.toContain(refreshToken);
    expect(everything).not.toContain(service.admin.password);
  });

  it('pulls the school’s changes and says who changed what', async () => {
    const office = new SyncClient({ store: fileSessionStore(dir.join('office-session.json')) });
    const { memberships } = await office.signIn(service.base, service.admin.email, service.admin.password);
    const school = memberships[0]!.schoolId;
    const ben = await office.request<{ id: string }>('POST', `/v1/schools/${school}/students`, { name: 'Ben Okafor' });
    await office.request('PUT', `/v1/schools/${school}/students/${ben.id}/consent/publish`, { granted: true });
    const status = await ok<SyncStatus>('sync:pull');
    expect(status.lastPull).toMatchObject({ people: 1, consents: 1 });
    expect(status.activity.slice(0, 2).map(({ entity, name, change, by }) => ({ entity, name, change, by }))).toEqual([
      { entity: 'consent', name: 'Ben Okafor', change: 'consent to publish given', by: expect.any(String) },
      { entity: 'student', name: 'Ben Okafor', change: 'added', by: null },
    ]);
    // A name, not an account id.
    expect(status.activity[0]!.by).not.toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers a message per field for invalid storage settings and saves none of them', async () => {
    const result = await ok<ConfigureResult>('cloud:configure', { bucket: 'My_Bucket', school: 'green field', region: 'EU West', concurrency: 0, endpoint: 'ftp://x' });
    expect(result.saved).toBe(false);
    expect(Object.keys(result.errors).sort()).toEqual(['bucket', 'concurrency', 'endpoint', 'region', 'school']);
    expect(result.errors.bucket).toMatch(/3–63 lower-case letters/);
    expect((await ok<{ configured: boolean }>('cloud:settings')).configured).toBe(false);
  });

  it('saves valid storage settings, and the check asks for an access key while there is none', async () => {
    const result = await ok<ConfigureResult>('cloud:configure', { endpoint: s3.endpoint, bucket: s3.bucket, pathStyle: true, school: 'greenfield', region: 'us-east-1' });
    expect(result).toMatchObject({ saved: true, errors: {}, settings: { bucket: s3.bucket, school: 'greenfield' } });
    expect(await dispatcher.call('cloud:check', {})).toMatchObject({ ok: false, error: { code: 'unauthorized', message: expect.stringMatching(/enter its access key ID and secret in the storage settings/) } });
  });

  it('keeps an access key in a 0600 file, never answers with it, and the bucket check passes', async () => {
    expect((await dispatcher.call('cloud:setCredentials', { accessKeyId: 'S3RVER', secretAccessKey: 'short' })).ok).toBe(false);
    const view = await ok<{ credentialsKept: boolean; accessKeyHint: string; credentialsSource: string }>('cloud:setCredentials', { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER-secret-not-checked-by-s3rver' });
    expect(view).toMatchObject({ credentialsKept: true, accessKeyHint: 'RVER', credentialsSource: 'a file in the library only you can read' });
    expect((await stat(libraryCredentialsFile(engine.libraryRoot))).mode & 0o777).toBe(0o600);
    expect(await ok('cloud:check')).toMatchObject({ ok: true, message: expect.stringContaining(s3.bucket) });
    const answers = JSON.stringify([view, await ok('cloud:settings'), await ok('cloud:check')]);
    expect(answers).not.toContain('S3RVER-secret');
    expect(answers).not.toContain('"S3RVER"');
  });

  it('plans the publish: two new, one held for consent, and the quota before and after', async () => {
    const plan = await ok<PublishPanelPlan>('publish:plan', { eventId });
    expect(plan).toMatchObject({ configured: true, newCount: 2, modifiedCount: 0, removingCount: 0, overQuota: false });
    expect(plan.blocked).toEqual([{ assetId: expect.any(Number), name: 'IMG_0001.JPG', kind: 'consent', reason: 'tagged with Ana Lima (3B): consent to publish denied' }]);
    expect(plan.quota!.usedBytes).toBe(0);
    expect(plan.quota!.afterBytes).toBe(plan.estimatedBytes);
    expect(plan.quota!.limitBytes).toBeGreaterThan(plan.estimatedBytes);
    expect(plan.originals).toMatchObject({ allowed: false, requested: false });
    // A plan changes nothing.
    expect(engine.catalog.jobs.countsByKind().publish).toBeUndefined();
  });

  it('publishes, reports progress, and the service lists the media in the bucket', async () => {
    const started = await ok<{ queued: number; held: number; reservedBytes: number | null }>('publish:start', { eventId });
    expect(started).toMatchObject({ queued: 2, held: 1 });
    expect(started.reservedBytes).toBeGreaterThan(0);
    await waitFor(async () => {
      const view = await ok<UploadsView>('uploads:status');
      return view.queue.queued + view.queue.running === 0;
    }, 'the uploads');
    const view = await ok<UploadsView>('uploads:status');
    expect(view).toMatchObject({ configured: true, paused: false, overall: { assetsDone: 2, assetsTotal: 2 }, failures: [] });
    expect(view.overall.bytesSent).toBeGreaterThan(0);
    expect(pushed.some((event) => event.event === 'uploads:progress')).toBe(true);
    const objects = engine.catalog.cloud.objectsOfEvent(eventId as never);
    for (const object of objects) await s3.client().send(new HeadObjectCommand({ Bucket: s3.bucket, Key: object.key }));

    const client = new SyncClient({ store: fileSessionStore(librarySessionFile(engine.libraryRoot)) });
    await client.refresh();
    const school = client.memberships[0]!.schoolId;
    const remote = engine.catalog.events.get(eventId as never)!.remoteId!;
    await waitFor(async () => (await client.request<{ media: unknown[] }>('GET', `/v1/schools/${school}/events/${remote}/media`)).media.length === 2, 'the gallery');
    const after = await ok<PublishPanelPlan>('publish:plan', { eventId });
    expect(after).toMatchObject({ newCount: 0, unchangedCount: 2, publishedCount: 2 });
    expect(after.quota!.usedBytes).toBeGreaterThan(0);
  });

  it('pauses, limits and resumes the queue, and remembers both', async () => {
    expect(await ok<UploadsView>('uploads:pause')).toMatchObject({ paused: true });
    expect(await ok<UploadsView>('uploads:setLimit', { kbps: 500 })).toMatchObject({ limitKbps: 500, paused: true });
    expect(engine.cloud.connection().uploader.throttle).toBeDefined();
    expect((await ok<UploadsView>('uploads:resume')).paused).toBe(false);
    expect((await ok<UploadsView>('uploads:setLimit', { kbps: null })).limitKbps).toBeNull();
    expect((await dispatcher.call('uploads:setLimit', { kbps: 0 })).ok).toBe(false);
  });

  it('forgets the access key: the file goes and the check asks for one again', async () => {
    expect(await ok('cloud:forgetCredentials')).toMatchObject({ credentialsKept: false, accessKeyHint: null, credentialsSource: 'none' });
    await expect(stat(libraryCredentialsFile(engine.libraryRoot))).rejects.toThrow();
    expect(await dispatcher.call('cloud:check', {})).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
  });

  it('signs out: the session file goes and the library publishes to the bucket alone', async () => {
    expect(await ok<SyncStatus>('sync:signOut')).toMatchObject({ signedIn: false, school: null });
    await expect(stat(librarySessionFile(engine.libraryRoot))).rejects.toThrow();
    expect((await ok<PublishPanelPlan>('publish:plan', { eventId })).quota).toBeNull();
  });
});

describe('the session file', () => {
  it('is written 0600 even over a temp file a crash left world-readable', async () => {
    const file = dir.join('session', 'sync-session.json');
    const store = fileSessionStore(file);
    await store.save({ serverUrl: 'https://a.example', email: 'a@a.example', refreshToken: 'first' });
    await writeFile(dir.join('session', '.sync-session.json.keepsake-tmp'), 'left over', { mode: 0o644 });
    await store.save({ serverUrl: 'https://a.example', email: 'a@a.example', refreshToken: 'second' });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await store.load()).toEqual({ serverUrl: 'https://a.example', email: 'a@a.example', refreshToken: 'second' });
  });
});
