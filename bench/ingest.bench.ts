import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePhotoCorpus } from './corpus.ts';
import type { IngestChildResult } from './ingest.child.ts';
import { measureIngestReference, type IngestReference } from './ingest-reference.ts';
import {
  MIB,
  REPO_ROOT,
  checkRow,
  compareRow,
  dropCaches,
  median,
  runNodeChild,
  runTool,
  type BenchOptions,
  type BenchReport,
  type ResultRow,
} from './lib/harness.ts';

const CHILD = fileURLToPath(new URL('./ingest.child.ts', import.meta.url));
// Ours must reach at least this fraction of the cp + sync + hash floor.
const TARGET = 0.8;

/** One timed import by our engine. */
interface OurRun {
  result: IngestChildResult;
  /** `sync` after the import; included in `seconds`. */
  syncSeconds: number;
  peakRssBytes: number;
  seconds: number;
  cachesDropped: boolean;
}

/** Our import of `source` into a fresh library, cold cache, in a child process so its RSS is its own. */
async function importOnce(source: string, library: string): Promise<OurRun> {
  await rm(library, { recursive: true, force: true });
  const cachesDropped = await dropCaches();
  try {
    const child = await runNodeChild<IngestChildResult>(CHILD, [source, library, 'Bench ingest']);
    // The reference pays for sync, so ours does too: neither gets to leave its writes in the page cache.
    const syncRun = await runTool('sync', []);
    return {
      result: child.result,
      syncSeconds: syncRun.seconds,
      peakRssBytes: child.peakRssBytes,
      seconds: child.result.importSeconds + syncRun.seconds,
      cachesDropped,
    };
  } finally {
    await rm(library, { recursive: true, force: true });
  }
}

/** The run whose total is the median (the lower middle for an even count), so its parts add up to the figure shown. */
function medianRun<T extends { seconds: number }>(runs: readonly T[]): T | null {
  const sorted = [...runs].sort((a, b) => a.seconds - b.seconds);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? null;
}

/** Imports a camera card with our engine (child process, cold cache) and compares it with cp -r + sync + the fastest CLI hasher, in paired rounds. */
export async function run(options: BenchOptions): Promise<BenchReport> {
  const count = options.quick ? 50 : 500;
  const rounds = 3;
  const corpus = await ensurePhotoCorpus({ count, log: options.log });
  const workDir = path.join(options.benchDir, 'work', 'ingest');
  const library = path.join(workDir, 'library');
  const megabytes = corpus.bytes / 1e6;

  const references: IngestReference[] = [];
  const ours: OurRun[] = [];
  let oursError: string | null = null;
  for (let round = 1; round <= rounds; round++) {
    // Reference and ours alternate within a round so that load from other work on the machine hits both.
    options.log(`ingest: round ${round}/${rounds}: reference over ${count} photos (${megabytes.toFixed(0)} MB): cp -r, sync, b3sum / xxhsum -H2`);
    const reference = await measureIngestReference(corpus.root, path.join(workDir, 'reference'));
    references.push(reference);
    options.log(
      `ingest: floor ${reference.seconds.toFixed(2)} s = cp ${reference.copySeconds.toFixed(2)} + sync ${reference.syncSeconds.toFixed(2)} + ${reference.hasher} ${reference.hashSeconds.toFixed(2)}`,
    );
    if (oursError !== null) continue;
    options.log(`ingest: round ${round}/${rounds}: our import into ${path.relative(REPO_ROOT, library)} (child process)`);
    try {
      const run = await importOnce(corpus.root, library);
      ours.push(run);
      options.log(`ingest: ours ${run.seconds.toFixed(2)} s (import ${run.result.importSeconds.toFixed(2)} + sync ${run.syncSeconds.toFixed(2)})`);
    } catch (error) {
      // A broken import is a result to show beside the floor, not a crash of the whole bench run.
      oursError = error instanceof Error ? error.message : String(error);
      options.log(`ingest: our import failed: ${oursError.split('\n')[0] ?? ''}`);
    }
  }

  const reference = medianRun(references) as IngestReference;
  const referenceSeconds = median(references.map((r) => r.seconds));
  const oursMedian = medianRun(ours);
  const oursSeconds = ours.length > 0 ? median(ours.map((r) => r.seconds)) : null;

  const headline = compareRow({
    what: `import ${count} photos: ours vs cp+sync+${reference.hasher}`,
    unit: 's',
    ours: oursSeconds,
    reference: referenceSeconds,
    better: 'lower',
    target: TARGET,
    ...(oursError === null ? {} : { note: `our import failed: ${oursError.split('\n')[0] ?? ''}` }),
  });
  // An engine that exists but cannot import has missed the target, not skipped it.
  if (oursError !== null) headline.pass = false;
  const rows: ResultRow[] = [
    headline,
    compareRow({
      what: 'import throughput',
      unit: 'MB/s',
      ours: oursSeconds === null ? null : megabytes / oursSeconds,
      reference: megabytes / referenceSeconds,
      better: 'higher',
    }),
    checkRow({ what: 'reference: cp -r (cold cache)', unit: 's', ours: null, reference: reference.copySeconds, target: '–', pass: null }),
    checkRow({ what: 'sync after copy / import', unit: 's', ours: oursMedian?.syncSeconds ?? null, reference: reference.syncSeconds, target: '–', pass: null }),
    ...Object.entries(reference.hashers).map(([hasher, seconds]) =>
      checkRow({ what: `reference: ${hasher} over the copy`, unit: 's', ours: null, reference: seconds, target: '–', pass: null }),
    ),
  ];
  if (oursMedian) {
    const { result } = oursMedian;
    const found = result.imported + result.duplicates;
    const hasherRss = reference.peakRssBytes[reference.hasher];
    rows.push(
      checkRow({ what: 'imported + duplicates = files on card', unit: '', ours: found, reference: count, target: `= ${count}`, pass: found === count }),
      checkRow({ what: 'failed', unit: '', ours: result.failed, target: '= 0', pass: result.failed === 0 }),
      checkRow({ what: 'bytes reported = bytes on card', unit: 'MB', ours: result.bytes / 1e6, reference: megabytes, target: 'equal', pass: result.bytes === corpus.bytes }),
      checkRow({
        what: `peak RSS: importer vs ${reference.hasher}`,
        unit: 'MiB',
        ours: oursMedian.peakRssBytes / MIB,
        reference: hasherRss === null || hasherRss === undefined ? null : hasherRss / MIB,
        target: '–',
        pass: null,
      }),
    );
  }

  const cachesDropped = references.every((r) => r.cachesDropped) && ours.every((r) => r.cachesDropped);
  return {
    name: 'ingest',
    rows,
    cachesDropped,
    details: {
      corpus: { root: corpus.root, files: corpus.files.length, bytes: corpus.bytes },
      rounds,
      references,
      ours,
      oursError,
      target: TARGET,
    },
  };
}
