import { constants, type FileHandle, open } from 'node:fs/promises';
import type { AssetKind } from '../shared/domain.ts';
import { toAppError } from '../shared/errors.ts';

/** Every container or image format the engine accepts. */
export const MEDIA_FORMATS = [
  'jpeg',
  'png',
  'heic',
  'heif',
  'avif',
  'tiff',
  'webp',
  'gif',
  'cr2',
  'cr3',
  'nef',
  'arw',
  'dng',
  'orf',
  'rw2',
  'raf',
  'mp4',
  'mov',
  'm2ts',
  'avi',
] as const;

/** One of {@link MEDIA_FORMATS}. */
export type MediaFormat = (typeof MEDIA_FORMATS)[number];

/** What a file's bytes say it is. */
export interface SniffedFormat {
  kind: AssetKind;
  format: MediaFormat;
  mime: string;
}

/** How much of a file is read to recognise it; TIFF and QuickTime walks read a little more, and only when needed. */
export const SNIFF_HEAD_BYTES = 4096;

/**
 * Lower-case extensions (no dot) that media of the supported formats usually carry. Only for cheap estimates
 * (counting a card's photos) and for wording messages: a file's format is always decided by its bytes.
 */
export const MEDIA_EXTENSIONS: ReadonlySet<string> = new Set([
  'jpg', 'jpeg', 'jpe', 'png', 'heic', 'heif', 'hif', 'avif', 'tif', 'tiff', 'webp', 'gif',
  'cr2', 'cr3', 'nef', 'arw', 'dng', 'orf', 'rw2', 'raf',
  'mp4', 'm4v', 'mov', 'qt', 'mts', 'm2ts', 'm2t', 'avi',
]);

const PHOTO = (format: MediaFormat, mime: string): SniffedFormat => ({ kind: 'photo', format, mime });
const RAW = (format: MediaFormat, mime: string): SniffedFormat => ({ kind: 'raw', format, mime });
const VIDEO = (format: MediaFormat, mime: string): SniffedFormat => ({ kind: 'video', format, mime });

const JPEG = PHOTO('jpeg', 'image/jpeg');
const PNG = PHOTO('png', 'image/png');
const HEIC = PHOTO('heic', 'image/heic');
const HEIF = PHOTO('heif', 'image/heif');
const AVIF = PHOTO('avif', 'image/avif');
const TIFF = PHOTO('tiff', 'image/tiff');
const WEBP = PHOTO('webp', 'image/webp');
const GIF = PHOTO('gif', 'image/gif');
const CR2 = RAW('cr2', 'image/x-canon-cr2');
const CR3 = RAW('cr3', 'image/x-canon-cr3');
const NEF = RAW('nef', 'image/x-nikon-nef');
const ARW = RAW('arw', 'image/x-sony-arw');
const DNG = RAW('dng', 'image/x-adobe-dng');
const ORF = RAW('orf', 'image/x-olympus-orf');
const RW2 = RAW('rw2', 'image/x-panasonic-rw2');
const RAF = RAW('raf', 'image/x-fuji-raf');
const MP4 = VIDEO('mp4', 'video/mp4');
const M4V = VIDEO('mp4', 'video/x-m4v');
const MOV = VIDEO('mov', 'video/quicktime');
const M2TS = VIDEO('m2ts', 'video/mp2t');
const AVI = VIDEO('avi', 'video/x-msvideo');

// ISO-BMFF brands that name one format outright; the first of these among major + compatible brands wins.
const SPECIFIC_BRANDS = new Map<string, SniffedFormat>([
  ['crx ', CR3],
  ['avif', AVIF],
  ['avis', AVIF],
  ...['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs'].map((b) => [b, HEIC] as const),
  ['qt  ', MOV],
  ...['M4V ', 'M4VH', 'M4VP'].map((b) => [b, M4V] as const),
  ...['mp41', 'mp42', 'mp71', 'avc1', 'MSNV', 'XAVC', 'f4v ', 'mmp4', 'dash', '3gp4', '3gp5', '3gp6', '3g2a'].map(
    (b) => [b, MP4] as const,
  ),
]);

// Umbrella brands (a HEIF image of some codec, an ISO file of some kind): used only when no specific brand is listed.
const GENERIC_BRANDS = new Map<string, SniffedFormat>([
  ['mif1', HEIF],
  ['msf1', HEIF],
  ['miaf', HEIF],
  ...['isom', 'iso2', 'iso3', 'iso4', 'iso5', 'iso6', 'iso7', 'iso8', 'iso9'].map((b) => [b, MP4] as const),
]);

// Atoms a QuickTime file written without `ftyp` (older cameras, QuickTime 6) may start with.
const QUICKTIME_LEADING_ATOMS = new Set(['moov', 'mdat', 'wide', 'free', 'skip', 'pnot']);

