import { type FileHandle, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { syncDirectory, tempPathFor } from '../fs/durable-files.ts';
import { readVideoMetadata } from '../media/metadata/video-metadata.ts';
import { runFfmpeg, type FfmpegSpec } from '../media/video/ffmpeg-runner.ts';
import { AppError, isAppError, toAppError } from '../shared/errors.ts';

// Publishing an "original" means publishing the camera's own image data, so nothing here re-encodes: JPEG and
// PNG are rewritten segment by segment (chunk by chunk) and videos are remuxed with stream copy. What is dropped
// is everything that could say where a child was or which device took the picture (GPS, serial numbers, owner
// names, free text); what is kept is what a viewer needs to show the picture as it was shot.

/** Options for {@link stripOriginal}. */
export interface StripOriginalOptions {
  /** The sniffed MIME type of `source` (see app/ingest/formats.ts); decides how it is stripped. */
  mime: string;
  /** Aborting stops the work (kills ffmpeg), removes the temporary file and rejects with `cancelled`. */
  signal?: AbortSignal;
}

/** What {@link stripOriginal} wrote. */
export interface StripOriginalResult {
  /** Size of the stripped copy. */
  bytes: number;
  /** What was dropped, in short words for the publish report (`exif`, `xmp`, `iptc`, `comment`, `metadata`, …). */
  removed: string[];
}

/**
 * JPEGs are rewritten in memory; a camera photo is at most ~40 MB, so anything past this is not a photo a school
 * publishes as an original (and holding it twice in memory is not worth it).
 */
export const MAX_JPEG_BYTES = 200 * 1024 * 1024;

type Method = 'jpeg' | 'png' | 'mp4' | 'mov';

const METHODS: ReadonlyMap<string, Method> = new Map([
  ['image/jpeg', 'jpeg'],
  ['image/png', 'png'],
  ['video/mp4', 'mp4'],
  // The sniffer's name for MP4s with an M4V brand (iTunes, some Apple exports); the MP4 muxer writes them.
  ['video/x-m4v', 'mp4'],
  ['video/quicktime', 'mov'],
]);

/** Whether originals of this MIME type can be published: only formats whose metadata can be dropped without re-encoding. */
export function canStripOriginal(mime: string): boolean {
  return METHODS.has(normaliseMime(mime));
}

/**
 * Writes to `dest` a copy of `source` with no GPS position, serial numbers, owner name or other personal metadata,
 * and with the image (or audio/video) data byte for byte as it was. JPEG keeps a fresh minimal EXIF with only the
 * Orientation and the capture time, so the photo still shows upright and sorts by when it was taken; videos keep
 * their rotation and creation time. `dest` is written atomically (temporary file, fsync, rename) and `source` is
 * only read. Throws `unsupported-media` for formats that cannot be stripped without re-encoding (HEIC, RAW, …),
 * `corrupt-media` for a damaged file, `cancelled` when `signal` aborts.
 */
export async function stripOriginal(source: string, dest: string, options: StripOriginalOptions): Promise<StripOriginalResult> {
  const name = basename(source);
  const method = METHODS.get(normaliseMime(options.mime));
  if (!method) {
    throw new AppError(
      'unsupported-media',
      `${name}: originals in this format cannot be published without re-encoding, so only its previews are published.`,
    );
  }
  if (resolve(source) === resolve(dest)) {
    throw new AppError('invalid-input', `${name}: the stripped copy must be written to another file than the original.`);
  }
  throwIfCancelled(options.signal, name);
  switch (method) {
    case 'jpeg':
      return stripJpegFile(source, dest, name, options.signal);
    case 'png':
      return stripPngFile(source, dest, name, options.signal);
    case 'mp4':
    case 'mov':
      return stripVideoFile(source, dest, name, method, options.signal);
  }
}

function normaliseMime(mime: string): string {
  return mime.split(';')[0]!.trim().toLowerCase();
}

// ---------------------------------------------------------------------------------------------------------------
// JPEG

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const COM = 0xfe;
const APP0 = 0xe0;
const APP1 = 0xe1;
const APP2 = 0xe2;
const APP13 = 0xed;
const APP14 = 0xee;
const APP15 = 0xef;

const EXIF_ID = 'Exif\0\0';
const XMP_ID = 'http://ns.adobe.com/xap/1.0/\0';
const XMP_EXTENSION_ID = 'http://ns.adobe.com/xmp/extension/\0';
const JFIF_ID = 'JFIF\0';
const ICC_ID = 'ICC_PROFILE\0';
const ADOBE_ID = 'Adobe';
/** "JFIF\0", version, units, X and Y density, thumbnail width and height: a JFIF APP0 without its thumbnail. */
const JFIF_HEADER_BYTES = 14;

async function stripJpegFile(source: string, dest: string, name: string, signal: AbortSignal | undefined): Promise<StripOriginalResult> {
  const size = await sizeOf(source, name);
  if (size > MAX_JPEG_BYTES) {
    throw new AppError(
      'unsupported-media',
      `${name}: at ${Math.round(size / (1024 * 1024))} MB this JPEG is larger than the ${MAX_JPEG_BYTES / (1024 * 1024)} MB a published original may be, so only its previews are published.`,
    );
  }
  const data = await readWhole(source, name);
  const stripped = stripJpeg(data, name);
  await writeAtomically(dest, name, signal, (out) => out.writeFile(stripped.data).then(() => undefined));
  return { bytes: stripped.data.length, removed: stripped.removed };
}

/**
 * Rewrites a JPEG's marker segments: keeps JFIF APP0 (without a thumbnail), ICC_PROFILE APP2 (colour), Adobe APP14
 * (how CMYK/YCCK data is to be decoded) and every non-APPn segment (frame, tables, restart interval, scans and their
 * entropy-coded data) byte for byte; drops every other APPn (EXIF, XMP and extended XMP, Photoshop/IPTC, MPF,
 * maker segments), COM comments and anything after EOI (MPF secondary images, phone trailers). A minimal EXIF with
 * only Orientation and capture time is inserted after SOI/APP0. Pure, for tests; `name` is for messages.
 */
export function stripJpeg(data: Uint8Array, name: string): { data: Buffer; removed: string[] } {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const corrupt = (why: string): AppError => new AppError('corrupt-media', `${name}: this JPEG is damaged (${why}), so it cannot be published as an original.`);
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== SOI) throw corrupt('it does not start with a JPEG start-of-image marker');

  const removed = new Set<string>();
  const kept: Buffer[] = [];
  let jfif: Buffer | undefined;
  let exif: Buffer | undefined;
  let sawFrame = false;
  let sawScan = false;
  let ended = false;
  let at = 2;
  while (at < bytes.length) {
    if (bytes[at] !== 0xff) throw corrupt(`no marker where one was expected, at byte ${at}`);
    // Any marker may be preceded by 0xFF fill bytes; they carry nothing and are not copied.
    while (at + 1 < bytes.length && bytes[at + 1] === 0xff) at++;
    if (at + 1 >= bytes.length) break;
    const marker = bytes[at + 1]!;
    if (marker === EOI) {
      kept.push(bytes.subarray(at, at + 2));
      ended = true;
      at += 2;
      break;
    }
    if (marker === SOI) throw corrupt(`a second start-of-image marker at byte ${at}`);
    // TEM and stray RSTn markers stand alone, with no length.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      kept.push(bytes.subarray(at, at + 2));
      at += 2;
      continue;
    }
    if (marker === 0x00) throw corrupt(`no marker where one was expected, at byte ${at}`);
    if (at + 4 > bytes.length) throw corrupt('it is cut short inside a segment header');
    const length = bytes.readUInt16BE(at + 2);
    const end = at + 2 + length;
    if (length < 2 || end > bytes.length) throw corrupt(`a segment at byte ${at} runs past the end of the file`);
    const segment = bytes.subarray(at, end);
    const payload = bytes.subarray(at + 4, end);

    if ((marker >= APP0 && marker <= APP15) || marker === COM) {
      const decision = classifyAppSegment(marker, payload);
      if (decision === 'keep') kept.push(segment);
      else if (decision === 'jfif') {
        // Only the first JFIF header is the file's; its thumbnail (which may show a part later cropped away) is dropped.
        if (jfif === undefined) {
          jfif = jfifWithoutThumbnail(payload);
          if (jfif.length < segment.length) removed.add('thumbnail');
        }
      } else {
        if (decision === 'exif' && exif === undefined) exif = payload.subarray(EXIF_ID.length);
        removed.add(decision);
      }
    } else {
      kept.push(segment);
      if (isFrameMarker(marker)) sawFrame = true;
    }
    at = end;

    if (marker === SOS) {
      if (!sawFrame) throw corrupt('its image data comes before the frame header');
      sawScan = true;
      const scanEnd = findScanEnd(bytes, at);
      if (scanEnd === undefined) throw corrupt('its image data is cut short');
      kept.push(bytes.subarray(at, scanEnd));
      at = scanEnd;
    }
  }
  if (!ended) throw corrupt('it ends before its end-of-image marker, so it is cut short');
  if (!sawScan) throw corrupt('it holds no image data');
  if (at < bytes.length) removed.add('trailing-data');

  const head: Buffer[] = [bytes.subarray(0, 2)];
  if (jfif) head.push(jfif);
  const values = exif ? readExifValues(exif) : {};
  const minimal = buildMinimalExif(values);
  if (minimal) head.push(minimal);
  return { data: Buffer.concat([...head, ...kept]), removed: [...removed] };
}

