import { execFile } from 'node:child_process';
import { watch } from 'node:fs';
import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { findFfmpeg } from '../media/ffmpeg-path.ts';
import {
  exiftool,
  ffprobeJson,
  makeCmykJpeg,
  makeJpeg,
  makePng,
  makeRandomBytes,
  makeVideo,
  truncate,
  useTempDir,
  type TempDir,
} from '../test/fixtures.ts';
import { childMediaProcesses } from '../test/video-fixtures.ts';
import { canStripOriginal, stripJpeg, stripOriginal } from './strip-original.ts';

const run = promisify(execFile);

const PARIS = { latitude: 48.8566, longitude: 2.3522, altitude: 35 };

/** Every tag exiftool finds in any group (`-a -G1`), keyed `Group:Tag`, values as numbers where they are numbers. */
function allTags(path: string): Promise<Record<string, unknown>> {
  return exiftool(path, '-a', '-G1', '-ee');
}

/** The tag names that would tell where a photo was taken, with which device, or by whom. */
function personalTags(tags: Record<string, unknown>): string[] {
  // ICC profiles describe colour, not people; their header's "ProfileCreator" is a CMM's four-letter code.
  return Object.keys(tags).filter(
    (key) =>
      !key.startsWith('ICC') &&
      (/GPS|Location|xyz|Serial|Owner|Comment|Artist|Creator|By-line|City/i.test(key) ||
      /^(XMP|IPTC|Photoshop|MPF|UserData|Keys|ItemList)/.test(key) ||
      /^(IFD0|ExifIFD|QuickTime|Track\d+):(Make|Model|LensModel|LensMake)$/.test(key)),
  );
}

async function exiftoolWrite(path: string, ...args: string[]): Promise<void> {
  await run('exiftool', ['-overwrite_original', ...args, path], { timeout: 30_000 });
}

async function decodedPixels(path: string): Promise<Buffer> {
  return sharp(path).raw().toBuffer();
}

/** The bytes from the first segment that is not APPn/COM (tables, frame, scans) to the end of EOI. */
function imagePart(jpeg: Buffer): Buffer {
  let at = 2;
  while ((jpeg[at + 1]! >= 0xe0 && jpeg[at + 1]! <= 0xef) || jpeg[at + 1] === 0xfe) at += 2 + jpeg.readUInt16BE(at + 2);
  const eoi = jpeg.lastIndexOf(Buffer.from([0xff, 0xd9]));
  return jpeg.subarray(at, eoi + 2);
}

/** The markers of a JPEG's segments before its first scan, with the first bytes of their payloads. */
function jpegSegments(jpeg: Buffer): Array<{ marker: number; id: string }> {
  const found: Array<{ marker: number; id: string }> = [];
  let at = 2;
  while (at + 4 <= jpeg.length && jpeg[at + 1] !== 0xda) {
    found.push({ marker: jpeg[at + 1]!, id: jpeg.toString('latin1', at + 4, at + 16) });
    at += 2 + jpeg.readUInt16BE(at + 2);
  }
  return found;
}

/** A PNG's chunks as type and complete bytes (length, type, data, CRC). */
function pngChunks(png: Buffer): Array<{ type: string; bytes: Buffer }> {
  const chunks: Array<{ type: string; bytes: Buffer }> = [];
  for (let at = 8; at + 12 <= png.length; ) {
    const total = 12 + png.readUInt32BE(at);
    chunks.push({ type: png.toString('latin1', at + 4, at + 8), bytes: png.subarray(at, at + total) });
    at += total;
  }
  return chunks;
}

/** The MD5 of a stream's packets as ffmpeg copies them: equal only when every packet is byte-identical. */
async function packetsMd5(path: string, stream: 'v' | 'a'): Promise<string> {
  const { stdout } = await run(await findFfmpeg(), ['-v', 'error', '-i', `file:${path}`, '-map', `0:${stream}`, '-c', 'copy', '-f', 'md5', '-'], { timeout: 30_000 });
  return stdout.trim();
}

function rotationOf(probe: Awaited<ReturnType<typeof ffprobeJson>>): unknown {
  const video = probe.streams.find((stream) => stream.codec_type === 'video') as { side_data_list?: Array<{ rotation?: number }> } | undefined;
  return video?.side_data_list?.find((side) => side.rotation !== undefined)?.rotation;
}

async function leftovers(dir: TempDir, except: string[]): Promise<string[]> {
  return (await readdir(dir.path)).filter((name) => !except.includes(name));
}

