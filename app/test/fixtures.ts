import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { promisify } from 'node:util';
import sharp, { type Exif, type Sharp } from 'sharp';
import { onTestFinished } from 'vitest';
import { findFfmpeg, findFfprobe } from '../media/ffmpeg-path.ts';
import { seededRandom } from '../shared/random.ts';

// Test fixtures made by code, so no binaries are checked in. Every helper writes a real file that real tools
// (exiftool, ffprobe, exifr, sharp) read; fixtures.test.ts checks that each one carries what it claims.

const run = promisify(execFile);

/** A fresh folder under the OS temp dir; pass `cleanup` to vitest's `onTestFinished` or `afterEach`. */
export interface TempDir {
  path: string;
  /** Joins parts onto the folder's path. */
  join: (...parts: string[]) => string;
  /** Removes the folder and everything in it; safe to call twice. */
  cleanup: () => Promise<void>;
}

/** Makes a fresh folder under os.tmpdir(), e.g. `const dir = await tempDir('photo-'); onTestFinished(dir.cleanup)`. */
export async function tempDir(prefix = 'keepsake-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return {
    path,
    join: (...parts) => join(path, ...parts),
    cleanup: () => rm(path, { recursive: true, force: true }),
  };
}

/** A {@link tempDir} removed when the current test finishes; call it inside a test. */
export async function useTempDir(prefix = 'keepsake-test-'): Promise<TempDir> {
  const dir = await tempDir(prefix);
  onTestFinished(dir.cleanup);
  return dir;
}

/** GPS position as decimal degrees (south and west negative) and metres above sea level. */
export interface FixtureGps {
  latitude: number;
  longitude: number;
  altitude?: number;
}

/** EXIF tags {@link makeJpeg} writes; dates use EXIF's `YYYY:MM:DD HH:MM:SS` (ISO `YYYY-MM-DDTHH:MM:SS` is accepted). */
export interface FixtureExif {
  dateTimeOriginal?: string;
  subSecTimeOriginal?: string;
  /** `+02:00` style, written to OffsetTimeOriginal. */
  offsetTimeOriginal?: string;
  make?: string;
  model?: string;
  lensModel?: string;
  /** 1–8. */
  orientation?: number;
  gps?: FixtureGps;
  bodySerialNumber?: string;
}

/** XMP fields {@link makeXmpPacket} writes, in the shape Lightroom and Photo Mechanic use. */
export interface FixtureXmp {
  /** dc:subject. */
  keywords?: string[];
  /** lr:hierarchicalSubject, `|`-separated paths such as `Events|Sports day|Relay`. */
  hierarchicalKeywords?: string[];
  /** xmp:Rating, -1 (reject) to 5. */
  rating?: number;
  /** dc:title (x-default). */
  title?: string;
  /** dc:description (x-default). */
  description?: string;
}

/** Options shared by the image helpers. */
export interface ImageOptions {
  width?: number;
  height?: number;
  /** Seeds the noise so the same options give the same bytes. */
  seed?: number;
}

/** Options for {@link makeJpeg}. */
export interface JpegOptions extends ImageOptions {
  quality?: number;
  exif?: FixtureExif;
  xmp?: FixtureXmp;
}

const DEFAULT_WIDTH = 640;
const DEFAULT_HEIGHT = 480;

/** Writes a JPEG with photo-like content and optional EXIF (IFD0, Exif IFD, GPS IFD) and embedded XMP. */
export async function makeJpeg(path: string, options: JpegOptions = {}): Promise<string> {
  let image = photoLike(options);
  const exif = options.exif ? toSharpExif(options.exif) : undefined;
  if (exif) image = image.withExif(exif);
  // libvips takes Orientation from the image's own metadata, not from withExif's IFD0 strings.
  if (options.exif?.orientation !== undefined) image = image.withMetadata({ orientation: options.exif.orientation });
  if (options.xmp) image = image.withXmp(makeXmpPacket(options.xmp));
  const bytes = await image.jpeg({ quality: options.quality ?? 85 }).toBuffer();
  if ((options.exif?.gps?.altitude ?? 0) < 0) setBelowSeaLevel(bytes);
  await ensureParent(path);
  await writeFile(path, bytes);
  return path;
}

