import { stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import exifr from 'exifr';
import sharp from 'sharp';
import { AppError, isAppError, toAppError } from '../../shared/errors.ts';
import type { MediaMetadata } from './metadata.types.ts';
import { parseXmp } from './sidecar.ts';

/** Options for {@link readPhotoMetadata}. */
export interface ReadPhotoOptions {
  signal?: AbortSignal;
  /** How long the EXIF/XMP parse may take before the file is treated as damaged; default 2000 ms. */
  timeoutMs?: number;
  /**
   * When true, damaged or unreadable metadata rejects with `corrupt-media`. By default the reader keeps going
   * with what it could read and lists what it skipped in `warnings`, since the picture itself is often fine.
   */
  strict?: boolean;
  /** Treat the file as camera raw (no header read through sharp, which cannot decode raw). Default: by extension. */
  raw?: boolean;
}

/** Default bound on one metadata parse. */
export const PHOTO_METADATA_TIMEOUT_MS = 2000;

/** Extensions of camera raw formats. */
export const RAW_EXTENSIONS: ReadonlySet<string> = new Set([
  '3fr', 'ari', 'arw', 'cr2', 'cr3', 'crw', 'dcr', 'dng', 'erf', 'fff', 'iiq', 'k25', 'kdc', 'mef', 'mos', 'mrw',
  'nef', 'nrw', 'orf', 'pef', 'raf', 'raw', 'rw2', 'rwl', 'sr2', 'srf', 'srw', 'x3f',
]);

/** True when the path's extension is a camera raw format. */
export function isRawPath(path: string): boolean {
  return RAW_EXTENSIONS.has(extname(path).slice(1).toLowerCase());
}

// Chunked reading bounds the work on any file: a 64 KB first read (EXIF, XMP and a HEIF meta box almost always
// sit there), then at most 8 more 64 KB chunks if a segment lies further in.
const EXIFR_OPTIONS = {
  tiff: true,
  ifd0: {},
  ifd1: false,
  exif: true,
  gps: true,
  interop: false,
  makerNote: false,
  userComment: false,
  xmp: { parse: false },
  iptc: true,
  icc: false,
  jfif: false,
  ihdr: true,
  mergeOutput: false,
  // Raw values: dates stay camera wall-clock strings (never shifted into this machine's zone), Orientation a number.
  reviveValues: false,
  translateValues: false,
  sanitize: true,
  silentErrors: true,
  chunked: true,
  firstChunkSize: 64 * 1024,
  chunkSize: 64 * 1024,
  chunkLimit: 8,
};

type Tags = Record<string, unknown>;

interface ExifrOutput {
  ifd0?: Tags;
  exif?: Tags;
  gps?: Tags;
  iptc?: Tags;
  ihdr?: Tags;
  xmp?: string | Uint8Array;
  errors?: unknown[];
}

interface Header {
  width?: number;
  height?: number;
  orientation?: number;
  exif?: Buffer;
  xmp?: Buffer;
}

/**
 * Reads a photo's EXIF, GPS, IPTC and embedded XMP: capture time with its UTC offset when the camera recorded
 * one, camera and lens, orientation, stored pixel dimensions, position, keywords, rating, title, description.
 * Works on JPEG, PNG, WebP, TIFF, HEIC/AVIF and TIFF-based raw (CR2, NEF, ARW, DNG, ORF, RW2 …) and returns
 * what it can; see {@link ReadPhotoOptions.strict} for damaged files.
 */
export async function readPhotoMetadata(path: string, options: ReadPhotoOptions = {}): Promise<MediaMetadata> {
  const name = basename(path);
  const { signal } = options;
  throwIfCancelled(signal, name);
  await checkFile(path, name);

  const timeoutMs = options.timeoutMs ?? PHOTO_METADATA_TIMEOUT_MS;
  const raw = options.raw ?? isRawPath(path);
  const warnings: string[] = [];
  const damaged = (what: string, error: unknown): void => {
    const reason = describe(error);
    if (options.strict) throw new AppError('corrupt-media', `${what} of "${name}" could not be read: ${reason}.`, { cause: error });
    warnings.push(`${what} could not be read: ${reason}.`);
  };

  const [headerResult, tagsResult] = await Promise.allSettled([
    raw ? Promise.resolve(undefined) : withDeadline(readHeader(path), timeoutMs, signal, name),
    withDeadline(parseTags(path), timeoutMs, signal, name),
  ]);
  rethrowCancel(headerResult);
  rethrowCancel(tagsResult);

  let header: Header | undefined;
  let headerError: unknown;
  if (headerResult.status === 'fulfilled') header = headerResult.value;
  else headerError = headerResult.reason;

  let tags: ExifrOutput | undefined;
  let tagsError: unknown;
  if (tagsResult.status === 'fulfilled') {
    tags = tagsResult.value;
    tagsError = tags?.errors?.[0];
  } else if (!isUnknownFormat(tagsResult.reason)) {
    tagsError = tagsResult.reason;
  }

  // exifr does not read WebP, and misplaces EXIF in HEIF files whose iloc uses a base offset (libheif writes
  // them so); libvips finds both, so its raw EXIF block is parsed instead.
  if (!tags?.ifd0 && !tags?.exif && header?.exif) {
    try {
      const fromHeader = await withDeadline(parseTags(tiffBlock(header.exif)), timeoutMs, signal, name);
      if (fromHeader?.ifd0 || fromHeader?.exif) {
        tags = { ...fromHeader, iptc: tags?.iptc, ihdr: tags?.ihdr, xmp: tags?.xmp };
        tagsError = fromHeader.errors?.[0];
      }
    } catch (error) {
      if (isAppError(error, 'cancelled')) throw error;
      // libvips' copy is no better than the file's; the first error says what is wrong.
    }
  }
  if (tagsError !== undefined) damaged('The EXIF data', tagsError);

  if (!header && !tags) {
    const reason = raw
      ? `Keepsake cannot read metadata from ${extname(path).slice(1).toUpperCase() || 'this'} raw files yet, or the file is damaged`
      : 'the file is not in an image format Keepsake can read, or its header is damaged';
    damaged('The metadata', new Error(reason));
  }
  const result = toMetadata(tags, header, raw);
  // A header libvips cannot read matters only when EXIF did not supply the size either (HEIC without a decoder).
  if (headerError !== undefined && result.width === undefined && (header || tags)) damaged('The image size', headerError);
  const xmp = tags?.xmp ?? header?.xmp;
  if (xmp !== undefined) {
    try {
      Object.assign(result, withoutUndefined(parseXmp(xmp)));
    } catch (error) {
      damaged('The XMP data', error);
    }
  }
  if (warnings.length > 0) result.warnings = warnings;
  return result;
}

async function checkFile(path: string, name: string): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw toAppError(error, `Reading "${name}"`);
  }
  if (!info.isFile()) throw new AppError('invalid-input', `"${name}" is not a file.`);
  if (info.size === 0) throw new AppError('corrupt-media', `"${name}" is empty (0 bytes); the copy may have been interrupted.`);
}