/** A camera JPEG as a phone or camera writes it, with everything a school must not publish. */
async function makeCameraJpeg(dir: TempDir): Promise<{ path: string; imageData: Buffer }> {
  const path = await makeJpeg(dir.join('IMG_0001.jpg'), {
    exif: {
      orientation: 6,
      dateTimeOriginal: '2026:05:14 10:32:01',
      offsetTimeOriginal: '+02:00',
      subSecTimeOriginal: '42',
      make: 'Canon',
      model: 'EOS R6',
      lensModel: 'RF24-105mm',
      gps: PARIS,
      bodySerialNumber: '012345678901',
    },
    xmp: { title: 'Sports day', keywords: ['relay', 'Emma'] },
  });
  await exiftoolWrite(
    path,
    '-SerialNumber=CAM-SERIAL-1',
    '-LensSerialNumber=LENS-SERIAL-1',
    '-OwnerName=Jane Teacher',
    '-Comment=Taken behind the gym',
    '-XMP-exif:GPSLatitude=48.8566',
    '-XMP-exif:GPSLongitude=2.3522',
    '-XMP-aux:SerialNumber=XMP-SERIAL',
    '-IPTC:City=Paris',
    '-IPTC:By-line=Jane Teacher',
    // Over 64 KB of XMP: exiftool splits it into standard and extended XMP segments, as Lightroom does.
    `-XMP-dc:Description=${'x'.repeat(70_000)}`,
  );
  // A second picture after EOI, as MPF previews and phone trailers sit there, with its own GPS.
  const imageData = imagePart(await readFile(path));
  const trailer = await readFile(await makeJpeg(dir.join('trailer.jpg'), { width: 64, height: 48, exif: { gps: PARIS } }));
  await appendFile(path, trailer);
  return { path, imageData };
}