/** Writes a CMYK JPEG (as print workflows and some scanners produce), with optional EXIF. */
export async function makeCmykJpeg(path: string, options: JpegOptions = {}): Promise<string> {
  let image = photoLike(options);
  if (options.exif) image = image.withExif(toSharpExif(options.exif));
  await ensureParent(path);
  await image.toColourspace('cmyk').jpeg({ quality: options.quality ?? 85 }).toFile(path);
  return path;
}

/** Writes a PNG, optionally with an alpha channel and EXIF (eXIf chunk). */
export async function makePng(path: string, options: ImageOptions & { alpha?: boolean; exif?: FixtureExif } = {}): Promise<string> {
  let image = photoLike(options);
  if (options.alpha) image = image.ensureAlpha(0.8);
  if (options.exif) image = image.withExif(toSharpExif(options.exif));
  await ensureParent(path);
  await image.png().toFile(path);
  return path;
}

/** Writes a WebP, optionally with EXIF. */
export async function makeWebp(path: string, options: ImageOptions & { exif?: FixtureExif } = {}): Promise<string> {
  let image = photoLike(options);
  if (options.exif) image = image.withExif(toSharpExif(options.exif));
  await ensureParent(path);
  await image.webp({ quality: 80 }).toFile(path);
  return path;
}

/** Writes an AVIF (a HEIF container, as HEIC is), optionally with EXIF. */
export async function makeAvif(path: string, options: ImageOptions & { exif?: FixtureExif } = {}): Promise<string> {
  let image = photoLike(options);
  if (options.exif) image = image.withExif(toSharpExif(options.exif));
  await ensureParent(path);
  await image.heif({ compression: 'av1', quality: 50, effort: 0 }).toFile(path);
  return path;
}

/** Writes a GIF. */
export async function makeGif(path: string, options: ImageOptions = {}): Promise<string> {
  await ensureParent(path);
  await photoLike(options).gif().toFile(path);
  return path;
}

/**
 * Writes a TIFF, 8 or 16 bits per sample. libvips does not write EXIF into TIFF, so `exif` is added afterwards
 * with exiftool, which the tests need anyway; naming the file `.dng`, `.nef`, … gives a TIFF-based raw stand-in.
 */
export async function makeTiff(path: string, options: ImageOptions & { bitDepth?: 8 | 16; exif?: FixtureExif } = {}): Promise<string> {
  let image = photoLike(options);
  if (options.bitDepth === 16) image = image.toColourspace('rgb16');
  await ensureParent(path);
  await image.tiff({ compression: 'lzw' }).toFile(path);
  if (options.exif) await writeExifWithExiftool(path, options.exif);
  return path;
}

/** Builds an XMP packet with keywords, hierarchical keywords, rating, title and description. */
export function makeXmpPacket(fields: FixtureXmp): string {
  const attributes = fields.rating === undefined ? '' : ` xmp:Rating="${fields.rating}"`;
  const bag = (tag: string, items: string[] | undefined): string =>
    items && items.length > 0
      ? `<${tag}><rdf:Bag>${items.map((item) => `<rdf:li>${escapeXml(item)}</rdf:li>`).join('')}</rdf:Bag></${tag}>`
      : '';
  const alt = (tag: string, text: string | undefined): string =>
    text === undefined ? '' : `<${tag}><rdf:Alt><rdf:li xml:lang="x-default">${escapeXml(text)}</rdf:li></rdf:Alt></${tag}>`;
  return [
    '<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>',
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
    '<rdf:Description rdf:about=""',
    ' xmlns:xmp="http://ns.adobe.com/xap/1.0/"',
    ' xmlns:dc="http://purl.org/dc/elements/1.1/"',
    ` xmlns:lr="http://ns.adobe.com/lightroom/1.0/"${attributes}>`,
    alt('dc:title', fields.title),
    alt('dc:description', fields.description),
    bag('dc:subject', fields.keywords),
    bag('lr:hierarchicalSubject', fields.hierarchicalKeywords),
    '</rdf:Description>',
    '</rdf:RDF>',
    '</x:xmpmeta>',
    '<?xpacket end="w"?>',
  ].join('\n');
}

