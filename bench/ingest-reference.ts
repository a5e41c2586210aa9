import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { dropCaches, hasTool, runTool } from './lib/harness.ts';

/** The floor for importing a card: copy the tree, flush it to disk, hash the copy with the fastest CLI hasher. */
export interface IngestReference {
  files: number;
  bytes: number;
  /** `cp -r` from a cold cache (when caches could be dropped). */
  copySeconds: number;
  /** `sync` after the copy: without it the copy is only in the page cache and the floor would be unreachable for an importer that fsyncs. */
  syncSeconds: number;
  /** Seconds of the fastest hasher over the copied tree. */
  hashSeconds: number;
  /** Which hasher was fastest, e.g. `b3sum` or `xxhsum -H2`. */
  hasher: string;
  /** Seconds per hasher that was present. */
  hashers: Record<string, number>;
  /** copy + sync + fastest hash. */
  seconds: number;
  /** Decimal megabytes (10^6) per second over `seconds`. */
  mbPerSecond: number;
  cachesDropped: boolean;
  /** Polled VmHWM of each tool run; null when the tool exited before the first poll. */
  peakRssBytes: Record<string, number | null>;
}

/** Every regular file under `dir`, as paths relative to it, sorted. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

// Keeps each command line far below ARG_MAX whatever the corpus size.
const FILES_PER_COMMAND = 1000;

async function hashTree(command: string, args: readonly string[], cwd: string, files: readonly string[]): Promise<{ seconds: number; peakRssBytes: number | null }> {
  let seconds = 0;
  let peakRssBytes: number | null = null;
  for (let i = 0; i < files.length; i += FILES_PER_COMMAND) {
    const run = await runTool(command, [...args, '--', ...files.slice(i, i + FILES_PER_COMMAND)], { cwd });
    seconds += run.seconds;
    if (run.peakRssBytes !== null) peakRssBytes = Math.max(peakRssBytes ?? 0, run.peakRssBytes);
  }
  return { seconds, peakRssBytes };
}

/** The ingest floor for `sourceDir`: cold `cp -r` into `workDir`, `sync`, then the faster of b3sum and `xxhsum -H2` over the copy (removed afterwards unless `keepCopy`). */
export async function measureIngestReference(
  sourceDir: string,
  workDir: string,
  options: { dropCaches?: boolean; keepCopy?: boolean } = {},
): Promise<IngestReference> {
  const files = await listFiles(sourceDir);
  let bytes = 0;
  for (const file of files) bytes += (await stat(path.join(sourceDir, file))).size;

  const copy = path.join(workDir, 'copy');
  await rm(copy, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });

  const cachesDropped = options.dropCaches === false ? false : await dropCaches();
  const peakRssBytes: Record<string, number | null> = {};
  const copyRun = await runTool('cp', ['-r', '--', sourceDir, copy]);
  peakRssBytes.cp = copyRun.peakRssBytes;
  const syncRun = await runTool('sync', []);

  // The copy is still cached when it is hashed, just as the bytes an importer hashes are already in its memory,
  // so this step measures the hasher rather than a second disk read.
  const hashers: Record<string, number> = {};
  const candidates: { name: string; command: string; args: string[] }[] = [
    { name: 'b3sum', command: 'b3sum', args: [] },
    { name: 'xxhsum -H2', command: 'xxhsum', args: ['-H2'] },
  ];
  for (const candidate of candidates) {
    if (!(await hasTool(candidate.command))) continue;
    const run = await hashTree(candidate.command, candidate.args, copy, files);
    hashers[candidate.name] = run.seconds;
    peakRssBytes[candidate.name] = run.peakRssBytes;
  }
  const fastest = Object.entries(hashers).sort((a, b) => a[1] - b[1])[0];
  if (!fastest) throw new Error('neither b3sum nor xxhsum is installed; the ingest floor needs one of them');
  if (!options.keepCopy) await rm(copy, { recursive: true, force: true });

  const seconds = copyRun.seconds + syncRun.seconds + fastest[1];
  return {
    files: files.length,
    bytes,
    copySeconds: copyRun.seconds,
    syncSeconds: syncRun.seconds,
    hashSeconds: fastest[1],
    hasher: fastest[0],
    hashers,
    seconds,
    mbPerSecond: bytes / 1e6 / seconds,
    cachesDropped,
    peakRssBytes,
  };
}
