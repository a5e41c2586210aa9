import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { seededRandom } from '../app/shared/random.ts';
import { BENCH_DIR, formatBytes } from './lib/harness.ts';

/** Pixel size of every generated photo: a 24 MP, 3:2 sensor (Canon EOS R8). */
export const PHOTO_WIDTH = 6000;
/** See {@link PHOTO_WIDTH}. */
export const PHOTO_HEIGHT = 4000;

// Bump when the generator changes, so cached corpora made by an older one are not reused.
const CORPUS_VERSION = 1;
const FILES_PER_FOLDER = 250;
// Bases are larger than a photo so each file can be a different crop of one.
const BASE_WIDTH = 6400;
const BASE_HEIGHT = 4400;
// Fine-grain strength per base; measured to give ~6.5–9.5 MB per photo at q92 (more grain, bigger file).
const BASE_GRAIN = [0.027, 0.035, 0.042, 0.049] as const;
const JPEG_QUALITY = 92;
const PARALLEL_WRITES = 2;
// The marker sits beside the card, not in it, so copies and imports of the card see only camera files.
const MARKER_SUFFIX = '.complete.json';

/** A cached or freshly generated photo corpus laid out like a camera card. */
export interface PhotoCorpus {
  /** The card root: it holds `DCIM/100CANON/IMG_0001.JPG`, … */
  root: string;
  /** Absolute paths, in shooting order. */
  files: string[];
  bytes: number;
  /** True when the whole corpus came from the cache. */
  reused: boolean;
  /** Photos generated in this call (fewer than `files` when resuming, 0 when reused). */
  generated: number;
  /** Seconds spent generating in this call (0 when reused). */
  seconds: number;
}

/** When and how one photo was taken; written to its EXIF. */
export interface Shot {
  /** 1-based frame number, as in `IMG_0001.JPG`. */
  index: number;
  /** EXIF local time, `YYYY:MM:DD HH:MM:SS`. */
  dateTimeOriginal: string;
  /** EXIF `OffsetTimeOriginal`, e.g. `+02:00`. */
  offsetTimeOriginal: string;
  /** Hundredths of a second, which separate frames of a burst within one second. */
  subSecTimeOriginal: string;
}

/** Writes photo-like 24 MP JPEGs from a few shared base textures. */
export interface PhotoMaker {
  write(file: string, shot: Shot): Promise<void>;
}


/** Relative path of frame `index` on a Canon card: 250 frames per `1NNCANON` folder, numbering continues across folders. */
export function cardPath(index: number): string {
  const folder = 100 + Math.floor((index - 1) / FILES_PER_FOLDER);
  return path.join('DCIM', `${folder}CANON`, `IMG_${String(index).padStart(4, '0')}.JPG`);
}

/** Capture times for a school event: mostly seconds apart, some bursts within one second, a few breaks. */
export function planShots(count: number): Shot[] {
  const next = seededRandom(0x5eed);
  // Local wall-clock time of the event (+02:00), kept as UTC fields to avoid the host's zone.
  let millis = Date.UTC(2024, 5, 14, 9, 0, 0);
  const shots: Shot[] = [];
  for (let index = 1; index <= count; index++) {
    const roll = next();
    if (index > 1) millis += roll < 0.2 ? 80 + Math.floor(next() * 300) : roll < 0.92 ? 3_000 + Math.floor(next() * 27_000) : 60_000 + Math.floor(next() * 540_000);
    const at = new Date(millis);
    const two = (value: number): string => String(value).padStart(2, '0');
    shots.push({
      index,
      dateTimeOriginal: `${at.getUTCFullYear()}:${two(at.getUTCMonth() + 1)}:${two(at.getUTCDate())} ${two(at.getUTCHours())}:${two(at.getUTCMinutes())}:${two(at.getUTCSeconds())}`,
      offsetTimeOriginal: '+02:00',
      subSecTimeOriginal: two(Math.floor(at.getUTCMilliseconds() / 10)),
    });
  }
  return shots;
}

