/// <reference lib="dom" />
// The parents' gallery on a phone: first paint and time-to-interactive of an event page of 1,000 and of
// 10,000 media in Debian's Chromium with the CPU throttled 4× (a mid-range phone), and the bytes it moves.
// The reference is the simplest gallery there is: a static HTML page of the same thumbnails as
// `<img loading="lazy">` tags, served from the same process — what a page with no JavaScript costs.
//
// Thumbnails come from a loopback "CDN" (the service's CDN_BASE_URL mode) that answers every key with the
// same real 320 px WebP, so the figures are the gallery's and not an S3 emulator's.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import { launchBrowser } from '../app/test/browser.ts';
/* eslint-disable no-restricted-imports -- the bench drives the sync service itself, exactly as main.ts builds it */
import { buildApp } from '../sync-service/src/app.ts';
import { generatePem, keysFromPem } from '../sync-service/src/auth/keys.ts';
import { hashPassword } from '../sync-service/src/auth/passwords.ts';
import { TokenService } from '../sync-service/src/auth/tokens.ts';
import { openDatabase, type Db } from '../sync-service/src/db/database.ts';
import { migrateToLatest } from '../sync-service/src/db/migrations.ts';
import { S3ObjectStore, s3Client } from '../sync-service/src/services/storage.ts';
import { buildGalleryWhenStale, galleryIsStale } from '../sync-service/src/web/build.ts';
/* eslint-enable no-restricted-imports */
import { median, type BenchOptions, type BenchReport, type ResultRow } from './lib/harness.ts';

const PHONE = { width: 360, height: 740 };
const CPU_THROTTLE = 4;
const FIRST_PAINT_TARGET_MS = 1500;
const PASSWORD = 'a long bench password';
const EMAIL = 'parent@bench.test';
const CELL = 'button.cell[data-asset-id]';

interface Seeded {
  events: Map<number, string>;
  slug: string;
}

interface PageFigures {
  /** First contentful paint (ms from navigation start). */
  fcpMs: number;
  /** The first grid cell (its placeholder) on screen. */
  gridMs: number;
  /** Every thumbnail of the first screen decoded. */
  thumbsMs: number;
  /** The end of the last long task (> 50 ms) before the page went quiet: when a tap is answered at once. */
  ttiMs: number;
  bytes: number;
  requests: number;
}

async function thumbnail(): Promise<{ webp: Buffer; thumbhash: string }> {
  const base = sharp({ create: { width: 320, height: 213, channels: 3, background: { r: 60, g: 140, b: 90 } } }).composite([
    { input: { create: { width: 120, height: 120, channels: 3, background: { r: 220, g: 200, b: 40 } } }, left: 100, top: 46 },
  ]);
  const webp = await base.clone().webp({ quality: 75 }).toBuffer();
  const small = await sharp(webp).resize(75, 50).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { webp, thumbhash: Buffer.from(rgbaToThumbHash(small.info.width, small.info.height, small.data)).toString('base64') };
}

/** A school, one parent (signs in with a password), and one school-wide published event per size. */
async function seed(db: Db, sizes: readonly number[], thumbhash: string): Promise<Seeded> {
  const k = db.kysely;
  const now = new Date().toISOString();
  const schoolId = randomUUID();
  const slug = 'bench';
  await k.insertInto('schools').values({ id: schoolId, name: 'Bench Primary', slug, created_at: now }).execute();
  const userId = randomUUID();
  await k
    .insertInto('users')
    .values({ id: userId, email: EMAIL, password_hash: await hashPassword(PASSWORD, { N: 2 ** 10, r: 8, p: 1 }), name: 'Bench Parent', created_at: now })
    .execute();
  await k.insertInto('memberships').values({ user_id: userId, school_id: schoolId, role: 'parent', created_at: now }).execute();
  const events = new Map<number, string>();
  for (const size of sizes) {
    const eventId = randomUUID();
    events.set(size, eventId);
    await k
      .insertInto('events')
      .values({ id: eventId, school_id: schoolId, name: `Sports Day (${size.toLocaleString('en')})`, starts_on: '2026-06-12', ends_on: null, location: 'Field', description: null, state: 'published', version: 1, created_at: now, updated_at: now })
      .execute();
    const rows = [];
    for (let position = 0; position < size; position++) {
      const assetId = `asset-${String(position).padStart(5, '0')}-${randomUUID().slice(0, 8)}`;
      for (const [variant, ext, bytes] of [['thumb', 'webp', 9_000], ['preview', 'jpg', 400_000]] as const) {
        rows.push({
          school_id: schoolId,
          event_id: eventId,
          asset_id: assetId,
          variant,
          position,
          kind: 'photo',
          object_key: `schools/${slug}/events/${eventId}/${assetId}/${variant}.${ext}`,
          size: bytes,
          hash: `h-${assetId}-${variant}`,
          width: 4000,
          height: 3000,
          duration_sec: null,
          captured_at: `2026-06-12T10:${String(position % 60).padStart(2, '0')}:00.000Z`,
          rating: 0,
          title: null,
          description: null,
          tags: '[]',
          people: '[]',
          thumbhash,
          published_at: now,
        });
      }
    }
    for (let i = 0; i < rows.length; i += 500) await k.insertInto('media').values(rows.slice(i, i + 500)).execute();
  }
  return { events, slug };
}

