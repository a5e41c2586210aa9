import { writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/catalog.ts';
import { useFaultProxy } from '../test/fault-proxy.ts';
import { useTempDir } from '../test/fixtures.ts';
import { useS3Server } from '../test/s3-server.ts';
import { staticCredentials } from './credentials.ts';
import { ObjectStore } from './object-store.ts';
import { cloudSettingsSchema } from './settings.ts';
import { fingerprintFile, Uploader, type UploadRequest } from './uploader.ts';

// Pausing with more requests waiting than there are request slots: those queued behind the slot must not
// start when it frees (s3rver behind a proxy that holds the first request and counts the rest).

const open: Array<{ close(): void }> = [];
afterEach(() => {
  for (const thing of open.splice(0)) thing.close();
});

describe(Uploader.name, () => {
  it('starts no request queued for a slot once paused, and sends it on resume', async () => {
    const dir = await useTempDir('keepsake-upload-pause-');
    const s3 = await useS3Server();
    const proxy = await useFaultProxy({ host: '127.0.0.1', port: s3.port });
    const catalog = Catalog.open(dir.path);
    catalog.library.ensure('test');
    const settings = cloudSettingsSchema.parse({ endpoint: proxy.endpoint, bucket: s3.bucket, pathStyle: true, school: 'test-school', concurrency: 1, requestTimeoutSec: 5 });
    const store = new ObjectStore(settings, staticCredentials({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }));
    open.push(catalog, store);
    const uploader = new Uploader({ store, catalog, settings, backoffMs: 20 });
    const request = async (name: string, seed: number): Promise<UploadRequest> => {
      const file = dir.join(name);
      await writeFile(file, Buffer.alloc(50_000, seed));
      return { file, key: `schools/test-school/events/e1/${name}`, fingerprint: await fingerprintFile(file), contentType: 'application/octet-stream', assetId: null, eventId: null, variant: 'original' };
    };
    const [first, second] = await Promise.all([request('first.bin', 1), request('second.bin', 2)]);
    proxy.addFault({ match: (q) => q.op === 'PutObject', action: { kind: 'hold' }, times: 1 });
    const firstUpload = uploader.upload(first);
    await proxy.waitFor((q) => q.op === 'PutObject');
    // The second waits for the only slot, which the held first request has.
    const secondUpload = uploader.upload(second);
    await new Promise((resolve) => setTimeout(resolve, 200));
    uploader.pause();
    const before = proxy.requests.length;
    proxy.releaseHeld();
    expect((await firstUpload).outcome).toBe('uploaded');
    await new Promise((resolve) => setTimeout(resolve, 1200));
    // Not even the second's HeadObject went out.
    expect(proxy.requests.slice(before).map((q) => q.op)).toEqual([]);
    uploader.resume();
    expect((await secondUpload).outcome).toBe('uploaded');
    expect(proxy.count('PutObject')).toBe(2);
  });
});
