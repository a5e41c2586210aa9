import { access, readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  CORRUPT_EXIF_VARIANTS,
  exiftool,
  ffprobeJson,
  fileSize,
  makeAvif,
  makeCmykJpeg,
  makeGif,
  makeJpeg,
  makeJpegWithCorruptExif,
  makePng,
  makeRandomBytes,
  makeTiff,
  makeVideo,
  makeWebp,
  makeXmpSidecar,
  makeZeroByte,
  tempDir,
  truncate,
  useTempDir,
} from './fixtures.ts';

describe(tempDir.name, () => {
  it('makes a fresh folder that cleanup removes', async () => {
    const dir = await tempDir('keepsake-fixtures-');
    await makeZeroByte(dir.join('a.bin'));
    await dir.cleanup();
    await expect(access(dir.path)).rejects.toThrow();
    await dir.cleanup();
  });
});

describe(makeJpeg.name, () => {
  it('writes EXIF tags that exiftool reads back', async () => {
    const dir = await useTempDir('keepsake-fixtures-');
    const path = await makeJpeg(dir.join('a.jpg'), {
      exif: {
        dateTimeOriginal: '2026:05:14 10:32:01',
        subSecTimeOriginal: '25',
        offsetTimeOriginal: '+02:00',
        make: 'Canon',
        model: 'Canon EOS R6',
        lensModel: 'RF24-105mm F4 L IS USM',
        orientation: 6,
        gps: { latitude: -33.8568, longitude: 151.2153, altitude: 12.5 },
        bodySerialNumber: '012345678901',
      },
    });
    const tags = await exiftool(path);
    expect(tags).toMatchObject({
      DateTimeOriginal: '2026:05:14 10:32:01',
      SubSecTimeOriginal: 25,
      OffsetTimeOriginal: '+02:00',
      Make: 'Canon',
      Model: 'Canon EOS R6',
      LensModel: 'RF24-105mm F4 L IS USM',
      Orientation: 6,
      SerialNumber: '012345678901',
      GPSLatitudeRef: 'S',
      GPSLongitudeRef: 'E',
      GPSAltitude: 12.5,
      GPSAltitudeRef: 0,
    });
    expect(tags.GPSLatitude).toBeCloseTo(-33.8568, 6);
    expect(tags.GPSLongitude).toBeCloseTo(151.2153, 6);
  });

  it('writes an altitude below sea level', async () => {
    const dir = await useTempDir('keepsake-fixtures-');
    const path = await makeJpeg(dir.join('a.jpg'), { exif: { gps: { latitude: 31.5, longitude: 35.5, altitude: -430 } } });
    // exiftool's composite GPSAltitude folds the reference into the sign.
    expect(await exiftool(path)).toMatchObject({ GPSAltitudeRef: 1, GPSAltitude: -430 });
  });

  it('embeds XMP keywords, rating, title and description', async () => {
    const dir = await useTempDir('keepsake-fixtures-');
    const path = await makeJpeg(dir.join('a.jpg'), {
      xmp: { keywords: ['sports day', 'relay'], hierarchicalKeywords: ['Events|Sports day'], rating: 4, title: 'Relay & finish', description: 'Year 5' },
    });
    expect(await exiftool(path)).toMatchObject({
      Subject: ['sports day', 'relay'],
      HierarchicalSubject: 'Events|Sports day',
      Rating: 4,
      Title: 'Relay & finish',
      Description: 'Year 5',
    });
  });

  it('writes photo-like content of a realistic size, the same bytes for the same seed', async () => {
    const dir = await useTempDir('keepsake-fixtures-');
    const a = await makeJpeg(dir.join('a.jpg'));
    const b = await makeJpeg(dir.join('b.jpg'));
    const tags = await exiftool(a);
    expect(tags).toMatchObject({ ImageWidth: 640, ImageHeight: 480 });
    expect(await fileSize(a)).toBeGreaterThan(40_000);
    expect(await readFile(a)).toEqual(await readFile(b));
  });
});

describe(makeCmykJpeg.name, () => {
  it('writes a four-channel JPEG', async () => {
    const dir = await useTempDir('keepsake-fixtures-');
    const tags = await exiftool(await makeCmykJpeg(dir.join('c.jpg'), { width: 120, height: 80 }));
    expect(tags).toMatchObject({ FileType: 'JPEG', ColorComponents: 4, ImageWidth: 120, ImageHeight: 80 });
  });
});