/** Writes an `.xmp` sidecar as Lightroom does (a bare x:xmpmeta document, no xpacket wrapper). */
export async function makeXmpSidecar(path: string, fields: FixtureXmp): Promise<string> {
  const packet = makeXmpPacket(fields)
    .split('\n')
    .filter((line) => !line.startsWith('<?xpacket'))
    .join('\n');
  await ensureParent(path);
  await writeFile(path, packet);
  return path;
}

/** The ways {@link makeJpegWithCorruptExif} can break an EXIF segment. */
export const CORRUPT_EXIF_VARIANTS = [
  'ifd-offset-past-end',
  'bad-byte-order',
  'entry-count-past-end',
  'value-offset-past-end',
  'ifd-loop',
  'random-bytes',
] as const;

/** One of {@link CORRUPT_EXIF_VARIANTS}. */
export type CorruptExifVariant = (typeof CORRUPT_EXIF_VARIANTS)[number];

/**
 * Writes a JPEG whose image data is fine but whose APP1 "Exif\0\0" segment is written by hand to be broken
 * the way damaged cards and buggy firmware break it: IFD offsets past the end, an unknown byte order,
 * entry counts that run off the segment, a value offset past the end, IFDs that point at themselves.
 */
export async function makeJpegWithCorruptExif(path: string, variant: CorruptExifVariant, options: ImageOptions = {}): Promise<string> {
  const jpeg = await photoLike(options).jpeg({ quality: 80 }).toBuffer();
  const app1 = exifSegment(corruptTiff(variant, options.seed ?? 7));
  // The segment goes right after SOI, where cameras put it.
  const bytes = Buffer.concat([jpeg.subarray(0, 2), app1, jpeg.subarray(2)]);
  await ensureParent(path);
  await writeFile(path, bytes);
  return path;
}

/** Containers {@link makeVideo} can write. */
export type VideoContainer = 'mp4' | 'mov' | 'mts' | 'avi';

/** Options for {@link makeVideo}. */
export interface VideoOptions {
  /** Seconds; default 2. */
  durationSec?: number;
  width?: number;
  height?: number;
  /** Default: from the path's extension, else mp4. */
  container?: VideoContainer;
  /** UTC ISO time written to creation_time (mp4/mov; ffmpeg's AVI and MPEG-TS muxers drop it), e.g. `2026-05-14T08:32:01Z`. */
  creationTime?: string;
  /** Clockwise display rotation as phones record it (exiftool's `Rotation`), written into the tkhd matrix (mp4/mov). */
  rotation?: 0 | 90 | 180 | 270;
  /** ISO 6709 `location` atom (mp4/mov), as Android phones write it. */
  location?: FixtureGps;
  /** QuickTime `mdta` keys as iPhones write them (mp4/mov). */
  apple?: { creationDate?: string; make?: string; model?: string; location?: FixtureGps };
  /** Default true. */
  audio?: boolean;
  /** Moves the moov atom to the front; default false, as cameras write it at the end. */
  faststart?: boolean;
}