async function readHeader(path: string): Promise<Header> {
  // metadata() reads the header only, not the pixels, so it is cheap even for large files.
  const meta = await sharp(path, { failOn: 'none' }).metadata();
  const header: Header = { width: meta.width, height: meta.height };
  if (meta.orientation !== undefined) header.orientation = meta.orientation;
  if (meta.exif) header.exif = meta.exif;
  if (meta.xmp) header.xmp = meta.xmp;
  return header;
}

async function parseTags(input: string | Buffer): Promise<ExifrOutput | undefined> {
  return (await exifr.parse(input, EXIFR_OPTIONS as Parameters<typeof exifr.parse>[1])) as ExifrOutput | undefined;
}

// libvips hands EXIF over as an APP1 payload ("Exif\0\0" then TIFF); exifr recognises a bare TIFF block.
function tiffBlock(exif: Buffer): Buffer {
  return exif.subarray(0, 6).toString('latin1') === 'Exif\0\0' ? exif.subarray(6) : exif;
}

function toMetadata(tags: ExifrOutput | undefined, header: Header | undefined, raw: boolean): MediaMetadata {
  const ifd0 = tags?.ifd0 ?? {};
  const exif = tags?.exif ?? {};
  const iptc = tags?.iptc ?? {};
  const result: MediaMetadata = {};

  const dimensions = pickDimensions(header, ifd0, exif, tags?.ihdr, raw);
  if (dimensions) Object.assign(result, dimensions);

  const orientation = toInteger(ifd0.Orientation) ?? header?.orientation;
  if (orientation !== undefined && orientation >= 1 && orientation <= 8) result.orientation = orientation;

  const time = captureTime(ifd0, exif);
  if (time) {
    result.capturedAt = time.capturedAt;
    if (time.offsetMin !== undefined) result.captureOffsetMin = time.offsetMin;
  }

  const make = toText(ifd0.Make);
  if (make) result.cameraMake = make;
  const model = toText(ifd0.Model);
  if (model) result.cameraModel = model;
  const lens = toText(exif.LensModel);
  if (lens) result.lens = lens;

  const gps = toGps(tags?.gps);
  if (gps) result.gps = gps;

  // IPTC-IIM is the older home of the same fields; embedded XMP, applied afterwards, wins where both exist.
  const keywords = toTextList(iptc.Keywords);
  if (keywords.length > 0) result.keywords = keywords;
  const title = toText(iptc.ObjectName);
  if (title) result.title = title;
  const description = toText(iptc.Caption);
  if (description) result.description = description;
  return result;
}

