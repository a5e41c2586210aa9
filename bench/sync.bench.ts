import { PutObjectCommand } from '@aws-sdk/client-s3';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import pg from 'pg';
import { startS3Server, type S3Server } from '../app/test/s3-server.ts';
import { REPO_ROOT, checkRow, compareRow, median, timeOnce, type BenchOptions, type BenchReport, type ResultRow } from './lib/harness.ts';
import { BENCH_VARIANTS, manifestKey, type SyncChildJob, type SyncChildReady, type SyncParentMessage } from './sync.child.ts';

const CHILD = fileURLToPath(new URL('./sync.child.ts', import.meta.url));
const POSTGRES_URL = process.env.KEEPSAKE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const BUCKET = 'bench';
const SLUG = 'bench';
const OBJECT_SIZE = 16;
const P99_TARGET_MS = 50;
/**
 * Parents browsing: each of the 500 asks for a page (100 photos) or opens a photo every BROWSE_EVERY_S seconds —
 * quicker than anyone looks through a hundred photos. The other load, every connection sending its next request
 * the moment the last is answered, is 500 robots: it measures throughput, and its p99 is mostly queueing
 * (Little's law: p99 under 50 ms at 500 in flight would take over 10,000 req/s).
 */
const BROWSE_EVERY_S = 2;
const PUBLISH_TARGET_S = 1;

interface Spec {
  parents: number;
  connections: number;
  seconds: number;
  galleryAssets: number;
  publishAssets: number;
  publishRuns: number;
}
/** `KEEPSAKE_BENCH_SYNC_ONLY=publish`: the manifest publish alone (no gallery or presign load, no floor). */
const PUBLISH_ONLY = process.env.KEEPSAKE_BENCH_SYNC_ONLY === 'publish';
const FULL: Spec = { parents: 500, connections: 500, seconds: 10, galleryAssets: 2000, publishAssets: 2000, publishRuns: 2 };
const QUICK: Spec = { parents: 50, connections: 50, seconds: 3, galleryAssets: 2000, publishAssets: 200, publishRuns: 2 };

// autocannon ships no types; the part used here.
interface AutocannonClient {
  setHeaders(headers: Record<string, string>): void;
}
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; max: number; average: number };
  throughput: { average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  timeout?: number;
  setupClient?: (client: AutocannonClient) => void;
}) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

interface LoadFigures {
  rps: number;
  p50: number;
  p99: number;
  max: number;
  requests: number;
  ok: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  mbPerSecond: number;
  /** Seconds the server went on answering (abandoned) requests after the load stopped. */
  drainedSeconds: number;
}

/** `connections` connections for `seconds`, each with its own token (round the list), after a 1 s warm-up. */
async function load(url: string, tokens: readonly string[], connections: number, seconds: number, log: (line: string) => void): Promise<LoadFigures> {
  const port = Number(new URL(url).port);
  const setup = () => {
    let next = 0;
    return (client: AutocannonClient) => client.setHeaders({ authorization: `Bearer ${tokens[next++ % tokens.length] ?? ''}` });
  };
  await autocannon({ url, connections: Math.min(connections, 4), duration: 1, setupClient: setup() });
  await settle(port);
  const r = await autocannon({ url, connections, duration: seconds, timeout: 10, setupClient: setup() });
  const drained = await settle(port);
  if (drained > 0.5) log(`sync: the server took ${drained.toFixed(1)} s after the load to answer what was still queued`);
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    requests: r.requests.total,
    ok: r['2xx'],
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    mbPerSecond: r.throughput.average / 1e6,
    drainedSeconds: drained,
  };
}

/**
 * Parents browsing, each on their own keep-alive connection with their own token: a parent asks, reads the answer,
 * then looks at it for a while — exponentially distributed with a mean of `everyS` seconds — before asking again;
 * the first asks start spread over `everyS`. Arrivals are independent, as people's are (autocannon's `overallRate`
 * instead releases every connection's request at the same tick of each second: a burst, not a crowd). A latency is
 * from sending to the last byte of the answer; requests still out at the end are waited for and counted. The first
 * `everyS` seconds, while the parents arrive and open their connections, are a warm-up: their answers are not
 * counted (errors are).
 */
