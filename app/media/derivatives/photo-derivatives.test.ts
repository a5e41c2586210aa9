import { execFile } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { thumbHashToAverageRGBA } from 'thumbhash';
import { afterAll, describe, expect, it } from 'vitest';
import {
  exiftool,
  makeCmykJpeg,
  makeGif,
  makeJpeg,
  makePng,
  makeRandomBytes,
  makeTiff,
  makeZeroByte,
  truncate,
  useTempDir,
} from '../../test/fixtures.ts';
import { HeicDecoder } from './heic-decoder.ts';
import { PhotoPipeline, previewEdge, type PhotoDerivativeRequest } from './photo-derivatives.ts';
import { findLargestJpeg } from './raw-preview.ts';

const run = promisify(execFile);
const heic = new HeicDecoder({ maxPixels: 200_000_000 });
const pipeline = new PhotoPipeline({ heic });
afterAll(() => heic.close());

async function make(source: string, fields: Partial<PhotoDerivativeRequest> = {}) {
  const out = source.replace(/\.[^.]+$/, '');
  const request: PhotoDerivativeRequest = {
    source,
    kind: 'photo',
    mime: 'image/jpeg',
    orientation: null,
    thumbPath: `${out}.thumb.webp`,
    previewPath: `${out}.preview.jpg`,
    ...fields,
  };
  const result = await pipeline.make(request);
  const preview = await sharp(request.previewPath!).metadata();
  const thumb = await sharp(request.thumbPath).metadata();
  return { result, request, preview, thumb };
}

/** A solid picture: left half `left`, right half `right`, so orientation can be checked by pixels. */
async function halves(file: string, width: number, height: number, left: string, right: string, exif?: { orientation?: number }): Promise<string> {
  const half = Math.floor(width / 2);
  let image = sharp({ create: { width, height, channels: 3, background: right } }).composite([
    { input: { create: { width: half, height, channels: 3, background: left } }, left: 0, top: 0 },
  ]);
  if (exif?.orientation) image = image.withMetadata({ orientation: exif.orientation });
  await writeFile(file, await image.jpeg({ quality: 90 }).toBuffer());
  return file;
}

async function pixel(file: string, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  const offset = (Math.round(y) * info.width + Math.round(x)) * info.channels;
  return [data[offset]!, data[offset + 1]!, data[offset + 2]!];
}

function isRed([r, g, b]: [number, number, number]): boolean {
  return r > 180 && g < 80 && b < 80;
}

