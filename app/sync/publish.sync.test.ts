import Sqlite from 'better-sqlite3';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openEngine } from '../engine.ts';
import { runCli } from '../test/cli.ts';
import { makeJpeg, tempDir, type TempDir } from '../test/fixtures.ts';
import { startS3Server, type S3Server } from '../test/s3-server.ts';
import { startSyncService, type SyncServiceProcess } from '../test/sync-service.ts';
import { fileSessionStore, SyncClient } from './sync-client.ts';
import { sessionFile } from '../cli/sync.commands.ts';

// A desktop publishing through the school's sync service, both real and on one s3rver: the event is created
// on the server, quota is reserved before the upload and committed by the manifest, whose every object the
// server checks in the bucket; then the gallery lists the media with working presigned URLs. Out of quota,
// nothing is uploaded and the photographer is told why.

let dir: TempDir;
let s3: S3Server;
let service: SyncServiceProcess;
let library: string;

const cli = (...argv: string[]) => runCli([...argv, '--library', library]);

beforeAll(async () => {
  dir = await tempDir('keepsake-publish-sync-');
  s3 = await startS3Server();
  service = await startSyncService({
    env: { S3_ENDPOINT: s3.endpoint, S3_BUCKET: s3.bucket, S3_FORCE_PATH_STYLE: 'true', S3_REGION: 'us-east-1', S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER' },
  });
  for (const [event, i] of [['Sports Day', 1], ['Sports Day', 2], ['Field Trip', 3]] as const) {
    await makeJpeg(dir.join('cards', event, `IMG_000${i}.JPG`), { seed: i, exif: { dateTimeOriginal: `2026:05:14 10:0${i}:00`, gps: { latitude: 51.5, longitude: -0.12 } } });
  }
  library = dir.join('library');
  const engine = await openEngine({ libraryPath: library });
  for (const event of ['Sports Day', 'Field Trip']) await engine.imports.run({ source: dir.join('cards', event), event });
  engine.cloud.configure({ endpoint: s3.endpoint, bucket: s3.bucket, pathStyle: true, school: 'greenfield', partSizeMiB: 5 });
  await engine.close();
  vi.stubEnv('KEEPSAKE_S3_ACCESS_KEY_ID', 'S3RVER');
  vi.stubEnv('KEEPSAKE_S3_SECRET_ACCESS_KEY', 'S3RVER');
  vi.stubEnv('KEEPSAKE_SYNC_PASSWORD', service.admin.password);
  const signedIn = await cli('sync', 'sign-in', '--server', service.base, '--email', service.admin.email);
  expect(signedIn.code, signedIn.err).toBe(0);
  expect(signedIn.out).toMatch(/publishes for Greenfield Primary/);
}, 120_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await service?.stop();
  await s3?.close();
  await dir?.cleanup();
});

describe('publishing through the sync service', () => {
  it('creates the event on the server, reserves, uploads, sends the manifest, and the gallery serves it', async () => {
    const published = await cli('publish', 'Sports Day', '--json');
    expect(published.code, published.err).toBe(0);
    const report = JSON.parse(published.out) as { plan: { reservation: { id: string; bytes: number } | null } };
    expect(report.plan.reservation?.bytes).toBeGreaterThan(0);

    const engine = await openEngine({ libraryPath: library, create: false });
    const event = engine.catalog.events.findByName('Sports Day')!;
    const objects = engine.catalog.cloud.objectsOfEvent(event.id).filter((o) => o.variant !== 'manifest');
    await engine.close();
    expect(event.remoteId).toBeTruthy();
    // The keys use the server's event id.
    expect(objects.every((o) => o.key.startsWith(`schools/greenfield/events/${event.remoteId}/`))).toBe(true);

    const client = new SyncClient({ store: fileSessionStore(sessionFile(library)) });
    await client.refresh();
    const schoolId = client.memberships[0]!.schoolId;
    const events = await client.request<{ events: Array<{ id: string; name: string }> }>('GET', `/v1/schools/${schoolId}/events`);
    expect(events.events.map((e) => e.name)).toEqual(['Sports Day']);
    const quota = await client.request<{ usedBytes: number; reservedBytes: number }>('GET', `/v1/schools/${schoolId}/quota`);
    // Committed against the real sizes of what is in the bucket; nothing left reserved.
    expect(quota).toMatchObject({ usedBytes: objects.reduce((sum, o) => sum + o.size, 0), reservedBytes: 0 });

    const media = await client.request<{ media: Array<{ assetId: string; variants: Record<string, { url?: string; size: number }> }> }>(
      'GET',
      `/v1/schools/${schoolId}/events/${event.remoteId}/media`,
    );
    expect(media.media).toHaveLength(2);
    const thumb = media.media[0]!.variants.thumb!;
    const fetched = await fetch(thumb.url!);
    expect(fetched.status).toBe(200);
    const bytes = Buffer.from(await fetched.arrayBuffer());
    const key = objects.find((o) => o.variant === 'thumb' && o.key.includes(media.media[0]!.assetId))!.key;
    const stored = await s3.client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    expect(bytes.equals(Buffer.from(await stored.Body!.transformToByteArray()))).toBe(true);
    expect(fetched.headers.get('content-disposition')).not.toMatch(/IMG_/);
  });

  it('uploads nothing when the school is out of quota, and says how much room is left', async () => {
    // The school's plan, as an admin of the service would lower it.
    const db = new Sqlite(path.join(service.dataDir, 'sync.db'));
    db.prepare('UPDATE plans SET storage_bytes = 1000').run();
    db.close();
    const before = (await s3.client().send(new ListObjectsV2Command({ Bucket: s3.bucket }))).KeyCount ?? 0;
    const refused = await cli('publish', 'Field Trip');
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/Greenfield Primary has .* left; this publish needs/);
    const after = (await s3.client().send(new ListObjectsV2Command({ Bucket: s3.bucket }))).KeyCount ?? 0;
    expect(after).toBe(before);
  });
});