type AppDecision = 'keep' | 'jfif' | 'exif' | 'xmp' | 'iptc' | 'comment' | 'other-metadata';

function classifyAppSegment(marker: number, payload: Buffer): AppDecision {
  const startsWith = (id: string): boolean => payload.length >= id.length && payload.toString('latin1', 0, id.length) === id;
  if (marker === COM) return 'comment';
  if (marker === APP0 && startsWith(JFIF_ID) && payload.length >= JFIF_HEADER_BYTES) return 'jfif';
  if (marker === APP1 && startsWith(EXIF_ID)) return 'exif';
  if (marker === APP1 && (startsWith(XMP_ID) || startsWith(XMP_EXTENSION_ID))) return 'xmp';
  // Colour: without the profile a wide-gamut or CMYK photo shows with the wrong colours.
  if (marker === APP2 && startsWith(ICC_ID)) return 'keep';
  if (marker === APP13) return 'iptc';
  // Says whether CMYK/YCCK data was colour-transformed; a decoder needs it to get the colours right.
  if (marker === APP14 && startsWith(ADOBE_ID)) return 'keep';
  // Everything else is metadata by definition (APPn are application data, not needed to decode): MPF and FlashPix
  // in APP2, JFXX thumbnails, maker segments (Ducky, Meta, GoPro, Qualcomm, …), JPEG XT/C2PA boxes in APP11.
  return 'other-metadata';
}

