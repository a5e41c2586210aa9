import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HeicDecoder } from '../app/media/derivatives/heic-decoder.ts';
import { MAX_INPUT_PIXELS, PhotoPipeline, previewEdge } from '../app/media/derivatives/photo-derivatives.ts';
import sharp from 'sharp';
import { THUMB_SIZE } from '../app/media/derivatives/derivative-paths.ts';
import { ensurePhotoCorpus } from './corpus.ts';
import { checkRow, compareRow, hasTool, runNodeChild, runTool, timeRoundRobin, toolVersion, type BenchOptions, type BenchReport, type ResultRow } from './lib/harness.ts';
import type { LagChildResult } from './thumbs.child.ts';

const PARALLEL = 2;
const CHILD = new URL('./thumbs.child.ts', import.meta.url).pathname;

/** Splits `files` into `parts` interleaved lists, one per process. */
function split<T>(files: readonly T[], parts: number): T[][] {
  return Array.from({ length: parts }, (_, part) => files.filter((_, index) => index % parts === part));
}

/** Runs `work` over `files` with `parallel` in flight. */
async function pool<T>(files: readonly T[], parallel: number, work: (file: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < files.length) await work(files[next++]!);
    }),
  );
}

/**
 * Photos per second for preview (2048 px) + thumbnail (320 px) + placeholder from 24 MP JPEGs, beside
 * vipsthumbnail making the same two sizes, ImageMagick, and the decode-only floor (`djpeg -scale 1/4`), all
 * with 2 photos in flight; then the engine's event-loop lag while it imports a card and makes its thumbnails.
 */
