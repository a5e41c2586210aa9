import { randomFill } from 'node:crypto';
import { mkdir, open, rm, stat, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { staticCredentials } from '../app/cloud/credentials.ts';
import { ObjectStore } from '../app/cloud/object-store.ts';
import { cloudSettingsSchema } from '../app/cloud/settings.ts';
import { fingerprintFile, type Fingerprint } from '../app/cloud/uploader.ts';
import { startS3Server, type S3Server } from '../app/test/s3-server.ts';
import {
  MIB,
  REPO_ROOT,
  checkRow,
  compareRow,
  formatBytes,
  hasTool,
  median,
  runNodeChild,
  runTool,
  toolVersion,
  type BenchOptions,
  type BenchReport,
  type ResultRow,
  type ToolRun,
} from './lib/harness.ts';
import type { UploadChildJob, UploadChildResult } from './upload.child.ts';

const CHILD = fileURLToPath(new URL('./upload.child.ts', import.meta.url));
const BUCKET = 'bench';
const MB = 1_000_000;
// Ours must at least match rclone's throughput on the same server in the same run.
const TARGET = 1;
// The headline settings, the product's defaults.
const PART_MIB = 16;
const CONCURRENCY = 4;
// The streaming check: the big upload's peak may not exceed the small one's by more than this factor.
const GROWTH_LIMIT = 1.25;
// ... judged only when the smaller upload had this many parts (several waves of `concurrency` buffers).
const STEADY_PARTS = 16;

const fillRandom = promisify(randomFill);

interface Spec {
  largeBytes: number;
  smallCount: number;
  smallBytes: number;
  rounds: number;
  /** Part size (MiB) × concurrency configurations for the large file alone. */
  grid: Array<[number, number]>;
  hugeBytes: number;
}

const FULL: Spec = {
  largeBytes: 512 * MIB,
  smallCount: 256,
  smallBytes: 2 * MIB,
  rounds: 3,
  grid: [8, 16, 64].flatMap((part) => [2, 4, 8].map((concurrency): [number, number] => [part, concurrency])),
  hugeBytes: 5 * 1024 * MIB,
};

const QUICK: Spec = {
  largeBytes: 64 * MIB,
  smallCount: 32,
  smallBytes: 1 * MIB,
  rounds: 2,
  grid: [
    [8, 2],
    [16, 4],
    [64, 8],
  ],
  hugeBytes: 512 * MIB,
};

/** Writes `size` random bytes to `file` in chunks of at most 16 MiB. */
async function writeRandomFile(file: string, size: number, pool?: Buffer): Promise<void> {
  const handle = await open(file, 'w');
  try {
    const chunk = Buffer.allocUnsafe(Math.min(size, 16 * MIB));
    for (let offset = 0, index = 0; offset < size; index++) {
      const length = Math.min(chunk.length, size - offset);
      const piece = chunk.subarray(0, length);
      if (pool) {
        // Large files: a slice of a random pool, stamped with the chunk number so no two chunks are alike.
        pool.copy(piece, 0, (index * 7 * MIB) % (pool.length - length + 1), undefined);
        piece.writeUInt32LE(index, 0);
      } else {
        await fillRandom(piece);
      }
      await handle.write(piece, 0, length, offset);
      offset += length;
    }
  } finally {
    await handle.close();
  }
}

/** Objects and bytes under a prefix, from a listing. */
async function listed(server: S3Server, prefix: string): Promise<{ objects: number; bytes: number }> {
  const settings = cloudSettingsSchema.parse({ endpoint: server.endpoint, bucket: server.bucket, pathStyle: true, school: 'bench' });
  const store = new ObjectStore(settings, staticCredentials({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }));
  try {
    const objects = await store.list(`${prefix}/`);
    return { objects: objects.length, bytes: objects.reduce((sum, object) => sum + object.size, 0) };
  } finally {
    store.close();
  }
}

/** The result of one run on a fresh server, with the listing that checks it. */
interface Checked {
  objects: number;
  bytes: number;
  ok: boolean;
}

interface OurRun {
  mode: UploadChildJob['mode'];
  result: UploadChildResult;
  peakRssBytes: number;
  check: Checked;
}

interface RcloneRun {
  seconds: number;
  peakRssBytes: number | null;
  check: Checked;
}

/**
 * Times our uploader (fingerprinting as publishing does, and with the fingerprints taken first) and
 * `rclone copy` with the same part size and concurrency, each on a fresh s3rver in this process; then the
 * large file alone over a grid of part sizes × concurrency; then the peak RSS of a 5 GiB upload.
 */
export async function run(options: BenchOptions): Promise<BenchReport> {
  const spec = options.quick ? QUICK : FULL;
  const rclone = (await hasTool('/usr/bin/rclone')) ? '/usr/bin/rclone' : 'rclone';
  if (!(await hasTool(rclone))) throw new Error('rclone is not installed (Debian: apt-get install rclone); the upload bench compares against it');
  const workDir = path.join(options.benchDir, 'work', 'upload');
  const filesDir = path.join(workDir, 'files');
  let server: S3Server | null = null;
  let serial = 0;

  /** Runs `work` on a fresh s3rver (bucket `bench`), removed afterwards with everything stored in it. */
  const withServer = async <T>(work: (s3: S3Server) => Promise<T>): Promise<T> => {
    server = await startS3Server({ bucket: BUCKET });
    try {
      return await work(server);
    } finally {
      await server.close();
      server = null;
    }
  };

  // Only the remote's own settings: AWS_* variables (e.g. AWS_CA_BUNDLE, which rclone's SDK cannot load for a
  // plain-HTTP endpoint) would configure rclone beyond what ours is given.
  const rcloneEnv = (s3: S3Server): NodeJS.ProcessEnv => ({
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_'))),
    RCLONE_CONFIG_BENCH_TYPE: 's3',
    RCLONE_CONFIG_BENCH_PROVIDER: 'Other',
    RCLONE_CONFIG_BENCH_ENDPOINT: s3.endpoint,
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: 'S3RVER',
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: 'S3RVER',
    RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: 'true',
    RCLONE_CONFIG_BENCH_REGION: 'us-east-1',
  });
  // rclone's default cutoff (200 MiB) would send the quick run's 64 MiB file in one PUT; ours goes multipart above one part.
  const rcloneFlags = (part: number, concurrency: number): string[] => [
    '--transfers',
    String(concurrency),
    '--s3-upload-concurrency',
    String(concurrency),
    '--s3-chunk-size',
    `${part}M`,
    '--s3-upload-cutoff',
    `${part}M`,
  ];

  const ours = async (
    files: string[],
    mode: UploadChildJob['mode'],
    settings: { part: number; concurrency: number; fingerprints?: Record<string, Fingerprint> },
  ): Promise<OurRun> =>
    withServer(async (s3) => {
      const id = ++serial;
      const prefix = `runs/ours-${id}`;
      const libraryDir = path.join(workDir, `library-${id}`);
      const job: UploadChildJob = {
        endpoint: s3.endpoint,
        bucket: s3.bucket,
        libraryDir,
        prefix,
        files,
        partSizeMiB: settings.part,
        concurrency: settings.concurrency,
        mode,
        ...(settings.fingerprints ? { fingerprints: settings.fingerprints } : {}),
      };
      try {
        const child = await runNodeChild<UploadChildResult>(CHILD, [JSON.stringify(job)]);
        const expected = child.result.bytes;
        const seen = await listed(s3, prefix);
        return {
          mode,
          result: child.result,
          peakRssBytes: child.peakRssBytes,
          check: { ...seen, ok: seen.objects === files.length && seen.bytes === expected },
        };
      } finally {
        await rm(libraryDir, { recursive: true, force: true });
      }
    });

  const reference = async (source: string, expected: { objects: number; bytes: number }, part: number, concurrency: number): Promise<RcloneRun> =>
    withServer(async (s3) => {
      const prefix = `runs/rclone-${++serial}`;
      const single = (await stat(source)).isFile();
      const target = single ? `bench:${s3.bucket}/${prefix}/${path.basename(source)}` : `bench:${s3.bucket}/${prefix}`;
      const tool: ToolRun = await runTool(rclone, [single ? 'copyto' : 'copy', source, target, ...rcloneFlags(part, concurrency)], { env: rcloneEnv(s3), rssPollMs: 50 });
      const seen = await listed(s3, prefix);
      return { seconds: tool.seconds, peakRssBytes: tool.peakRssBytes, check: { ...seen, ok: seen.objects === expected.objects && seen.bytes === expected.bytes } };
    });

  const rows: ResultRow[] = [];
  const details: Record<string, unknown> = { spec, rclone, rcloneVersion: await toolVersion(rclone, ['version']), bucket: BUCKET };
  try {
    await rm(workDir, { recursive: true, force: true });
    await mkdir(filesDir, { recursive: true });

    // --- 1. throughput over one large file and many small ones -------------------------------------------
    const pool = Buffer.allocUnsafe(64 * MIB);
    await fillRandom(pool);
    const large = path.join(filesDir, `big-${spec.largeBytes / MIB}MiB.bin`);
    const smalls = Array.from({ length: spec.smallCount }, (_, i) => path.join(filesDir, `small-${String(i + 1).padStart(4, '0')}.bin`));
    const files = [large, ...smalls];
    const totalBytes = spec.largeBytes + spec.smallCount * spec.smallBytes;
    const sizeLabel = `${formatBytes(spec.largeBytes)} + ${spec.smallCount} × ${formatBytes(spec.smallBytes)}`;
    options.log(`upload: writing ${sizeLabel} of random bytes to ${path.relative(REPO_ROOT, filesDir)}`);
    await writeRandomFile(large, spec.largeBytes, pool);
    for (const file of smalls) await writeRandomFile(file, spec.smallBytes);
    const megabytes = totalBytes / MB;

    const tasks: Record<string, () => Promise<OurRun | RcloneRun>> = {
      ours: () => ours(files, 'publish', { part: PART_MIB, concurrency: CONCURRENCY }),
      rclone: () => reference(filesDir, { objects: files.length, bytes: totalBytes }, PART_MIB, CONCURRENCY),
      oursFingerprintFirst: () => ours(files, 'fingerprint-first', { part: PART_MIB, concurrency: CONCURRENCY }),
    };
    const runs: { ours: OurRun[]; rclone: RcloneRun[]; oursFingerprintFirst: OurRun[] } = { ours: [], rclone: [], oursFingerprintFirst: [] };
    const names = Object.keys(tasks) as Array<keyof typeof runs>;
    for (let round = 0; round < spec.rounds; round++) {
      for (let i = 0; i < names.length; i++) {
        // Each round starts with a different side, so drift on the shared machine hits all alike.
        const name = names[(round + i) % names.length]!;
        const value = await tasks[name]!();
        (runs[name] as Array<OurRun | RcloneRun>).push(value);
        if ('result' in value) {
          const r = value.result;
          const split = r.uploadSeconds === null ? `fingerprints ${r.fingerprintSeconds.toFixed(2)} s summed over files` : `fingerprints ${r.fingerprintSeconds.toFixed(2)} + upload ${r.uploadSeconds.toFixed(2)} s`;
          options.log(
            `upload: round ${round + 1}/${spec.rounds} ${name}: ${r.totalSeconds.toFixed(2)} s (${(megabytes / r.totalSeconds).toFixed(0)} MB/s; ${split}); listed ${value.check.objects} objects, ${value.check.bytes} bytes ${value.check.ok ? 'ok' : 'WRONG'}`,
          );
        } else {
          options.log(
            `upload: round ${round + 1}/${spec.rounds} rclone: ${value.seconds.toFixed(2)} s (${(megabytes / value.seconds).toFixed(0)} MB/s); listed ${value.check.objects} objects, ${value.check.bytes} bytes ${value.check.ok ? 'ok' : 'WRONG'}`,
          );
        }
      }
    }
    const oursSeconds = median(runs.ours.map((r) => r.result.totalSeconds));
    const rcloneSeconds = median(runs.rclone.map((r) => r.seconds));
    const firstUpload = median(runs.oursFingerprintFirst.map((r) => r.result.uploadSeconds ?? Number.NaN));
    const firstFingerprint = median(runs.oursFingerprintFirst.map((r) => r.result.fingerprintSeconds));
    const oursOk = [...runs.ours, ...runs.oursFingerprintFirst].every((r) => r.check.ok && r.result.files === files.length);
    const rcloneOk = runs.rclone.every((r) => r.check.ok);
    const headline = compareRow({
      what: `${sizeLabel}: ours vs rclone copy`,
      unit: 'MB/s',
      ours: megabytes / oursSeconds,
      reference: megabytes / rcloneSeconds,
      better: 'higher',
      target: TARGET,
      note: `medians of ${spec.rounds} alternating runs, ${PART_MIB} MiB parts × ${CONCURRENCY}, each on a fresh s3rver; ours fingerprints every file (XXH3-128 + MD5) as publishing does, rclone computes its MD5s; ours is timed inside its process, rclone's time includes its start`,
    });
    // A fast but wrong upload has not passed.
    if (!oursOk) headline.pass = false;
    rows.push(
      headline,
      compareRow({ what: 'same, wall time', unit: 's', ours: oursSeconds, reference: rcloneSeconds, better: 'lower' }),
      compareRow({
        what: 'ours, fingerprints taken first: upload alone',
        unit: 'MB/s',
        ours: megabytes / firstUpload,
        reference: megabytes / rcloneSeconds,
        better: 'higher',
        note: `the upload phase of a run that fingerprints every file first (${firstFingerprint.toFixed(2)} s median, ${CONCURRENCY} files at a time); reference: rclone, MD5s included`,
      }),
      checkRow({ what: 'ours, fingerprints taken first: fingerprinting', unit: 's', ours: firstFingerprint, target: '–', pass: null }),
      checkRow({
        what: 'ours, fingerprints first: fingerprint + upload',
        unit: 's',
        ours: firstFingerprint + firstUpload,
        reference: rcloneSeconds,
        target: '–',
        pass: null,
      }),
      checkRow({
        what: 'listing after each of our runs: objects, bytes',
        unit: '',
        ours: [...runs.ours, ...runs.oursFingerprintFirst].filter((r) => r.check.ok).length,
        reference: runs.ours.length + runs.oursFingerprintFirst.length,
        target: 'all runs',
        pass: oursOk,
        note: `runs whose listing held ${files.length} objects and ${totalBytes} bytes; rclone's runs: ${runs.rclone.filter((r) => r.check.ok).length}/${runs.rclone.length}${rcloneOk ? '' : ' (rclone stored something else!)'}`,
      }),
      compareRow({
        what: 'peak RSS: ours vs rclone',
        note: 'ours: the child process maxRSS; rclone: VmHWM polled every 50 ms',
        unit: 'MiB',
        ours: median(runs.ours.map((r) => r.peakRssBytes)) / MIB,
        reference: median(runs.rclone.map((r) => r.peakRssBytes ?? Number.NaN)) / MIB,
        better: 'lower',
      }),
    );
    details.throughput = { files: files.length, totalBytes, runs };

    // --- 2. the large file alone: part size × concurrency ------------------------------------------------
    // A fingerprint holds each part's MD5, so it is taken once per part size (not timed here).
    options.log(`upload: fingerprinting ${path.basename(large)} once per part size for the part size × concurrency grid`);
    const largeFingerprints = new Map<number, Fingerprint>();
    const grid: Array<{ part: number; concurrency: number; run: OurRun }> = [];
    for (const [part, concurrency] of spec.grid) {
      if (!largeFingerprints.has(part)) largeFingerprints.set(part, await fingerprintFile(large, { preferredPartSize: part * MIB }));
      const run = await ours([large], 'given', { part, concurrency, fingerprints: { [large]: largeFingerprints.get(part)! } });
      grid.push({ part, concurrency, run });
      options.log(
        `upload: ${formatBytes(spec.largeBytes)}, ${part} MiB parts × ${concurrency}: ${(spec.largeBytes / MB / (run.result.uploadSeconds ?? Number.NaN)).toFixed(0)} MB/s, peak RSS ${(run.peakRssBytes / MIB).toFixed(0)} MiB (baseline ${(run.result.baselineRssBytes / MIB).toFixed(0)} MiB)${run.check.ok ? '' : ', listing WRONG'}`,
      );
    }
    const gridRclone = await reference(large, { objects: 1, bytes: spec.largeBytes }, PART_MIB, CONCURRENCY);
    const gridOk = grid.every((g) => g.run.check.ok);
    for (const { part, concurrency, run } of grid) {
      const multipart = spec.largeBytes > Math.min(64 * MIB, part * MIB);
      const isHeadline = part === PART_MIB && concurrency === CONCURRENCY;
      rows.push(
        compareRow({
          what: `${formatBytes(spec.largeBytes)}: ${part} MiB parts × ${concurrency}`,
          unit: 'MB/s',
          ours: spec.largeBytes / MB / (run.result.uploadSeconds ?? Number.NaN),
          reference: isHeadline ? spec.largeBytes / MB / gridRclone.seconds : null,
          better: 'higher',
          ...(multipart ? {} : { note: 'one PutObject: the file is not larger than one part' }),
          ...(isHeadline ? { note: 'reference: rclone copyto with the same part size and concurrency' } : {}),
        }),
        checkRow({
          what: `  peak RSS (baseline ${(run.result.baselineRssBytes / MIB).toFixed(0)} MiB)`,
          unit: 'MiB',
          ours: run.peakRssBytes / MIB,
          reference: isHeadline && gridRclone.peakRssBytes !== null ? gridRclone.peakRssBytes / MIB : null,
          target: '–',
          pass: null,
        }),
      );
    }
    rows.push(checkRow({ what: 'grid: listing after each run', unit: '', ours: grid.filter((g) => g.run.check.ok).length, reference: grid.length, target: 'all runs', pass: gridOk }));
    details.grid = { fingerprints: Object.fromEntries(largeFingerprints), runs: grid, rclone: gridRclone };

    // --- 3. memory of a 5 GiB upload -----------------------------------------------------------------------
    // Stored three times over at the peak: our file, s3rver's parts, and the object it assembles from them.
    const needed = 3 * spec.hugeBytes;
    const free = async (dir: string): Promise<number> => {
      const info = await statfs(dir);
      return info.bavail * info.bsize;
    };
    const sameDisk = (await stat(workDir)).dev === (await stat(os.tmpdir())).dev;
    const freeWork = await free(workDir);
    const freeTmp = await free(os.tmpdir());
    const enough = sameDisk ? freeWork >= needed : freeWork >= 1.25 * spec.hugeBytes && freeTmp >= 2.5 * spec.hugeBytes;
    const small = grid.find((g) => g.part === PART_MIB && g.concurrency === CONCURRENCY)?.run ?? null;
    if (!enough) {
      const note = `skipped: ${formatBytes(sameDisk ? freeWork : Math.min(freeWork, freeTmp))} free, ${formatBytes(needed)} needed (the file, s3rver's parts and its assembled object)`;
      options.log(`upload: ${note}`);
      rows.push(checkRow({ what: `${formatBytes(spec.hugeBytes)} upload: peak RSS`, unit: 'MiB', ours: null, target: '–', pass: null, note }));
      details.huge = { skipped: true, freeWork, freeTmp, needed };
    } else {
      const huge = path.join(workDir, `huge-${spec.hugeBytes / MIB}MiB.bin`);
      options.log(`upload: writing ${formatBytes(spec.hugeBytes)} to ${path.relative(REPO_ROOT, huge)}`);
      try {
        await writeRandomFile(huge, spec.hugeBytes, pool);
        options.log(`upload: ${formatBytes(spec.hugeBytes)}, ${PART_MIB} MiB parts × ${CONCURRENCY}, in a child process (it fingerprints the file first)`);
        const run = await ours([huge], 'fingerprint-first', { part: PART_MIB, concurrency: CONCURRENCY });
        const bound = run.result.baselineRssBytes + CONCURRENCY * PART_MIB * MIB;
        options.log(
          `upload: ${formatBytes(spec.hugeBytes)}: ${(spec.hugeBytes / MB / (run.result.uploadSeconds ?? Number.NaN)).toFixed(0)} MB/s, peak RSS ${(run.peakRssBytes / MIB).toFixed(0)} MiB (sampled during the upload ${(run.result.sampledPeakRssBytes / MIB).toFixed(0)} MiB; baseline ${(run.result.baselineRssBytes / MIB).toFixed(0)} MiB)`,
        );
        const growth = small ? run.peakRssBytes / small.peakRssBytes : null;
        const smallParts = Math.ceil(spec.largeBytes / (PART_MIB * MIB));
        const steady = smallParts >= STEADY_PARTS;
        rows.push(
          checkRow({
            what: `${formatBytes(spec.hugeBytes)}: peak RSS vs baseline + ${CONCURRENCY} × ${PART_MIB} MiB`,
            unit: 'MiB',
            ours: run.peakRssBytes / MIB,
            reference: bound / MIB,
            target: '≤ 2.00×',
            pass: run.peakRssBytes <= 2 * bound,
            note: `reference: the bound, RSS before the upload + concurrency × part size; target: at most twice it (freed part buffers wait for a GC); ours: child maxRSS (fingerprinting and upload); sampled every 50 ms during the upload: ${(run.result.sampledPeakRssBytes / MIB).toFixed(0)} MiB; baseline (RSS before the upload) ${(run.result.baselineRssBytes / MIB).toFixed(0)} MiB`,
          }),
          checkRow({
            what: `  peak RSS vs the ${formatBytes(spec.largeBytes)} file's`,
            unit: 'MiB',
            ours: run.peakRssBytes / MIB,
            reference: small ? small.peakRssBytes / MIB : null,
            target: `≤ ${GROWTH_LIMIT.toFixed(2)}×`,
            pass: growth === null || !steady ? null : growth <= GROWTH_LIMIT,
            note:
              growth === null
                ? 'no run of the grid with the same settings'
                : `${growth.toFixed(2)}× for ${(spec.hugeBytes / spec.largeBytes).toFixed(0)}× the bytes, same settings (${PART_MIB} MiB × ${CONCURRENCY})${steady ? '' : `; not judged: the ${formatBytes(spec.largeBytes)} file is only ${smallParts} parts, too few for freed part buffers to reach a steady state (the full run compares 5 GiB with 512 MiB)`}`,
          }),
          compareRow({
            what: `${formatBytes(spec.hugeBytes)}: throughput, fingerprint excluded`,
            unit: 'MB/s',
            ours: spec.hugeBytes / MB / (run.result.uploadSeconds ?? Number.NaN),
            reference: null,
            better: 'higher',
            note: `fingerprinting took ${run.result.fingerprintSeconds.toFixed(2)} s before it`,
          }),
          checkRow({ what: `  listing: one object of ${spec.hugeBytes} bytes`, unit: 'MB', ours: run.check.bytes / MB, target: 'equal', pass: run.check.ok }),
        );
        details.huge = { skipped: false, freeWork, freeTmp, needed, run, bound };
      } finally {
        await rm(huge, { force: true });
      }
    }
  } finally {
    // Everything written goes, even when a step failed: the files, the catalogs and any s3rver still running.
    const open = server as S3Server | null;
    if (open) await open.close();
    await rm(workDir, { recursive: true, force: true });
  }

  return { name: 'upload', rows, cachesDropped: null, details };
}
