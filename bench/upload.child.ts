import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Catalog } from '../app/catalog/catalog.ts';
import { staticCredentials } from '../app/cloud/credentials.ts';
import { ObjectStore } from '../app/cloud/object-store.ts';
import { cloudSettingsSchema } from '../app/cloud/settings.ts';
import { Uploader, type Fingerprint, type UploadResult } from '../app/cloud/uploader.ts';
import { reportToParent } from './lib/harness.ts';

/** What `upload.bench.ts` asks of one child (passed as one JSON argument). */
export interface UploadChildJob {
  endpoint: string;
  bucket: string;
  /** A fresh folder for the catalog the uploader records into. */
  libraryDir: string;
  /** Key prefix; each file goes to `<prefix>/<basename>`. */
  prefix: string;
  files: string[];
  partSizeMiB: number;
  concurrency: number;
  /**
   * `publish`: each file is fingerprinted and then uploaded, `concurrency` files at a time, as the publish jobs do.
   * `fingerprint-first`: every file is fingerprinted first, then all are uploaded; the two phases are timed apart.
   * `given`: the fingerprints come with the job (`fingerprints`), so only the upload is timed.
   */
  mode: 'publish' | 'fingerprint-first' | 'given';
  fingerprints?: Record<string, Fingerprint>;
}

/** What the child reports back. */
export interface UploadChildResult {
  files: number;
  bytes: number;
  /** Wall time of the whole job (fingerprinting included unless the mode is `given`). */
  totalSeconds: number;
  /** `fingerprint-first`: wall time of the fingerprint phase; `publish`: the sum of the per-file times (they overlap). */
  fingerprintSeconds: number;
  /** `fingerprint-first` and `given`: wall time of the upload phase alone; null for `publish`. */
  uploadSeconds: number | null;
  /** RSS just before the first upload, and the highest RSS sampled every 50 ms from then to the end. */
  baselineRssBytes: number;
  sampledPeakRssBytes: number;
  outcomes: Record<string, number>;
  verifiedBy: Record<string, number>;
  partsSent: number;
}

/** Runs `work` over `items` with `parallel` in flight. */
async function pool<T>(items: readonly T[], parallel: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

function count(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

// Runs in its own process (started by runNodeChild) so that its RSS is the uploader's alone and s3rver, in the
// bench process, does not share its event loop.
const [argument] = process.argv.slice(2);

await reportToParent(async (): Promise<UploadChildResult> => {
  if (!argument) throw new Error('usage: upload.child.ts <job as JSON>');
  const job = JSON.parse(argument) as UploadChildJob;
  await mkdir(job.libraryDir, { recursive: true });
  const catalog = Catalog.open(job.libraryDir);
  catalog.library.ensure('bench');
  const settings = cloudSettingsSchema.parse({
    endpoint: job.endpoint,
    bucket: job.bucket,
    pathStyle: true,
    school: 'bench',
    concurrency: job.concurrency,
    partSizeMiB: job.partSizeMiB,
  });
  const store = new ObjectStore(settings, staticCredentials({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }));
  const uploader = new Uploader({ store, catalog, settings });
  const outcomes: Record<string, number> = {};
  const verifiedBy: Record<string, number> = {};
  let partsSent = 0;
  let bytes = 0;
  let fingerprintSum = 0;
  const fingerprints = new Map<string, Fingerprint>(Object.entries(job.fingerprints ?? {}));

  const fingerprint = async (file: string): Promise<Fingerprint> => {
    const start = performance.now();
    const value = await uploader.fingerprint(file);
    fingerprintSum += (performance.now() - start) / 1000;
    fingerprints.set(file, value);
    return value;
  };
  const upload = async (file: string, value: Fingerprint): Promise<void> => {
    const result: UploadResult = await uploader.upload({
      file,
      key: `${job.prefix}/${path.basename(file)}`,
      fingerprint: value,
      contentType: 'application/octet-stream',
      assetId: null,
      eventId: null,
      variant: 'original',
    });
    count(outcomes, result.outcome);
    count(verifiedBy, result.verifiedBy);
    partsSent += result.partsSent;
    bytes += value.size;
  };

  let baselineRssBytes = 0;
  let peak = 0;
  let sampler: NodeJS.Timeout | undefined;
  const startSampling = (): void => {
    baselineRssBytes = process.memoryUsage.rss();
    peak = baselineRssBytes;
    sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 50);
  };

  try {
    const start = performance.now();
    let fingerprintSeconds = 0;
    let uploadSeconds: number | null = null;
    if (job.mode === 'publish') {
      startSampling();
      await pool(job.files, job.concurrency, async (file) => upload(file, await fingerprint(file)));
      fingerprintSeconds = fingerprintSum;
    } else {
      if (job.mode === 'fingerprint-first') {
        await pool(job.files, job.concurrency, async (file) => void (await fingerprint(file)));
        fingerprintSeconds = (performance.now() - start) / 1000;
      }
      const missing = job.files.filter((file) => !fingerprints.has(file));
      if (missing.length > 0) throw new Error(`no fingerprint given for ${missing.length} files, e.g. ${missing[0]}`);
      startSampling();
      const uploadStart = performance.now();
      await pool(job.files, job.concurrency, (file) => upload(file, fingerprints.get(file)!));
      uploadSeconds = (performance.now() - uploadStart) / 1000;
    }
    const totalSeconds = (performance.now() - start) / 1000;
    peak = Math.max(peak, process.memoryUsage.rss());
    return {
      files: job.files.length,
      bytes,
      totalSeconds,
      fingerprintSeconds,
      uploadSeconds,
      baselineRssBytes,
      sampledPeakRssBytes: peak,
      outcomes,
      verifiedBy,
      partsSent,
    };
  } finally {
    if (sampler) clearInterval(sampler);
    store.close();
    catalog.close();
  }
});