export async function run(options: BenchOptions): Promise<BenchReport> {
  const count = options.quick ? 10 : 40;
  const rounds = options.quick ? 1 : 3;
  const corpus = await ensurePhotoCorpus({ count, log: options.log });
  const work = path.join(options.benchDir, 'work', 'thumbs');
  const fresh = async (name: string): Promise<string> => {
    const dir = path.join(work, name);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return dir;
  };
  const heic = new HeicDecoder({ maxPixels: MAX_INPUT_PIXELS });
  const pipeline = new PhotoPipeline({ heic });
  const files = corpus.files;
  // The references make the very sizes ours does (2000 px for the corpus's 6000 px frames: see previewEdge).
  const first = await sharp(files[0]!).metadata();
  const PREVIEW = previewEdge(Math.max(first.width ?? 0, first.height ?? 0));
  // Debian's ImageMagick 6 is /usr/bin/convert; a `convert` earlier on PATH may be another program of that name.
  const convert = (await hasTool('/usr/bin/convert')) ? '/usr/bin/convert' : 'convert';
  const tools = { vips: await hasTool('vipsthumbnail'), magick: await hasTool(convert), djpeg: await hasTool('djpeg') };
  const tasks: Record<string, () => Promise<unknown>> = {
    ours: async () => {
      const out = await fresh('ours');
      await pool(files, PARALLEL, (file) =>
        pipeline.make({
          source: file,
          kind: 'photo',
          mime: 'image/jpeg',
          orientation: null,
          thumbPath: path.join(out, `${path.basename(file)}.thumb.webp`),
          previewPath: path.join(out, `${path.basename(file)}.preview.jpg`),
        }),
      );
    },
  };
  if (tools.vips) {
    tasks.vipsthumbnail = async () => {
      const out = await fresh('vips');
      // Two runs per photo, one per size: vipsthumbnail makes one size per decode.
      await Promise.all(
        split(files, PARALLEL).map(async (part) => {
          await runTool('vipsthumbnail', ['-s', String(PREVIEW), '-o', `${out}/%s-preview.jpg[Q=82,strip]`, ...part]);
          await runTool('vipsthumbnail', ['-s', String(THUMB_SIZE), '-o', `${out}/%s-thumb.webp[Q=72,strip]`, ...part]);
        }),
      );
    };
  }
  if (tools.magick) {
    tasks.imagemagick = async () => {
      const out = await fresh('magick');
      // One decode for both sizes, with the DCT-scaling hint at the preview's aspect (a square hint disables it).
      await Promise.all(
        split(files, PARALLEL).map(async (part) => {
          for (const file of part) {
            const base = path.join(out, path.basename(file));
            await runTool(convert, ['-define', `jpeg:size=${PREVIEW * 2}x${Math.round((PREVIEW * 4) / 3)}`, file, '-auto-orient', '-strip',
              '-resize', `${PREVIEW}x${PREVIEW}>`, '-quality', '82', '-write', `${base}-preview.jpg`,
              '-resize', `${THUMB_SIZE}x${THUMB_SIZE}`, '-quality', '72', `${base}-thumb.webp`]);
          }
        }),
      );
    };
  }
  if (tools.djpeg) {
    tasks['djpeg -scale 1/4'] = async () => {
      await Promise.all(split(files, PARALLEL).map(async (part) => {
        for (const file of part) await runTool('djpeg', ['-scale', '1/4', '-outfile', '/dev/null', file]);
      }));
    };
  }
  options.log(`thumbs: ${count} photos (${(corpus.bytes / 2 ** 20).toFixed(0)} MiB), ${rounds} round(s), ${PARALLEL} in flight: ${Object.keys(tasks).join(', ')}`);
  const timed = await timeRoundRobin(tasks, { runs: rounds });
  await heic.close();
  const rate = (name: string): number | null => (timed[name] ? count / timed[name].median : null);
  const ours = rate('ours')!;
  const rows: ResultRow[] = [
    compareRow({
      what: 'preview+thumb+placeholder vs vipsthumbnail (2 sizes)',
      unit: 'photo/s',
      ours,
      reference: rate('vipsthumbnail'),
      better: 'higher',
      target: 1.0,
      note: `stretch 1.5×; both make a ${PREVIEW} px preview and a ${THUMB_SIZE} px thumbnail of each ${first.width}×${first.height} photo`,
    }),
    compareRow({ what: 'preview+thumb+placeholder vs ImageMagick', unit: 'photo/s', ours, reference: rate('imagemagick'), better: 'higher' }),
    compareRow({ what: 'preview+thumb+placeholder vs djpeg 1/4 (decode only)', unit: 'photo/s', ours, reference: rate('djpeg -scale 1/4'), better: 'higher', note: 'the floor: no resize, no encode' }),
  ];

  // Event-loop lag of the engine while it imports a card with the job queue making thumbnails alongside.
  const lagCount = options.quick ? 50 : 500;
  const lagCorpus = await ensurePhotoCorpus({ count: lagCount, log: options.log });
  const library = await fresh('lag-library');
  options.log(`thumbs: event-loop lag during an import of ${lagCount} photos with thumbnails made alongside (child process)`);
  const lag = await runNodeChild<LagChildResult>(CHILD, [lagCorpus.root, library]);
  rows.push(
    checkRow({ what: `engine event-loop lag p50, import of ${lagCount}`, unit: 'ms', ours: lag.result.p50Ms, target: '–', pass: null }),
    checkRow({
      what: `engine event-loop lag p99, import of ${lagCount}`,
      unit: 'ms',
      ours: lag.result.p99Ms,
      target: '< 50 ms',
      pass: lag.result.p99Ms < 50,
      note: `max ${lag.result.maxMs.toFixed(1)} ms; ${lag.result.imported} imported in ${lag.result.importSeconds.toFixed(1)} s, thumbnails done ${lag.result.thumbs} in ${lag.result.totalSeconds.toFixed(1)} s; peak RSS ${(lag.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
    }),
  );
  return {
    name: 'thumbs',
    rows,
    cachesDropped: null,
    details: {
      photos: count,
      parallel: PARALLEL,
      cores: os.availableParallelism(),
      timed,
      vipsthumbnail: tools.vips ? await toolVersion('vipsthumbnail', ['--vips-version']) : null,
      imagemagick: tools.magick ? await toolVersion(convert, ['-version']) : null,
      lag: lag.result,
    },
  };
}
