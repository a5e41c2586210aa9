import { mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type OutputInfo, type Sharp, type SharpOptions } from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import { writeFileAtomic } from '../../fs/durable-files.ts';
import type { AssetKind } from '../../shared/domain.ts';
import { AppError, toAppError } from '../../shared/errors.ts';
import { PREVIEW_SIZE, THUMB_SIZE } from './derivative-paths.ts';
import type { HeicDecoder } from './heic-decoder.ts';
import { extractRawPreview } from './raw-preview.ts';

/**
 * Largest picture decoded, in pixels: 200 MP is above any camera or stitched school panorama, and it keeps a
 * decompression bomb (a tiny file claiming 50,000 × 50,000 pixels) from being decoded at all: libvips reads
 * the header, sees the size and stops before allocating anything.
 */
export const MAX_INPUT_PIXELS = 200_000_000;
const THUMBHASH_SIZE = 100;
/** Smallest long edge {@link previewEdge} chooses for a preview: still sharp on a laptop's full screen. */
const MIN_PREVIEW_SIZE = 1600;
const PREVIEW_QUALITY = 82;
const THUMB_QUALITY = 72;

/** What to make, from which file. */
export interface PhotoDerivativeRequest {
  source: string;
  kind: AssetKind;
  mime: string;
  /** EXIF orientation from the catalog, applied when the decoded picture carries none (RAW previews). */
  orientation: number | null;
  thumbPath: string;
  /** Null when the source is itself the preview (a video's poster frame). */
  previewPath: string | null;
  signal?: AbortSignal;
}

/** What was made. */
export interface PhotoDerivatives {
  /** Upright size of the decoded picture (for a RAW, of its embedded preview). */
  width: number;
  height: number;
  thumbhash: string;
  thumbBytes: number;
  previewBytes: number;
}

/** The engine's photo pipeline: decodes once, then makes the preview, the thumbnail and the placeholder from that one decode. */
export class PhotoPipeline {
  constructor(private readonly deps: { heic: HeicDecoder }) {}

  /**
   * Makes the preview (JPEG, ≤ 2048 px), the thumbnail (WebP, ≤ 320 px) and the thumbhash of a photo: one
   * decode with shrink-on-load (a JPEG is decoded at 1/2, 1/4 or 1/8 scale straight from its DCT), EXIF
   * orientation applied, converted to sRGB, flattened onto white, no metadata written. Files are written
   * atomically. Throws `corrupt-media` / `unsupported-media` with the reason a person can act on.
   */
  async make(request: PhotoDerivativeRequest): Promise<PhotoDerivatives> {
    request.signal?.throwIfAborted();
    let decoded: { data: Buffer; info: OutputInfo };
    try {
      const input = await this.open(request);
      const size = previewEdge(input.jpegLongEdge);
      const pipeline = input.image
        .resize({ width: size, height: size, fit: 'inside', withoutEnlargement: true })
        .toColourspace('srgb')
        .flatten({ background: '#ffffff' })
        .removeAlpha();
      decoded = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
      if (input.orientAfter !== null && input.orientAfter > 1) {
        // Turned after the resize: an explicit rotation before it would stop sharp's shrink-on-load.
        const { width, height, channels } = decoded.info;
        decoded = await orient(sharp(decoded.data, { raw: { width, height, channels } }), input.orientAfter).raw().toBuffer({ resolveWithObject: true });
      }
    } catch (error) {
      throw await describeDecodeError(error, request);
    }
    request.signal?.throwIfAborted();
    const { width, height, channels } = decoded.info;
    const raw = { raw: { width, height, channels } } as const;
    const [preview, thumb, placeholder] = await Promise.all([
      request.previewPath === null ? null : sharp(decoded.data, raw).jpeg({ quality: PREVIEW_QUALITY }).toBuffer(),
      sharp(decoded.data, raw).resize({ width: THUMB_SIZE, height: THUMB_SIZE, fit: 'inside', withoutEnlargement: true }).webp({ quality: THUMB_QUALITY }).toBuffer(),
      sharp(decoded.data, raw)
        .resize({ width: THUMBHASH_SIZE, height: THUMBHASH_SIZE, fit: 'inside' })
        .ensureAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true }),
    ]);
    request.signal?.throwIfAborted();
    await mkdir(path.dirname(request.thumbPath), { recursive: true });
    try {
      if (request.previewPath !== null && preview !== null) await writeFileAtomic(request.previewPath, preview);
      await writeFileAtomic(request.thumbPath, thumb);
    } catch (error) {
      throw toAppError(error, 'Cannot write the thumbnail cache');
    }
    const hash = rgbaToThumbHash(placeholder.info.width, placeholder.info.height, placeholder.data);
    return { width, height, thumbhash: Buffer.from(hash).toString('base64'), thumbBytes: thumb.length, previewBytes: preview?.length ?? 0 };
  }

  /**
   * A sharp pipeline over the decodable picture of the file, upright or with the orientation still to apply
   * after the resize, and the long edge of a JPEG input (for {@link previewEdge}).
   */
  private async open(request: PhotoDerivativeRequest): Promise<{ image: Sharp; orientAfter: number | null; jpegLongEdge: number | null }> {
    const options: SharpOptions = { limitInputPixels: MAX_INPUT_PIXELS, sequentialRead: true };
    if (request.kind === 'raw') {
      const jpeg = await extractRawPreview(request.source);
      const embedded = sharp(jpeg, options);
      const { orientation, width, height } = await embedded.metadata();
      const jpegLongEdge = Math.max(width ?? 0, height ?? 0) || null;
      // Cameras leave the orientation in the RAW's own EXIF, not always in the preview's.
      if (orientation && orientation > 1) return { image: embedded.rotate(), orientAfter: null, jpegLongEdge };
      return { image: embedded, orientAfter: request.orientation, jpegLongEdge };
    }
    if (request.mime === 'image/heic' || request.mime === 'image/heif') {
      // libheif applies the HEIF's own rotation and mirroring while decoding; EXIF orientation is ignored there.
      const image = await this.deps.heic.decode(request.source);
      const pixels = Buffer.from(image.pixels.buffer, image.pixels.byteOffset, image.pixels.byteLength);
      return { image: sharp(pixels, { raw: { width: image.width, height: image.height, channels: 4 } }), orientAfter: null, jpegLongEdge: null };
    }
    const image = sharp(request.source, options);
    let jpegLongEdge: number | null = null;
    if (request.mime === 'image/jpeg') {
      const { width, height } = await image.metadata();
      jpegLongEdge = Math.max(width ?? 0, height ?? 0) || null;
    }
    return { image: image.rotate(), orientAfter: null, jpegLongEdge };
  }
}