/** Writes a short test-pattern video with a sine tone through the ffmpeg CLI (fails, never skips, if ffmpeg is missing). */
export async function makeVideo(path: string, options: VideoOptions = {}): Promise<string> {
  const ffmpeg = await findFfmpeg();
  const container = options.container ?? containerFromPath(path);
  const duration = String(options.durationSec ?? 2);
  const size = `${options.width ?? 320}x${options.height ?? 240}`;
  const isQuickTime = container === 'mp4' || container === 'mov';
  const args = ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=${size}:rate=25:duration=${duration}`];
  const audio = options.audio ?? true;
  if (audio) args.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${duration}`);
  args.push(...codecArgs(container, audio));
  if (isQuickTime) {
    if (options.creationTime) args.push('-metadata', `creation_time=${options.creationTime}`);
    if (options.location) args.push('-metadata', `location=${iso6709(options.location)}`);
    const apple = options.apple;
    if (apple) {
      if (apple.creationDate) args.push('-metadata', `com.apple.quicktime.creationdate=${apple.creationDate}`);
      if (apple.make) args.push('-metadata', `com.apple.quicktime.make=${apple.make}`);
      if (apple.model) args.push('-metadata', `com.apple.quicktime.model=${apple.model}`);
      if (apple.location) args.push('-metadata', `com.apple.quicktime.location.ISO6709=${iso6709(apple.location)}`);
    }
    const flags = [apple ? '+use_metadata_tags' : '', options.faststart ? '+faststart' : ''].join('');
    if (flags) args.push('-movflags', flags);
  }
  args.push('-f', muxerName(container), path);
  await ensureParent(path);
  try {
    await run(ffmpeg, args, { timeout: 60_000 });
  } catch (error) {
    throw new Error(`ffmpeg could not make the fixture ${path}: ${(error as { stderr?: string }).stderr ?? String(error)}`, { cause: error });
  }
  // ffmpeg 5.1 writes the legacy `rotate` tag with the opposite sign to later releases and ignores it when
  // encoding, so the display matrix is written directly: the same bytes whatever ffmpeg is installed.
  if (options.rotation && isQuickTime) await setVideoRotation(path, options.rotation);
  return path;
}

/**
 * Copies `source` keeping only its start: a fraction in (0, 1) keeps that share of the bytes, a whole number
 * keeps that many bytes. Writes to `dest` (default: `name.truncated.ext` beside it) and returns its path.
 */
export async function truncate(source: string, bytesOrFraction: number, dest?: string): Promise<string> {
  const bytes = await readFile(source);
  const keep = bytesOrFraction > 0 && bytesOrFraction < 1 ? Math.floor(bytes.length * bytesOrFraction) : Math.floor(bytesOrFraction);
  if (keep < 0 || keep > bytes.length) throw new RangeError(`cannot keep ${keep} of ${bytes.length} bytes of ${source}`);
  const target = dest ?? source.slice(0, source.length - extname(source).length) + '.truncated' + extname(source);
  await ensureParent(target);
  await writeFile(target, bytes.subarray(0, keep));
  return target;
}

/** Writes an empty file, as a pulled card or a failed copy leaves behind. */
export async function makeZeroByte(path: string): Promise<string> {
  await ensureParent(path);
  await writeFile(path, Buffer.alloc(0));
  return path;
}

/** Writes `size` deterministic pseudo-random bytes (not any known format). */
export async function makeRandomBytes(path: string, size = 4096, seed = 1): Promise<string> {
  await ensureParent(path);
  await writeFile(path, randomBytes(size, seed));
  return path;
}

/** Tags exiftool reads from a file (`exiftool -j -n`, plus any extra arguments), to check fixtures and readers against. */
export async function exiftool(path: string, ...args: string[]): Promise<Record<string, unknown>> {
  let stdout: string;
  try {
    ({ stdout } = await run('exiftool', ['-j', '-n', ...args, path], { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 }));
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(
      missing
        ? 'exiftool is required by these tests but was not found on PATH (Debian/Ubuntu: apt install libimage-exiftool-perl).'
        : `exiftool could not read ${path}: ${String(error)}`,
      { cause: error },
    );
  }
  const [tags] = JSON.parse(stdout) as Array<Record<string, unknown>>;
  return tags ?? {};
}