function jfifWithoutThumbnail(payload: Buffer): Buffer {
  const header = Buffer.from(payload.subarray(0, JFIF_HEADER_BYTES));
  header[12] = 0;
  header[13] = 0;
  const segment = Buffer.alloc(4);
  segment.writeUInt16BE(0xff00 | APP0, 0);
  segment.writeUInt16BE(header.length + 2, 2);
  return Buffer.concat([segment, header]);
}

function isFrameMarker(marker: number): boolean {
  // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC).
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** Where a scan's entropy-coded data ends: the first marker that is neither a stuffed 0xFF00 nor a restart marker. */
function findScanEnd(bytes: Buffer, from: number): number | undefined {
  let at = bytes.indexOf(0xff, from);
  while (at !== -1 && at + 1 < bytes.length) {
    let next = at + 1;
    while (next < bytes.length && bytes[next] === 0xff) next++;
    if (next >= bytes.length) return undefined;
    const byte = bytes[next]!;
    if (byte !== 0x00 && !(byte >= 0xd0 && byte <= 0xd7)) return at;
    at = bytes.indexOf(0xff, next + 1);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// The minimal EXIF

/** The EXIF values a stripped JPEG keeps: none of them says where, or with which device, a photo was taken. */
interface KeptExifValues {
  orientation?: number;
  dateTimeOriginal?: string;
  offsetTimeOriginal?: string;
  subSecTimeOriginal?: string;
}

const TAG_ORIENTATION = 0x0112;
const TAG_EXIF_IFD = 0x8769;
const TAG_EXIF_VERSION = 0x9000;
const TAG_DATE_TIME_ORIGINAL = 0x9003;
const TAG_OFFSET_TIME_ORIGINAL = 0x9011;
const TAG_SUBSEC_TIME_ORIGINAL = 0x9291;
const TYPE_ASCII = 2;
const TYPE_SHORT = 3;
const TYPE_LONG = 4;
const TYPE_UNDEFINED = 7;
const MAX_IFD_ENTRIES = 1024;

// Only values of exactly these shapes are copied: a field that holds free text instead is not carried over.
const EXIF_DATE = /^\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}$/;
const EXIF_OFFSET = /^[+-]\d{2}:\d{2}$/;
const EXIF_SUBSEC = /^\d{1,9}$/;

/** Reads Orientation, DateTimeOriginal, OffsetTimeOriginal and SubSecTimeOriginal from an EXIF TIFF block; damaged parts are skipped. */
function readExifValues(tiff: Buffer): KeptExifValues {
  if (tiff.length < 8) return {};
  const order = tiff.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return {};
  const le = order === 'II';
  const u16 = (at: number): number => (le ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const u32 = (at: number): number => (le ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
  if (u16(2) !== 42) return {};

  /** The entries of the IFD at `offset` as tag → entry position, or empty when it does not fit in the block. */
  const entries = (offset: number): Map<number, number> => {
    const found = new Map<number, number>();
    if (offset < 8 || offset + 2 > tiff.length) return found;
    const count = u16(offset);
    if (count > MAX_IFD_ENTRIES || offset + 2 + count * 12 > tiff.length) return found;
    for (let i = 0; i < count; i++) found.set(u16(offset + 2 + i * 12), offset + 2 + i * 12);
    return found;
  };
  const ascii = (entry: number | undefined): string | undefined => {
    if (entry === undefined || u16(entry + 2) !== TYPE_ASCII) return undefined;
    const count = u32(entry + 4);
    const start = count <= 4 ? entry + 8 : u32(entry + 8);
    if (count === 0 || count > 64 || start + count > tiff.length) return undefined;
    return tiff.toString('latin1', start, start + count).replace(/\0[\s\S]*$/, '').trim();
  };

  const values: KeptExifValues = {};
  const ifd0 = entries(u32(4));
  const orientationEntry = ifd0.get(TAG_ORIENTATION);
  if (orientationEntry !== undefined && u16(orientationEntry + 2) === TYPE_SHORT) {
    const orientation = u16(orientationEntry + 8);
    if (orientation >= 1 && orientation <= 8) values.orientation = orientation;
  }
  const exifPointer = ifd0.get(TAG_EXIF_IFD);
  if (exifPointer !== undefined) {
    const exifIfd = entries(u32(exifPointer + 8));
    const date = ascii(exifIfd.get(TAG_DATE_TIME_ORIGINAL));
    if (date && EXIF_DATE.test(date)) {
      values.dateTimeOriginal = date;
      // The offset and fraction only mean something next to the date they refine.
      const offset = ascii(exifIfd.get(TAG_OFFSET_TIME_ORIGINAL));
      if (offset && EXIF_OFFSET.test(offset)) values.offsetTimeOriginal = offset;
      const subSec = ascii(exifIfd.get(TAG_SUBSEC_TIME_ORIGINAL));
      if (subSec && EXIF_SUBSEC.test(subSec)) values.subSecTimeOriginal = subSec;
    }
  }
  return values;
}

interface IfdEntry {
  tag: number;
  type: number;
  count: number;
  value: Buffer;
}

/**
 * An APP1 "Exif" segment holding a little-endian TIFF with IFD0 (Orientation when it is not 1) and an Exif IFD
 * (ExifVersion, DateTimeOriginal, OffsetTimeOriginal, SubSecTimeOriginal); undefined when there is nothing to keep.
 */
function buildMinimalExif(values: KeptExifValues): Buffer | undefined {
  const ifd0: IfdEntry[] = [];
  const exifIfd: IfdEntry[] = [];
  if (values.orientation !== undefined && values.orientation !== 1) {
    const value = Buffer.alloc(2);
    value.writeUInt16LE(values.orientation);
    ifd0.push({ tag: TAG_ORIENTATION, type: TYPE_SHORT, count: 1, value });
  }
  if (values.dateTimeOriginal) {
    // 0232: OffsetTimeOriginal exists since Exif 2.31; readers use the version to know which tags to expect.
    exifIfd.push({ tag: TAG_EXIF_VERSION, type: TYPE_UNDEFINED, count: 4, value: Buffer.from('0232', 'latin1') });
    exifIfd.push(asciiEntry(TAG_DATE_TIME_ORIGINAL, values.dateTimeOriginal));
    if (values.offsetTimeOriginal) exifIfd.push(asciiEntry(TAG_OFFSET_TIME_ORIGINAL, values.offsetTimeOriginal));
    if (values.subSecTimeOriginal) exifIfd.push(asciiEntry(TAG_SUBSEC_TIME_ORIGINAL, values.subSecTimeOriginal));
  }
  if (ifd0.length === 0 && exifIfd.length === 0) return undefined;

  const ifd0Offset = 8;
  const ifdSize = (entries: IfdEntry[]): number => 2 + entries.length * 12 + 4 + outOfLineSize(entries);
  // The pointer's value is known once IFD0's size is, and IFD0's size does not depend on it.
  if (exifIfd.length > 0) ifd0.push({ tag: TAG_EXIF_IFD, type: TYPE_LONG, count: 1, value: Buffer.alloc(4) });
  const exifOffset = ifd0Offset + ifdSize(ifd0);
  const pointer = ifd0.find((entry) => entry.tag === TAG_EXIF_IFD);
  pointer?.value.writeUInt32LE(exifOffset);

  const header = Buffer.from([0x49, 0x49, 42, 0, ifd0Offset, 0, 0, 0]);
  const tiff = Buffer.concat([header, writeIfd(ifd0, ifd0Offset), ...(exifIfd.length > 0 ? [writeIfd(exifIfd, exifOffset)] : [])]);
  const payload = Buffer.concat([Buffer.from(EXIF_ID, 'latin1'), tiff]);
  const segment = Buffer.alloc(4);
  segment.writeUInt16BE(0xff00 | APP1, 0);
  segment.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([segment, payload]);
}

function asciiEntry(tag: number, text: string): IfdEntry {
  const value = Buffer.from(`${text}\0`, 'latin1');
  return { tag, type: TYPE_ASCII, count: value.length, value };
}

function outOfLineSize(entries: IfdEntry[]): number {
  // Values longer than 4 bytes live after the IFD, each starting on a word boundary as TIFF requires.
  return entries.reduce((sum, entry) => sum + (entry.value.length > 4 ? entry.value.length + (entry.value.length % 2) : 0), 0);
}

/** One IFD (entries sorted by tag, next-IFD 0) followed by its out-of-line values; `offset` is where it starts in the TIFF. */
function writeIfd(entries: IfdEntry[], offset: number): Buffer {
  const sorted = [...entries].sort((a, b) => a.tag - b.tag);
  const table = Buffer.alloc(2 + sorted.length * 12 + 4);
  const data: Buffer[] = [];
  let dataOffset = offset + table.length;
  table.writeUInt16LE(sorted.length, 0);
  sorted.forEach((entry, i) => {
    const at = 2 + i * 12;
    table.writeUInt16LE(entry.tag, at);
    table.writeUInt16LE(entry.type, at + 2);
    table.writeUInt32LE(entry.count, at + 4);
    if (entry.value.length <= 4) {
      entry.value.copy(table, at + 8);
    } else {
      table.writeUInt32LE(dataOffset, at + 8);
      const padded = entry.value.length % 2 === 0 ? entry.value : Buffer.concat([entry.value, Buffer.alloc(1)]);
      data.push(padded);
      dataOffset += padded.length;
    }
  });
  return Buffer.concat([table, ...data]);
}

// ---------------------------------------------------------------------------------------------------------------
// PNG

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Ancillary chunks that say how to show the picture (transparency, colour, pixel size, APNG frames). Every other
 * ancillary chunk is dropped: by definition none is needed to decode, and besides eXIf, tEXt, zTXt, iTXt and tIME
 * they include private ones that hold anything (C2PA caBX, ImageMagick's vpAg, Apple's iDOT whose offsets would
 * point at the wrong bytes once chunks before the image data are gone).
 */
const PNG_KEPT_ANCILLARY: ReadonlySet<string> = new Set([
  'tRNS', 'gAMA', 'cHRM', 'sRGB', 'iCCP', 'cICP', 'mDCV', 'mDCv', 'cLLI', 'cLLi', 'sBIT', 'bKGD', 'hIST', 'pHYs',
  'sPLT', 'sTER', 'acTL', 'fcTL', 'fdAT',
]);
const PNG_TEXT_CHUNKS: ReadonlySet<string> = new Set(['tEXt', 'zTXt', 'iTXt']);
const PNG_EXIF_CHUNKS: ReadonlySet<string> = new Set(['eXIf', 'exIf', 'zxIf']);
const COPY_BUFFER_BYTES = 1024 * 1024;
const MAX_PNG_CHUNK_BYTES = 0x7fff_ffff;

async function stripPngFile(source: string, dest: string, name: string, signal: AbortSignal | undefined): Promise<StripOriginalResult> {
  const corrupt = (why: string): AppError => new AppError('corrupt-media', `${name}: this PNG is damaged (${why}), so it cannot be published as an original.`);
  const input = await openForReading(source, name);
  try {
    const size = (await input.stat()).size;
    const read = async (offset: number, length: number): Promise<Buffer> => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await input.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    };
    if (!(await read(0, 8)).equals(PNG_SIGNATURE)) throw corrupt('it does not start with the PNG signature');

    const removed = new Set<string>();
    let bytes = 0;
    await writeAtomically(dest, name, signal, async (out) => {
      await out.write(PNG_SIGNATURE);
      bytes = PNG_SIGNATURE.length;
      let at = PNG_SIGNATURE.length;
      let ended = false;
      const buffer = Buffer.alloc(COPY_BUFFER_BYTES);
      while (at < size) {
        throwIfCancelled(signal, name);
        const header = await read(at, 8);
        if (header.length < 8) throw corrupt('it is cut short inside a chunk header');
        const length = header.readUInt32BE(0);
        const type = header.toString('latin1', 4, 8);
        if (!/^[A-Za-z]{4}$/.test(type) || length > MAX_PNG_CHUNK_BYTES) throw corrupt(`no valid chunk at byte ${at}`);
        if (at === PNG_SIGNATURE.length && type !== 'IHDR') throw corrupt('its first chunk is not IHDR');
        const total = 12 + length;
        if (at + total > size) throw corrupt(`the ${type} chunk at byte ${at} runs past the end of the file`);
        // Critical chunks (upper-case first letter) are the picture itself, or something a decoder must refuse on.
        const critical = type[0]! >= 'A' && type[0]! <= 'Z';
        if (critical || PNG_KEPT_ANCILLARY.has(type)) {
          // Copied with its CRC as it is: the bytes of a kept chunk never change.
          for (let done = 0; done < total; ) {
            const want = Math.min(buffer.length, total - done);
            const { bytesRead } = await input.read(buffer, 0, want, at + done);
            if (bytesRead === 0) throw corrupt('it was cut short while being read');
            await out.write(buffer, 0, bytesRead);
            done += bytesRead;
          }
          bytes += total;
        } else {
          removed.add(await pngChunkLabel(type, length, at, read));
        }
        at += total;
        if (type === 'IEND') {
          ended = true;
          break;
        }
      }
      if (!ended) throw corrupt('it ends before its IEND chunk, so it is cut short');
      if (at < size) removed.add('trailing-data');
    });
    return { bytes, removed: [...removed] };
  } finally {
    await input.close().catch(() => undefined);
  }
}

/** What a dropped chunk was, for the report; text chunks are named by their keyword (XMP and EXIF travel in them too). */
async function pngChunkLabel(type: string, length: number, at: number, read: (offset: number, length: number) => Promise<Buffer>): Promise<string> {
  if (PNG_EXIF_CHUNKS.has(type)) return 'exif';
  if (type === 'tIME') return 'time';
  if (!PNG_TEXT_CHUNKS.has(type)) return 'other-metadata';
  const keyword = (await read(at + 8, Math.min(length, 80))).toString('latin1').split('\0')[0]!.toLowerCase();
  if (keyword === 'xml:com.adobe.xmp') return 'xmp';
  if (keyword.includes('exif')) return 'exif';
  if (keyword.includes('iptc')) return 'iptc';
  return 'text';
}

// ---------------------------------------------------------------------------------------------------------------
// Video

/** A remux reads and writes at disk speed; this allows a slow USB disk (about 17 MB/s) plus a start-up margin. */
const REMUX_BASE_TIMEOUT_MS = 120_000;
const REMUX_TIMEOUT_MS_PER_GB = 60_000;
/** ffmpeg reports its progress twice a second; a minute without any means the drive stopped answering. */
const REMUX_STALL_MS = 60_000;

async function stripVideoFile(source: string, dest: string, name: string, muxer: 'mp4' | 'mov', signal: AbortSignal | undefined): Promise<StripOriginalResult> {
  const path = resolve(source);
  const size = await sizeOf(path, name);
  // The probe says it is a video with a picture, and gives the capture time, which is kept as photos keep theirs.
  const metadata = await readVideoMetadata(path, signal ? { signal } : {});
  const creationTime = utcCreationTime(metadata.capturedAt, metadata.captureOffsetMin);
  const temp = tempPathFor(dest);
  const spec: FfmpegSpec = {
    inputOptions: [
      '-nostdin', '-hide_banner', '-v', 'error', '-stats',
      // As for the derivatives: the input is only ever a local file, and only a QuickTime/MP4 demuxer opens it.
      '-protocol_whitelist', 'file',
      '-format_whitelist', 'mov,mp4',
    ],
    input: `file:${path}`,
    outputOptions: [
      // Picture and sound only. Data tracks (GoPro GPMF and Google CAMM telemetry with GPS, Apple's timed location
      // metadata, timecode), subtitle tracks (DJI drones write their position into one) and cover art (a JPEG with
      // its own EXIF, which "V" leaves out where "v" would not) are not copied.
      '-map', '0:V',
      '-map', '0:a?',
      '-c', 'copy',
      // Global, per-stream and chapter metadata: ©xyz, location, the com.apple.quicktime.* keys, make, model,
      // serial numbers, owner names, encoder strings. The display matrix is not metadata but stream side data, so
      // the rotation survives.
      '-map_metadata', '-1',
      '-map_chapters', '-1',
      // No "encoder" tag, no compressor name, no muxing-time dates.
      '-fflags', '+bitexact',
      '-write_tmcd', '0',
      ...(creationTime ? ['-metadata', `creation_time=${creationTime}`] : []),
      '-f', muxer,
      '-y',
    ],
    output: `file:${temp}`,
  };
  try {
    await mkdir(dirname(dest), { recursive: true });
    // A leftover of a crash is not ours to append to.
    await rm(temp, { force: true });
    await runFfmpeg(spec, {
      subject: `the stripped copy of "${name}"`,
      timeoutMs: REMUX_BASE_TIMEOUT_MS + Math.ceil((size / 1e9) * REMUX_TIMEOUT_MS_PER_GB),
      stallMs: REMUX_STALL_MS,
      ...(signal ? { signal } : {}),
    });
    const handle = await open(temp, 'r+');
    let bytes: number;
    try {
      await handle.sync();
      bytes = (await handle.stat()).size;
    } finally {
      await handle.close();
    }
    if (bytes === 0) throw new AppError('corrupt-media', `${name}: ffmpeg wrote nothing, so the video is probably damaged.`);
    // The last moment an abort can still leave nothing behind.
    throwIfCancelled(signal, name);
    await rename(temp, dest);
    await syncDirectory(dirname(dest));
    return { bytes, removed: ['metadata'] };
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw isAppError(error) ? error : toAppError(error, `Could not write the stripped copy of ${name} to ${dest}`);
  }
}

/** The capture time as the UTC instant MP4's creation_time holds; undefined when the zone is unknown. */
function utcCreationTime(capturedAt: string | undefined, offsetMin: number | undefined): string | undefined {
  if (capturedAt === undefined || offsetMin === undefined) return undefined;
  const instant = new Date(capturedAt);
  return Number.isFinite(instant.getTime()) ? instant.toISOString() : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Files

/** Writes through a temporary file beside `dest`, fsyncs and renames it; on any failure the temporary file is removed. */
async function writeAtomically(dest: string, name: string, signal: AbortSignal | undefined, write: (out: FileHandle) => Promise<void>): Promise<void> {
  const temp = tempPathFor(dest);
  try {
    await mkdir(dirname(dest), { recursive: true });
    const out = await open(temp, 'w');
    try {
      await write(out);
      await out.sync();
    } finally {
      await out.close();
    }
    throwIfCancelled(signal, name);
    await rename(temp, dest);
    await syncDirectory(dirname(dest));
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw isAppError(error) ? error : toAppError(error, `Could not write the stripped copy of ${name} to ${dest}`);
  }
}

async function openForReading(source: string, name: string): Promise<FileHandle> {
  try {
    return await open(source, 'r');
  } catch (error) {
    throw toAppError(error, `Could not read ${name}`);
  }
}

async function readWhole(source: string, name: string): Promise<Buffer> {
  const handle = await openForReading(source, name);
  try {
    return await handle.readFile();
  } catch (error) {
    throw toAppError(error, `Could not read ${name}`);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

async function sizeOf(source: string, name: string): Promise<number> {
  try {
    return (await stat(source)).size;
  } catch (error) {
    throw toAppError(error, `Could not read ${name}`);
  }
}

function throwIfCancelled(signal: AbortSignal | undefined, name: string): void {
  if (signal?.aborted) throw new AppError('cancelled', `Making the stripped copy of "${name}" was cancelled.`);
}