describe(PhotoPipeline.name, () => {
  it('makes a 2048 px JPEG preview, a 320 px WebP thumbnail and a thumbhash, upright, with no metadata', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const source = await makeJpeg(dir.join('IMG_0001.JPG'), {
      width: 3000,
      height: 2000,
      exif: { orientation: 6, gps: { latitude: 51.5, longitude: -0.12 }, make: 'Canon', model: 'Canon EOS R5', bodySerialNumber: '012345678901' },
    });
    const { result, request, preview, thumb } = await make(source);
    // Orientation 6: the camera was turned; the picture is shown portrait.
    expect([preview.format, preview.width, preview.height]).toEqual(['jpeg', 1365, 2048]);
    expect([thumb.format, thumb.width, thumb.height]).toEqual(['webp', 213, 320]);
    expect(result).toMatchObject({ width: 1365, height: 2048 });
    expect(preview.space).toBe('srgb');
    for (const file of [request.previewPath!, request.thumbPath]) {
      const tags = await exiftool(file, '-a', '-G1', '-GPS:all', '-SerialNumber', '-Make', '-Model', '-Orientation');
      expect(Object.keys(tags).filter((key) => key !== 'SourceFile'), file).toEqual([]);
    }
    expect(Buffer.from(result.thumbhash, 'base64').length).toBeLessThan(40);
  });

  it('makes the preview of a 24 MP JPEG at a third of its size, where its decoder can work at half size', async () => {
    expect([6000, 5472, 8192, 4032, 4500, 1200].map((long) => previewEdge(long))).toEqual([2000, 1824, 2048, 2048, 2048, 2048]);
    expect(previewEdge(null)).toBe(2048);
    const dir = await useTempDir('keepsake-photo-');
    const source = dir.join('IMG_24MP.JPG');
    await writeFile(source, await sharp({ create: { width: 6000, height: 4000, channels: 3, background: '#336699' } }).jpeg().toBuffer());
    const { preview, thumb } = await make(source);
    expect([preview.width, preview.height, thumb.width, thumb.height]).toEqual([2000, 1333, 320, 213]);
  });

  it('applies the EXIF orientation so the picture stands as the photographer held the camera', async () => {
    const dir = await useTempDir('keepsake-photo-');
    // Stored landscape with red on the left; orientation 8 means "rotate 90° anticlockwise to view": red ends at the bottom.
    const source = await halves(dir.join('turned.jpg'), 800, 400, '#ff0000', '#0000ff', { orientation: 8 });
    const { request, preview } = await make(source);
    expect([preview.width, preview.height]).toEqual([400, 800]);
    expect(isRed(await pixel(request.previewPath!, 200, 700))).toBe(true);
    expect(isRed(await pixel(request.previewPath!, 200, 100))).toBe(false);
  });

  it('never enlarges a small picture, and its placeholder has the picture\'s colour', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const source = await halves(dir.join('small.jpg'), 200, 100, '#ff0000', '#ff0000');
    const { result, preview, thumb } = await make(source);
    expect([preview.width, preview.height, thumb.width, thumb.height]).toEqual([200, 100, 200, 100]);
    const average = thumbHashToAverageRGBA(Buffer.from(result.thumbhash, 'base64'));
    expect(average.r).toBeGreaterThan(0.8);
    expect(average.g).toBeLessThan(0.2);
  });

  it('reads CMYK JPEGs, 16-bit TIFFs, PNGs with alpha, animated GIFs and a PNG named .jpg into sRGB', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const cases: Array<[string, string]> = [
      [await makeCmykJpeg(dir.join('print.jpg'), { width: 900, height: 600 }), 'image/jpeg'],
      [await makeTiff(dir.join('scan.tif'), { width: 900, height: 600, bitDepth: 16 }), 'image/tiff'],
      [await makePng(dir.join('logo.png'), { width: 900, height: 600, alpha: true }), 'image/png'],
      [await makeGif(dir.join('anim.gif'), { width: 900, height: 600 }), 'image/gif'],
      [await makePng(dir.join('renamed.jpg'), { width: 900, height: 600 }), 'image/png'],
    ];
    for (const [source, mime] of cases) {
      const { preview, thumb } = await make(source, { mime });
      expect([preview.space, preview.channels, preview.width, thumb.width], source).toEqual(['srgb', 3, 900, 320]);
    }
  });

  it('decodes an HEVC HEIC as iPhones write it, off the event loop', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const jpeg = await halves(dir.join('phone.jpg'), 1200, 900, '#ff0000', '#00ff00');
    const source = dir.join('IMG_1234.HEIC');
    await run('heif-enc', ['-q', '80', '-o', source, jpeg]);
    // sharp's own libvips cannot: that is why the pipeline has its own decoder.
    await expect(sharp(source).toBuffer()).rejects.toThrow();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const { request, preview } = await make(source, { mime: 'image/heic' });
    clearInterval(timer);
    expect([preview.width, preview.height]).toEqual([1200, 900]);
    expect(isRed(await pixel(request.previewPath!, 100, 450))).toBe(true);
    expect(isRed(await pixel(request.previewPath!, 1100, 450))).toBe(false);
    expect(ticks, 'the event loop kept running while the HEIC was decoded').toBeGreaterThan(0);
  });

  it('says why a truncated PNG or a damaged HEIC cannot be drawn', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const png = await truncate(await makePng(dir.join('whole.png'), { width: 900, height: 600 }), 0.5, dir.join('cut.png'));
    await expect(make(png, { mime: 'image/png' })).rejects.toMatchObject({ code: 'corrupt-media', message: expect.stringMatching(/PNG/) });
    const jpeg = await halves(dir.join('phone.jpg'), 800, 600, '#ff0000', '#00ff00');
    const whole = dir.join('whole.heic');
    await run('heif-enc', ['-q', '60', '-o', whole, jpeg]);
    const cut = await truncate(whole, 0.4, dir.join('IMG_2000.HEIC'));
    await expect(make(cut, { mime: 'image/heic' })).rejects.toMatchObject({ code: 'corrupt-media', message: expect.stringMatching(/HEIC image cannot be decoded/) });
  });

  it('uses the largest JPEG embedded in a RAW file, turned by the RAW\'s orientation', async () => {
    const dir = await useTempDir('keepsake-photo-');
    // Red on the left, sensor-like noise on the right (a camera's preview is hundreds of KB, not a flat colour).
    const preview = await sharp({ create: { width: 1600, height: 1066, channels: 3, background: '#000000', noise: { type: 'gaussian', mean: 90, sigma: 30 } } })
      .composite([{ input: { create: { width: 800, height: 1066, channels: 3, background: '#ff0000' } }, left: 0, top: 0 }])
      .jpeg({ quality: 90 })
      .toBuffer();
    const exifThumb = await sharp({ create: { width: 160, height: 120, channels: 3, background: '#00ff00' } }).jpeg().toBuffer();
    // A CR2 as Canon lays it out: TIFF header, "CR" marker, a small thumbnail and the full preview among sensor bytes.
    const header = Buffer.from([0x49, 0x49, 0x2a, 0x00, 0x10, 0x00, 0x00, 0x00, 0x43, 0x52, 0x02, 0x00, 0, 0, 0, 0]);
    const noise = (size: number, seed: number) => Buffer.from(Array.from({ length: size }, (_, i) => ((i * 7919 + seed) % 251) ^ (i % 3 === 0 ? 0xff : 0)));
    const source = dir.join('IMG_0002.CR2');
    await writeFile(source, Buffer.concat([header, noise(5000, 1), exifThumb, noise(20_000, 2), Buffer.from([0xff, 0xd8, 0xff, 0x00]), preview, noise(50_000, 3)]));
    expect(findLargestJpeg(await readFile(source))).toEqual({ offset: 16 + 5000 + exifThumb.length + 20_000 + 4, length: preview.length });
    const made = await make(source, { kind: 'raw', mime: 'image/x-canon-cr2', orientation: 6 });
    expect([made.preview.width, made.preview.height]).toEqual([1066, 1600]);
    // Orientation 6 turns the picture clockwise: red (left) goes to the top.
    expect(isRed(await pixel(made.request.previewPath!, 500, 100))).toBe(true);
  });

  it('says so when a RAW file has no preview to show', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const source = await makeRandomBytes(dir.join('IMG_0003.NEF'), 100_000, 4);
    await expect(make(source, { kind: 'raw', mime: 'image/x-nikon-nef' })).rejects.toMatchObject({ code: 'unsupported-media', message: expect.stringMatching(/no embedded JPEG preview/) });
  });

  it('rejects truncated, empty and random files with a reason, leaving no file behind', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const whole = await makeJpeg(dir.join('whole.jpg'), { width: 1200, height: 800 });
    const cases: Array<[string, string, RegExp]> = [
      [await truncate(whole, 0.5, dir.join('cut.jpg')), 'corrupt-media', /^truncated JPEG$/],
      [await makeZeroByte(dir.join('empty.jpg')), 'unsupported-media', /cannot be decoded/],
      [await makeRandomBytes(dir.join('noise.jpg')), 'unsupported-media', /cannot be decoded/],
    ];
    for (const [source, code, message] of cases) {
      await expect(make(source), source).rejects.toMatchObject({ name: 'AppError', code, message: expect.stringMatching(message) });
    }
    const left = (await readdir(dir.path)).filter((name) => /thumb|preview|\.tmp/.test(name));
    expect(left).toEqual([]);
  });

  it('refuses a decompression bomb from its header, quickly and without allocating its pixels', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const source = dir.join('bomb.png');
    await writeFile(source, pngHeaderOnly(60_000, 60_000));
    const before = process.memoryUsage().rss;
    const started = performance.now();
    await expect(make(source, { mime: 'image/png' })).rejects.toMatchObject({ code: 'unsupported-media', message: expect.stringMatching(/too large to open safely/) });
    expect(performance.now() - started).toBeLessThan(2000);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
  });

  it('stops when cancelled', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const source = await makeJpeg(dir.join('a.jpg'));
    const controller = new AbortController();
    controller.abort();
    await expect(make(source, { signal: controller.signal })).rejects.toThrow();
  });
});

/** A PNG that claims `width`×`height` pixels (3.6 gigapixels here) but holds almost no data. */
function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])), chunk('IEND', Buffer.alloc(0))]);
}

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