/** ffprobe's JSON report (`-show_format -show_streams`) on a file, to check video fixtures independently of the reader. */
export async function ffprobeJson(path: string): Promise<{ format: Record<string, unknown> & { tags?: Record<string, string> }; streams: Array<Record<string, unknown>> }> {
  const ffprobe = await findFfprobe();
  const { stdout } = await run(ffprobe, ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', `file:${path}`], { timeout: 30_000 });
  return JSON.parse(stdout) as Awaited<ReturnType<typeof ffprobeJson>>;
}

/** The size of a file in bytes. */
export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}

function photoLike(options: ImageOptions): Sharp {
  const width = options.width ?? DEFAULT_WIDTH;
  const height = options.height ?? DEFAULT_HEIGHT;
  const random = seededRandom(options.seed ?? 1);
  const pixels = Buffer.alloc(width * height * 3);
  // A gradient with soft shapes and sensor-like noise compresses like a photo; a flat colour would give
  // unrealistically tiny files and hide size-dependent bugs.
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = x / width;
      const v = y / height;
      const blob = Math.sin(u * 9 + v * 4) * Math.cos(v * 7 - u * 3);
      const noise = (random() - 0.5) * 40;
      const i = (y * width + x) * 3;
      pixels[i] = clampByte(60 + 150 * u + 40 * blob + noise);
      pixels[i + 1] = clampByte(80 + 120 * v - 30 * blob + noise);
      pixels[i + 2] = clampByte(200 - 120 * u * v + 50 * blob + noise);
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } });
}

function clampByte(value: number): number {
  return Math.max(0, Math.min(255, Math.round(value)));
}