/** The loopback CDN: every key is the same real thumbnail; `/reference/<n>` is the static reference page. */
function startCdn(webp: Buffer, referencePage: (size: number, base: string) => string): Promise<{ base: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const reference = /^\/reference\/(\d+)$/.exec(url.pathname);
    if (reference) {
      const body = referencePage(Number(reference[1]), `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
      return void res.end(body);
    }
    res.writeHead(200, { 'Content-Type': 'image/webp', 'Content-Length': webp.length, 'Cache-Control': 'public, max-age=3600', 'Access-Control-Allow-Origin': '*' });
    res.end(webp);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ base: `http://127.0.0.1:${port}`, close: () => new Promise<void>((done) => server.close(() => done())) });
    });
  });
}

/** The reference: the same thumbnails in a static page, laid out like the gallery (3 columns on a phone). */
function staticGallery(size: number, cdn: string): string {
  const cells: string[] = [];
  for (let i = 0; i < size; i++) cells.push(`<img loading="lazy" decoding="async" width="116" height="116" alt="" src="${cdn}/ref/${i}.webp">`);
  return `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Sports Day</title>
<style>body{margin:0;font:14px system-ui}h1{font-size:18px;margin:12px}main{display:grid;grid-template-columns:repeat(3,1fr);gap:2px}img{width:100%;height:auto;aspect-ratio:1;object-fit:cover;background:#ccc}</style>
</head><body><h1>Sports Day</h1><main>${cells.join('')}</main></body></html>`;
}

/** Records paints, the first grid cell, thumbnails and long tasks from the very start of the document. */
const PROBE = `(() => {
  const w = window; w.__bench = { grid: null, longTaskEnd: 0 };
  new PerformanceObserver((list) => { for (const e of list.getEntries()) w.__bench.longTaskEnd = Math.max(w.__bench.longTaskEnd, e.startTime + e.duration); }).observe({ type: 'longtask', buffered: true });
  const seen = () => {
    if (w.__bench.grid !== null) return;
    if (document.querySelector(${JSON.stringify(CELL)}) || document.querySelector('main img')) {
      requestAnimationFrame(() => requestAnimationFrame(() => { if (w.__bench.grid === null) w.__bench.grid = performance.now(); }));
    }
  };
  new MutationObserver(seen).observe(document, { subtree: true, childList: true });
})();`;

async function measure(page: Page, url: string, cellSelector: string, thumbSelector: string): Promise<PageFigures> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: CPU_THROTTLE });
  let bytes = 0;
  let requests = 0;
  cdp.on('Network.loadingFinished', (event: { encodedDataLength: number }) => {
    bytes += event.encodedDataLength;
    requests += 1;
  });
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector(cellSelector, { timeout: 60_000 });
  // Every thumbnail whose cell is on the first screen, decoded.
  await page.waitForFunction(
    ([selector, height]) => {
      const images = Array.from(document.querySelectorAll<HTMLImageElement>(selector as string)).filter((img) => {
        const box = img.getBoundingClientRect();
        return box.bottom > 0 && box.top < (height as number) && box.width > 0;
      });
      return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0);
    },
    [thumbSelector, PHONE.height] as const,
    { timeout: 60_000, polling: 50 },
  );
  const thumbsMs = await page.evaluate(() => performance.now());
  // Quiet for a second: no long task has ended in it.
  await page.waitForFunction(() => performance.now() - (window as unknown as { __bench: { longTaskEnd: number } }).__bench.longTaskEnd > 1000, undefined, { timeout: 60_000, polling: 100 });
  const figures = await page.evaluate(() => {
    const bench = (window as unknown as { __bench: { grid: number | null; longTaskEnd: number } }).__bench;
    const fcp = performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN;
    return { fcpMs: fcp, gridMs: bench.grid ?? NaN, longTaskEnd: bench.longTaskEnd };
  });
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
  await cdp.detach();
  return { fcpMs: figures.fcpMs, gridMs: figures.gridMs, thumbsMs, ttiMs: Math.max(figures.fcpMs, figures.gridMs, figures.longTaskEnd), bytes, requests };
}

function summarise(samples: PageFigures[]): PageFigures {
  const pick = (key: keyof PageFigures): number => median(samples.map((s) => s[key]));
  return { fcpMs: pick('fcpMs'), gridMs: pick('gridMs'), thumbsMs: pick('thumbsMs'), ttiMs: pick('ttiMs'), bytes: pick('bytes'), requests: pick('requests') };
}

