import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Catalog } from '../app/catalog/catalog.ts';
import { ImportService } from '../app/ingest/import.service.ts';
import { scanSource } from '../app/ingest/source-scanner.ts';
import { createLogger } from '../app/log/logger.ts';
import type { ContentHash } from '../app/shared/ids.ts';
import { countInotifyWatches } from '../app/test/watch-helpers.ts';
import { watchFolders } from '../app/watch/folder-watcher.ts';
import { WatchService, type ReconcileSummary } from '../app/watch/watch.service.ts';
import {
  checkRow,
  compareRow,
  median,
  reportToParent,
  runNodeChild,
  type BenchOptions,
  type BenchReport,
  type ResultRow,
} from './lib/harness.ts';

// One module, two roles: the bench (run()) and, when forked with CHILD_FLAG, the measured watcher in a fresh
// process, so neither the tree's creation nor the other watchers weigh on the RSS and watch counts.
const CHILD_FLAG = '--watch-bench-child';
const SELF = fileURLToPath(import.meta.url);
const PER_FOLDER = 100;
const DROP_COUNT = 1000;
const STABILITY_MS = 1000;
const MB = 1_000_000;
const TARGET = { readySeconds: 2, rssBytes: 150 * MB, watches: 10_000 };

type Mode = 'ours' | 'service' | 'chokidar' | 'walk';

/** What one child measured. */
interface ChildResult {
  mode: Mode;
  readySeconds: number;
  rssGrowthBytes: number;
  inotifyWatches: number | null;
  files: number;
  /** Ours only: seconds from the first of DROP_COUNT new files being written to the last being reported. */
  dropSeconds?: number;
  dropReported?: number;
  /** Service only: what the start-up reconciliation found (nothing, on an unchanged tree) and the worst event-loop stall. */
  summary?: ReconcileSummary;
  maxLoopDelayMs?: number;
}

/**
 * Builds (once) a library whose event folder `event` holds `count` empty `.jpg` files, PER_FOLDER per folder,
 * plus an empty `drop` folder; returns the event folder.
 */
async function ensureTree(benchDir: string, count: number, log: (line: string) => void): Promise<string> {
  const root = path.join(benchDir, 'watch', `library-${count}`, 'event');
  // Beside the tree, not in it: every watcher would count it as a file.
  const marker = `${root}.complete`;
  if ((await readFile(marker, 'utf8').catch(() => '')) === String(count)) return root;
  log(`watch: creating ${count.toLocaleString('en')} files in ${root}`);
  await rm(root, { recursive: true, force: true });
  const folders = Math.ceil(count / PER_FOLDER);
  for (let f = 0; f < folders; f++) {
    const folder = path.join(root, `folder-${String(f).padStart(4, '0')}`);
    await mkdir(folder, { recursive: true });
    const n = Math.min(PER_FOLDER, count - f * PER_FOLDER);
    await Promise.all(Array.from({ length: n }, (_, i) => writeFile(path.join(folder, `IMG_${String(i).padStart(4, '0')}.jpg`), '')));
  }
  await mkdir(path.join(root, 'drop'), { recursive: true });
  await writeFile(marker, String(count));
  return root;
}

/** The reference floor: what listing and stat'ing every file costs, as any watcher's start-up must do at least the listing. */
async function walk(root: string): Promise<number> {
  let files = 0;
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    const entries = await readdir(dir, { withFileTypes: true });
    await Promise.all(
      entries.map(async (entry) => {
        const full = path.join(dir, entry.name);
        const info = await stat(full);
        if (info.isDirectory()) stack.push(full);
        else files++;
      }),
    );
  }
  return files;
}

/** Records every file of the tree as an asset (as if catalogued earlier), so the service's start-up scan finds nothing to do. */
async function ensureCatalogued(root: string, count: number, log: (line: string) => void): Promise<void> {
  const libraryRoot = path.dirname(root);
  const catalog = Catalog.open(libraryRoot);
  try {
    if (catalog.assets.count() === count) return;
    log(`watch: cataloguing ${count.toLocaleString('en')} files of ${root}`);
    const event = catalog.events.findByName('event') ?? catalog.events.create({ name: 'event', folder: 'event' });
    const folders = (await readdir(root)).filter((name) => name.startsWith('folder-')).sort();
    let index = 0;
    for (const folder of folders) {
      const names = (await readdir(path.join(root, folder))).sort();
      const stats = await Promise.all(names.map((name) => stat(path.join(root, folder, name))));
      catalog.transaction(() => {
        for (const [i, name] of names.entries()) {
          const info = stats[i]!;
          catalog.assets.insert({
            hash: (index++).toString(16).padStart(32, '0') as ContentHash,
            eventId: event.id,
            path: path.join('event', folder, name),
            originalName: name,
            size: info.size,
            mtimeMs: info.mtimeMs,
            kind: 'photo',
            mime: 'image/jpeg',
            sortTime: info.mtimeMs,
          });
        }
      });
    }
  } finally {
    catalog.close();
  }
}