function pickDimensions(header: Header | undefined, ifd0: Tags, exif: Tags, ihdr: Tags | undefined, raw: boolean): { width: number; height: number } | undefined {
  const pair = (width: unknown, height: unknown): { width: number; height: number } | undefined => {
    const w = toInteger(width);
    const h = toInteger(height);
    return w !== undefined && h !== undefined && w > 0 && h > 0 ? { width: w, height: h } : undefined;
  };
  // The decoder's header is the truth for the pixels; EXIF sizes are what the camera claimed. In raw files
  // IFD0 is often a small preview (SubfileType 1), so it counts only when it is the full-resolution image.
  const ifd0IsMain = toInteger(ifd0.SubfileType ?? ifd0.NewSubfileType) ?? 0;
  return (
    pair(header?.width, header?.height) ??
    pair(exif.ExifImageWidth, exif.ExifImageHeight) ??
    pair(ihdr?.ImageWidth, ihdr?.ImageHeight) ??
    (ifd0IsMain === 0 || !raw ? pair(ifd0.ImageWidth, ifd0.ImageHeight) : undefined)
  );
}

function captureTime(ifd0: Tags, exif: Tags): { capturedAt: string; offsetMin?: number } | undefined {
  // DateTimeOriginal is when the shutter fired; CreateDate (digitized) and ModifyDate are fallbacks for
  // scanners and edited files, each paired with its own sub-second and offset tags.
  const candidates: Array<[unknown, unknown, unknown]> = [
    [exif.DateTimeOriginal, exif.SubSecTimeOriginal, exif.OffsetTimeOriginal],
    [exif.CreateDate, exif.SubSecTimeDigitized, exif.OffsetTimeDigitized],
    [ifd0.ModifyDate, exif.SubSecTime, exif.OffsetTime],
  ];
  for (const [date, subSec, offset] of candidates) {
    const local = parseExifDate(date);
    if (!local) continue;
    const fraction = toText(subSec)?.replace(/\D/g, '').slice(0, 3);
    const wallClock = fraction ? `${local}.${fraction.padEnd(3, '0')}` : local;
    const offsetMin = parseOffset(offset);
    if (offsetMin === undefined) return { capturedAt: wallClock };
    return { capturedAt: wallClock + formatOffset(offsetMin), offsetMin };
  }
  return undefined;
}

/** `2026:05:14 10:32:01` → `2026-05-14T10:32:01`; undefined for blanks, zeros and impossible dates. */
function parseExifDate(value: unknown): string | undefined {
  const text = toText(value);
  if (!text) return undefined;
  const match = /^(\d{4})[:-](\d{2})[:-](\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?/.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second = '00'] = match.slice(1) as [string, string, string, string, string, string?];
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  const validDay = date.getUTCFullYear() === Number(year) && date.getUTCMonth() === Number(month) - 1 && date.getUTCDate() === Number(day);
  if (Number(year) < 1800 || !validDay || Number(hour) > 23 || Number(minute) > 59 || Number(second) > 60) return undefined;
  return `${year}-${month}-${day}T${hour}:${minute}:${second}`;
}