/** First paint and time-to-interactive of the parents' gallery on a throttled phone, beside a static page. */
export async function run(options: BenchOptions): Promise<BenchReport> {
  const sizes = options.quick ? [1000] : [1000, 10_000];
  const runs = options.quick ? 2 : 5;
  if (galleryIsStale()) options.log('building the gallery…');
  await buildGalleryWhenStale();
  const thumb = await thumbnail();
  const cdn = await startCdn(thumb.webp, staticGallery);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'keepsake-gallery-bench-'));
  const db = openDatabase({ kind: 'sqlite', file: path.join(dir, 'sync.db') });
  let browser: Browser | undefined;
  const closeApp: Array<() => Promise<void>> = [];
  try {
    await migrateToLatest(db);
    const seeded = await seed(db, sizes, thumb.thumbhash);
    const tokens = new TokenService(keysFromPem(generatePem()), { issuer: 'https://sync.bench', audience: 'keepsake', accessTtlSeconds: 3600 });
    // The bucket is never reached: with a CDN base URL, media URLs are `CDN/key`.
    const store = new S3ObjectStore(s3Client({ bucket: 'bench', region: 'us-east-1', endpoint: 'http://127.0.0.1:9', forcePathStyle: true, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }), 'bench');
    const app = buildApp({ db: db.kysely, tokens, refreshTtlSeconds: 3600, logger: false, scrypt: { N: 2 ** 10, r: 8, p: 1 }, media: { store, urlTtlSeconds: 900, cdnBaseUrl: cdn.base } });
    closeApp.push(() => app.close());
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    await context.addInitScript(PROBE);
    const signIn = await context.newPage();
    await signIn.goto(`${base}/sign-in`);
    const status = await signIn.evaluate(
      async ([email, password]) => (await fetch('/v1/web/session', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Keepsake': '1' }, body: JSON.stringify({ email, password }) })).status,
      [EMAIL, PASSWORD] as const,
    );
    if (status !== 200) throw new Error(`the bench parent could not sign in (${status})`);
    await signIn.close();

    const rows: ResultRow[] = [];
    const details: Record<string, unknown> = { cpuThrottle: CPU_THROTTLE, viewport: PHONE, runs };
    for (const size of sizes) {
      const eventId = seeded.events.get(size)!;
      const ours: PageFigures[] = [];
      const reference: PageFigures[] = [];
      for (let i = 0; i < runs; i++) {
        const page = await context.newPage();
        ours.push(await measure(page, `${base}/events/${eventId}`, CELL, `${CELL} img.thumb`));
        await page.close();
        const plain = await context.newPage();
        reference.push(await measure(plain, `${cdn.base}/reference/${size}`, 'main img', 'main img'));
        await plain.close();
      }
      const o = summarise(ours);
      const r = summarise(reference);
      options.log(`${size} media: first paint ${o.fcpMs.toFixed(0)} ms, grid ${o.gridMs.toFixed(0)} ms, thumbnails ${o.thumbsMs.toFixed(0)} ms, interactive ${o.ttiMs.toFixed(0)} ms, ${(o.bytes / 1024).toFixed(0)} KiB in ${o.requests} requests`);
      const label = `${size.toLocaleString('en')} media`;
      const ratio = (a: number, b: number): number | null => (Number.isFinite(a) && Number.isFinite(b) && a > 0 ? b / a : null);
      rows.push(
        { what: `grid first paint, ${label}`, unit: 'ms', ours: o.gridMs, reference: r.gridMs, ratio: ratio(o.gridMs, r.gridMs), target: `< ${FIRST_PAINT_TARGET_MS} ms`, pass: o.gridMs < FIRST_PAINT_TARGET_MS, note: `phone 360×740, ${CPU_THROTTLE}× CPU throttle; reference: a static page of <img loading=lazy>` },
        { what: `first contentful paint, ${label}`, unit: 'ms', ours: o.fcpMs, reference: r.fcpMs, ratio: ratio(o.fcpMs, r.fcpMs), target: '–', pass: null },
        { what: `first screen of thumbs, ${label}`, unit: 'ms', ours: o.thumbsMs, reference: r.thumbsMs, ratio: ratio(o.thumbsMs, r.thumbsMs), target: '–', pass: null },
        { what: `time to interactive, ${label}`, unit: 'ms', ours: o.ttiMs, reference: r.ttiMs, ratio: ratio(o.ttiMs, r.ttiMs), target: '–', pass: null, note: 'end of the last long task before 1 s of quiet' },
        { what: `bytes until interactive, ${label}`, unit: 'KiB', ours: o.bytes / 1024, reference: r.bytes / 1024, ratio: ratio(o.bytes, r.bytes), target: '–', pass: null, note: `${o.requests} vs ${r.requests} requests` },
      );
      details[`size${size}`] = { ours, reference };
    }
    return { name: 'gallery', rows, cachesDropped: null, details };
  } finally {
    await browser?.close();
    for (const close of closeApp) await close().catch(() => undefined);
    await db.close();
    await cdn.close();
    await rm(dir, { recursive: true, force: true });
  }
}