const TIFF_TAG_COMPRESSION = 0x0103;
const TIFF_TAG_PHOTOMETRIC = 0x0106;
const TIFF_TAG_MAKE = 0x010f;
const TIFF_TAG_SUB_IFDS = 0x014a;
const TIFF_TAG_DNG_VERSION = 0xc612;
const TIFF_TAG_DNG_PRIVATE_DATA = 0xc634;
const PHOTOMETRIC_CFA = 32803;
const COMPRESSION_NIKON_NEF = 34713;
const COMPRESSION_SONY_ARW = 32767;
// A real IFD0 has a few dozen entries; more means the offset points at garbage.
const MAX_IFD_ENTRIES = 512;
const MAX_MAKE_LENGTH = 64;
const MAX_QUICKTIME_ATOMS = 16;
const TS_PACKETS_CHECKED = 8;
const TS_MIN_PACKETS = 5;

/** Random access to the bytes being sniffed: a buffer, or an open file read only where needed. */
interface ByteSource {
  readonly size: number;
  /** Up to `length` bytes at `offset`; shorter at the end of the data, empty past it. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/**
 * Recognises a photo, RAW or video file by its leading bytes (never by its name), or returns null for anything
 * else. Reads the first {@link SNIFF_HEAD_BYTES} and, for TIFF-based RAWs and QuickTime without `ftyp`, a few
 * more bytes at offsets the header gives (checked against the file size). A buffer may be a whole file or its head.
 * Throws an AppError when the path cannot be read.
 */
export async function sniffFormat(source: string | Uint8Array): Promise<SniffedFormat | null> {
  if (typeof source !== 'string') return sniffSource(bufferSource(source));
  let handle: FileHandle;
  try {
    // O_NONBLOCK so a FIFO or device node named like a photo cannot hang the read.
    handle = await open(source, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    throw toAppError(error, source);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) return null;
    return await sniffSource(fileSource(handle, stats.size));
  } catch (error) {
    throw toAppError(error, source);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function bufferSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(Math.min(offset, bytes.length), Math.min(offset + length, bytes.length)),
  };
}

function fileSource(handle: FileHandle, size: number): ByteSource {
  return {
    size,
    read: async (offset, length) => {
      const wanted = Math.max(0, Math.min(length, size - offset));
      if (wanted === 0) return new Uint8Array(0);
      const buffer = Buffer.alloc(wanted);
      const { bytesRead } = await handle.read(buffer, 0, wanted, offset);
      return buffer.subarray(0, bytesRead);
    },
  };
}

async function sniffSource(source: ByteSource): Promise<SniffedFormat | null> {
  const head = await source.read(0, SNIFF_HEAD_BYTES);
  if (head.length < 4) return null;
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return JPEG;
  if (startsWith(head, 0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return PNG;
  if (ascii(head, 0, 6) === 'GIF87a' || ascii(head, 0, 6) === 'GIF89a') return GIF;
  if (ascii(head, 0, 15) === 'FUJIFILMCCD-RAW') return RAF;

  const magic = ascii(head, 0, 4);
  if (magic === 'RIFF') {
    const form = ascii(head, 8, 4);
    if (form === 'WEBP') return WEBP;
    if (form === 'AVI ') return AVI;
    return null;
  }
  if (magic === 'IIRO' || magic === 'IIRS' || magic === 'MMOR') return ORF;
  if (magic === 'IIU\0') return RW2;
  if (magic === 'II*\0' || magic === 'MM\0*') {
    // CR2: a TIFF whose header carries "CR" and major version 2 right after the IFD0 offset.
    if (ascii(head, 8, 2) === 'CR' && head[10] === 2) return CR2;
    return sniffTiff(source, magic === 'II*\0');
  }

  if (ascii(head, 4, 4) === 'ftyp') return sniffFtyp(head);
  if (QUICKTIME_LEADING_ATOMS.has(ascii(head, 4, 4))) return sniffQuickTimeAtoms(source);
  return sniffTransportStream(head);
}

function sniffFtyp(head: Uint8Array): SniffedFormat | null {
  const boxSize = readU32(head, 0, false);
  if (head.length < 12 || (boxSize !== 0 && boxSize < 12)) return null;
  const end = Math.min(boxSize === 0 ? head.length : boxSize, head.length);
  const brands = [ascii(head, 8, 4)];
  for (let offset = 16; offset + 4 <= end; offset += 4) brands.push(ascii(head, offset, 4));
  for (const brand of brands) {
    const format = SPECIFIC_BRANDS.get(brand);
    if (format) return format;
  }
  for (const brand of brands) {
    const format = GENERIC_BRANDS.get(brand);
    if (format) return format;
  }
  return null;
}

/** Walks top-level atoms: a QuickTime file without `ftyp` is a chain of well-formed atoms reaching `moov` or `mdat`. */
async function sniffQuickTimeAtoms(source: ByteSource): Promise<SniffedFormat | null> {
  let offset = 0;
  for (let i = 0; i < MAX_QUICKTIME_ATOMS && offset + 8 <= source.size; i++) {
    const header = await source.read(offset, 16);
    if (header.length < 8) return null;
    const type = ascii(header, 4, 4);
    if (!/^[\x20-\x7e]{4}$/.test(type)) return null;
    let size = readU32(header, 0, false);
    if (size === 1) {
      if (header.length < 16) return null;
      size = readU32(header, 8, false) * 2 ** 32 + readU32(header, 12, false);
      if (size < 16) return null;
    } else if (size === 0) {
      size = source.size - offset;
    } else if (size < 8) {
      return null;
    }
    // The atom must fit in the file; a text file whose bytes 4–7 happen to read "free" fails here.
    if (offset + size > source.size) return null;
    if (type === 'moov' || type === 'mdat') return MOV;
    if (!QUICKTIME_LEADING_ATOMS.has(type)) return null;
    offset += size;
  }
  return null;
}

/** MPEG-TS (188-byte packets) or M2TS/AVCHD (192-byte packets, 4-byte timestamp first): several sync bytes in a row. */
function sniffTransportStream(head: Uint8Array): SniffedFormat | null {
  for (const [packet, sync] of [
    [188, 0],
    [192, 4],
  ] as const) {
    const available = Math.floor((head.length - sync - 1) / packet) + 1;
    const checked = Math.min(TS_PACKETS_CHECKED, available);
    if (checked < TS_MIN_PACKETS) continue;
    let ok = true;
    for (let i = 0; i < checked && ok; i++) ok = head[sync + i * packet] === 0x47;
    if (ok) return M2TS;
  }
  return null;
}

/**
 * NEF, ARW and DNG are TIFF files: IFD0 tells them apart. DNG has DNGVersion; NEF and ARW carry their maker's name
 * and raw data (sub-IFDs, a CFA image or the maker's compression), which a maker's plain TIFF export lacks.
 * Every offset is checked against the data size and the walk covers IFD0 only, so garbage cannot loop or overrun.
 */
async function sniffTiff(source: ByteSource, littleEndian: boolean): Promise<SniffedFormat> {
  const header = await source.read(0, 8);
  if (header.length < 8) return TIFF;
  const ifd0 = readU32(header, 4, littleEndian);
  if (ifd0 < 8 || ifd0 + 2 > source.size) return TIFF;
  const countBytes = await source.read(ifd0, 2);
  if (countBytes.length < 2) return TIFF;
  const count = readU16(countBytes, 0, littleEndian);
  if (count === 0 || count > MAX_IFD_ENTRIES) return TIFF;
  const entries = await source.read(ifd0 + 2, count * 12);

  let make = '';
  let dng = false;
  let rawEvidence = false;
  for (let at = 0; at + 12 <= entries.length; at += 12) {
    const tag = readU16(entries, at, littleEndian);
    const type = readU16(entries, at + 2, littleEndian);
    const valueCount = readU32(entries, at + 4, littleEndian);
    // A SHORT value sits left-justified in the 4-byte field in both byte orders.
    const value = type === 3 ? readU16(entries, at + 8, littleEndian) : readU32(entries, at + 8, littleEndian);
    switch (tag) {
      case TIFF_TAG_DNG_VERSION:
        dng = true;
        break;
      case TIFF_TAG_MAKE:
        make = await readTiffAscii(source, entries.subarray(at + 8, at + 12), valueCount, value);
        break;
      case TIFF_TAG_SUB_IFDS:
      case TIFF_TAG_DNG_PRIVATE_DATA:
        rawEvidence = true;
        break;
      case TIFF_TAG_PHOTOMETRIC:
        if (value === PHOTOMETRIC_CFA) rawEvidence = true;
        break;
      case TIFF_TAG_COMPRESSION:
        if (value === COMPRESSION_NIKON_NEF || value === COMPRESSION_SONY_ARW) rawEvidence = true;
        break;
    }
  }
  if (dng) return DNG;
  if (rawEvidence && make.startsWith('NIKON')) return NEF;
  if (rawEvidence && make.startsWith('SONY')) return ARW;
  return TIFF;
}

async function readTiffAscii(source: ByteSource, inline: Uint8Array, count: number, offset: number): Promise<string> {
  const length = Math.min(count, MAX_MAKE_LENGTH);
  let bytes: Uint8Array;
  if (count <= 4) bytes = inline.subarray(0, length);
  else if (offset + length <= source.size) bytes = await source.read(offset, length);
  else return '';
  return ascii(bytes, 0, bytes.length).replace(/\0[\s\S]*$/, '').trim().toUpperCase();
}

function ascii(bytes: Uint8Array, offset: number, length: number): string {
  let text = '';
  for (let i = offset; i < offset + length && i < bytes.length; i++) text += String.fromCharCode(bytes[i]!);
  return text;
}

function startsWith(bytes: Uint8Array, offset: number, expected: readonly number[]): boolean {
  return expected.every((byte, i) => bytes[offset + i] === byte);
}

function readU16(bytes: Uint8Array, offset: number, littleEndian: boolean): number {
  const a = bytes[offset] ?? 0;
  const b = bytes[offset + 1] ?? 0;
  return littleEndian ? a | (b << 8) : (a << 8) | b;
}

function readU32(bytes: Uint8Array, offset: number, littleEndian: boolean): number {
  const a = bytes[offset] ?? 0;
  const b = bytes[offset + 1] ?? 0;
  const c = bytes[offset + 2] ?? 0;
  const d = bytes[offset + 3] ?? 0;
  return littleEndian ? (a | (b << 8) | (c << 16) | (d << 24)) >>> 0 : ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}
