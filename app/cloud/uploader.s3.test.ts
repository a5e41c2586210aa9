import { AbortMultipartUploadCommand, GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/catalog.ts';
import { useFaultProxy, type FaultProxy } from '../test/fault-proxy.ts';
import { useTempDir, type TempDir } from '../test/fixtures.ts';
import { useS3Server, type S3Server } from '../test/s3-server.ts';
import { staticCredentials } from './credentials.ts';
import { HASH_METADATA, ObjectStore } from './object-store.ts';
import { cloudSettingsSchema, partSizeFor, type CloudSettings } from './settings.ts';
import { fingerprintFile, multipartEtag, Uploader, type UploaderOptions, type UploadRequest } from './uploader.ts';

// The uploader against a real S3 API (s3rver on loopback), through a proxy that injects faults and counts
// every request the store receives.

const MiB = 1024 * 1024;
const CREDS = staticCredentials({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });

/** Bytes that differ per offset and seed, so every part has its own MD5. */
function content(size: number, seed: number): Buffer {
  const buffer = Buffer.alloc(Math.ceil(size / 4) * 4);
  let x = seed * 2654435761;
  for (let i = 0; i < buffer.length; i += 4) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    buffer.writeUInt32LE(x >>> 0, i);
  }
  return buffer.subarray(0, size);
}

interface Rig {
  dir: TempDir;
  s3: S3Server;
  proxy: FaultProxy;
  catalog: Catalog;
  settings: CloudSettings;
  store: ObjectStore;
  uploader(options?: Partial<UploaderOptions>): Uploader;
  file(name: string, size: number, seed?: number): Promise<UploadRequest>;
  stored(key: string): Promise<Buffer>;
}

const open: Array<{ close(): void }> = [];
afterEach(() => {
  for (const thing of open.splice(0)) thing.close();
});

async function rig(overrides: Partial<CloudSettings> = {}): Promise<Rig> {
  const dir = await useTempDir('keepsake-upload-');
  const s3 = await useS3Server();
  const proxy = await useFaultProxy({ host: '127.0.0.1', port: s3.port });
  const catalog = Catalog.open(dir.path);
  catalog.library.ensure('test');
  const settings = cloudSettingsSchema.parse({
    endpoint: proxy.endpoint,
    bucket: s3.bucket,
    pathStyle: true,
    school: 'test-school',
    partSizeMiB: 5,
    concurrency: 2,
    requestTimeoutSec: 5,
    ...overrides,
  });
  const store = new ObjectStore(settings, CREDS);
  open.push(catalog, store);
  return {
    dir,
    s3,
    proxy,
    catalog,
    settings,
    store,
    uploader: (options = {}) => new Uploader({ store, catalog, settings, backoffMs: 20, offlineProbeMs: 100, ...options }),
    async file(name, size, seed = 1) {
      const file = dir.join(name);
      await writeFile(file, content(size, seed));
      return { file, key: `schools/test-school/events/e1/${name}`, fingerprint: await fingerprintFile(file, { preferredPartSize: settings.partSizeMiB * MiB }), contentType: 'application/octet-stream', assetId: null, eventId: null, variant: 'original' };
    },
    async stored(key) {
      const out = await s3.client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
      return Buffer.from(await out.Body!.transformToByteArray());
    },
  };
}