/** One luminance octave: gaussian noise at 1/`divisor` scale, upsampled (a cheap blur) to base size. */
async function noiseOctave(divisor: number): Promise<Buffer> {
  const width = Math.ceil(BASE_WIDTH / divisor);
  const height = Math.ceil(BASE_HEIGHT / divisor);
  // sharp only creates 3- or 4-channel images; one channel of it is the noise we need.
  const noise = sharp({
    create: { width, height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } },
  }).extractChannel(0);
  if (divisor === 1) return noise.raw().toBuffer();
  const small = await noise.raw().toBuffer();
  // extractChannel again: without it libvips hands back the upsampled image as 3-band sRGB.
  return sharp(small, { raw: { width, height, channels: 1 } })
    .resize(BASE_WIDTH, BASE_HEIGHT, { kernel: 'cubic', fit: 'fill' })
    .extractChannel(0)
    .raw()
    .toBuffer();
}

/** A flat-coloured "scene" (sky, ground, overlapping shapes) that gives the texture edges and colour regions. */
async function sceneLayer(seed: number): Promise<Buffer> {
  const next = seededRandom(seed);
  const colour = (): string => `hsl(${Math.floor(next() * 360)},${Math.floor(15 + next() * 45)}%,${Math.floor(25 + next() * 50)}%)`;
  // Rendered at half size and upsampled: rasterising 28 MP of SVG is the slow part, and the softer edges look more like a lens.
  const width = BASE_WIDTH / 2;
  const height = BASE_HEIGHT / 2;
  const shapes: string[] = [];
  for (let i = 0; i < 60; i++) {
    const x = next() * width;
    const y = height * 0.3 + next() * height * 0.7;
    const size = 40 + next() * 350;
    const opacity = (0.6 + next() * 0.4).toFixed(2);
    shapes.push(
      next() < 0.5
        ? `<ellipse cx="${x}" cy="${y}" rx="${size}" ry="${size * (0.5 + next() * 1.5)}" fill="${colour()}" opacity="${opacity}"/>`
        : `<rect x="${x}" y="${y}" width="${size}" height="${size * (0.5 + next() * 3)}" fill="${colour()}" opacity="${opacity}" transform="rotate(${((next() - 0.5) * 30).toFixed(1)} ${x} ${y})"/>`,
    );
  }
  const horizon = (0.35 + next() * 0.2).toFixed(2);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${colour()}"/><stop offset="${horizon}" stop-color="${colour()}"/><stop offset="${horizon}" stop-color="${colour()}"/><stop offset="1" stop-color="${colour()}"/></linearGradient></defs>
<rect width="${width}" height="${height}" fill="url(#g)"/>${shapes.join('')}</svg>`;
  return sharp(Buffer.from(svg))
    .flatten()
    .resize(BASE_WIDTH, BASE_HEIGHT, { kernel: 'cubic', fit: 'fill' })
    .removeAlpha()
    .raw()
    .toBuffer();
}

/** Indexes into an octave for base `variant`: mirrored left–right and/or top–bottom (no seams), so four bases share five octaves without looking alike. */
function octaveIndex(variant: number): (i: number) => number {
  const mirrorX = (variant & 1) === 1;
  const mirrorY = (variant & 2) === 2;
  return (i) => {
    const x = i % BASE_WIDTH;
    const y = (i - x) / BASE_WIDTH;
    return (mirrorY ? BASE_HEIGHT - 1 - y : y) * BASE_WIDTH + (mirrorX ? BASE_WIDTH - 1 - x : x);
  };
}

/** Scene × (1 + multi-scale luminance texture + grain): noise at several scales is what makes JPEGs photo-sized. */
function mixBase(scene: Buffer, octaves: readonly Buffer[], variant: number, grain: number): Buffer {
  const weights = [0.15, 0.12, 0.08, 0.06, grain].map((weight) => weight / 40);
  const pixels = BASE_WIDTH * BASE_HEIGHT;
  const index = octaveIndex(variant);
  const out = Buffer.alloc(pixels * 3);
  const [o0, o1, o2, o3, o4] = octaves;
  const [w0, w1, w2, w3, w4] = weights;
  if (!o0 || !o1 || !o2 || !o3 || !o4 || w0 === undefined || w1 === undefined || w2 === undefined || w3 === undefined || w4 === undefined) {
    throw new Error('mixBase needs five octaves');
  }
  for (let i = 0; i < pixels; i++) {
    const j = index(i);
    const light =
      1 +
      ((o0[j] ?? 128) - 128) * w0 +
      ((o1[j] ?? 128) - 128) * w1 +
      ((o2[j] ?? 128) - 128) * w2 +
      ((o3[j] ?? 128) - 128) * w3 +
      // The finest octave is not remapped, so grain differs between bases even where coarse octaves align.
      ((o4[i] ?? 128) - 128) * w4;
    for (let c = 0; c < 3; c++) {
      const value = (scene[i * 3 + c] ?? 0) * light;
      out[i * 3 + c] = value < 0 ? 0 : value > 255 ? 255 : value;
    }
  }
  return out;
}

/** Loads the base textures from `cacheDir`, generating (and caching) any that are missing. */
async function loadBases(cacheDir: string, log: (line: string) => void): Promise<Buffer[]> {
  const expected = BASE_WIDTH * BASE_HEIGHT * 3;
  const files = BASE_GRAIN.map((_, variant) => path.join(cacheDir, `base-${variant}.rgb`));
  const cached: (Buffer | null)[] = await Promise.all(
    files.map(async (file): Promise<Buffer | null> => {
      try {
        return (await stat(file)).size === expected ? await readFile(file) : null;
      } catch {
        return null;
      }
    }),
  );
  const complete = cached.filter((buffer): buffer is Buffer => buffer !== null);
  if (complete.length === files.length) return complete;

  log(`corpus: generating ${files.length - complete.length} base textures (${BASE_WIDTH}×${BASE_HEIGHT}, once; cached in ${path.relative(BENCH_DIR, cacheDir)})`);
  const started = Date.now();
  const octaves: Buffer[] = [];
  for (const divisor of [150, 40, 10, 3, 1]) octaves.push(await noiseOctave(divisor));
  await mkdir(cacheDir, { recursive: true });
  const bases: Buffer[] = [];
  for (const [variant, grain] of BASE_GRAIN.entries()) {
    const existing = cached[variant];
    if (existing) {
      bases.push(existing);
      continue;
    }
    const base = mixBase(await sceneLayer(1000 + variant), octaves, variant, grain);
    await writeFile(`${files[variant]}.tmp`, base);
    await rename(`${files[variant]}.tmp`, files[variant] as string);
    bases.push(base);
  }
  log(`corpus: base textures ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return bases;
}