/**
 * The preview's long edge for a JPEG whose long edge is `long`. Normally PREVIEW_SIZE; but sharp does not use
 * libjpeg's 1/2-scale decoding when the reduction is between 2× and 3× (it guards against libjpeg rounding
 * one pixel short), and decodes at full size instead: for 24 MP (6000 px) that is 2.2× the CPU (measured:
 * 327 ms for 2048 px, 147 ms for 2000 px). In that range the preview is made at a third of the source, which
 * sharp decodes at half size: 2000 px at 24 MP, 1824 px at 20 MP, never below MIN_PREVIEW_SIZE.
 */
export function previewEdge(long: number | null): number {
  if (long === null) return PREVIEW_SIZE;
  const reduction = long / PREVIEW_SIZE;
  if (reduction >= 2 && reduction < 3 && Math.floor(long / 3) >= MIN_PREVIEW_SIZE) return Math.floor(long / 3);
  return PREVIEW_SIZE;
}

/** Applies an EXIF orientation (1–8) that the picture itself does not carry. */
function orient(image: Sharp, orientation: number | null): Sharp {
  switch (orientation) {
    case 2:
      return image.flop();
    case 3:
      return image.rotate(180);
    case 4:
      return image.flip();
    case 5:
      return image.rotate(90).flop();
    case 6:
      return image.rotate(90);
    case 7:
      return image.rotate(270).flop();
    case 8:
      return image.rotate(270);
    default:
      return image;
  }
}

/** Turns libvips' messages into reasons a photographer understands (and the job queue can classify). */
async function describeDecodeError(error: unknown, request: PhotoDerivativeRequest): Promise<AppError> {
  if (error instanceof AppError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const errno = (error as NodeJS.ErrnoException).code;
  if (errno) return toAppError(error, `Cannot read ${request.source}`);
  const format = formatName(request);
  if (/exceeds pixel limit/i.test(message)) {
    return new AppError('unsupported-media', `the ${format} is too large to open safely (over ${MAX_INPUT_PIXELS / 1_000_000} megapixels)`, { cause: error });
  }
  if (/unsupported image format|bad seek|no loader|not a known file format/i.test(message)) {
    return new AppError('unsupported-media', `the ${format} cannot be decoded (${message.split('\n')[0]})`, { cause: error });
  }
  // libvips does not always pass libjpeg's "premature end" on (sometimes only "warning treated as error"),
  // so a JPEG is also judged by its last bytes: a whole one ends with its end-of-image marker.
  const cutShort = request.kind === 'photo' && request.mime === 'image/jpeg' && !(await endsWithEoi(request.source));
  if (cutShort || /premature end|truncated|unexpected end|end of file|short read|out of data/i.test(message)) {
    return new AppError('corrupt-media', `truncated ${format}`, { cause: error });
  }
  return new AppError('corrupt-media', `damaged ${format} (${message.split('\n')[0]})`, { cause: error });
}

/** Whether a JPEG file ends with FF D9 (ignoring zero padding some cameras write after it). */
async function endsWithEoi(file: string): Promise<boolean> {
  let handle: FileHandle | null = null;
  try {
    handle = await open(file, 'r');
    const { size } = await handle.stat();
    const length = Math.min(size, 4096);
    const tail = Buffer.alloc(length);
    await handle.read(tail, 0, length, size - length);
    let end = length;
    while (end > 0 && tail[end - 1] === 0x00) end--;
    return end >= 2 && tail[end - 2] === 0xff && tail[end - 1] === 0xd9;
  } catch {
    return true;
  } finally {
    await handle?.close();
  }
}

function formatName(request: PhotoDerivativeRequest): string {
  if (request.kind === 'raw') return 'RAW file';
  const subtype = request.mime.split('/')[1] ?? 'image';
  return subtype === 'jpeg' ? 'JPEG' : subtype.toUpperCase();
}
