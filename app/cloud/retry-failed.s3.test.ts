import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { openEngine, type Engine } from '../engine.ts';
import { createDispatcher, type Dispatcher } from '../ipc/dispatcher.ts';
import type { UploadsView } from '../ipc/publish-contract.ts';
import { useFaultProxy } from '../test/fault-proxy.ts';
import { makeJpeg, useTempDir } from '../test/fixtures.ts';
import { useS3Server } from '../test/s3-server.ts';
import { staticCredentials } from './credentials.ts';

// The upload queue's failures through the contract, over a real library and s3rver behind a proxy that
// refuses two photos' uploads: each failure is listed with its reason and an id, retrying one id queues
// that upload alone (and it then arrives), and retrying without ids takes the rest.

const SCHOOL = 'greenfield';
const open: Array<{ engine: Engine; dispatcher: Dispatcher }> = [];
afterEach(async () => {
  for (const { engine, dispatcher } of open.splice(0)) {
    await dispatcher.close();
    await engine.close();
  }
});

describe('retrying chosen failed uploads', () => {
  it('lists each failure with its reason, retries only the id asked for, and the rest on "retry all"', async () => {
    const dir = await useTempDir('keepsake-retry-');
    const s3 = await useS3Server();
    const proxy = await useFaultProxy({ host: '127.0.0.1', port: s3.port });
    for (let i = 1; i <= 3; i += 1) {
      await makeJpeg(dir.join('card', `IMG_000${i}.JPG`), { seed: i, width: 640, height: 480, exif: { dateTimeOriginal: `2026:05:14 10:0${i}:00` } });
    }
    const engine = await openEngine({
      libraryPath: dir.join('library'),
      logSink: () => undefined,
      credentials: staticCredentials({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }),
      uploaderTiming: { maxRetries: 1, backoffMs: 10 },
    });
    const dispatcher = createDispatcher(engine, { feedPollMs: 0 });
    open.push({ engine, dispatcher });
    const call = async <T>(method: string, input: unknown = {}): Promise<T> => {
      const result = await dispatcher.call(method, input);
      if (!result.ok) throw new Error(`${method}: ${result.error.code}: ${result.error.message}`);
      return result.value as T;
    };
    const report = await engine.imports.run({ source: dir.join('card'), event: 'Sports Day' });
    engine.cloud.configure({ endpoint: proxy.endpoint, bucket: s3.bucket, pathStyle: true, school: SCHOOL, concurrency: 1 });
    const assets = engine.catalog.assets.listEventPage(report.event.id as never, { limit: 10 }).items;
    const byName = (name: string) => assets.find((a) => a.originalName === name)!;
    const [one, two, three] = ['IMG_0001.JPG', 'IMG_0002.JPG', 'IMG_0003.JPG'].map(byName);
    // The store refuses every upload of the first two photos (a permanent refusal: no retry helps).
    const refusing = [one!.hash, two!.hash];
    const removeFault = proxy.addFault({
      match: (q) => (q.op === 'PutObject' || q.op === 'CreateMultipartUpload') && refusing.some((hash) => q.key?.includes(`/${hash}/`) === true),
      times: Infinity,
      action: { kind: 'status', status: 400, code: 'InvalidObjectName' },
    });

    await engine.cloud.publisher.publish(report.event.id as never);
    engine.jobs.start();
    await engine.jobs.whenIdle(['publish', 'manifest']);
    const failed = await call<UploadsView>('uploads:status');
    expect(failed.queue).toMatchObject({ failed: 2, queued: 0, running: 0 });
    expect(failed.failures.map((f) => f.name).sort()).toEqual(['IMG_0001.jpg', 'IMG_0002.jpg']);
    for (const failure of failed.failures) expect(failure.reason).toMatch(/InvalidObjectName/);
    const idOf = (name: string) => failed.failures.find((f) => f.name === name)!.id;
    expect(new Set(failed.failures.map((f) => f.id)).size).toBe(2);
    expect(engine.catalog.cloud.objectsOfAsset(three!.id).length).toBeGreaterThan(0);

    // The contract is strict: an empty list, a bad id or too many ids are refused, and nothing is queued.
    for (const ids of [[], [0], [1.5], Array.from({ length: 1001 }, (_, i) => i + 1)]) {
      expect(await dispatcher.call('uploads:retry', { ids })).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
    }
    expect(await dispatcher.call('uploads:retry', { ids: [idOf('IMG_0001.jpg')], all: true })).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
    expect(engine.catalog.jobs.countsByKind().publish).toMatchObject({ failed: 2, queued: 0, running: 0 });

    // The store takes them again; the photographer retries the first photo only (an id that is not a
    // failed upload, a job that is done or none at all, is ignored).
    removeFault();
    const doneId = Array.from({ length: 50 }, (_, i) => i + 1).find((id) => engine.catalog.cloud.jobState(id) === 'done')!;
    expect(doneId).toBeDefined();
    const retried = await call<UploadsView & { retried: number }>('uploads:retry', { ids: [idOf('IMG_0001.jpg'), doneId, 2 ** 40] });
    expect(retried.retried).toBe(1);
    expect(retried.failures.map((f) => f.name)).toEqual(['IMG_0002.jpg']);
    await engine.jobs.whenIdle(['publish', 'manifest']);
    const afterOne = await call<UploadsView>('uploads:status');
    expect(afterOne.failures.map((f) => ({ id: f.id, name: f.name }))).toEqual([{ id: idOf('IMG_0002.jpg'), name: 'IMG_0002.jpg' }]);
    expect(afterOne.queue.failed).toBe(1);
    const stored = async (hash: string): Promise<string[]> => {
      const out = await s3.client().send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `schools/${SCHOOL}/` }));
      return (out.Contents ?? []).map((o) => o.Key!).filter((key) => key.includes(`/${hash}/`));
    };
    const firstKeys = await stored(one!.hash);
    expect(firstKeys.length).toBeGreaterThan(0);
    for (const key of firstKeys) expect((await s3.client().send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }))).ContentLength).toBeGreaterThan(0);
    expect(await stored(two!.hash)).toEqual([]);
    expect(engine.catalog.cloud.publicationCounts(report.event.id as never)).toMatchObject({ published: 2 });

    // Retrying the same id again queues nothing: it is no longer failed.
    expect((await call<UploadsView & { retried: number }>('uploads:retry', { ids: [idOf('IMG_0001.jpg')] })).retried).toBe(0);

    // "Retry all" takes what is left.
    const all = await call<UploadsView & { retried: number }>('uploads:retry', {});
    expect(all.retried).toBe(1);
    await engine.jobs.whenIdle(['publish', 'manifest']);
    const done = await call<UploadsView>('uploads:status');
    expect(done.failures).toEqual([]);
    expect(done.queue).toMatchObject({ failed: 0, queued: 0, running: 0 });
    expect((await stored(two!.hash)).length).toBe(firstKeys.length);
    expect(engine.catalog.cloud.publicationCounts(report.event.id as never)).toMatchObject({ published: 3 });
  }, 120_000);
});