/** Starts the whole WatchService on a library whose catalog already holds every file. */
async function service(root: string): Promise<ChildResult> {
  const libraryRoot = path.dirname(root);
  const catalog = Catalog.open(libraryRoot, { create: false });
  const log = createLogger('bench');
  const imports = new ImportService({ catalog, libraryRoot, scanSource, metadata: { read: async () => ({}) }, log });
  const watch = new WatchService({ catalog, imports, libraryRoot, log });
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const rssBefore = process.memoryUsage.rss();
  loop.enable();
  const start = performance.now();
  const summary = await watch.start();
  const readySeconds = (performance.now() - start) / 1000;
  loop.disable();
  const result: ChildResult = {
    mode: 'service',
    readySeconds,
    rssGrowthBytes: process.memoryUsage.rss() - rssBefore,
    inotifyWatches: await countInotifyWatches(),
    files: summary.files,
    summary,
    maxLoopDelayMs: loop.max / 1e6,
  };
  await watch.stop();
  catalog.close();
  return result;
}

async function child(mode: Mode, root: string): Promise<ChildResult> {
  if (mode === 'service') return service(root);
  const rssBefore = process.memoryUsage.rss();
  const start = performance.now();
  if (mode === 'walk') {
    const files = await walk(root);
    return { mode, readySeconds: (performance.now() - start) / 1000, rssGrowthBytes: process.memoryUsage.rss() - rssBefore, inotifyWatches: 0, files };
  }
  if (mode === 'chokidar') {
    const { watch } = await import('chokidar');
    const importedRss = process.memoryUsage.rss();
    const began = performance.now();
    const watcher = watch(root);
    let files = 0;
    watcher.on('add', () => files++);
    await new Promise<void>((resolve, reject) => {
      watcher.once('ready', () => resolve());
      watcher.once('error', reject);
    });
    const readySeconds = (performance.now() - began) / 1000;
    const result = { mode, readySeconds, rssGrowthBytes: process.memoryUsage.rss() - importedRss, inotifyWatches: await countInotifyWatches(), files };
    await watcher.close();
    return result;
  }
  const drop = path.join(root, 'drop');
  const dropped = new Set<string>();
  let lastReport = 0;
  const handle = await watchFolders([root], {
    add: (file) => {
      if (path.dirname(file) !== drop) return;
      dropped.add(file);
      lastReport = performance.now();
    },
  }, { stabilityMs: STABILITY_MS });
  const readySeconds = (performance.now() - start) / 1000;
  const rssGrowthBytes = process.memoryUsage.rss() - rssBefore;
  const inotifyWatches = await countInotifyWatches();
  const files = handle.files().length;
  // Files picked up: DROP_COUNT small files written as fast as the disk takes them, until the last is reported.
  const dropStart = performance.now();
  for (let i = 0; i < DROP_COUNT; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, DROP_COUNT - i) }, (_, j) => writeFile(path.join(drop, `NEW_${i + j}.jpg`), 'new photo bytes')));
  }
  const deadline = performance.now() + 60_000;
  while (dropped.size < DROP_COUNT && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  await handle.close();
  await rm(drop, { recursive: true, force: true });
  await mkdir(drop);
  return { mode, readySeconds, rssGrowthBytes, inotifyWatches, files, dropSeconds: (lastReport - dropStart) / 1000, dropReported: dropped.size };
}