async function browse(url: string, tokens: readonly string[], parents: number, seconds: number, everyS: number): Promise<LoadFigures> {
  const target = new URL(url);
  const latencies: number[] = [];
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let bytes = 0;
  const endAt = performance.now() + seconds * 1000;
  const think = () => -Math.log(1 - Math.random()) * everyS * 1000;
  const countFrom = performance.now() + everyS * 1000;
  const ask = (agent: http.Agent, token: string) =>
    new Promise<void>((resolve) => {
      const sent = performance.now();
      const counted = sent >= countFrom;
      const request = http.get({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, agent, headers: { authorization: `Bearer ${token}` }, timeout: 10_000 }, (response) => {
        response.on('data', (chunk: Buffer) => (bytes += chunk.length));
        response.on('end', () => {
          const good = (response.statusCode ?? 0) >= 200 && (response.statusCode ?? 0) < 300;
          if (!good) non2xx += 1;
          else if (counted) {
            latencies.push(performance.now() - sent);
            ok += 1;
          }
          resolve();
        });
      });
      request.on('timeout', () => request.destroy(new Error('timeout')));
      request.on('error', () => {
        errors += 1;
        resolve();
      });
    });
  await Promise.all(
    Array.from({ length: parents }, async (_, i) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const token = tokens[i % tokens.length] ?? '';
      await new Promise((resolve) => setTimeout(resolve, Math.random() * everyS * 1000));
      while (performance.now() < endAt) {
        await ask(agent, token);
        await new Promise((resolve) => setTimeout(resolve, Math.min(think(), Math.max(0, endAt - performance.now()))));
      }
      agent.destroy();
    }),
  );
  const elapsed = (performance.now() - countFrom) / 1000;
  const sorted = latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0);
  return {
    rps: latencies.length / elapsed,
    p50: at(0.5),
    p99: at(0.99),
    max: Math.round(sorted.at(-1) ?? 0),
    requests: latencies.length + errors + non2xx,
    ok,
    errors,
    timeouts: 0,
    non2xx,
    mbPerSecond: bytes / elapsed / 1e6,
    drainedSeconds: 0,
  };
}

/**
 * Waits until the server has worked off what a load left queued (autocannon stops sending, but the requests it
 * sent are still being answered): five /healthz answers in a row under 10 ms, or 300 s. Returns the seconds waited.
 */
async function settle(port: number): Promise<number> {
  const start = performance.now();
  let quick = 0;
  while (quick < 5 && performance.now() - start < 300_000) {
    const t = performance.now();
    await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.text());
    quick = performance.now() - t < 10 ? quick + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return (performance.now() - start) / 1000;
}

/** A forked child; `ready` resolves with its first message, `request` sends one and waits for the next. */
interface Child {
  process: ChildProcess;
  ready: SyncChildReady;
  request(message: SyncParentMessage): Promise<void>;
  stop(): Promise<void>;
}

async function startChild(job: SyncChildJob): Promise<Child> {
  const child = fork(CHILD, [JSON.stringify(job)], { cwd: REPO_ROOT, execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const nextMessage = () =>
    new Promise<unknown>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`sync.child.ts exited with ${code}`));
      child.once('exit', onExit);
      child.once('message', (message) => {
        child.off('exit', onExit);
        resolve(message);
      });
    });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (child.connected) child.send({ type: 'stop' } satisfies SyncParentMessage);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const ready = (await nextMessage()) as SyncChildReady;
    return {
      process: child,
      ready,
      request: async (message) => {
        const answer = nextMessage();
        child.send(message);
        await answer;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The manifest body: `assets` photos × 3 variants, all of them tiny objects in s3rver. */
function manifest(assets: number): { assets: unknown[] } {
  return {
    assets: Array.from({ length: assets }, (_, i) => {
      const id = `pub-${String(i).padStart(5, '0')}`;
      return {
        id,
        kind: 'photo',
        capturedAt: '2026-07-01T10:00:00.000Z',
        width: 4000,
        height: 3000,
        durationSec: null,
        rating: 3,
        title: `IMG_${2000 + i}`,
        description: null,
        tags: ['fair'],
        people: [],
        variants: Object.fromEntries(BENCH_VARIANTS.map((variant) => [variant, { key: manifestKey(SLUG, id, variant), size: OBJECT_SIZE, hash: `h-${id}-${variant}` }])),
      };
    }),
  };
}

/** Puts the manifest's objects (tiny) into s3rver, 32 at a time. */
async function seedObjects(s3: S3Server, assets: number): Promise<number> {
  const client = s3.client();
  const keys = Array.from({ length: assets }, (_, i) => `pub-${String(i).padStart(5, '0')}`).flatMap((id) => BENCH_VARIANTS.map((variant) => manifestKey(SLUG, id, variant)));
  const body = Buffer.alloc(OBJECT_SIZE, 'x');
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < keys.length) {
        const key = keys[next++]!;
        await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
      }
    }),
  );
  return keys.length;
}