/** Builds (or loads) the base textures and returns a writer of 24 MP camera-like JPEGs. */
export async function createPhotoMaker(
  options: { cacheDir?: string; log?: (line: string) => void } = {},
): Promise<PhotoMaker> {
  const cacheDir = options.cacheDir ?? path.join(BENCH_DIR, 'corpus', `bases-v${CORPUS_VERSION}`);
  const bases = await loadBases(cacheDir, options.log ?? (() => undefined));
  return {
    async write(file, shot) {
      // Per-file variety comes from cheap operations on a shared base; seeded by frame number so re-runs match.
      const next = seededRandom(0x9e3779b9 ^ shot.index);
      const base = bases[Math.floor(next() * bases.length)] as Buffer;
      const left = Math.floor(next() * (BASE_WIDTH - PHOTO_WIDTH));
      const top = Math.floor(next() * (BASE_HEIGHT - PHOTO_HEIGHT));
      const tint = [0, 1, 2].map(() => 0.92 + next() * 0.16);
      const lift = (next() - 0.5) * 20;
      // Cameras keep landscape pixels and tag portrait frames with Orientation 6.
      const orientation = next() < 0.12 ? 6 : 1;
      // Mirror left–right only: an upside-down sky would not pass for a photo.
      const flop = next() < 0.5;
      const temporary = `${file}.tmp`;
      await sharp(base, { raw: { width: BASE_WIDTH, height: BASE_HEIGHT, channels: 3 } })
        .extract({ left, top, width: PHOTO_WIDTH, height: PHOTO_HEIGHT })
        .flop(flop)
        .linear(tint, [lift, lift, lift])
        .jpeg({ quality: JPEG_QUALITY })
        .withMetadata({ orientation, density: 72 })
        .withExif({
          IFD0: {
            Make: 'Canon',
            Model: 'Canon EOS R8',
            Software: 'Firmware Version 1.4.0',
            DateTime: shot.dateTimeOriginal,
          },
          IFD2: {
            DateTimeOriginal: shot.dateTimeOriginal,
            DateTimeDigitized: shot.dateTimeOriginal,
            OffsetTimeOriginal: shot.offsetTimeOriginal,
            SubSecTimeOriginal: shot.subSecTimeOriginal,
            ExposureTime: next() < 0.5 ? '1/250' : '1/125',
            FNumber: '40/10',
            ISOSpeedRatings: String([400, 800, 1600, 3200][Math.floor(next() * 4)] ?? 800),
            FocalLength: `${24 + Math.floor(next() * 81)}/1`,
            LensModel: 'RF24-105mm F4 L IS USM',
            BodySerialNumber: '032021001234',
          },
        })
        .toFile(temporary);
      await rename(temporary, file);
    },
  };
}