describe(stripOriginal.name, () => {
  it('drops every personal tag from a camera JPEG, keeps orientation, capture time and the image data', async () => {
    const dir = await useTempDir('keepsake-strip-');
    const { path: source, imageData } = await makeCameraJpeg(dir);
    const before = await readFile(source);
    const original = await allTags(source);
    // The fixture really carries what must go.
    expect(original).toMatchObject({
      'ExifIFD:SerialNumber': 'CAM-SERIAL-1',
      'ExifIFD:LensSerialNumber': 'LENS-SERIAL-1',
      'ExifIFD:OwnerName': 'Jane Teacher',
      'File:Comment': 'Taken behind the gym',
      'GPS:GPSLatitude': expect.closeTo(48.8566, 3),
      'XMP-exif:GPSLatitude': expect.closeTo(48.8566, 3),
      'XMP-xmpNote:HasExtendedXMP': expect.any(String),
      'IPTC:City': 'Paris',
    });

    const dest = dir.join('publish', 'IMG_0001.jpg');
    const result = await stripOriginal(source, dest, { mime: 'image/jpeg' });

    const stripped = await readFile(dest);
    expect(result.bytes).toBe(stripped.length);
    expect(result.removed.sort()).toEqual(['comment', 'exif', 'iptc', 'trailing-data', 'xmp']);
    const tags = await allTags(dest);
    expect(personalTags(tags)).toEqual([]);
    expect(tags['ExifTool:Warning']).toBeUndefined();
    expect(tags).toMatchObject({
      'IFD0:Orientation': 6,
      'ExifIFD:DateTimeOriginal': '2026:05:14 10:32:01',
      'ExifIFD:OffsetTimeOriginal': '+02:00',
      'ExifIFD:SubSecTimeOriginal': 42,
    });
    // Nothing but what was asked for is left in the new EXIF (no thumbnail IFD, no maker note).
    expect(Object.keys(tags).filter((key) => /^(IFD0|IFD1|ExifIFD|InteropIFD|MakerNotes)/.test(key)).sort()).toEqual([
      'ExifIFD:DateTimeOriginal',
      'ExifIFD:ExifVersion',
      'ExifIFD:OffsetTimeOriginal',
      'ExifIFD:SubSecTimeOriginal',
      'IFD0:Orientation',
    ]);
    // The image data is the original's byte for byte, and decodes to the same pixels; the trailer is gone.
    expect(stripped.includes(imageData)).toBe(true);
    expect(stripped.subarray(-2)).toEqual(Buffer.from([0xff, 0xd9]));
    expect((await decodedPixels(dest)).equals(await decodedPixels(source))).toBe(true);
    // sRGB profile that libvips embeds: colour stays right.
    expect((await sharp(dest).metadata()).icc).toEqual((await sharp(source).metadata()).icc);
    expect((await readFile(source)).equals(before)).toBe(true);
    expect(await leftovers(dir, ['IMG_0001.jpg', 'trailer.jpg', 'publish'])).toEqual([]);
    expect(await readdir(dir.join('publish'))).toEqual(['IMG_0001.jpg']);
  });

  it('writes no EXIF at all when there is neither a rotation nor a capture time to keep', async () => {
    const dir = await useTempDir('keepsake-strip-');
    const source = await makeJpeg(dir.join('plain.jpg'), { exif: { make: 'Canon', gps: PARIS } });
    const dest = dir.join('out.jpg');
    await stripOriginal(source, dest, { mime: 'image/jpeg' });
    const stripped = await readFile(dest);
    expect(jpegSegments(stripped).filter((segment) => segment.marker === 0xe1)).toEqual([]);
    expect(personalTags(await allTags(dest))).toEqual([]);
  });

  it('keeps the Adobe APP14 and the ICC profile of a CMYK JPEG, which it needs to decode to the right colours', async () => {
    const dir = await useTempDir('keepsake-strip-');
    const source = await makeCmykJpeg(dir.join('scan.jpg'), { width: 160, height: 120 });
    // A CMYK profile as print workflows embed one, taken from libvips, plus a comment to strip.
    const profiled = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#888' } }).toColourspace('cmyk').withIccProfile('cmyk').jpeg().toBuffer();
    const icc = (await sharp(profiled).metadata()).icc!;
    await writeFile(dir.join('cmyk.icc'), icc);
    await exiftoolWrite(source, `-ICC_Profile<=${dir.join('cmyk.icc')}`, '-Comment=Scanned by the office');
    const before = await readFile(source);

    const dest = dir.join('out.jpg');
    const result = await stripOriginal(source, dest, { mime: 'image/jpeg' });
    expect(result.removed).toEqual(['comment']);
    const stripped = await readFile(dest);
    const segments = jpegSegments(stripped);
    expect(segments.some((segment) => segment.marker === 0xee && segment.id.startsWith('Adobe'))).toBe(true);
    expect(segments.some((segment) => segment.marker === 0xe2 && segment.id.startsWith('ICC_PROFILE'))).toBe(true);
    expect((await sharp(dest).metadata()).icc).toEqual(icc);
    expect(await allTags(dest)).toMatchObject({ 'Adobe:ColorTransform': expect.any(Number), 'ICC-header:ColorSpaceData': 'CMYK' });
    expect(stripped.includes(imagePart(before))).toBe(true);
    expect((await decodedPixels(dest)).equals(await decodedPixels(source))).toBe(true);
  });

  it('keeps every scan of a progressive JPEG', async () => {
    const dir = await useTempDir('keepsake-strip-');
    const source = dir.join('progressive.jpg');
    await sharp(await readFile(await makeJpeg(dir.join('base.jpg')))).withExif({ IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 0/1' } }).jpeg({ progressive: true }).toFile(source);
    const dest = dir.join('out.jpg');
    await stripOriginal(source, dest, { mime: 'image/jpeg' });
    expect(personalTags(await allTags(dest))).toEqual([]);
    expect((await readFile(dest)).includes(imagePart(await readFile(source)))).toBe(true);
    expect((await decodedPixels(dest)).equals(await decodedPixels(source))).toBe(true);
  });

  it('drops eXIf, text, XMP and tIME chunks of a PNG and copies every other chunk as it was', async () => {
    const dir = await useTempDir('keepsake-strip-');
    const source = await makePng(dir.join('drawing.png'), { width: 200, height: 150, exif: { gps: PARIS, dateTimeOriginal: '2026:05:14 10:32:01' } });
    await exiftoolWrite(source, '-PNG:Comment=Drawn at 48.8566 N', '-XMP-exif:GPSLatitude=48.8566', '-PNG:ModifyDate=2026:05:14 10:00:00');
    const before = await readFile(source);
    expect(pngChunks(before).map((chunk) => chunk.type)).toEqual(expect.arrayContaining(['eXIf', 'tEXt', 'iTXt', 'tIME']));
    expect(personalTags(await allTags(source))).not.toEqual([]);

    const dest = dir.join('out.png');
    const result = await stripOriginal(source, dest, { mime: 'image/png' });
    expect(result.removed.sort()).toEqual(['exif', 'text', 'time', 'xmp']);
    const stripped = await readFile(dest);
    expect(result.bytes).toBe(stripped.length);
    expect(personalTags(await allTags(dest))).toEqual([]);
    const kept = pngChunks(before).filter((chunk) => !['eXIf', 'tEXt', 'iTXt', 'zTXt', 'tIME'].includes(chunk.type));
    expect(pngChunks(stripped)).toEqual(kept);
    expect((await decodedPixels(dest)).equals(await decodedPixels(source))).toBe(true);
    expect((await readFile(source)).equals(before)).toBe(true);
  });

  it.each([
    ['mov', 'video/quicktime'],
    ['mp4', 'video/mp4'],
  ] as const)('remuxes a %s without its location or serial number, keeping rotation, capture time and every packet', async (container, mime) => {
    const dir = await useTempDir('keepsake-strip-');
    const source = await makeVideo(dir.join(`clip.${container}`), {
      durationSec: 1,
      rotation: 90,
      location: PARIS,
      ...(container === 'mov'
        ? { apple: { make: 'Apple', model: 'iPhone 15', location: PARIS, creationDate: '2026-05-14T10:32:01+0200' } }
        : { creationTime: '2026-05-14T08:32:01Z' }),
    });
    await exiftoolWrite(source, '-UserData:SerialNumber=PHONE-SERIAL-1', '-UserData:Make=Apple', '-UserData:Model=iPhone 15');
    const before = await readFile(source);
    const originalTags = await allTags(source);
    expect(originalTags).toMatchObject({ 'UserData:SerialNumber': 'PHONE-SERIAL-1', 'Composite:GPSLatitude': expect.closeTo(48.8566, 3) });
    if (container === 'mov') expect(originalTags).toMatchObject({ 'Keys:Model': 'iPhone 15', 'Keys:GPSCoordinates': expect.anything() });

    const dest = dir.join(`out.${container}`);
    const result = await stripOriginal(source, dest, { mime });
    expect(result.removed).toEqual(['metadata']);
    expect(personalTags(await allTags(dest))).toEqual([]);

    const [probeBefore, probeAfter] = await Promise.all([ffprobeJson(source), ffprobeJson(dest)]);
    expect(rotationOf(probeBefore)).toBe(-90);
    expect(rotationOf(probeAfter)).toBe(-90);
    expect((await allTags(dest))['Composite:Rotation']).toBe(90);
    expect(probeAfter.streams.map((stream) => stream.codec_type)).toEqual(probeBefore.streams.map((stream) => stream.codec_type));
    expect(Number(probeAfter.format.duration)).toBeCloseTo(Number(probeBefore.format.duration), 1);
    expect(probeAfter.format.tags?.creation_time).toBe('2026-05-14T08:32:01.000000Z');
    expect(await packetsMd5(dest, 'v')).toBe(await packetsMd5(source, 'v'));
    expect(await packetsMd5(dest, 'a')).toBe(await packetsMd5(source, 'a'));
    expect((await readFile(source)).equals(before)).toBe(true);
    expect(await leftovers(dir, [basename(source), basename(dest)])).toEqual([]);
  });

  it('leaves out subtitle tracks, where drones write their position', async () => {
    const dir = await useTempDir('keepsake-strip-');
    const clip = await makeVideo(dir.join('clip.mp4'), { durationSec: 1 });
    await writeFile(dir.join('gps.srt'), '1\n00:00:00,000 --> 00:00:01,000\nGPS(48.8566,2.3522,35) ISO 100\n');
    const source = dir.join('DJI_0001.mp4');
    await run(await findFfmpeg(), ['-v', 'error', '-i', clip, '-i', dir.join('gps.srt'), '-map', '0', '-map', '1', '-c', 'copy', '-c:s', 'mov_text', source], { timeout: 30_000 });
    expect((await ffprobeJson(source)).streams.map((stream) => stream.codec_type)).toEqual(['video', 'audio', 'subtitle']);

    const dest = dir.join('out.mp4');
    await stripOriginal(source, dest, { mime: 'video/mp4' });
    expect((await ffprobeJson(dest)).streams.map((stream) => stream.codec_type)).toEqual(['video', 'audio']);
    expect((await readFile(dest)).includes('48.8566')).toBe(false);
  });

  it('stops a remux when its signal aborts, leaving neither the copy nor a temporary file', async () => {
    const dir = await useTempDir('keepsake-strip-');
    const source = await makeVideo(dir.join('clip.mp4'), { durationSec: 2 });
    const dest = dir.join('out.mp4');
    const controller = new AbortController();
    // Aborts the moment ffmpeg creates its output: mid-remux, however fast the machine is.
    const watcher = watch(dir.path, (_event, name) => {
      if (name && name !== basename(source)) controller.abort();
    });
    try {
      await expect(stripOriginal(source, dest, { mime: 'video/mp4', signal: controller.signal })).rejects.toMatchObject({
        name: 'AppError',
        code: 'cancelled',
        message: 'Making the stripped copy of "clip.mp4" was cancelled.',
      });
    } finally {
      watcher.close();
    }
    expect(controller.signal.aborted).toBe(true);
    expect(await leftovers(dir, [basename(source)])).toEqual([]);
    expect(await childMediaProcesses()).toEqual([]);
  });

  it('rejects a cut-short or garbage JPEG and a PNG without its signature as corrupt-media, naming the file', async () => {
    const dir = await useTempDir('keepsake-strip-');
    const photo = await makeJpeg(dir.join('photo.jpg'), { exif: { gps: PARIS } });
    const cases: Array<[string, string, RegExp]> = [
      [await truncate(photo, 0.5, dir.join('half.jpg')), 'image/jpeg', /^half\.jpg: this JPEG is damaged \(its image data is cut short\)/],
      [await truncate(photo, 40, dir.join('head.jpg')), 'image/jpeg', /^head\.jpg: this JPEG is damaged \(a segment at byte 2 runs past the end of the file\)/],
      [await makeRandomBytes(dir.join('junk.jpg')), 'image/jpeg', /^junk\.jpg: this JPEG is damaged \(it does not start with a JPEG start-of-image marker\)/],
      [await makeRandomBytes(dir.join('junk.png')), 'image/png', /^junk\.png: this PNG is damaged \(it does not start with the PNG signature\)/],
    ];
    for (const [source, mime, message] of cases) {
      await expect(stripOriginal(source, dir.join('out', basename(source)), { mime })).rejects.toMatchObject({ code: 'corrupt-media', message: expect.stringMatching(message) });
    }
    expect(await readdir(dir.path)).not.toContain('out');
  });

  it('refuses formats it cannot strip without re-encoding, with a reason the publish report can show', async () => {
    for (const [name, mime] of [
      ['IMG_0002.HEIC', 'image/heic'],
      ['IMG_0003.CR3', 'image/x-canon-cr3'],
      ['clip.MTS', 'video/mp2t'],
    ] as const) {
      expect(canStripOriginal(mime)).toBe(false);
      await expect(stripOriginal(`/nowhere/${name}`, '/nowhere/out', { mime })).rejects.toMatchObject({
        code: 'unsupported-media',
        message: `${name}: originals in this format cannot be published without re-encoding, so only its previews are published.`,
      });
    }
    for (const mime of ['image/jpeg', 'image/png', 'video/mp4', 'video/quicktime', 'IMAGE/JPEG; charset=binary']) expect(canStripOriginal(mime)).toBe(true);
  });

  it('never writes over the original', async () => {
    const dir = await useTempDir('keepsake-strip-');
    const source = await makeJpeg(dir.join('photo.jpg'));
    await expect(stripOriginal(source, source, { mime: 'image/jpeg' })).rejects.toMatchObject({ code: 'invalid-input' });
  });
});

describe(stripJpeg.name, () => {
  it('skips fill bytes and keeps restart markers inside the scan data', () => {
    // SOI, COM, DQT, SOF0, SOS with "entropy data" holding a stuffed 0xFF00 and an RST0, fill bytes, EOI.
    const segment = (marker: number, payload: number[]): number[] => [0xff, marker, 0, payload.length + 2, ...payload];
    const scan = [0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56];
    const jpeg = Buffer.from([
      0xff, 0xd8,
      ...segment(0xfe, [0x68, 0x69]),
      ...segment(0xdb, [0, ...new Array<number>(64).fill(1)]),
      ...segment(0xc0, [8, 0, 1, 0, 1, 1, 1, 0x11, 0]),
      ...segment(0xda, [1, 1, 0, 0, 0x3f, 0]),
      ...scan,
      0xff, 0xff, 0xd9,
    ]);
    const { data, removed } = stripJpeg(jpeg, 'tiny.jpg');
    expect(removed).toEqual(['comment']);
    expect(data.equals(Buffer.concat([jpeg.subarray(0, 2), jpeg.subarray(8, jpeg.length - 3), Buffer.from([0xff, 0xd9])]))).toBe(true);
  });
});