/** Figures of a load that was not run (`KEEPSAKE_BENCH_SYNC_ONLY=publish`). */
const NO_LOAD: LoadFigures = { rps: 0, p50: 0, p99: 0, max: 0, requests: 0, ok: 0, errors: 0, timeouts: 0, non2xx: 0, mbPerSecond: 0, drainedSeconds: 0 };

/** Requests by S3 operation. */
function countOps(requests: ReadonlyArray<{ op: string }>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const request of requests) counts[request.op] = (counts[request.op] ?? 0) + 1;
  return counts;
}

/** The two publish rows of a database's run: checked against s3rver, and with the store's checks answered in-process. */
function publishRows(r: DatabaseRun, spec: Spec): ResultRow[] {
  const requests = Object.entries(r.publishRequests)
    .map(([op, n]) => `${n} ${op}`)
    .join(', ');
  return [
    checkRow({
      what: `${r.database}: publish ${spec.publishAssets} × 3 (checked against s3rver)`,
      unit: 's',
      ours: median(r.publishS3),
      target: `< ${PUBLISH_TARGET_S} s`,
      pass: median(r.publishS3) < PUBLISH_TARGET_S,
      note: `median of ${r.publishS3.length} PUTs end to end (JSON upload, ${spec.publishAssets * 3} objects checked by listing the event's prefix: ${requests || 'no requests'}, the transaction); runs ${r.publishS3.map((s) => s.toFixed(3)).join(', ')} s`,
    }),
    checkRow({
      what: `${r.database}: publish, store checks excluded`,
      unit: 's',
      ours: median(r.publishMap),
      target: `< ${PUBLISH_TARGET_S} s`,
      pass: median(r.publishMap) < PUBLISH_TARGET_S,
      note: `the child's ObjectStore answers in-process (MediaSettings.store is injectable); the store checks' share ≈ ${(median(r.publishS3) - median(r.publishMap)).toFixed(3)} s; runs ${r.publishMap.map((s) => s.toFixed(3)).join(', ')} s`,
    }),
  ];
}

interface DatabaseRun {
  database: 'sqlite' | 'postgres';
  idlePage: number;
  idlePresign: number;
  seedSeconds: number;
  pageBytes: number;
  gallery: LoadFigures;
  presign: LoadFigures;
  /** The same requests at the pace of parents browsing (see {@link BROWSE_EVERY_S}). */
  galleryBrowsing: LoadFigures;
  presignBrowsing: LoadFigures;
  publishS3: number[];
  /** Requests s3rver received during one s3-checked publish, by operation. */
  publishRequests: Record<string, number>;
  publishMap: number[];
  publishStatus: number[];
}

/**
 * The sync service in a child process on SQLite and on PostgreSQL: a gallery page and one presign under
 * load (autocannon, here), and publishing a manifest checked against s3rver (here); then the floor, bare
 * Fastify serving a page of the same size.
 */