/** `+02:00`, `-0530`, `+02` → minutes east of UTC. */
function parseOffset(value: unknown): number | undefined {
  const text = toText(value);
  if (!text) return undefined;
  const match = /^([+-])(\d{2}):?(\d{2})?$/.exec(text);
  if (!match) return undefined;
  const minutes = Number(match[2]) * 60 + Number(match[3] ?? 0);
  if (minutes > 14 * 60) return undefined;
  return match[1] === '-' ? -minutes : minutes;
}

function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

function toGps(gps: Tags | undefined): MediaMetadata['gps'] {
  if (!gps || toText(gps.GPSStatus) === 'V') return undefined;
  const latitude = signedDegrees(gps.GPSLatitude, gps.GPSLatitudeRef, 'S') ?? toNumber(gps.latitude);
  const longitude = signedDegrees(gps.GPSLongitude, gps.GPSLongitudeRef, 'W') ?? toNumber(gps.longitude);
  if (latitude === undefined || longitude === undefined) return undefined;
  // 0,0 is what receivers without a fix write; no school event happens in the Gulf of Guinea.
  if (Math.abs(latitude) > 90 || Math.abs(longitude) > 180 || (latitude === 0 && longitude === 0)) return undefined;
  const result: NonNullable<MediaMetadata['gps']> = { latitude: round7(latitude), longitude: round7(longitude) };
  const altitude = toNumber(gps.GPSAltitude);
  if (altitude !== undefined) {
    const below = toInteger(gps.GPSAltitudeRef) === 1;
    result.altitude = below ? -altitude : altitude;
  }
  return result;
}

function signedDegrees(value: unknown, ref: unknown, negativeRef: string): number | undefined {
  const parts = Array.isArray(value) || ArrayBuffer.isView(value) ? Array.from(value as ArrayLike<number>) : [value];
  const [degrees, minutes = 0, seconds = 0] = parts.map((part) => toNumber(part));
  if (degrees === undefined || minutes === undefined || seconds === undefined) return undefined;
  const decimal = degrees + minutes / 60 + seconds / 3600;
  return toText(ref)?.toUpperCase() === negativeRef ? -decimal : decimal;
}

function round7(value: number): number {
  return Math.round(value * 1e7) / 1e7;
}

function toNumber(value: unknown): number | undefined {
  const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(number) ? number : undefined;
}

// exifr keeps some single-value tags as one-element arrays when values are not revived (GPSAltitudeRef).
function toInteger(value: unknown): number | undefined {
  const single = ArrayBuffer.isView(value) || Array.isArray(value) ? (value as ArrayLike<unknown>)[0] : value;
  const number = toNumber(single);
  return number === undefined ? undefined : Math.round(number);
}

function toText(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') return undefined;
  // Cameras pad ASCII tags with NULs and spaces.
  const text = value.replace(/\0+$/g, '').trim();
  return text === '' ? undefined : text;
}

function toTextList(value: unknown): string[] {
  const values = Array.isArray(value) ? value : [value];
  return [...new Set(values.map(toText).filter((text): text is string => text !== undefined))];
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function isUnknownFormat(error: unknown): boolean {
  return error instanceof Error && /unknown file format/i.test(error.message);
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // libvips repeats its complaint over several lines; the first says it.
  const firstLine = message.split('\n')[0] ?? '';
  return firstLine.trim().replace(/\.$/, '') || 'unknown error';
}

function throwIfCancelled(signal: AbortSignal | undefined, name: string): void {
  if (signal?.aborted) throw new AppError('cancelled', `Reading the metadata of "${name}" was cancelled.`);
}

function rethrowCancel(result: PromiseSettledResult<unknown>): void {
  if (result.status === 'rejected' && isAppError(result.reason, 'cancelled')) throw result.reason;
}

/**
 * Settles with `work`, or rejects with `corrupt-media` after `ms` or `cancelled` on abort. The parse itself runs
 * on: exifr cannot be interrupted, but chunked reading bounds how much it reads.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, signal: AbortSignal | undefined, name: string): Promise<T> {
  // The loser of the race must not surface later as an unhandled rejection.
  work.catch(() => undefined);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new AppError('corrupt-media', `Reading the metadata of "${name}" took longer than ${ms / 1000} s; its metadata is probably damaged.`));
    }, ms);
    const onAbort = (): void => {
      cleanup();
      reject(new AppError('cancelled', `Reading the metadata of "${name}" was cancelled.`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (error: unknown) => {
        cleanup();
        reject(error);
      },
    );
  });
}