describe('image helpers', () => {
  it.each([
    ['png', makePng, 'PNG'],
    ['webp', makeWebp, 'WEBP'],
    ['gif', makeGif, 'GIF'],
    ['avif', makeAvif, 'AVIF'],
  ] as const)('writes a real %s file', async (ext, make, fileType) => {
    const dir = await useTempDir('keepsake-fixtures-');
    const tags = await exiftool(await make(dir.join(`a.${ext}`), { width: 96, height: 64 }));
    expect(tags).toMatchObject({ FileType: fileType, ImageWidth: 96, ImageHeight: 64 });
  });

  it('writes EXIF into PNG, WebP and AVIF', async () => {
    const dir = await useTempDir('keepsake-fixtures-');
    const exif = { make: 'Canon', dateTimeOriginal: '2026:05:14 10:32:01' };
    for (const path of [
      await makePng(dir.join('a.png'), { exif }),
      await makeWebp(dir.join('a.webp'), { exif }),
      await makeAvif(dir.join('a.avif'), { exif }),
    ]) {
      expect(await exiftool(path)).toMatchObject({ Make: 'Canon', DateTimeOriginal: '2026:05:14 10:32:01' });
    }
  });
});

describe(makeTiff.name, () => {
  it('writes 16 bits per sample', async () => {
    const dir = await useTempDir('keepsake-fixtures-');
    const tags = await exiftool(await makeTiff(dir.join('a.tif'), { bitDepth: 16, width: 64, height: 48 }));
    expect(tags).toMatchObject({ FileType: 'TIFF', BitsPerSample: '16 16 16', ImageWidth: 64, ImageHeight: 48 });
  });

  it('adds EXIF through exiftool', async () => {
    const dir = await useTempDir('keepsake-fixtures-');
    const path = await makeTiff(dir.join('a.dng'), {
      exif: { make: 'Nikon', dateTimeOriginal: '2026:05:14 10:32:01', offsetTimeOriginal: '-05:00', gps: { latitude: 40.7, longitude: -74 } },
    });
    const tags = await exiftool(path);
    expect(tags).toMatchObject({ Make: 'Nikon', DateTimeOriginal: '2026:05:14 10:32:01', OffsetTimeOriginal: '-05:00' });
    expect(tags.GPSLongitude).toBeCloseTo(-74, 6);
  });
});

describe(makeXmpSidecar.name, () => {
  it('writes a sidecar exiftool reads', async () => {
    const dir = await useTempDir('keepsake-fixtures-');
    const path = await makeXmpSidecar(dir.join('IMG_0001.xmp'), { keywords: ['relay'], rating: -1, title: 'Finish', description: 'Year 5' });
    expect(await readFile(path, 'utf8')).not.toContain('<?xpacket');
    expect(await exiftool(path)).toMatchObject({ Subject: 'relay', Rating: -1, Title: 'Finish', Description: 'Year 5' });
  });
});