export async function run(options: BenchOptions): Promise<BenchReport> {
  const spec = options.quick ? QUICK : FULL;
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'keepsake-sync-bench-'));
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  let schemaMade = false;
  let s3: S3Server | null = null;
  const children = new Set<Child>();
  const rows: ResultRow[] = [];
  const details: Record<string, unknown> = { spec, postgres: POSTGRES_URL, objectSize: OBJECT_SIZE };

  const admin = async (query: string) => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
    await client.connect();
    try {
      await client.query(query);
    } finally {
      await client.end();
    }
  };

  try {
    s3 = await startS3Server({ bucket: BUCKET });
    const seeded = await timeOnce(() => seedObjects(s3!, spec.publishAssets));
    options.log(`sync: put ${seeded.value} objects of ${OBJECT_SIZE} bytes into s3rver in ${seeded.seconds.toFixed(1)} s (not timed)`);
    const body = JSON.stringify(manifest(spec.publishAssets));

    const runs: DatabaseRun[] = [];
    let pageFile: string | null = null;
    let lastTokens: string[] = ['floor'];
    for (const database of ['sqlite', 'postgres'] as const) {
      if (database === 'postgres') {
        await admin(`create schema ${schema}`);
        schemaMade = true;
      }
      const job: SyncChildJob = {
        mode: 'service',
        database: database === 'sqlite' ? { kind: 'sqlite', file: path.join(tmp, 'sync.db') } : { kind: 'postgres', connectionString: POSTGRES_URL, schema },
        s3: { endpoint: s3.endpoint, bucket: s3.bucket },
        slug: SLUG,
        parents: spec.parents,
        assets: spec.galleryAssets,
        objectSize: OBJECT_SIZE,
      };
      const child = await startChild(job);
      children.add(child);
      try {
        const ready = child.ready;
        const base = `http://127.0.0.1:${ready.port}/v1/schools/${ready.schoolId}/events`;
        const tokens = ready.parentTokens ?? [];
        lastTokens = tokens;
        options.log(`sync/${database}: seeded ${spec.parents} parents, ${spec.galleryAssets} assets × 3 variants in ${(ready.seedSeconds ?? 0).toFixed(1)} s (migrations included)`);

        const galleryUrl = `${base}/${ready.galleryEventId}/media?limit=100`;
        let idlePage = 0;
        let idlePresign = 0;
        let gallery = NO_LOAD;
        let presign = NO_LOAD;
        let galleryBrowsing = NO_LOAD;
        let presignBrowsing = NO_LOAD;
        const first = await fetch(galleryUrl, { headers: { authorization: `Bearer ${tokens[0]}` } });
        const text = await first.text();
        const page = JSON.parse(text) as { media?: unknown[] };
        if (first.status !== 200 || page.media?.length !== 100) throw new Error(`gallery page: ${first.status} ${text.slice(0, 300)}`);
        if (pageFile === null) {
          pageFile = path.join(tmp, 'page.json');
          await writeFile(pageFile, text);
        }

        if (!PUBLISH_ONLY) {
          // One at a time on the idle server: the cost of a request before any queueing.
          const asset = ready.assetIds?.[Math.floor(spec.galleryAssets / 2)] ?? '';
          const presignUrl = `${base}/${ready.galleryEventId}/media/${asset}/preview`;
          const idle = async (url: string): Promise<number> => {
            const samples: number[] = [];
            for (let i = 0; i < 7; i++) {
              const t = performance.now();
              const response = await fetch(url, { headers: { authorization: `Bearer ${tokens[i % tokens.length]}` } });
              await response.text();
              if (response.status !== 200) throw new Error(`${url}: ${response.status}`);
              if (i >= 2) samples.push(performance.now() - t);
            }
            return median(samples);
          };
          idlePage = await idle(galleryUrl);
          idlePresign = await idle(presignUrl);
          options.log(`sync/${database}: one request at a time: gallery page ${idlePage.toFixed(1)} ms, presign ${idlePresign.toFixed(1)} ms (medians of 5)`);
          options.log(`sync/${database}: gallery page (${(text.length / 1024).toFixed(0)} KiB), ${spec.connections} connections × ${spec.seconds} s`);
          gallery = await load(galleryUrl, tokens, spec.connections, spec.seconds, options.log);
          options.log(`sync/${database}: gallery ${gallery.rps.toFixed(0)} req/s, p50 ${gallery.p50} ms, p99 ${gallery.p99} ms, errors ${gallery.errors}, timeouts ${gallery.timeouts}, non-2xx ${gallery.non2xx}`);
          presign = await load(presignUrl, tokens, spec.connections, spec.seconds, options.log);
          options.log(`sync/${database}: presign ${presign.rps.toFixed(0)} req/s, p50 ${presign.p50} ms, p99 ${presign.p99} ms, errors ${presign.errors}, timeouts ${presign.timeouts}, non-2xx ${presign.non2xx}`);
          const browseRate = spec.parents / BROWSE_EVERY_S;
          galleryBrowsing = await browse(galleryUrl, tokens, spec.parents, spec.seconds, BROWSE_EVERY_S);
          options.log(`sync/${database}: ${spec.parents} parents browsing (~${browseRate} pages/s): p50 ${galleryBrowsing.p50} ms, p99 ${galleryBrowsing.p99} ms, errors ${galleryBrowsing.errors}, non-2xx ${galleryBrowsing.non2xx}`);
          presignBrowsing = await browse(presignUrl, tokens, spec.parents, spec.seconds, BROWSE_EVERY_S);
          options.log(`sync/${database}: ${spec.parents} parents opening photos (~${browseRate}/s): p50 ${presignBrowsing.p50} ms, p99 ${presignBrowsing.p99} ms, errors ${presignBrowsing.errors}, non-2xx ${presignBrowsing.non2xx}`);
        }

        const publishOnce = async (): Promise<{ seconds: number; status: number }> => {
          const timed = await timeOnce(async () => {
            const response = await fetch(`${base}/${ready.publishEventId}/manifest`, {
              method: 'PUT',
              headers: { authorization: `Bearer ${ready.adminToken}`, 'content-type': 'application/json' },
              body,
            });
            const answer = await response.text();
            if (response.status !== 200) throw new Error(`manifest: ${response.status} ${answer.slice(0, 300)}`);
            return response.status;
          });
          return { seconds: timed.seconds, status: timed.value };
        };
        const publishS3: number[] = [];
        const publishMap: number[] = [];
        const publishStatus: number[] = [];
        let publishRequests: Record<string, number> = {};
        for (const [source, samples] of [
          ['s3', publishS3],
          ['map', publishMap],
        ] as const) {
          await child.request({ type: 'heads', source });
          for (let i = 0; i < spec.publishRuns; i++) {
            const from = s3.requests.length;
            const one = await publishOnce();
            if (source === 's3') publishRequests = countOps(s3.requests.slice(from));
            samples.push(one.seconds);
            publishStatus.push(one.status);
          }
          options.log(
            `sync/${database}: publish ${spec.publishAssets} assets, checks ${source === 's3' ? `against s3rver (${JSON.stringify(publishRequests)} a publish)` : 'answered in-process'}: ${samples.map((s) => s.toFixed(3)).join(', ')} s`,
          );
        }
        runs.push({ database, idlePage, idlePresign, seedSeconds: ready.seedSeconds ?? 0, pageBytes: text.length, gallery, presign, galleryBrowsing, presignBrowsing, publishS3, publishRequests, publishMap, publishStatus });
      } finally {
        await child.stop();
        children.delete(child);
      }
    }

    // The floor: Fastify alone, a page of the same bytes, the same load.
    if (PUBLISH_ONLY) {
      for (const r of runs) rows.push(...publishRows(r, spec));
      details.runs = runs;
      return { name: 'sync', rows, cachesDropped: null, details };
    }
    const floorChild = await startChild({ mode: 'floor', bodyFile: pageFile! });
    children.add(floorChild);
    let floor: LoadFigures;
    try {
      // The same bearer headers (ignored), so the requests are as long as the service's.
      floor = await load(`http://127.0.0.1:${floorChild.ready.port}/v1/floor`, lastTokens, spec.connections, spec.seconds, options.log);
      options.log(`sync/floor: ${floor.rps.toFixed(0)} req/s, p50 ${floor.p50} ms, p99 ${floor.p99} ms, errors ${floor.errors}, timeouts ${floor.timeouts}`);
    } finally {
      await floorChild.stop();
      children.delete(floorChild);
    }

    const clean = (f: LoadFigures) => f.errors === 0 && f.timeouts === 0 && f.non2xx === 0;
    const failures = (f: LoadFigures) =>
      `${f.errors} errors (${f.timeouts} timeouts), ${f.non2xx} non-2xx; ${f.requests} answered${f.drainedSeconds > 0.5 ? `; the server was still busy ${f.drainedSeconds.toFixed(1)} s after the load stopped (requests left unanswered are in no percentile)` : ''}`;
    for (const r of runs) {
      const page = `${spec.connections} conns`;
      rows.push(
        compareRow({
          what: `${r.database}: gallery page, ${page}: req/s`,
          unit: 'req/s',
          ours: r.gallery.rps,
          reference: floor.rps,
          better: 'higher',
          note: `reference: bare Fastify serving the same ${(r.pageBytes / 1024).toFixed(0)} KiB page (the floor); ${failures(r.gallery)}; ${r.gallery.mbPerSecond.toFixed(0)} MB/s`,
        }),
        checkRow({
          what: `${r.database}: gallery page, one at a time (idle)`,
          unit: 'ms',
          ours: r.idlePage,
          target: '–',
          pass: null,
          note: `median of 5 sequential requests, no load; one presign alone: ${r.idlePresign.toFixed(1)} ms`,
        }),
        checkRow({ what: `${r.database}: gallery page p50`, unit: 'ms', ours: r.gallery.p50, reference: floor.p50, target: '–', pass: null }),
        checkRow({
          what: `${r.database}: gallery page p99, ${page} flat out`,
          unit: 'ms',
          ours: r.gallery.p99,
          reference: floor.p99,
          target: '–',
          pass: null,
          note: `max ${r.gallery.max} ms; reference: the floor's p99; queueing: ${spec.connections} in flight at ${r.gallery.rps.toFixed(0)} req/s`,
        }),
        checkRow({
          what: `${r.database}: gallery page p99, ${spec.parents} parents browsing`,
          unit: 'ms',
          ours: r.galleryBrowsing.p99,
          target: `< ${P99_TARGET_MS} ms`,
          pass: r.galleryBrowsing.p99 < P99_TARGET_MS && r.galleryBrowsing.requests > 0 && clean(r.galleryBrowsing),
          note: `${spec.parents} connections, a page each every ${BROWSE_EVERY_S} s on average, independently (${r.galleryBrowsing.rps.toFixed(0)} req/s); p50 ${r.galleryBrowsing.p50} ms, max ${r.galleryBrowsing.max} ms; ${failures(r.galleryBrowsing)}`,
        }),
        checkRow({
          what: `${r.database}: gallery page errors + non-2xx`,
          unit: '',
          ours: r.gallery.errors + r.gallery.non2xx,
          target: '0',
          pass: clean(r.gallery),
          note: failures(r.gallery),
        }),
        compareRow({
          what: `${r.database}: one presign, ${page}: req/s`,
          unit: 'req/s',
          ours: r.presign.rps,
          reference: floor.rps,
          better: 'higher',
          note: `reference: the floor (a 100-item page, so the ratio flatters the presign); ${failures(r.presign)}`,
        }),
        checkRow({
          what: `${r.database}: one presign p99, ${page} flat out`,
          unit: 'ms',
          ours: r.presign.p99,
          target: '–',
          pass: null,
          note: `p50 ${r.presign.p50} ms, max ${r.presign.max} ms`,
        }),
        checkRow({
          what: `${r.database}: one presign p99, ${spec.parents} parents browsing`,
          unit: 'ms',
          ours: r.presignBrowsing.p99,
          target: `< ${P99_TARGET_MS} ms`,
          pass: r.presignBrowsing.p99 < P99_TARGET_MS && r.presignBrowsing.requests > 0 && clean(r.presignBrowsing),
          note: `a photo opened by each every ${BROWSE_EVERY_S} s on average (${r.presignBrowsing.rps.toFixed(0)} req/s); p50 ${r.presignBrowsing.p50} ms, max ${r.presignBrowsing.max} ms; ${failures(r.presignBrowsing)}`,
        }),
        checkRow({ what: `${r.database}: one presign errors + non-2xx`, unit: '', ours: r.presign.errors + r.presign.non2xx, target: '0', pass: clean(r.presign), note: failures(r.presign) }),
        ...publishRows(r, spec),
      );
    }
    rows.push(
      checkRow({
        what: `floor: bare Fastify, same page, ${spec.connections} conns`,
        unit: 'req/s',
        ours: floor.rps,
        target: '–',
        pass: null,
        note: `p50 ${floor.p50} ms, p99 ${floor.p99} ms; ${failures(floor)}`,
      }),
    );
    details.runs = runs;
    details.floor = floor;
    details.s3SeedSeconds = seeded.seconds;
  } finally {
    // Everything goes, even after a failure: children, the schema, the SQLite file and page, s3rver's folders.
    for (const child of children) await child.stop().catch(() => undefined);
    if (s3) await s3.close().catch(() => undefined);
    if (schemaMade) await admin(`drop schema if exists ${schema} cascade`).catch((error: unknown) => options.log(`sync: could not drop schema ${schema}: ${String(error)}`));
    await rm(tmp, { recursive: true, force: true });
  }
  return { name: 'sync', rows, cachesDropped: null, details };
}
