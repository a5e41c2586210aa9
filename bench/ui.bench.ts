/// <reference lib="dom" />
// The desktop UI in Debian's Chromium against the web host, over a library of 100,000 assets whose
// thumbnails are already made (as after an import): time to the first painted grid for an event of 10,000
// and for the whole library, frames dropped while scrolling through the 10,000, the renderer's memory,
// and a rating key's input-to-paint latency. The reference is the naive grid: a static page holding every
// tile of the same assets (placeholder, lazy thumbnail) with no virtualization, on the same host.
import { copyFile, link, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { openEngine, type Engine } from '../app/engine.ts';
import { derivativeDir, derivativePath } from '../app/media/derivatives/derivative-paths.ts';
import { makeJpeg, tempDir, type TempDir } from '../app/test/fixtures.ts';
import { buildRenderer, launchBrowser } from '../app/test/ui.ts';
import { startWebHost, type WebHost } from '../app/web-host/web-host.ts';
import { median, summarize, type BenchOptions, type BenchReport, type ResultRow } from './lib/harness.ts';

const VIEWPORT = { width: 1440, height: 900 };
const EVENT_NAME = 'Sports Day 2026';
const FIRST_PAINT_TARGET_MS = 1000;
const DROPPED_TARGET = 0.01;
const KEY_TARGET_MS = 50;
const FRAME_MS = 1000 / 60;
/** Scroll passes per run (one in a quick run). */
const SCROLL_PASSES = (quick: boolean): number => (quick ? 1 : 3);
/** "1.2 %, 0.8 %, 2.0 %": every pass's share dropped. */
const passesText = (passes: readonly ScrollPass[]): string => passes.map((p) => `${((p.dropped / Math.max(1, p.frames)) * 100).toFixed(1)} %`).join(', ');

interface Library {
  engine: Engine;
  eventAssets: number;
  total: number;
  ids: number[];
}

/** A library of `total` assets, `eventAssets` of them in one event, every thumbnail already in the cache. */
async function makeLibrary(dir: TempDir, total: number, eventAssets: number, log: (line: string) => void): Promise<Library> {
  const engine = await openEngine({ libraryPath: dir.join('library') });
  const { catalog } = engine;
  const photo = dir.join('library', 'Shared', 'IMG.jpg');
  await makeJpeg(photo, { seed: 11, width: 640, height: 480 });
  const big = catalog.events.create({ name: EVENT_NAME, folder: 'Sports Day 2026' });
  const first = catalog.assets.insert({ hash: 'f'.repeat(32) as never, eventId: big.id, path: 'Shared/IMG.jpg', originalName: 'IMG_000000.JPG', size: 1, mtimeMs: 0, kind: 'photo', mime: 'image/jpeg', sortTime: 0 });
  await engine.derivatives.makeThumbs(first.id);
  const made = catalog.assets.get(first.id)!;
  const thumb = derivativePath(engine.libraryRoot, made.hash, 'thumb');
  const started = Date.now();
  const ids: number[] = [first.id];
  let eventId = big.id;
  catalog.transaction(() => {
    for (let i = 1; i < total; i += 1) {
      // The first `eventAssets` fill the big event; the rest are spread over events of 500, as a school's years are.
      if (i >= eventAssets && (i - eventAssets) % 500 === 0) eventId = catalog.events.create({ name: `Event ${i}`, folder: `Event ${i}` }).id;
      const asset = catalog.assets.insert({
        hash: i.toString(16).padStart(32, '0') as never,
        eventId,
        path: 'Shared/IMG.jpg',
        originalName: `IMG_${String(i).padStart(6, '0')}.JPG`,
        size: 1,
        mtimeMs: 0,
        kind: 'photo',
        mime: 'image/jpeg',
        sortTime: i * 1000,
      });
      catalog.assets.setDerived(asset.id, { thumbhash: made.thumbhash!, width: 640, height: 480 });
      ids.push(asset.id);
    }
  });
  // Every asset's thumbnail is the one real file, hard-linked into its place in the cache (a fresh copy as the
  // source every 50,000 links: ext4 allows 65,000 links to one inode).
  let source = thumb;
  for (let i = 1; i < total; i += 1) {
    const hash = i.toString(16).padStart(32, '0') as never;
    await mkdir(derivativeDir(engine.libraryRoot, hash), { recursive: true });
    if (i % 50_000 === 0) {
      source = dir.join(`thumb-${i}.webp`);
      await copyFile(thumb, source);
    }
    await link(source, derivativePath(engine.libraryRoot, hash, 'thumb'));
  }
  log(`library: ${total.toLocaleString('en')} assets (${eventAssets.toLocaleString('en')} in "${EVENT_NAME}") made in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { engine, eventAssets, total, ids };
}

/** The naive grid: every tile in the page at once. */
function staticGrid(ids: readonly number[]): string {
  const tiles = ids.map((id) => `<div class="t"><img loading="lazy" decoding="async" alt="" src="/media/${id}/thumb"></div>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>reference</title><style>
body{margin:0;background:#16181c}#s{height:100vh;overflow:auto}main{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:4px;padding:4px}
.t{aspect-ratio:1;background:#2a2e35}.t img{width:100%;height:100%;object-fit:cover}</style></head><body><div id="s"><main>${tiles}</main></div></body></html>`;
}

/** Milliseconds from `start()` in the page to the frame after the first tile with an asset shows. */
async function timeToTiles(page: Page, start: string, tile: string): Promise<number> {
  return page.evaluate(
    async ([startScript, selector]) => {
      const t0 = performance.now();
      new Function(startScript as string)();
      // No named functions in here: the bundler's name helper does not exist in the page.
      while (!document.querySelector(selector as string)) await new Promise((resolve) => requestAnimationFrame(resolve));
      await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      return performance.now() - t0;
    },
    [start, tile] as const,
  );
}

interface ScrollPass {
  dropped: number;
  frames: number;
  p95: number;
}

/**
 * Scrolls `scroller` down from `from` px at `pxPerSec` for `seconds`, one step a frame; the share of frames dropped.
 * A pass that starts below the top first jumps there and lets the screen settle for 1.5 s (its tiles load), so
 * every pass scrolls through rows it has not shown yet from a screen at rest.
 */
async function scrollFrames(page: Page, scroller: string, seconds: number, pxPerSec: number, from = 0): Promise<ScrollPass> {
  return page.evaluate(
    async ([selector, duration, speed, frameMs, start]) => {
      const element = document.querySelector<HTMLElement>(selector as string)!;
      element.scrollTop = start as number;
      if ((start as number) > 0) await new Promise((resolve) => setTimeout(resolve, 1500));
      await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      const gaps: number[] = [];
      const t0 = performance.now();
      let last = t0;
      while (performance.now() - t0 < (duration as number) * 1000) {
        await new Promise((resolve) => requestAnimationFrame(resolve));
        const now = performance.now();
        gaps.push(now - last);
        last = now;
        element.scrollTop = (start as number) + ((now - t0) / 1000) * (speed as number);
      }
      // A gap of k frame times means k − 1 frames were not painted.
      const dropped = gaps.reduce((sum, gap) => sum + Math.max(0, Math.round(gap / (frameMs as number)) - 1), 0);
      const sorted = [...gaps].sort((a, b) => a - b);
      return { dropped, frames: dropped + gaps.length, p95: sorted[Math.floor(sorted.length * 0.95)] ?? 0 };
    },
    [scroller, seconds, pxPerSec, FRAME_MS, from] as const,
  );
}

/**
 * `passes` scroll passes over fresh stretches of the grid (each starts where the last would have ended, plus a
 * tenth), and the median pass by share dropped: one pass of 10 s varies by a few points from run to run on a
 * shared 2-core machine, the median of three much less.
 */
async function scrollPasses(page: Page, scroller: string, passes: number, seconds: number, pxPerSec: number): Promise<ScrollPass & { passes: ScrollPass[] }> {
  const all: ScrollPass[] = [];
  for (let i = 0; i < passes; i += 1) all.push(await scrollFrames(page, scroller, seconds, pxPerSec, Math.round(i * seconds * pxPerSec * 1.1)));
  const share = (pass: ScrollPass) => pass.dropped / Math.max(1, pass.frames);
  const middle = [...all].sort((a, b) => share(a) - share(b))[Math.floor((all.length - 1) / 2)]!;
  return { ...middle, passes: all };
}

async function heapMiB(page: Page): Promise<{ heap: number; nodes: number }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('Performance.enable');
  const { metrics } = (await cdp.send('Performance.getMetrics')) as { metrics: Array<{ name: string; value: number }> };
  await cdp.detach();
  const value = (name: string): number => metrics.find((metric) => metric.name === name)?.value ?? NaN;
  return { heap: value('JSHeapUsedSize') / 2 ** 20, nodes: value('Nodes') };
}

/** Key press to the frame after the focused tile's label changes, for each key. */
async function keyToPaint(page: Page, keys: readonly string[]): Promise<number[]> {
  await page.evaluate(() => {
    const w = window as unknown as { keyAt: number; gaps: number[] };
    w.gaps = [];
    window.addEventListener('keydown', () => (w.keyAt = performance.now()), { capture: true });
    new MutationObserver(() => requestAnimationFrame(() => w.gaps.push(performance.now() - w.keyAt))).observe(document.querySelector('[role="grid"]')!, { subtree: true, attributeFilter: ['aria-label'] });
  });
  const gaps: number[] = [];
  for (const key of keys) {
    await page.evaluate(() => ((window as unknown as { gaps: number[] }).gaps.length = 0));
    await page.keyboard.press(key);
    await page.waitForFunction(() => (window as unknown as { gaps: number[] }).gaps.length >= 1);
    gaps.push(await page.evaluate(() => (window as unknown as { gaps: number[] }).gaps[0]!));
  }
  return gaps;
}

/** The desktop grid in Chromium over 100,000 assets, beside a static page of every tile. */
export async function run(options: BenchOptions): Promise<BenchReport> {
  const total = options.quick ? 20_000 : 100_000;
  const eventAssets = options.quick ? 5_000 : 10_000;
  const runs = options.quick ? 2 : 5;
  const dir = await tempDir('keepsake-ui-bench-');
  let browser: Browser | undefined;
  let host: WebHost | undefined;
  let library: Library | undefined;
  try {
    // KEEPSAKE_BENCH_UI_RENDERER=<dir>: a renderer already built there (`renderer/build.ts --outdir <dir>`), to
    // compare two builds on the same machine; by default the renderer of this checkout is built.
    const prebuilt = process.env.KEEPSAKE_BENCH_UI_RENDERER;
    const [staticDir, made] = await Promise.all([prebuilt ? Promise.resolve(path.resolve(prebuilt)) : buildRenderer(), makeLibrary(dir, total, eventAssets, options.log)]);
    if (prebuilt) options.log(`renderer: ${staticDir} (prebuilt)`);
    library = made;
    host = await startWebHost({ engine: library.engine, staticDir });
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await context.newPage();
    await page.goto(host.url);
    await page.getByRole('button', { name: `Open ${EVENT_NAME}` }).waitFor({ timeout: 60_000 });
    const eventIds = library.ids.slice(0, eventAssets);
    await page.route('**/reference/*', (route) => {
      const size = Number(route.request().url().split('/').pop());
      return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: staticGrid(size === total ? library!.ids : eventIds) });
    });

    const tile = '[role="gridcell"][aria-label^="IMG_"]';
    const eventPaint: number[] = [];
    const libraryPaint: number[] = [];
    for (let i = 0; i < runs; i += 1) {
      await page.getByRole('button', { name: 'Events', exact: true }).click();
      await page.getByRole('button', { name: `Open ${EVENT_NAME}` }).waitFor();
      eventPaint.push(await timeToTiles(page, `document.querySelector('[aria-label="Open ${EVENT_NAME}"]').click()`, tile));
      await page.getByRole('button', { name: 'Events', exact: true }).click();
      await page.getByRole('button', { name: `Open ${EVENT_NAME}` }).waitFor();
      libraryPaint.push(await timeToTiles(page, `[...document.querySelectorAll('nav[aria-label="Screens"] button')].find((b) => b.textContent === 'All photos').click()`, tile));
    }
    options.log(`first tiles: event ${eventPaint.map((ms) => ms.toFixed(0)).join(', ')} ms; library ${libraryPaint.map((ms) => ms.toFixed(0)).join(', ')} ms`);

    // Scrolling the event at a brisk 3,000 px/s (about four rows a second… of a screen a third of a second).
    await page.getByRole('button', { name: 'Events', exact: true }).click();
    await page.getByRole('button', { name: `Open ${EVENT_NAME}` }).click();
    await page.locator(tile).first().waitFor();
    // KEEPSAKE_BENCH_UI_PROFILE=<file.cpuprofile>: the renderer's CPU profile of the scroll, for DevTools.
    const profileFile = process.env.KEEPSAKE_BENCH_UI_PROFILE;
    const profiler = profileFile ? await page.context().newCDPSession(page) : null;
    if (profiler) {
      await profiler.send('Profiler.enable');
      await profiler.send('Profiler.start');
    }
    // KEEPSAKE_BENCH_UI_TRACE=<file.json>: a Chromium trace of the scroll (every process), for about://tracing or DevTools.
    const traceFile = process.env.KEEPSAKE_BENCH_UI_TRACE;
    if (traceFile) await browser.startTracing(page, { path: traceFile, categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'disabled-by-default-devtools.timeline.frame', 'blink', 'cc', 'gpu', 'v8', 'toplevel', 'loading', 'netlog'] });
    const scroll = await scrollPasses(page, '.grid-scroll', SCROLL_PASSES(options.quick), options.quick ? 4 : 10, 3000);
    if (traceFile) {
      await browser.stopTracing();
      options.log(`trace of the scroll: ${traceFile}`);
    }
    if (profiler && profileFile) {
      const { profile } = (await profiler.send('Profiler.stop')) as { profile: unknown };
      await writeFile(profileFile, JSON.stringify(profile));
      await profiler.detach();
      options.log(`CPU profile of the scroll: ${profileFile}`);
    }
    const memory = await heapMiB(page);
    // Back to the top, where the focused first tile is on screen.
    await page.evaluate(() => (document.querySelector<HTMLElement>('.grid-scroll')!.scrollTop = 0));
    await page.locator(`${tile}[aria-label^="IMG_000000"]`).waitFor();
    await page.getByRole('grid').focus();
    const keys = await keyToPaint(page, ['1', '2', '3', '4', '5', '0', '3', '4', '2', '1', '5', '0', '4', '3', '2', '1', '0', '5', '2', '3']);
    options.log(`scroll: ${scroll.dropped} of ${scroll.frames} frames dropped in the median pass (passes: ${passesText(scroll.passes)}; frame p95 ${scroll.p95.toFixed(1)} ms); heap ${memory.heap.toFixed(1)} MiB, ${memory.nodes} DOM nodes; key to paint median ${median(keys).toFixed(1)} ms`);

    // The reference: the same tiles as one static page, timed from navigation to the first tile painted.
    const referencePaint = async (size: number): Promise<number> => {
      const started = Date.now();
      await page.goto(`${host!.url.split('?')[0]!.replace(/\/$/, '')}/reference/${size}`, { waitUntil: 'commit' });
      await page.locator('.t img').first().waitFor({ state: 'attached', timeout: 120_000 });
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
      return Date.now() - started;
    };
    const refEvent: number[] = [];
    for (let i = 0; i < Math.min(runs, 3); i += 1) refEvent.push(await referencePaint(eventAssets));
    const refScroll = await scrollPasses(page, '#s', SCROLL_PASSES(options.quick), options.quick ? 4 : 10, 3000);
    const refMemory = await heapMiB(page);
    const refLibrary = [await referencePaint(total)];
    options.log(`reference: event ${refEvent.map((ms) => ms.toFixed(0)).join(', ')} ms, library ${refLibrary[0]} ms; scroll ${refScroll.dropped} of ${refScroll.frames} dropped (passes: ${passesText(refScroll.passes)}); heap ${refMemory.heap.toFixed(1)} MiB, ${refMemory.nodes} nodes`);

    const ratio = (ours: number, reference: number): number | null => (ours > 0 && Number.isFinite(reference) ? reference / ours : null);
    const droppedShare = scroll.dropped / Math.max(1, scroll.frames);
    const refDroppedShare = refScroll.dropped / Math.max(1, refScroll.frames);
    const keyMedian = median(keys);
    const eventLabel = `${eventAssets.toLocaleString('en')} assets`;
    const rows: ResultRow[] = [
      { what: `grid first paint, event of ${eventLabel}`, unit: 'ms', ours: median(eventPaint), reference: median(refEvent), ratio: ratio(median(eventPaint), median(refEvent)), target: `< ${FIRST_PAINT_TARGET_MS} ms`, pass: median(eventPaint) < FIRST_PAINT_TARGET_MS, note: 'reference: a static page of every tile (no virtualization)' },
      { what: `grid first paint, library of ${total.toLocaleString('en')}`, unit: 'ms', ours: median(libraryPaint), reference: median(refLibrary), ratio: ratio(median(libraryPaint), median(refLibrary)), target: `< ${FIRST_PAINT_TARGET_MS} ms`, pass: median(libraryPaint) < FIRST_PAINT_TARGET_MS },
      { what: `frames dropped scrolling ${eventLabel}`, unit: '%', ours: droppedShare * 100, reference: refDroppedShare * 100, ratio: droppedShare > 0 ? refDroppedShare / droppedShare : null, target: `< ${DROPPED_TARGET * 100} %`, pass: droppedShare < DROPPED_TARGET, note: `the median of ${scroll.passes.length} passes of 3,000 px/s for ${options.quick ? 4 : 10} s over fresh rows, one scroll step a frame (ours ${passesText(scroll.passes)}); frame p95 ${scroll.p95.toFixed(1)} vs ${refScroll.p95.toFixed(1)} ms` },
      { what: `renderer JS heap, event of ${eventLabel}`, unit: 'MiB', ours: memory.heap, reference: refMemory.heap, ratio: ratio(memory.heap, refMemory.heap), target: '–', pass: null, note: `${memory.nodes} vs ${refMemory.nodes} DOM nodes` },
      { what: 'rating key to paint (median)', unit: 'ms', ours: keyMedian, reference: null, ratio: null, target: `< ${KEY_TARGET_MS} ms`, pass: keyMedian < KEY_TARGET_MS, note: `p95 ${summarize(keys).p95.toFixed(1)} ms over ${keys.length} keys` },
    ];
    return { name: 'ui', rows, cachesDropped: null, details: { eventPaint, libraryPaint, refEvent, refLibrary, scroll, refScroll, memory, refMemory, keys, total, eventAssets } };
  } finally {
    await browser?.close();
    await host?.close();
    await library?.engine.close();
    await rm(path.join(dir.path), { recursive: true, force: true, maxRetries: 5, retryDelay: 500 });
  }
}