describe(makeJpegWithCorruptExif.name, () => {
  it.each(CORRUPT_EXIF_VARIANTS)('writes decodable pixels behind a hand-made Exif segment (%s)', async (variant) => {
    const dir = await useTempDir('keepsake-fixtures-');
    const path = await makeJpegWithCorruptExif(dir.join('a.jpg'), variant, { width: 64, height: 48 });
    const bytes = await readFile(path);
    expect(bytes.readUInt16BE(0)).toBe(0xffd8);
    expect(bytes.readUInt16BE(2)).toBe(0xffe1);
    expect(bytes.toString('latin1', 6, 12)).toBe('Exif\0\0');
    const { info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
    expect(info).toMatchObject({ width: 64, height: 48 });
  });
});

describe(makeVideo.name, () => {
  it('writes an MP4 of the asked duration, size and codecs', async () => {
    const dir = await useTempDir('keepsake-fixtures-');
    const report = await ffprobeJson(await makeVideo(dir.join('a.mp4'), { durationSec: 1, width: 160, height: 120 }));
    expect(Number(report.format.duration)).toBeCloseTo(1, 1);
    expect(report.streams).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ codec_type: 'video', codec_name: 'h264', width: 160, height: 120 }),
        expect.objectContaining({ codec_type: 'audio', codec_name: 'aac' }),
      ]),
    );
  });

  it('writes creation time, location and a clockwise rotation as phones do', async () => {
    const dir = await useTempDir('keepsake-fixtures-');
    const path = await makeVideo(dir.join('a.mp4'), {
      creationTime: '2026-05-14T08:32:01Z',
      rotation: 90,
      location: { latitude: 48.8584, longitude: 2.2945 },
    });
    const report = await ffprobeJson(path);
    expect(report.format.tags).toMatchObject({ location: '+48.8584+002.2945/' });
    expect(report.format.tags?.creation_time).toMatch(/^2026-05-14T08:32:01/);
    const video = report.streams.find((stream) => stream.codec_type === 'video');
    expect(video?.side_data_list).toEqual([expect.objectContaining({ side_data_type: 'Display Matrix', rotation: -90 })]);
    expect(await exiftool(path)).toMatchObject({ Rotation: 90 });
  });

  it('writes the QuickTime keys an iPhone writes', async () => {
    const dir = await useTempDir('keepsake-fixtures-');
    const path = await makeVideo(dir.join('a.mov'), {
      apple: { creationDate: '2026-05-14T10:32:01+0200', make: 'Apple', model: 'iPhone 15', location: { latitude: 48.8584, longitude: 2.2945, altitude: 35 } },
    });
    const tags = await exiftool(path);
    expect(tags).toMatchObject({ Make: 'Apple', Model: 'iPhone 15', CreationDate: '2026:05:14 10:32:01+02:00', GPSAltitude: 35 });
    expect(tags.GPSLatitude).toBeCloseTo(48.8584, 4);
  });

  it.each([
    ['mts', 'mpegts', 'ac3'],
    ['avi', 'avi', 'pcm_s16le'],
    ['mov', 'mov,mp4,m4a,3gp,3g2,mj2', 'aac'],
  ] as const)('writes a %s container', async (ext, formatName, audioCodec) => {
    const dir = await useTempDir('keepsake-fixtures-');
    const report = await ffprobeJson(await makeVideo(dir.join(`a.${ext}`)));
    expect(report.format.format_name).toBe(formatName);
    expect(report.streams).toEqual(expect.arrayContaining([expect.objectContaining({ codec_type: 'audio', codec_name: audioCodec })]));
  });

  it('puts the moov atom at the end unless asked for faststart', async () => {
    const dir = await useTempDir('keepsake-fixtures-');
    const atEnd = await readFile(await makeVideo(dir.join('a.mp4'), { durationSec: 1 }));
    const atStart = await readFile(await makeVideo(dir.join('b.mp4'), { durationSec: 1, faststart: true }));
    expect(atEnd.indexOf('moov')).toBeGreaterThan(atEnd.indexOf('mdat'));
    expect(atStart.indexOf('moov')).toBeLessThan(atStart.indexOf('mdat'));
  });
});

describe(truncate.name, () => {
  it('keeps a fraction of the bytes in a copy beside the source', async () => {
    const dir = await useTempDir('keepsake-fixtures-');
    const source = await makeRandomBytes(dir.join('a.bin'), 1000);
    const copy = await truncate(source, 0.25);
    expect(copy).toBe(dir.join('a.truncated.bin'));
    expect(await readFile(copy)).toEqual((await readFile(source)).subarray(0, 250));
    expect(await fileSize(source)).toBe(1000);
  });

  it('keeps a number of bytes when given a whole number', async () => {
    const dir = await useTempDir('keepsake-fixtures-');
    const source = await makeRandomBytes(dir.join('a.bin'), 1000);
    expect(await fileSize(await truncate(source, 10, dir.join('b.bin')))).toBe(10);
  });
});

describe(makeRandomBytes.name, () => {
  it('writes the same bytes for the same seed', async () => {
    const dir = await useTempDir('keepsake-fixtures-');
    const a = await readFile(await makeRandomBytes(dir.join('a.bin'), 64, 3));
    const b = await readFile(await makeRandomBytes(dir.join('b.bin'), 64, 3));
    expect(a).toEqual(b);
    expect(a.length).toBe(64);
  });
});

describe(makeZeroByte.name, () => {
  it('writes an empty file', async () => {
    const dir = await useTempDir('keepsake-fixtures-');
    expect(await fileSize(await makeZeroByte(dir.join('empty.jpg')))).toBe(0);
  });
});