interface Marker {
  version: number;
  count: number;
  bytes: number;
  files: string[];
  createdAt: string;
}

async function readMarker(root: string, count: number): Promise<Marker | null> {
  try {
    const marker = JSON.parse(await readFile(`${root}${MARKER_SUFFIX}`, 'utf8')) as Marker;
    if (marker.version !== CORPUS_VERSION || marker.count !== count || marker.files.length !== count) return null;
    // A marker without its files (someone cleaned a folder) means regenerate, not benchmark a short corpus.
    await Promise.all(marker.files.map((file) => stat(path.join(root, file))));
    return marker;
  } catch {
    return null;
  }
}

async function sizeIfPresent(file: string): Promise<number | null> {
  try {
    return (await stat(file)).size;
  } catch {
    return null;
  }
}

/** `count` 24 MP JPEGs (6–10 MB, q92, Canon EXIF) at `<dir>/photos-<count>/DCIM/1NNCANON/IMG_NNNN.JPG` (`dir` defaults to `.bench/corpus`), generated once and reused. */
export async function ensurePhotoCorpus(options: {
  count: number;
  dir?: string;
  log?: (line: string) => void;
  /** Reuse a maker the caller already has, instead of loading the base textures again. */
  maker?: PhotoMaker;
}): Promise<PhotoCorpus> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const root = path.join(options.dir ?? path.join(BENCH_DIR, 'corpus'), `photos-${options.count}`);
  // Reused only when the marker beside it says it is complete; otherwise files already written are kept, so an
  // interrupted run resumes where it stopped (each file is written under a .tmp name and renamed when whole).
  const marker = await readMarker(root, options.count);
  if (marker) {
    return { root, files: marker.files.map((file) => path.join(root, file)), bytes: marker.bytes, reused: true, generated: 0, seconds: 0 };
  }

  const started = process.hrtime.bigint();
  const shots = planShots(options.count);
  const relative = shots.map((shot) => cardPath(shot.index));
  const sizes: number[] = new Array<number>(shots.length).fill(0);
  const missing: number[] = [];
  for (const [i, file] of relative.entries()) {
    const size = await sizeIfPresent(path.join(root, file));
    if (size === null) missing.push(i);
    else sizes[i] = size;
  }
  log(`corpus: photos-${options.count}: ${missing.length} of ${options.count} photos to generate in ${root}`);
  if (missing.length > 0) {
    const maker = options.maker ?? (await createPhotoMaker({ log }));
    const folders = new Set(missing.map((i) => path.dirname(path.join(root, relative[i] as string))));
    for (const folder of folders) await mkdir(folder, { recursive: true });
    let done = 0;
    let doneBytes = 0;
    const writeStarted = Date.now();
    const step = Math.max(1, Math.round(missing.length / 20));
    const queue = [...missing];
    const worker = async (): Promise<void> => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        const file = path.join(root, relative[i] as string);
        const temporary = `${file}.tmp`;
        await rm(temporary, { force: true });
        await maker.write(file, shots[i] as Shot);
        sizes[i] = (await stat(file)).size;
        done++;
        doneBytes += sizes[i] ?? 0;
        if (done % step === 0 || done === missing.length) {
          const elapsed = (Date.now() - writeStarted) / 1000;
          const rate = done / elapsed;
          const eta = (missing.length - done) / rate;
          log(
            `corpus: ${done}/${missing.length} photos (${formatBytes(doneBytes)}), ${rate.toFixed(2)} photos/s, ${elapsed.toFixed(0)} s elapsed, ~${eta.toFixed(0)} s left`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL_WRITES }, () => worker()));
  }

  const bytes = sizes.reduce((total, size) => total + size, 0);
  const written: Marker = { version: CORPUS_VERSION, count: options.count, bytes, files: relative, createdAt: new Date().toISOString() };
  await writeFile(`${root}${MARKER_SUFFIX}`, `${JSON.stringify(written, null, 2)}\n`);
  return {
    root,
    files: relative.map((file) => path.join(root, file)),
    bytes,
    reused: false,
    generated: missing.length,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}
