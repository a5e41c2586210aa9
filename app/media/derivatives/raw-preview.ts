import { readFile } from 'node:fs/promises';
import { AppError, toAppError } from '../../shared/errors.ts';

/** Where an embedded JPEG sits in a file. */
export interface EmbeddedJpeg {
  offset: number;
  length: number;
}

// Cameras embed previews of at least this size; smaller JPEGs are EXIF thumbnails (160×120) and icons.
const MIN_PREVIEW_BYTES = 16 * 1024;
/** RAW files larger than this are not read whole to look for a preview (no camera writes one). */
const MAX_RAW_BYTES = 512 * 1024 * 1024;

/**
 * The largest JPEG embedded in a camera RAW file, as Photo Mechanic culls: every RAW format in use (CR2, CR3,
 * NEF, ARW, DNG, RAF, ORF, RW2, PEF) stores a full-size or near-full-size JPEG rendition beside the sensor
 * data, and decoding it is as fast as decoding any JPEG. Found by walking JPEG marker structure from each
 * start-of-image marker, which needs no per-vendor container parser and cannot be fooled by a marker-like
 * byte inside the sensor data (a candidate must be a well-formed JPEG up to its end-of-image marker).
 */
export async function extractRawPreview(file: string): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (error) {
    throw toAppError(error, `Cannot read ${file}`);
  }
  if (data.length > MAX_RAW_BYTES) throw new AppError('unsupported-media', 'The RAW file is too large to look for its preview.');
  const best = findLargestJpeg(data);
  if (best === null) {
    throw new AppError('unsupported-media', 'This RAW file has no embedded JPEG preview, so Keepsake cannot show it.');
  }
  return data.subarray(best.offset, best.offset + best.length);
}

/** The largest well-formed JPEG stream inside `data`, or null when there is none of a preview's size. */
export function findLargestJpeg(data: Uint8Array): EmbeddedJpeg | null {
  let best: EmbeddedJpeg | null = null;
  let from = 0;
  for (;;) {
    const start = indexOfSoi(data, from);
    if (start < 0) return best;
    const end = jpegEnd(data, start);
    if (end !== null) {
      const length = end - start;
      if (length >= MIN_PREVIEW_BYTES && (best === null || length > best.length)) best = { offset: start, length };
      // Skip past this JPEG: its own EXIF thumbnail lies inside it and is smaller by definition.
      from = end;
    } else {
      from = start + 2;
    }
  }
}

/** Index of the next FF D8 FF (start of image followed by a marker) at or after `from`, or -1. */
function indexOfSoi(data: Uint8Array, from: number): number {
  for (let index = from; index + 2 < data.length; index++) {
    if (data[index] === 0xff && data[index + 1] === 0xd8 && data[index + 2] === 0xff) return index;
  }
  return -1;
}

/**
 * The offset just past the end-of-image marker of the JPEG starting at `start`, or null when the bytes are not
 * a well-formed JPEG: marker segments with lengths up to a start-of-scan, entropy-coded data in which 0xFF is
 * only ever followed by 0x00 (stuffing) or a restart marker, further scans, then FF D9.
 */
function jpegEnd(data: Uint8Array, start: number): number | null {
  let index = start + 2;
  let sawFrame = false;
  while (index + 4 <= data.length) {
    if (data[index] !== 0xff) return null;
    let marker = data[index + 1]!;
    while (marker === 0xff && index + 2 < data.length) marker = data[++index + 1]!; // fill bytes
    if (marker === 0xd9) return sawFrame ? index + 2 : null;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      index += 2;
      continue;
    }
    const length = (data[index + 2]! << 8) | data[index + 3]!;
    if (length < 2) return null;
    if ((marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)) sawFrame = true;
    index += 2 + length;
    if (marker !== 0xda) continue;
    if (!sawFrame) return null;
    // Entropy-coded data runs to the next marker that is neither stuffing nor a restart.
    while (index + 1 < data.length) {
      if (data[index] === 0xff) {
        const next = data[index + 1]!;
        if (next !== 0x00 && !(next >= 0xd0 && next <= 0xd7) && next !== 0xff) break;
      }
      index++;
    }
  }
  return null;
}