function randomBytes(size: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

function toSharpExif(exif: FixtureExif): Exif {
  const ifd0: Record<string, string> = {};
  const ifd2: Record<string, string> = {};
  const ifd3: Record<string, string> = {};
  if (exif.make !== undefined) ifd0.Make = exif.make;
  if (exif.model !== undefined) ifd0.Model = exif.model;
  if (exif.dateTimeOriginal !== undefined) {
    const date = toExifDate(exif.dateTimeOriginal);
    ifd0.DateTime = date;
    ifd2.DateTimeOriginal = date;
    ifd2.DateTimeDigitized = date;
  }
  if (exif.subSecTimeOriginal !== undefined) ifd2.SubSecTimeOriginal = exif.subSecTimeOriginal;
  if (exif.offsetTimeOriginal !== undefined) {
    ifd2.OffsetTimeOriginal = exif.offsetTimeOriginal;
    ifd2.OffsetTimeDigitized = exif.offsetTimeOriginal;
  }
  if (exif.lensModel !== undefined) ifd2.LensModel = exif.lensModel;
  if (exif.bodySerialNumber !== undefined) ifd2.BodySerialNumber = exif.bodySerialNumber;
  if (exif.gps) {
    const { latitude, longitude, altitude } = exif.gps;
    ifd3.GPSLatitudeRef = latitude < 0 ? 'S' : 'N';
    ifd3.GPSLatitude = toDmsRationals(Math.abs(latitude));
    ifd3.GPSLongitudeRef = longitude < 0 ? 'W' : 'E';
    ifd3.GPSLongitude = toDmsRationals(Math.abs(longitude));
    if (altitude !== undefined) {
      ifd3.GPSAltitudeRef = altitude < 0 ? '1' : '0';
      ifd3.GPSAltitude = `${Math.round(Math.abs(altitude) * 100)}/100`;
    }
  }
  const result: Exif = {};
  if (Object.keys(ifd0).length > 0) result.IFD0 = ifd0;
  if (Object.keys(ifd2).length > 0) result.IFD2 = ifd2;
  if (Object.keys(ifd3).length > 0) result.IFD3 = ifd3;
  return result;
}

// libvips cannot write EXIF BYTE tags from withExif strings, so GPSAltitudeRef always comes out 0 (above sea
// level). Its IFD entry (tag 5, type BYTE, count 1) is found in the APP1 segment and its value set to 1.
function setBelowSeaLevel(jpeg: Buffer): void {
  let at = 2;
  // Walk the marker segments (each FFxx plus a length) to the first APP1.
  while (at + 4 <= jpeg.length && jpeg[at] === 0xff && jpeg[at + 1] !== 0xe1 && jpeg[at + 1] !== 0xda) at += 2 + jpeg.readUInt16BE(at + 2);
  const app1 = jpeg[at + 1] === 0xe1 ? { start: at, end: at + 2 + jpeg.readUInt16BE(at + 2) } : undefined;
  const patterns = [Buffer.from([5, 0, 1, 0, 1, 0, 0, 0]), Buffer.from([0, 5, 0, 1, 0, 0, 0, 1])];
  for (const pattern of patterns) {
    const entry = app1 ? jpeg.indexOf(pattern, app1.start) : -1;
    if (app1 && entry > 0 && entry + 8 < app1.end) {
      jpeg[entry + 8] = 1;
      return;
    }
  }
  throw new Error('makeJpeg: GPSAltitudeRef was not found in the EXIF that libvips wrote');
}

function toExifDate(date: string): string {
  const match = /^(\d{4})[-:](\d{2})[-:](\d{2})[T ](\d{2}):(\d{2}):(\d{2})$/.exec(date);
  if (!match) throw new RangeError(`expected YYYY:MM:DD HH:MM:SS, got ${date}`);
  return `${match[1]}:${match[2]}:${match[3]} ${match[4]}:${match[5]}:${match[6]}`;
}

function toDmsRationals(decimal: number): string {
  const degrees = Math.floor(decimal);
  const minutesFloat = (decimal - degrees) * 60;
  const minutes = Math.floor(minutesFloat);
  const hundredthsOfSeconds = Math.round((minutesFloat - minutes) * 60 * 10_000);
  return `${degrees}/1 ${minutes}/1 ${hundredthsOfSeconds}/10000`;
}

async function writeExifWithExiftool(path: string, exif: FixtureExif): Promise<void> {
  const args = ['-overwrite_original', '-n'];
  if (exif.make !== undefined) args.push(`-Make=${exif.make}`);
  if (exif.model !== undefined) args.push(`-Model=${exif.model}`);
  if (exif.dateTimeOriginal !== undefined) args.push(`-DateTimeOriginal=${toExifDate(exif.dateTimeOriginal)}`);
  if (exif.subSecTimeOriginal !== undefined) args.push(`-SubSecTimeOriginal=${exif.subSecTimeOriginal}`);
  if (exif.offsetTimeOriginal !== undefined) args.push(`-OffsetTimeOriginal=${exif.offsetTimeOriginal}`);
  if (exif.lensModel !== undefined) args.push(`-LensModel=${exif.lensModel}`);
  if (exif.orientation !== undefined) args.push(`-Orientation=${exif.orientation}`);
  if (exif.bodySerialNumber !== undefined) args.push(`-SerialNumber=${exif.bodySerialNumber}`);
  if (exif.gps) {
    args.push(`-GPSLatitude=${Math.abs(exif.gps.latitude)}`, `-GPSLatitudeRef=${exif.gps.latitude < 0 ? 'S' : 'N'}`);
    args.push(`-GPSLongitude=${Math.abs(exif.gps.longitude)}`, `-GPSLongitudeRef=${exif.gps.longitude < 0 ? 'W' : 'E'}`);
    if (exif.gps.altitude !== undefined) args.push(`-GPSAltitude=${Math.abs(exif.gps.altitude)}`, `-GPSAltitudeRef=${exif.gps.altitude < 0 ? 1 : 0}`);
  }
  args.push(path);
  try {
    await run('exiftool', args, { timeout: 30_000 });
  } catch (error) {
    throw new Error(`exiftool could not write EXIF into the fixture ${path} (is exiftool installed?): ${String(error)}`, { cause: error });
  }
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

function exifSegment(tiff: Buffer): Buffer {
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const header = Buffer.alloc(4);
  header.writeUInt16BE(0xffe1, 0);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([header, payload]);
}

// Little-endian TIFF structures; offsets are from the start of the TIFF header, as EXIF defines them.
function corruptTiff(variant: CorruptExifVariant, seed: number): Buffer {
  const header = (order: string, ifd0Offset: number): Buffer => {
    const bytes = Buffer.alloc(8);
    bytes.write(order, 0, 'latin1');
    bytes.writeUInt16LE(42, 2);
    bytes.writeUInt32LE(ifd0Offset, 4);
    return bytes;
  };
  const ifd = (entries: Array<[tag: number, type: number, count: number, value: number]>, next: number, declaredCount = entries.length): Buffer => {
    const bytes = Buffer.alloc(2 + entries.length * 12 + 4);
    bytes.writeUInt16LE(declaredCount, 0);
    entries.forEach(([tag, type, count, value], i) => {
      const at = 2 + i * 12;
      bytes.writeUInt16LE(tag, at);
      bytes.writeUInt16LE(type, at + 2);
      bytes.writeUInt32LE(count, at + 4);
      bytes.writeUInt32LE(value, at + 8);
    });
    bytes.writeUInt32LE(next, 2 + entries.length * 12);
    return bytes;
  };
  const ASCII = 2;
  const LONG = 4;
  switch (variant) {
    case 'ifd-offset-past-end':
      return Buffer.concat([header('II', 0x7fff_fff0), Buffer.alloc(32)]);
    case 'bad-byte-order':
      return Buffer.concat([header('XY', 8), ifd([[0x010f, ASCII, 4, 0x0041_4141]], 0)]);
    case 'entry-count-past-end':
      return Buffer.concat([header('II', 8), ifd([[0x010f, ASCII, 4, 0x0041_4141]], 0, 0xffff)]);
    case 'value-offset-past-end':
      return Buffer.concat([
        header('II', 8),
        ifd(
          [
            [0x010f, ASCII, 1_000_000, 0xffff_ff00],
            [0x0110, ASCII, 64, 0x00ff_ff00],
            [0x8769, LONG, 1, 0x7fff_0000],
            [0x8825, LONG, 1, 0x7fff_1000],
          ],
          0x7fff_2000,
        ),
      ]);
    case 'ifd-loop':
      // IFD0's Exif pointer and its next-IFD link both point back at IFD0.
      return Buffer.concat([header('II', 8), ifd([[0x8769, LONG, 1, 8]], 8)]);
    case 'random-bytes':
      return Buffer.concat([header('II', 8), randomBytes(512, seed)]);
  }
}

function containerFromPath(path: string): VideoContainer {
  const ext = extname(path).slice(1).toLowerCase();
  if (ext === 'mov' || ext === 'mts' || ext === 'avi') return ext;
  if (ext === 'm2ts') return 'mts';
  return 'mp4';
}

function muxerName(container: VideoContainer): string {
  return container === 'mts' ? 'mpegts' : container;
}

function codecArgs(container: VideoContainer, audio: boolean): string[] {
  // Codecs are chosen as the cameras that write each container do: H.264/AAC for phones, H.264/AC-3 for
  // AVCHD camcorders, MJPEG/PCM for old compacts' AVI.
  const h264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
  switch (container) {
    case 'mp4':
    case 'mov':
      return [...h264, ...(audio ? ['-c:a', 'aac', '-b:a', '64k'] : [])];
    case 'mts':
      return [...h264, ...(audio ? ['-c:a', 'ac3', '-b:a', '96k'] : [])];
    case 'avi':
      return ['-c:v', 'mjpeg', '-q:v', '5', '-pix_fmt', 'yuvj420p', ...(audio ? ['-c:a', 'pcm_s16le'] : [])];
  }
}

function iso6709(gps: FixtureGps): string {
  const sign = (value: number): string => (value < 0 ? '-' : '+');
  const lat = `${sign(gps.latitude)}${Math.abs(gps.latitude).toFixed(4).padStart(7, '0')}`;
  const lon = `${sign(gps.longitude)}${Math.abs(gps.longitude).toFixed(4).padStart(8, '0')}`;
  const alt = gps.altitude === undefined ? '' : `${sign(gps.altitude)}${Math.abs(gps.altitude).toFixed(3)}`;
  return `${lat}${lon}${alt}/`;
}

/**
 * Writes a clockwise display rotation into every video track's tkhd matrix, as phones record upright video:
 * ffmpeg 5.1 cannot write one when encoding, and the bytes are then the same whatever ffmpeg is installed.
 */
export async function setVideoRotation(path: string, clockwise: 90 | 180 | 270): Promise<void> {
  const file = await readFile(path);
  const moov = findBoxes(file, 0, file.length, 'moov')[0];
  if (!moov) throw new Error(`no moov box in ${path}`);
  for (const trak of findBoxes(file, moov.start, moov.end, 'trak')) {
    const mdia = findBoxes(file, trak.start, trak.end, 'mdia')[0];
    const hdlr = mdia ? findBoxes(file, mdia.start, mdia.end, 'hdlr')[0] : undefined;
    if (!hdlr || file.toString('latin1', hdlr.start + 8, hdlr.start + 12) !== 'vide') continue;
    const tkhd = findBoxes(file, trak.start, trak.end, 'tkhd')[0];
    if (!tkhd) continue;
    const version = file.readUInt8(tkhd.start);
    // version/flags, creation, modification, track id, reserved, duration (v0 24 bytes, v1 36), then
    // reserved, layer, alternate group, volume, reserved (16 bytes), then the 3×3 matrix, width, height.
    const matrixAt = tkhd.start + (version === 1 ? 36 : 24) + 16;
    const width = file.readUInt32BE(matrixAt + 36) / 65536;
    const height = file.readUInt32BE(matrixAt + 40) / 65536;
    const one = 65536;
    const [a, b, c, d, tx, ty] =
      clockwise === 90 ? [0, one, -one, 0, height * one, 0]
      : clockwise === 180 ? [-one, 0, 0, -one, width * one, height * one]
      : [0, -one, one, 0, 0, width * one];
    const values = [a, b, 0, c, d, 0, tx, ty, 0x4000_0000];
    values.forEach((value, i) => file.writeInt32BE(value, matrixAt + i * 4));
  }
  await writeFile(path, file);
}

/** An MP4/QuickTime box: its four-letter type and where its payload starts and ends. */
export interface Mp4Box {
  type: string;
  start: number;
  end: number;
}

/** The boxes directly inside `file[from, to)`, in file order. */
export function mp4Boxes(file: Buffer, from: number, to: number): Mp4Box[] {
  const found: Mp4Box[] = [];
  let at = from;
  while (at + 8 <= to) {
    let size = file.readUInt32BE(at);
    let header = 8;
    if (size === 1) {
      size = Number(file.readBigUInt64BE(at + 8));
      header = 16;
    } else if (size === 0) {
      size = to - at;
    }
    if (size < header) break;
    found.push({ type: file.toString('latin1', at + 4, at + 8), start: at + header, end: at + size });
    at += size;
  }
  return found;
}

function findBoxes(file: Buffer, from: number, to: number, type: string): Mp4Box[] {
  return mp4Boxes(file, from, to).filter((box) => box.type === type);
}

async function ensureParent(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
}