/** Our folder watcher beside chokidar 5 (default options) and a bare readdir+stat walk, on trees of empty files. */
export async function run(options: BenchOptions): Promise<BenchReport> {
  const sizes = options.quick ? [2_000, 10_000] : [10_000, 100_000];
  const runs = options.quick ? 1 : 3;
  const rows: ResultRow[] = [];
  const details: Record<string, unknown> = { perFolder: PER_FOLDER, dropCount: DROP_COUNT, stabilityMs: STABILITY_MS, runs };
  for (const count of sizes) {
    const root = await ensureTree(options.benchDir, count, options.log);
    await ensureCatalogued(root, count, options.log);
    const samples: Record<Mode, Array<ChildResult & { peakRssBytes: number }>> = { ours: [], service: [], chokidar: [], walk: [] };
    for (let round = 0; round < runs; round++) {
      // Round-robin, a different mode first each round, so machine drift hits all alike.
      const order: Mode[] = (['ours', 'service', 'chokidar', 'walk'] as Mode[]).map((_, i, all) => all[(i + round) % all.length]!);
      for (const mode of order) {
        options.log(`watch ${count.toLocaleString('en')} files: ${mode}, round ${round + 1}/${runs}`);
        const { result, peakRssBytes } = await runNodeChild<ChildResult>(SELF, [CHILD_FLAG, mode, root]);
        samples[mode].push({ ...result, peakRssBytes });
      }
    }
    const mid = (mode: Mode, pick: (sample: ChildResult & { peakRssBytes: number }) => number | null | undefined): number | null => {
      const values = samples[mode].map(pick).filter((value): value is number => typeof value === 'number');
      return values.length > 0 ? median(values) : null;
    };
    const label = count >= 1000 ? `${count / 1000}k` : String(count);
    const ours = {
      ready: mid('ours', (s) => s.readySeconds),
      rss: mid('ours', (s) => s.rssGrowthBytes),
      peak: mid('ours', (s) => s.peakRssBytes),
      watches: mid('ours', (s) => s.inotifyWatches),
      drop: mid('ours', (s) => s.dropSeconds),
      reported: mid('ours', (s) => s.dropReported),
    };
    const chokidar = {
      ready: mid('chokidar', (s) => s.readySeconds),
      rss: mid('chokidar', (s) => s.rssGrowthBytes),
      watches: mid('chokidar', (s) => s.inotifyWatches),
    };
    const walkReady = mid('walk', (s) => s.readySeconds);
    const serviceReady = mid('service', (s) => s.readySeconds);
    const unchanged = samples.service.every((s) => s.summary && s.summary.added + s.summary.moved + s.summary.missing + s.summary.restored === 0);
    rows.push(
      compareRow({ what: `ready, ${label} files: ours vs chokidar 5`, unit: 's', ours: ours.ready, reference: chokidar.ready, better: 'lower' }),
      compareRow({ what: `ready, ${label}: ours vs readdir+stat walk`, unit: 's', ours: ours.ready, reference: walkReady, better: 'lower' }),
      compareRow({ what: `RSS growth, ${label}: ours vs chokidar 5`, unit: 'MB', ours: toMb(ours.rss), reference: toMb(chokidar.rss), better: 'lower' }),
      compareRow({ what: `inotify watches, ${label}: ours vs chokidar 5`, unit: '', ours: ours.watches, reference: chokidar.watches, better: 'lower' }),
      compareRow({
        what: `service start, ${label} catalogued: vs chokidar`,
        unit: 's',
        ours: serviceReady,
        reference: chokidar.ready,
        better: 'lower',
        note: `WatchService.start(): the watch plus reconciliation (the catalog read in pages, a stat per file); ${unchanged ? 'found nothing to change, as it should' : 'CHANGED THINGS on an unchanged tree'}`,
      }),
      compareRow({
        what: `service RSS growth, ${label}: vs chokidar`,
        unit: 'MB',
        ours: toMb(mid('service', (s) => s.rssGrowthBytes)),
        reference: toMb(chokidar.rss),
        better: 'lower',
        note: 'includes the catalog read (SQLite page cache) and the start-up scan’s transient maps',
      }),
      checkRow({
        what: `service start, ${label}: worst event-loop stall`,
        unit: 'ms',
        ours: mid('service', (s) => s.maxLoopDelayMs),
        target: '< 50 ms',
        pass: (mid('service', (s) => s.maxLoopDelayMs) ?? Infinity) < 50,
      }),
      checkRow({
        what: `pick-up, ${DROP_COUNT} new files (${label} watched)`,
        unit: 'files/s',
        ours: ours.drop ? (ours.reported ?? 0) / ours.drop : null,
        target: '–',
        pass: ours.reported === DROP_COUNT ? null : false,
        note: `${ours.reported ?? 0}/${DROP_COUNT} reported in ${ours.drop?.toFixed(2) ?? '?'} s, including the ${STABILITY_MS} ms write-finished wait`,
      }),
    );
    if (count === sizes[sizes.length - 1]) {
      rows.push(
        checkRow({ what: `target: ready, ${label} files`, unit: 's', ours: ours.ready, target: `< ${TARGET.readySeconds} s`, pass: ours.ready !== null && ours.ready < TARGET.readySeconds }),
        checkRow({
          what: `target: RSS growth, ${label} files`,
          unit: 'MB',
          ours: toMb(ours.rss),
          target: `< ${TARGET.rssBytes / MB} MB`,
          pass: ours.rss !== null && ours.rss < TARGET.rssBytes,
          note: `peak RSS of the whole process (Node included): ${toMb(ours.peak)?.toFixed(0)} MB`,
        }),
        checkRow({ what: `target: service start, ${label} files`, unit: 's', ours: serviceReady, target: `< ${TARGET.readySeconds} s`, pass: serviceReady !== null && serviceReady < TARGET.readySeconds }),
        checkRow({ what: `target: inotify watches, ${label} files`, unit: '', ours: ours.watches, target: `< ${TARGET.watches}`, pass: ours.watches !== null && ours.watches < TARGET.watches }),
      );
    }
    details[`files-${count}`] = samples;
  }
  return { name: 'watch', rows, cachesDropped: null, details };
}

function toMb(bytes: number | null): number | null {
  return bytes === null ? null : bytes / MB;
}

if (process.argv[2] === CHILD_FLAG) {
  const [, , , mode, root] = process.argv;
  await reportToParent(() => child(mode as Mode, root!));
}
