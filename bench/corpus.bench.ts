import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import exifr from 'exifr';
import sharp from 'sharp';
import { PHOTO_HEIGHT, PHOTO_WIDTH, createPhotoMaker, ensurePhotoCorpus, planShots } from './corpus.ts';
import { checkRow, median, timeOnce, type BenchOptions, type BenchReport, type ResultRow } from './lib/harness.ts';

const MB = 1_000_000;
const MIN_MB = 6;
const MAX_MB = 10;

/** Builds (or reuses) the photo corpus other benches import, times one 24 MP photo, and checks sizes, pixels and EXIF. */
export async function run(options: BenchOptions): Promise<BenchReport> {
  const count = options.quick ? 50 : 500;
  const maker = await createPhotoMaker({ log: options.log });

  // One photo at a time, so the figure is the cost of a single 24 MP photo, not the corpus throughput.
  const scratch = path.join(options.benchDir, 'tmp', 'corpus-timing');
  await mkdir(scratch, { recursive: true });
  const samples: number[] = [];
  for (const shot of planShots(options.quick ? 3 : 5)) {
    const file = path.join(scratch, `IMG_${shot.index}.JPG`);
    samples.push((await timeOnce(() => maker.write(file, shot))).seconds);
  }
  await rm(scratch, { recursive: true, force: true });
  options.log(`corpus: one 24 MP photo takes ${samples.map((s) => s.toFixed(2)).join(', ')} s`);

  const corpus = await ensurePhotoCorpus({ count, log: options.log, maker });
  const sizes = await Promise.all(corpus.files.map(async (file) => (await stat(file)).size / MB));
  const smallest = Math.min(...sizes);
  const largest = Math.max(...sizes);
  const perFolder = new Map<string, number>();
  for (const file of corpus.files) perFolder.set(path.dirname(file), (perFolder.get(path.dirname(file)) ?? 0) + 1);

  // First, middle and last frame: enough to catch a generator that lost its EXIF or its size.
  const sampleFiles = [...new Set([0, Math.floor(corpus.files.length / 2), corpus.files.length - 1])]
    .map((i) => corpus.files[i])
    .filter((file): file is string => file !== undefined);
  const checks = await Promise.all(
    sampleFiles.map(async (file) => {
      const meta = await sharp(file).metadata();
      const exif = (await exifr.parse(file, { pick: ['Make', 'Model', 'DateTimeOriginal', 'OffsetTimeOriginal'] })) as Record<string, unknown> | undefined;
      return {
        file: path.relative(corpus.root, file),
        pixels: meta.width === PHOTO_WIDTH && meta.height === PHOTO_HEIGHT,
        exif: exif?.Make === 'Canon' && typeof exif.Model === 'string' && exif.DateTimeOriginal !== undefined && typeof exif.OffsetTimeOriginal === 'string',
        found: exif ?? null,
      };
    }),
  );

  const rows: ResultRow[] = [
    checkRow({ what: 'one 24 MP photo, sharp, one at a time', unit: 's', ours: median(samples), target: '–', pass: null }),
    checkRow({
      what: `corpus of ${count}, 2 photos in flight`,
      unit: 'photos/s',
      ours: corpus.generated === 0 ? null : corpus.generated / corpus.seconds,
      target: '–',
      pass: null,
      ...(corpus.reused ? { note: `reused from ${corpus.root}` } : {}),
    }),
    checkRow({ what: 'smallest photo', unit: 'MB', ours: smallest, target: `≥ ${MIN_MB} MB`, pass: smallest >= MIN_MB }),
    checkRow({ what: 'median photo', unit: 'MB', ours: median(sizes), target: `${MIN_MB}–${MAX_MB} MB`, pass: median(sizes) >= MIN_MB && median(sizes) <= MAX_MB }),
    checkRow({ what: 'largest photo', unit: 'MB', ours: largest, target: `≤ ${MAX_MB} MB`, pass: largest <= MAX_MB }),
    checkRow({ what: 'corpus total', unit: 'MB', ours: corpus.bytes / MB, target: '–', pass: null }),
    checkRow({ what: 'most files in one DCIM folder', unit: '', ours: Math.max(...perFolder.values()), target: '≤ 250', pass: Math.max(...perFolder.values()) <= 250 }),
    checkRow({ what: `pixels ${PHOTO_WIDTH}×${PHOTO_HEIGHT} (${checks.length} sampled)`, unit: '', ours: null, target: 'all', pass: checks.every((check) => check.pixels) }),
    checkRow({ what: `EXIF Make/Model/DateTimeOriginal/Offset (${checks.length})`, unit: '', ours: null, target: 'all', pass: checks.every((check) => check.exif) }),
  ];
  return {
    name: 'corpus',
    rows,
    cachesDropped: null,
    details: { root: corpus.root, count, reused: corpus.reused, generationSeconds: corpus.seconds, onePhotoSeconds: samples, sizesMB: sizes, checks },
  };
}
