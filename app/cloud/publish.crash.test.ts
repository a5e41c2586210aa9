import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { derivativeDir } from '../media/derivatives/derivative-paths.ts';
import { openEngine } from '../engine.ts';
import { staticCredentials } from './credentials.ts';
import { HASH_METADATA } from './object-store.ts';
import { useFaultProxy, type FaultProxy, type ProxiedRequest } from '../test/fault-proxy.ts';
import { useTempDir } from '../test/fixtures.ts';
import { useS3Server } from '../test/s3-server.ts';

// kill -9 of a real `keepsake publish` process at three points of a multipart upload (after part 1, after
// part N-1, before CompleteMultipartUpload), then the same command again: every request the store received
// is counted by the proxy, to show finished parts are not sent again and the object is the file's bytes.

const BIN = fileURLToPath(new URL('../../bin/keepsake.mjs', import.meta.url));
const MiB = 1024 * 1024;

/** A 12-megapixel photo of noise: about 11 MB, so its original goes up in three 5 MiB parts. */
async function bigPhoto(file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const jpeg = await sharp({ create: { width: 4000, height: 3000, channels: 3, background: { r: 0, g: 0, b: 0 }, noise: { type: 'gaussian', mean: 128, sigma: 50 } } })
    .withExif({ IFD0: { Make: 'Canon', Model: 'EOS R6' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1' } })
    .jpeg({ quality: 95 })
    .toBuffer();
  await writeFile(file, jpeg);
}

function publish(library: string, env: NodeJS.ProcessEnv): { child: ChildProcess; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string }> } {
  const child = spawn(process.execPath, [BIN, 'publish', 'Field Trip', '--originals', '--library', library, '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  child.stdout!.resume();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, err })));
  return { child, exit };
}

const isPart = (n: number) => (q: ProxiedRequest) => q.op === 'UploadPart' && q.partNumber === n;
const CRASH_POINTS = [
  { name: 'after part 1', at: isPart(2) },
  { name: 'after part N-1', at: isPart(3) },
  { name: 'before completing', at: (q: ProxiedRequest) => q.op === 'CompleteMultipartUpload' },
];

describe('publish survives kill -9', () => {
  it.each(CRASH_POINTS)('$name: the next run sends only what is missing, and the object is the file', async ({ at }) => {
    const dir = await useTempDir('keepsake-crash-publish-');
    const s3 = await useS3Server();
    const proxy: FaultProxy = await useFaultProxy({ host: '127.0.0.1', port: s3.port });
    await bigPhoto(dir.join('card', 'DCIM', '100CANON', 'IMG_0001.JPG'));
    const library = dir.join('library');
    {
      const engine = await openEngine({ libraryPath: library, credentials: staticCredentials({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }) });
      await engine.imports.run({ source: dir.join('card'), event: 'Field Trip' });
      // One request at a time, so "after part 1" is exactly that.
      engine.cloud.configure({ endpoint: proxy.endpoint, bucket: s3.bucket, pathStyle: true, school: 'greenfield', allowOriginals: true, partSizeMiB: 5, concurrency: 1 });
      await engine.close();
    }
    const env = { ...process.env, KEEPSAKE_S3_ACCESS_KEY_ID: 'S3RVER', KEEPSAKE_S3_SECRET_ACCESS_KEY: 'S3RVER', KEEPSAKE_UPLOAD_BACKOFF_MS: '50' };

    const removeHold = proxy.addFault({ match: at, action: { kind: 'hold' } });
    const first = publish(library, env);
    await proxy.waitFor(at, { timeoutMs: 60_000 });
    first.child.kill('SIGKILL');
    expect((await first.exit).signal).toBe('SIGKILL');
    removeHold();
    const sentBefore = proxy.requests.filter((q) => q.outcome === 'forwarded' && q.status === 200);

    const second = publish(library, env);
    const done = await second.exit;
    expect(done.code, done.err).toBe(0);

    const ok = proxy.requests.filter((q) => q.outcome === 'forwarded' && q.status === 200);
    const okAfter = ok.slice(sentBefore.length);
    // Each part reached the store once over both runs; the killed run's last part only in the second.
    for (const n of [1, 2, 3]) expect(ok.filter(isPart(n)), `part ${n}`).toHaveLength(1);
    const partsBefore = sentBefore.filter((q) => q.op === 'UploadPart').map((q) => q.partNumber);
    expect(okAfter.filter((q) => q.op === 'UploadPart').map((q) => q.partNumber)).toEqual([1, 2, 3].filter((n) => !partsBefore.includes(n)));
    // The upload was resumed, not restarted: one CreateMultipartUpload, one ListParts in the second run.
    expect(ok.filter((q) => q.op === 'CreateMultipartUpload')).toHaveLength(1);
    expect(okAfter.filter((q) => q.op === 'ListParts')).toHaveLength(1);
    // The thumbnail and preview finished before the kill: not sent again.
    expect(ok.filter((q) => q.op === 'PutObject' && /\/(thumb\.webp|preview\.jpg)$/.test(q.key ?? '')).map((q) => path.basename(q.key!)).sort()).toEqual(['preview.jpg', 'thumb.webp']);

    // The object's bytes are the stripped original's, and carry its hash.
    const engine = await openEngine({ libraryPath: library, create: false });
    const asset = engine.catalog.assets.listTimelinePage({ limit: 1 }).items[0]!;
    const original = engine.catalog.cloud.objectsOfAsset(asset.id).find((o) => o.variant === 'original')!;
    await engine.close();
    const local = await readFile(path.join(derivativeDir(library, asset.hash), 'original.jpg'));
    expect(local.length).toBeGreaterThan(2 * 5 * MiB);
    const stored = await s3.client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: original.key }));
    const bytes = Buffer.from(await stored.Body!.transformToByteArray());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(createHash('sha256').update(local).digest('hex'));
    const head = await s3.client().send(new HeadObjectCommand({ Bucket: s3.bucket, Key: original.key }));
    expect(head.Metadata?.[HASH_METADATA]).toBe(original.hash);
  }, 120_000);
});
