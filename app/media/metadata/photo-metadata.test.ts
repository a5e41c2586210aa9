import { describe, expect, it, onTestFinished } from 'vitest';
import {
  CORRUPT_EXIF_VARIANTS,
  makeAvif,
  makeCmykJpeg,
  makeGif,
  makeJpeg,
  makeJpegWithCorruptExif,
  makePng,
  makeRandomBytes,
  makeTiff,
  makeWebp,
  makeZeroByte,
  useTempDir,
  truncate,
  type FixtureExif,
} from '../../test/fixtures.ts';
import { isRawPath, readPhotoMetadata, withDeadline } from './photo-metadata.ts';

const CAMERA: FixtureExif = {
  dateTimeOriginal: '2026:05:14 10:32:01',
  offsetTimeOriginal: '+02:00',
  make: 'Canon',
  model: 'Canon EOS R6',
  lensModel: 'RF24-105mm F4 L IS USM',
  orientation: 6,
  gps: { latitude: 48.8584, longitude: 2.2945, altitude: 35 },
};

describe(readPhotoMetadata.name, () => {
  it('reads the capture time with its UTC offset', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const path = await makeJpeg(dir.join('a.jpg'), { exif: { dateTimeOriginal: '2026:05:14 10:32:01', offsetTimeOriginal: '+02:00' } });
    expect(await readPhotoMetadata(path)).toMatchObject({ capturedAt: '2026-05-14T10:32:01+02:00', captureOffsetMin: 120 });
  });

  it('reads a negative, half-hour offset', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const path = await makeJpeg(dir.join('a.jpg'), { exif: { dateTimeOriginal: '2026:01:02 23:59:59', offsetTimeOriginal: '-03:30' } });
    expect(await readPhotoMetadata(path)).toMatchObject({ capturedAt: '2026-01-02T23:59:59-03:30', captureOffsetMin: -210 });
  });

  it('keeps a capture time without an offset as wall-clock time, whatever zone this machine is in', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const path = await makeJpeg(dir.join('a.jpg'), { exif: { dateTimeOriginal: '2026:05:14 10:32:01' } });
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    onTestFinished(() => {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    });
    const metadata = await readPhotoMetadata(path);
    expect(metadata.capturedAt).toBe('2026-05-14T10:32:01');
    expect(metadata.captureOffsetMin).toBeUndefined();
  });

  it('adds sub-seconds when the camera recorded them', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const path = await makeJpeg(dir.join('a.jpg'), {
      exif: { dateTimeOriginal: '2026:05:14 10:32:01', subSecTimeOriginal: '25', offsetTimeOriginal: '+00:00' },
    });
    expect((await readPhotoMetadata(path)).capturedAt).toBe('2026-05-14T10:32:01.250+00:00');
  });

  it('reads camera, lens, orientation, dimensions and GPS', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const path = await makeJpeg(dir.join('a.jpg'), { width: 320, height: 200, exif: CAMERA });
    expect(await readPhotoMetadata(path)).toEqual({
      width: 320,
      height: 200,
      orientation: 6,
      capturedAt: '2026-05-14T10:32:01+02:00',
      captureOffsetMin: 120,
      cameraMake: 'Canon',
      cameraModel: 'Canon EOS R6',
      lens: 'RF24-105mm F4 L IS USM',
      gps: { latitude: 48.8584, longitude: 2.2945, altitude: 35 },
    });
  });

  it('signs GPS south, west and below sea level', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const path = await makeJpeg(dir.join('a.jpg'), { exif: { gps: { latitude: -33.8568, longitude: -70.6483, altitude: -12 } } });
    expect((await readPhotoMetadata(path)).gps).toEqual({ latitude: -33.8568, longitude: -70.6483, altitude: -12 });
  });

  it('reads keywords, hierarchical keyword leaves, rating, title and description from embedded XMP', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const path = await makeJpeg(dir.join('a.jpg'), {
      xmp: {
        keywords: ['sports day', '007'],
        hierarchicalKeywords: ['Events|Sports day|Relay', 'People|Year 5'],
        rating: 4,
        title: 'Relay & finish',
        description: 'Year 5 <relay>',
      },
    });
    expect(await readPhotoMetadata(path)).toMatchObject({
      keywords: ['sports day', '007', 'Relay', 'Year 5'],
      rating: 4,
      title: 'Relay & finish',
      description: 'Year 5 <relay>',
    });
  });

  it('reports an XMP rating of -1 as rejected', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const metadata = await readPhotoMetadata(await makeJpeg(dir.join('a.jpg'), { xmp: { rating: -1 } }));
    expect(metadata.rejected).toBe(true);
    expect(metadata.rating).toBeUndefined();
  });

  it.each([
    ['png', makePng],
    ['webp', makeWebp],
    ['avif', makeAvif],
    ['jpg', makeCmykJpeg],
  ] as const)('reads EXIF from a %s file', async (ext, make) => {
    const dir = await useTempDir('keepsake-photo-');
    const path = await make(dir.join(`a.${ext}`), { width: 96, height: 64, exif: CAMERA });
    const metadata = await readPhotoMetadata(path);
    expect(metadata).toMatchObject({ width: 96, height: 64, capturedAt: '2026-05-14T10:32:01+02:00', cameraMake: 'Canon', gps: CAMERA.gps });
    expect(metadata.warnings).toBeUndefined();
  });

  it('reads dimensions of a GIF, which carries no EXIF', async () => {
    const dir = await useTempDir('keepsake-photo-');
    expect(await readPhotoMetadata(await makeGif(dir.join('a.gif'), { width: 50, height: 40 }))).toEqual({ width: 50, height: 40 });
  });

  it('reads a 16-bit TIFF', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const path = await makeTiff(dir.join('a.tif'), { bitDepth: 16, width: 64, height: 48, exif: CAMERA });
    expect(await readPhotoMetadata(path)).toMatchObject({ width: 64, height: 48, orientation: 6, cameraModel: 'Canon EOS R6', captureOffsetMin: 120 });
  });

  it('reads a TIFF-based raw file from its EXIF alone', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const path = await makeTiff(dir.join('IMG_0001.DNG'), { width: 64, height: 48, exif: CAMERA });
    expect(isRawPath(path)).toBe(true);
    expect(await readPhotoMetadata(path)).toMatchObject({
      width: 64,
      height: 48,
      capturedAt: '2026-05-14T10:32:01+02:00',
      cameraMake: 'Canon',
      lens: 'RF24-105mm F4 L IS USM',
    });
  });

  it.each(CORRUPT_EXIF_VARIANTS)('returns quickly with the header and a warning when the EXIF segment is corrupt (%s)', async (variant) => {
    const dir = await useTempDir('keepsake-photo-');
    const path = await makeJpegWithCorruptExif(dir.join('a.jpg'), variant, { width: 64, height: 48 });
    const started = performance.now();
    const metadata = await readPhotoMetadata(path);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(metadata).toMatchObject({ width: 64, height: 48 });
    expect(metadata.capturedAt).toBeUndefined();
  });

  it('lists what it skipped when the EXIF is corrupt', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const path = await makeJpegWithCorruptExif(dir.join('a.jpg'), 'ifd-offset-past-end');
    expect((await readPhotoMetadata(path)).warnings).toEqual([expect.stringMatching(/^The EXIF data could not be read: /)]);
  });

  it('rejects corrupt EXIF with corrupt-media in strict mode', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const path = await makeJpegWithCorruptExif(dir.join('IMG_0042.jpg'), 'value-offset-past-end');
    await expect(readPhotoMetadata(path, { strict: true })).rejects.toMatchObject({ name: 'AppError', code: 'corrupt-media', message: expect.stringMatching(/"IMG_0042\.jpg"/) });
  });

  it('reads everything from a file truncated after its metadata', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const path = await truncate(await makeJpeg(dir.join('a.jpg'), { exif: CAMERA, xmp: { rating: 3 } }), 0.5);
    expect(await readPhotoMetadata(path)).toMatchObject({ width: 640, height: 480, capturedAt: '2026-05-14T10:32:01+02:00', rating: 3 });
  });

  it('returns what it can from a file truncated inside its metadata', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const path = await truncate(await makeJpeg(dir.join('a.jpg'), { exif: CAMERA }), 300);
    const metadata = await readPhotoMetadata(path);
    expect(metadata).toMatchObject({ cameraMake: 'Canon', cameraModel: 'Canon EOS R6' });
    expect(metadata.warnings?.length).toBeGreaterThan(0);
  });

  it('returns only a warning for a file in no image format', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const metadata = await readPhotoMetadata(await makeRandomBytes(dir.join('a.jpg')));
    expect(metadata).toEqual({ warnings: [expect.stringMatching(/not in an image format/)] });
  });

  it('says which raw format it cannot read', async () => {
    const dir = await useTempDir('keepsake-photo-');
    // Canon's CR3 is an ISO-BMFF container that exifr does not parse.
    const metadata = await readPhotoMetadata(await makeRandomBytes(dir.join('IMG_0001.CR3')));
    expect(metadata).toEqual({ warnings: [expect.stringMatching(/cannot read metadata from CR3 raw files/)] });
  });

  it('rejects a file in no image format with corrupt-media in strict mode', async () => {
    const dir = await useTempDir('keepsake-photo-');
    await expect(readPhotoMetadata(await makeRandomBytes(dir.join('a.jpg')), { strict: true })).rejects.toMatchObject({ name: 'AppError', code: 'corrupt-media' });
  });

  it('rejects an empty file with corrupt-media', async () => {
    const dir = await useTempDir('keepsake-photo-');
    await expect(readPhotoMetadata(await makeZeroByte(dir.join('a.jpg')))).rejects.toMatchObject({ name: 'AppError', code: 'corrupt-media', message: expect.stringMatching(/empty/) });
  });

  it('rejects a missing file with not-found', async () => {
    const dir = await useTempDir('keepsake-photo-');
    await expect(readPhotoMetadata(dir.join('gone.jpg'))).rejects.toMatchObject({ name: 'AppError', code: 'not-found' });
  });

  it('rejects with cancelled when the signal is already aborted', async () => {
    const dir = await useTempDir('keepsake-photo-');
    const path = await makeJpeg(dir.join('a.jpg'));
    await expect(readPhotoMetadata(path, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AppError', code: 'cancelled' });
  });
});

describe(withDeadline.name, () => {
  it('rejects a parse that never finishes with corrupt-media', async () => {
    const never = new Promise<never>(() => undefined);
    const started = performance.now();
    await expect(withDeadline(never, 50, undefined, 'a.jpg')).rejects.toMatchObject({ name: 'AppError', code: 'corrupt-media', message: expect.stringMatching(/"a\.jpg" took longer than/) });
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('rejects with cancelled when the signal aborts first', async () => {
    const controller = new AbortController();
    const pending = withDeadline(new Promise<never>(() => undefined), 10_000, controller.signal, 'a.jpg');
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AppError', code: 'cancelled' });
  });

  it('passes a result through', async () => {
    expect(await withDeadline(Promise.resolve(42), 1000, undefined, 'a.jpg')).toBe(42);
  });
});