/** Starts an upload and stops it (as a closed laptop would) while part `n` is on its way. */
async function interruptAtPart(r: Rig, request: UploadRequest, n: number): Promise<void> {
  const controller = new AbortController();
  r.proxy.addFault({ match: (q) => q.op === 'UploadPart' && q.partNumber === n, action: { kind: 'hold' } });
  const upload = r.uploader().upload({ ...request, signal: controller.signal });
  await r.proxy.waitFor((q) => q.op === 'UploadPart' && q.partNumber === n);
  controller.abort();
  await expect(upload).rejects.toMatchObject({ code: 'cancelled' });
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const fileSha = async (file: string) => sha(await readFile(file));

describe('Uploader', () => {
  it('puts a small file in one request, verified, and never sends the same bytes twice', async () => {
    const r = await rig();
    const request = await r.file('small.bin', 300_000);
    const result = await r.uploader().upload(request);
    expect(result).toMatchObject({ outcome: 'uploaded', partsSent: 0, verifiedBy: 'etag-md5' });
    expect(sha(await r.stored(request.key))).toBe(await fileSha(request.file));
    const head = await r.s3.client().send(new HeadObjectCommand({ Bucket: r.s3.bucket, Key: request.key }));
    expect(head.Metadata?.[HASH_METADATA]).toBe(request.fingerprint.hash);

    // Known to the catalog: no request at all.
    const before = r.proxy.requests.length;
    expect((await r.uploader().upload(request)).outcome).toBe('unchanged');
    expect(r.proxy.requests.length).toBe(before);

    // Unknown to the catalog (another desktop sent it, or we crashed before recording it): one HEAD, no PUT.
    r.catalog.cloud.deleteObjects([request.key]);
    expect((await r.uploader().upload(request)).outcome).toBe('present');
    expect(r.proxy.count('PutObject')).toBe(1);
    expect(r.proxy.count('HeadObject')).toBe(2);
  });

  it('sends a large file in parts that fit 10,000, records each, and checks the object after completion', async () => {
    expect(partSizeFor(12 * MiB, 5 * MiB)).toBe(5 * MiB);
    expect(partSizeFor(100 * 1024 * MiB, 16 * MiB)).toBe(16 * MiB); // 6,400 parts
    expect(partSizeFor(200 * 1024 * MiB, 16 * MiB)).toBe(21 * MiB); // 200 GiB / 10,000, rounded up to a MiB
    expect(Math.ceil((200 * 1024 * MiB) / partSizeFor(200 * 1024 * MiB, 16 * MiB))).toBeLessThanOrEqual(10_000);

    const r = await rig();
    const request = await r.file('big.bin', 12 * MiB + 12345);
    const result = await r.uploader().upload(request);
    expect(result).toMatchObject({ outcome: 'uploaded', partsSent: 3, partsResumed: 0 });
    // s3rver's object ETag is the whole file's MD5, not S3's MD5-of-parts: verified by every part's ETag.
    expect(result.verifiedBy).toBe('parts');
    expect(sha(await r.stored(request.key))).toBe(await fileSha(request.file));
    expect(r.proxy.count('UploadPart')).toBe(3);
    expect(r.proxy.count('CompleteMultipartUpload')).toBe(1);
    // Done: the in-flight record is gone, the object is recorded.
    expect(r.catalog.cloud.listUploads()).toEqual([]);
    expect(r.catalog.cloud.getObject(request.key)).toMatchObject({ hash: request.fingerprint.hash, size: request.fingerprint.size });
  });

  it('after an interruption sends only the parts the store does not have, reconciling with ListParts', async () => {
    const r = await rig({ concurrency: 1 });
    const request = await r.file('resume.bin', 17 * MiB, 2);
    await interruptAtPart(r, request, 3);
    expect(r.catalog.cloud.partsOf(r.catalog.cloud.getUpload(request.key)!.id).map((p) => p.partNumber)).toEqual([1, 2]);

    // The store got part 2 but the process died before writing it down: ListParts finds it, its MD5 matches.
    const upload = r.catalog.cloud.getUpload(request.key)!;
    r.catalog.cloud.removePart(upload.id, 2);

    // The listing is followed page by page (the store's page is 1,000 parts; here 1).
    const listed = await r.store.listParts(request.key, upload.uploadId, undefined, 1);
    expect(listed.map((p) => p.partNumber)).toEqual([1, 2]);

    const result = await r.uploader().upload(request);
    expect(result).toMatchObject({ outcome: 'uploaded', partsResumed: 2, partsSent: 2 });
    expect(r.proxy.count('ListParts')).toBe(3); // two pages of one above, then the resume's own
    expect(r.proxy.count('CreateMultipartUpload')).toBe(1);
    for (const part of [1, 2]) expect(r.proxy.requests.filter((q) => q.op === 'UploadPart' && q.partNumber === part && q.outcome === 'forwarded')).toHaveLength(1);
    expect(sha(await r.stored(request.key))).toBe(await fileSha(request.file));
  });

  it('starts over cleanly when the store no longer has the multipart upload (NoSuchUpload)', async () => {
    const r = await rig({ concurrency: 1 });
    const request = await r.file('gone.bin', 11 * MiB, 3);
    await interruptAtPart(r, request, 2);
    const upload = r.catalog.cloud.getUpload(request.key)!;
    // Expired or aborted by a lifecycle rule while the laptop was closed.
    await r.s3.client().send(new AbortMultipartUploadCommand({ Bucket: r.s3.bucket, Key: request.key, UploadId: upload.uploadId }));

    const result = await r.uploader().upload(request);
    expect(result.outcome).toBe('uploaded');
    expect(r.proxy.count('CreateMultipartUpload')).toBe(2);
    expect(r.catalog.cloud.listUploads()).toEqual([]);
    expect(sha(await r.stored(request.key))).toBe(await fileSha(request.file));
  });

  it('survives dropped connections, 500s, 503s and a stalled request, and the object is still the file', async () => {
    const r = await rig({ concurrency: 2, requestTimeoutSec: 1 });
    const request = await r.file('faults.bin', 16 * MiB, 4);
    r.proxy.addFault({ match: (q) => q.op === 'UploadPart' && q.partNumber === 2, action: { kind: 'drop', afterBytes: 1 * MiB } });
    r.proxy.addFault({ match: (q) => q.op === 'UploadPart' && q.partNumber === 1, action: { kind: 'status', status: 503 } });
    r.proxy.addFault({ match: (q) => q.op === 'UploadPart' && q.partNumber === 3, action: { kind: 'stall', ms: 2500 } });
    r.proxy.addFault({ match: (q) => q.op === 'CompleteMultipartUpload', action: { kind: 'status', status: 500 } });
    const result = await r.uploader().upload(request);
    expect(result.outcome).toBe('uploaded');
    expect(r.proxy.requests.filter((q) => q.outcome === 'dropped')).toHaveLength(1);
    expect(r.proxy.requests.filter((q) => q.outcome === 'status:503')).toHaveLength(1);
    expect(r.proxy.requests.filter((q) => q.outcome === 'status:500')).toHaveLength(1);
    expect(r.proxy.count('CompleteMultipartUpload')).toBe(2);
    // Each failed part was sent again, and no part that succeeded was.
    for (const part of [1, 2, 3]) {
      expect(r.proxy.requests.filter((q) => q.op === 'UploadPart' && q.partNumber === part && q.outcome === 'forwarded' && q.status === 200)).toHaveLength(1);
    }
    // The stalled part timed out and was sent again; the part no fault touched went once.
    expect(r.proxy.requests.filter((q) => q.op === 'UploadPart' && q.partNumber === 3)).toHaveLength(2);
    expect(r.proxy.requests.filter((q) => q.op === 'UploadPart' && q.partNumber === 4)).toHaveLength(1);
    expect(sha(await r.stored(request.key))).toBe(await fileSha(request.file));
  });

  it('ends verified on a store that rejects the flexible checksum headers, and stops sending them', async () => {
    const r = await rig();
    r.proxy.rejectChecksumHeaders(true);
    const uploader = r.uploader();
    const off: string[] = [];
    uploader.on('checksums-off', (why) => off.push(why));
    const small = await r.file('c-small.bin', 100_000, 5);
    const large = await r.file('c-large.bin', 11 * MiB, 6);
    expect((await uploader.upload(small)).verifiedBy).toBe('etag-md5');
    const result = await uploader.upload(large);
    expect(result.outcome).toBe('uploaded');
    expect(result.verifiedBy).toBe('parts');
    expect(off).toHaveLength(1);
    expect(uploader.checksumsOn).toBe(false);
    expect(r.proxy.requests.filter((q) => q.outcome === 'rejected-checksum')).toHaveLength(1);
    // Everything after the rejection went without them, and with Content-MD5.
    const after = r.proxy.requests.filter((q) => q.outcome === 'forwarded' && (q.op === 'PutObject' || q.op === 'UploadPart'));
    expect(after.every((q) => !Object.keys(q.headers).some((h) => h.startsWith('x-amz-checksum-')) && q.headers['content-md5'])).toBe(true);
    expect(sha(await r.stored(small.key))).toBe(await fileSha(small.file));
    expect(sha(await r.stored(large.key))).toBe(await fileSha(large.file));
  });

  it('reads an object back when the store’s ETag is not an MD5, and catches bytes the store got wrong', async () => {
    const r = await rig();
    const opaque = await r.file('opaque.bin', 200_000, 12);
    r.proxy.addFault({ match: (q) => q.op === 'PutObject', action: { kind: 'etag', etag: 'kms-3f2a-not-an-md5' } });
    expect((await r.uploader().upload(opaque)).verifiedBy).toBe('read-back');
    expect(r.proxy.count('GetObject')).toBe(1);

    // The store says it kept other bytes (another MD5): the object is removed and sent again.
    const damaged = await r.file('damaged.bin', 200_000, 13);
    r.proxy.addFault({ match: (q) => q.op === 'PutObject', action: { kind: 'etag', etag: '0123456789abcdef0123456789abcdef' } });
    await expect(r.uploader({ maxRetries: 0 }).upload(damaged)).rejects.toMatchObject({ code: 'network', message: expect.stringMatching(/not the MD5/) });
    expect(r.proxy.count('DeleteObjects')).toBe(1);
    expect(r.catalog.cloud.getObject(damaged.key)).toBeUndefined();
    expect((await r.uploader().upload(damaged)).outcome).toBe('uploaded');
    expect(sha(await r.stored(damaged.key))).toBe(await fileSha(damaged.file));
  });

  it('sends CRC32 checksums to a store that takes them', async () => {
    const r = await rig();
    const request = await r.file('crc.bin', 6 * MiB, 7);
    await r.uploader().upload(request);
    const parts = r.proxy.requests.filter((q) => q.op === 'UploadPart');
    expect(parts.every((q) => typeof q.headers['x-amz-checksum-crc32'] === 'string' && typeof q.headers['content-md5'] === 'string')).toBe(true);
  });

  it('waits out a lost network without failing, then goes on', async () => {
    const r = await rig({ concurrency: 1 });
    const request = await r.file('offline.bin', 11 * MiB, 8);
    const uploader = r.uploader();
    const events: string[] = [];
    uploader.on('offline', () => {
      events.push('offline');
      setTimeout(() => r.proxy.setOffline(false), 600);
    });
    uploader.on('online', () => events.push('online'));
    r.proxy.addFault({ match: (q) => q.op === 'UploadPart' && q.partNumber === 2, action: { kind: 'hold' } });
    const upload = uploader.upload(request);
    await r.proxy.waitFor((q) => q.op === 'UploadPart' && q.partNumber === 2);
    r.proxy.setOffline(true);
    const result = await upload;
    expect(result.outcome).toBe('uploaded');
    expect(events).toEqual(['offline', 'online']);
    expect(sha(await r.stored(request.key))).toBe(await fileSha(request.file));
  });

  it('holds to the bandwidth limit and reports progress with a rate and an ETA', async () => {
    const r = await rig({ limitKbps: 4000 });
    const request = await r.file('slow.bin', 6 * MiB, 9);
    const uploader = r.uploader();
    uploader.expect(1, request.fingerprint.size);
    const seen: Array<{ bytes: number; rate: number; eta: number | null }> = [];
    uploader.on('progress', (p) => seen.push({ bytes: p.bytesSent, rate: p.rate, eta: p.etaSec }));
    const started = performance.now();
    await uploader.upload(request);
    const seconds = (performance.now() - started) / 1000;
    // 6 MiB at 4 MB/s is 1.57 s; the bucket allows a quarter second of burst.
    expect(seconds).toBeGreaterThan(1.2);
    expect(seen.length).toBeGreaterThan(3);
    expect(seen.at(-1)!.bytes).toBe(request.fingerprint.size);
    const mid = seen.find((s) => s.bytes > request.fingerprint.size / 3 && s.bytes < request.fingerprint.size * 0.9);
    expect(mid?.rate).toBeGreaterThan(1_000_000);
    expect(mid?.rate).toBeLessThan(8_000_000);
    expect(mid?.eta).toBeGreaterThan(0);
  });

  it('counts the parts a resume finds on the store as sent, but not in the rate', async () => {
    const r = await rig({ limitKbps: 4000, concurrency: 1 });
    const resumed = await r.file('resumed.bin', 15 * MiB, 11);
    await interruptAtPart(r, resumed, 3);
    const fresh = await r.file('fresh.bin', 6 * MiB, 12);
    const uploader = r.uploader();
    uploader.expect(2, fresh.fingerprint.size + resumed.fingerprint.size);
    const rates: number[] = [];
    uploader.on('progress', (p) => rates.push(p.rate));
    await uploader.upload(fresh);
    const before = rates.length;
    expect(await uploader.upload(resumed)).toMatchObject({ outcome: 'uploaded', partsResumed: 2, partsSent: 1 });
    expect(uploader.progress().bytesSent).toBe(fresh.fingerprint.size + resumed.fingerprint.size);
    // Right after one file went at the limit (4 MB/s, a quarter second of burst), the 10 MiB already on the
    // store must not show as a burst of speed.
    expect(rates.length).toBeGreaterThan(before);
    expect(Math.max(...rates.slice(before))).toBeLessThan(8_000_000);
  });

  it('starts no request while paused, and goes on when resumed', async () => {
    const r = await rig();
    const request = await r.file('paused.bin', 200_000, 10);
    const uploader = r.uploader();
    uploader.pause();
    const upload = uploader.upload(request);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(r.proxy.count('PutObject')).toBe(0);
    uploader.resume();
    expect((await upload).outcome).toBe('uploaded');
  });

  it('says clearly when the credentials are wrong, without retrying', async () => {
    const r = await rig();
    // s3rver checks the access key id but not V4 signatures, so the wrong key is the id.
    const store = new ObjectStore(r.settings, staticCredentials({ accessKeyId: 'NOT-A-KEY', secretAccessKey: 'wrong' }));
    open.push(store);
    const uploader = new Uploader({ store, catalog: r.catalog, settings: r.settings, backoffMs: 20 });
    const request = await r.file('denied.bin', 1000, 11);
    await expect(uploader.upload(request)).rejects.toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/refused the credentials/) });
    expect(r.proxy.requests).toHaveLength(1);
  });

  it('computes the multipart ETag S3 gives (MD5 of the part MD5s)', () => {
    const parts = [content(100, 1), content(100, 2)];
    const md5s = parts.map((p) => createHash('md5').update(p).digest('hex'));
    const expected = createHash('md5').update(Buffer.concat(md5s.map((m) => Buffer.from(m, 'hex')))).digest('hex');
    expect(multipartEtag([{ partNumber: 2, md5: md5s[1]! }, { partNumber: 1, md5: md5s[0]! }])).toBe(`${expected}-2`);
  });
});
