import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFfmpeg } from '../media/ffmpeg-path.ts';
import { isAppError } from '../shared/errors.ts';
import {
  makeAvif,
  makeGif,
  makeJpeg,
  makePng,
  makeRandomBytes,
  makeTiff,
  makeVideo,
  makeWebp,
  makeZeroByte,
  tempDir,
  type TempDir,
} from '../test/fixtures.ts';
import { type SniffedFormat, sniffFormat } from './formats.ts';

const run = promisify(execFile);

// Photos and videos are real files written by sharp and ffmpeg. RAW files cannot be written by any tool we ship,
// so they are hand-built minimal headers with the structure each camera writes (magic, IFD0 tags, ftyp brands);
// HEIC and plain-HEIF headers are hand-built too because sharp's libheif encodes AV1 (AVIF) only.

type Order = 'II' | 'MM';
interface IfdEntry {
  tag: number;
  type: number;
  count: number;
  data: Buffer;
}

const asciiTag = (tag: number, text: string): IfdEntry => {
  const data = Buffer.from(`${text}\0`, 'latin1');
  return { tag, type: 2, count: data.length, data };
};
const shortTag = (order: Order, tag: number, value: number): IfdEntry => {
  const data = Buffer.alloc(2);
  if (order === 'II') data.writeUInt16LE(value);
  else data.writeUInt16BE(value);
  return { tag, type: 3, count: 1, data };
};
const longTag = (order: Order, tag: number, value: number): IfdEntry => {
  const data = Buffer.alloc(4);
  if (order === 'II') data.writeUInt32LE(value);
  else data.writeUInt32BE(value);
  return { tag, type: 4, count: 1, data };
};
const dngVersionTag: IfdEntry = { tag: 0xc612, type: 1, count: 4, data: Buffer.from([1, 4, 0, 0]) };

/** A TIFF header and IFD0; values longer than 4 bytes go after the IFD, as cameras write them. `ifdPointer` lies about where IFD0 is. */
function buildTiff(
  order: Order,
  entries: IfdEntry[],
  options: { magic?: string; afterMagic?: Buffer; ifdOffset?: number; ifdPointer?: number } = {},
): Buffer {
  const ifdOffset = options.ifdOffset ?? 8;
  const ifdSize = 2 + entries.length * 12 + 4;
  const dataStart = ifdOffset + ifdSize;
  const bigData = entries.filter((entry) => entry.data.length > 4);
  const total = dataStart + bigData.reduce((sum, entry) => sum + entry.data.length, 0) + 256;
  const out = Buffer.alloc(total);
  const le = order === 'II';
  const u16 = (value: number, at: number): number => (le ? out.writeUInt16LE(value, at) : out.writeUInt16BE(value, at));
  const u32 = (value: number, at: number): number => (le ? out.writeUInt32LE(value, at) : out.writeUInt32BE(value, at));
  out.write(options.magic ?? (le ? 'II*\0' : 'MM\0*'), 0, 'latin1');
  u32(options.ifdPointer ?? ifdOffset, 4);
  options.afterMagic?.copy(out, 8);
  u16(entries.length, ifdOffset);
  let dataAt = dataStart;
  entries.forEach((entry, i) => {
    const at = ifdOffset + 2 + i * 12;
    u16(entry.tag, at);
    u16(entry.type, at + 2);
    u32(entry.count, at + 4);
    if (entry.data.length <= 4) {
      entry.data.copy(out, at + 8);
    } else {
      u32(dataAt, at + 8);
      entry.data.copy(out, dataAt);
      dataAt += entry.data.length;
    }
  });
  return out;
}

/** An ISO-BMFF `ftyp` box followed by an empty `meta`/`moov` box. */
function buildFtyp(major: string, compatible: string[], next = 'meta'): Buffer {
  const ftyp = Buffer.alloc(16 + compatible.length * 4);
  ftyp.writeUInt32BE(ftyp.length, 0);
  ftyp.write('ftyp', 4, 'latin1');
  ftyp.write(major, 8, 'latin1');
  compatible.forEach((brand, i) => ftyp.write(brand, 16 + i * 4, 'latin1'));
  const box = Buffer.alloc(64);
  box.writeUInt32BE(box.length, 0);
  box.write(next, 4, 'latin1');
  return Buffer.concat([ftyp, box]);
}

const rawNef = (): Buffer =>
  buildTiff('MM', [
    shortTag('MM', 0x00fe, 1),
    asciiTag(0x010f, 'NIKON CORPORATION'),
    asciiTag(0x0110, 'NIKON D750'),
    longTag('MM', 0x014a, 4096),
  ]);

let dir: TempDir;
const files = new Map<string, { path: string; expected: SniffedFormat }>();

async function ffmpeg(args: string[]): Promise<void> {
  await run(await findFfmpeg(), ['-hide_banner', '-v', 'error', '-y', ...args], { timeout: 60_000 });
}
const TEST_PATTERN = ['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10:duration=0.3'];

beforeAll(async () => {
  dir = await tempDir('keepsake-formats-');
  const video = { durationSec: 0.3, width: 64, height: 48, audio: false };
  const add = (name: string, path: string, expected: SniffedFormat): void => {
    files.set(name, { path, expected });
  };
  const write = async (name: string, bytes: Buffer): Promise<string> => {
    const path = dir.join(name);
    await writeFile(path, bytes);
    return path;
  };

  add('jpeg', await makeJpeg(dir.join('photo.jpg'), { width: 32, height: 24 }), { kind: 'photo', format: 'jpeg', mime: 'image/jpeg' });
  add('png', await makePng(dir.join('photo.png'), { width: 32, height: 24 }), { kind: 'photo', format: 'png', mime: 'image/png' });
  add('webp', await makeWebp(dir.join('photo.webp'), { width: 32, height: 24 }), { kind: 'photo', format: 'webp', mime: 'image/webp' });
  add('gif', await makeGif(dir.join('photo.gif'), { width: 32, height: 24 }), { kind: 'photo', format: 'gif', mime: 'image/gif' });
  add('tiff', await makeTiff(dir.join('photo.tif'), { width: 32, height: 24 }), { kind: 'photo', format: 'tiff', mime: 'image/tiff' });
  add('avif', await makeAvif(dir.join('photo.avif'), { width: 32, height: 24 }), { kind: 'photo', format: 'avif', mime: 'image/avif' });
  add('heic', await write('photo.heic', buildFtyp('heic', ['mif1', 'heic'])), { kind: 'photo', format: 'heic', mime: 'image/heic' });
  add('heic (mif1 major, heic compatible)', await write('canon.hif', buildFtyp('mif1', ['mif1', 'heic'])), {
    kind: 'photo',
    format: 'heic',
    mime: 'image/heic',
  });
  add('heif', await write('photo.heif', buildFtyp('mif1', ['mif1', 'miaf'])), { kind: 'photo', format: 'heif', mime: 'image/heif' });

  add('mp4', await makeVideo(dir.join('clip.mp4'), video), { kind: 'video', format: 'mp4', mime: 'video/mp4' });
  add('mov', await makeVideo(dir.join('clip.mov'), video), { kind: 'video', format: 'mov', mime: 'video/quicktime' });
  add('mts (188-byte packets)', await makeVideo(dir.join('clip.mts'), video), { kind: 'video', format: 'm2ts', mime: 'video/mp2t' });
  add('avi', await makeVideo(dir.join('clip.avi'), video), { kind: 'video', format: 'avi', mime: 'video/x-msvideo' });
  const m4v = dir.join('clip.m4v');
  await ffmpeg([...TEST_PATTERN, '-c:v', 'mpeg4', '-f', 'ipod', m4v]);
  add('m4v', m4v, { kind: 'video', format: 'mp4', mime: 'video/x-m4v' });
  const m2ts = dir.join('avchd.m2ts');
  await ffmpeg([...TEST_PATTERN, '-c:v', 'mpeg2video', '-f', 'mpegts', '-mpegts_m2ts_mode', '1', m2ts]);
  add('m2ts (192-byte packets)', m2ts, { kind: 'video', format: 'm2ts', mime: 'video/mp2t' });
  // Old QuickTime files have no ftyp: drop ffmpeg's ftyp atom so the file starts at `wide`.
  const mov = await readFile(files.get('mov')!.path);
  add('mov without ftyp', await write('old.mov', mov.subarray(mov.readUInt32BE(0))), { kind: 'video', format: 'mov', mime: 'video/quicktime' });

  const cr2 = buildTiff('II', [asciiTag(0x010f, 'Canon'), longTag('II', 0x0111, 4096)], {
    ifdOffset: 16,
    afterMagic: Buffer.from([0x43, 0x52, 2, 0, 0, 0, 0, 0]),
  });
  add('cr2', await write('IMG_0001.CR2', cr2), { kind: 'raw', format: 'cr2', mime: 'image/x-canon-cr2' });
  add('cr3', await write('IMG_0002.CR3', buildFtyp('crx ', ['crx ', 'isom'], 'moov')), {
    kind: 'raw',
    format: 'cr3',
    mime: 'image/x-canon-cr3',
  });
  add('nef (big-endian)', await write('DSC_0001.NEF', rawNef()), { kind: 'raw', format: 'nef', mime: 'image/x-nikon-nef' });
  const arw = buildTiff('II', [asciiTag(0x010f, 'SONY'), asciiTag(0x0110, 'ILCE-7M3'), longTag('II', 0x014a, 4096), longTag('II', 0xc634, 8192)]);
  add('arw', await write('DSC00001.ARW', arw), { kind: 'raw', format: 'arw', mime: 'image/x-sony-arw' });
  // A DNG converted from a Sony file keeps Make SONY: DNGVersion wins.
  const dng = buildTiff('II', [asciiTag(0x010f, 'SONY'), longTag('II', 0x014a, 4096), dngVersionTag]);
  add('dng', await write('IMG_0003.DNG', dng), { kind: 'raw', format: 'dng', mime: 'image/x-adobe-dng' });
  add('orf', await write('P0001.ORF', buildTiff('II', [asciiTag(0x010f, 'OLYMPUS')], { magic: 'IIRO' })), {
    kind: 'raw',
    format: 'orf',
    mime: 'image/x-olympus-orf',
  });
  add('orf (big-endian)', await write('P0002.ORF', buildTiff('MM', [asciiTag(0x010f, 'OLYMPUS')], { magic: 'MMOR' })), {
    kind: 'raw',
    format: 'orf',
    mime: 'image/x-olympus-orf',
  });
  add('rw2', await write('P1000001.RW2', buildTiff('II', [asciiTag(0x010f, 'Panasonic')], { magic: 'IIU\0', ifdOffset: 24 })), {
    kind: 'raw',
    format: 'rw2',
    mime: 'image/x-panasonic-rw2',
  });
  const raf = Buffer.alloc(256);
  raf.write('FUJIFILMCCD-RAW 0201FF383501', 0, 'latin1');
  add('raf', await write('DSCF0001.RAF', raf), { kind: 'raw', format: 'raf', mime: 'image/x-fuji-raf' });
});

afterAll(async () => {
  await dir?.cleanup();
});

describe(sniffFormat.name, () => {
  it.each([
    'jpeg',
    'png',
    'webp',
    'gif',
    'tiff',
    'avif',
    'heic',
    'heic (mif1 major, heic compatible)',
    'heif',
    'mp4',
    'mov',
    'm4v',
    'mts (188-byte packets)',
    'm2ts (192-byte packets)',
    'avi',
    'mov without ftyp',
    'cr2',
    'cr3',
    'nef (big-endian)',
    'arw',
    'dng',
    'orf',
    'orf (big-endian)',
    'rw2',
    'raf',
  ])('recognises %s from its bytes', async (name) => {
    const file = files.get(name)!;
    expect(await sniffFormat(file.path)).toEqual(file.expected);
  });

  it('sniffs a buffer as it sniffs the file the buffer came from', async () => {
    for (const { path, expected } of files.values()) {
      expect(await sniffFormat(await readFile(path))).toEqual(expected);
    }
  });

  it('reads a PNG named .jpg as a PNG', async () => {
    const path = await makePng(dir.join('liar.jpg'), { width: 8, height: 8 });
    expect(await sniffFormat(path)).toMatchObject({ format: 'png' });
  });

  it('reads a JPEG named .png as a JPEG', async () => {
    const path = await makeJpeg(dir.join('liar.png'), { width: 8, height: 8 });
    expect(await sniffFormat(path)).toMatchObject({ format: 'jpeg' });
  });

  it('returns null for a text file named .jpg', async () => {
    const path = dir.join('notes.jpg');
    await writeFile(path, 'Sports day: bring the long lens.\n'.repeat(50));
    expect(await sniffFormat(path)).toBeNull();
  });

  it('returns null for a zero-byte file', async () => {
    expect(await sniffFormat(await makeZeroByte(dir.join('empty.jpg')))).toBeNull();
  });

  it('returns null for random bytes', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      expect(await sniffFormat(await makeRandomBytes(dir.join(`random-${seed}.bin`), 8192, seed))).toBeNull();
    }
  });

  it('returns null for a text file whose bytes 4 to 7 read "free"', async () => {
    const path = dir.join('freedom.mov');
    await writeFile(path, 'Let freedom ring across the playground.\n');
    expect(await sniffFormat(path)).toBeNull();
  });

  it('needs several transport-stream packets before calling a file MPEG-TS', async () => {
    const bytes = Buffer.alloc(188 * 2 + 10, 0x20);
    bytes[0] = 0x47;
    bytes[188] = 0x47;
    expect(await sniffFormat(bytes)).toBeNull();
  });

  it('finds a NEF whose IFD0 lies past the first 4 KiB', async () => {
    const entries = [asciiTag(0x010f, 'NIKON CORPORATION'), longTag('MM', 0x014a, 100)];
    const path = dir.join('far.nef');
    await writeFile(path, buildTiff('MM', entries, { ifdOffset: 10_000 }));
    expect(await sniffFormat(path)).toMatchObject({ format: 'nef' });
  });

  it("keeps a maker's plain TIFF (Make NIKON, no raw data) a TIFF", async () => {
    const path = await makeTiff(dir.join('coolpix.tif'), { width: 16, height: 16, exif: { make: 'NIKON', model: 'E5000' } });
    expect(await sniffFormat(path)).toMatchObject({ kind: 'photo', format: 'tiff' });
  });

  it.each([
    ['IFD0 offset past the end', () => buildTiff('II', [asciiTag(0x010f, 'SONY')], { ifdPointer: 0xfffffff0 })],
    ['IFD0 offset inside the header', () => buildTiff('II', [asciiTag(0x010f, 'SONY')], { ifdPointer: 2 })],
    [
      'an entry count of 65535',
      () => {
        const bytes = rawNef();
        bytes.writeUInt16BE(0xffff, 8);
        return bytes;
      },
    ],
    [
      'a Make offset past the end',
      () => {
        const bytes = buildTiff('II', [asciiTag(0x010f, 'SONY CORPORATION'), longTag('II', 0x014a, 1)]);
        bytes.writeUInt32LE(0xffffff00, 8 + 2 + 8);
        return bytes;
      },
    ],
    ['a file cut after the header', () => rawNef().subarray(0, 12)],
  ])('reads a TIFF with %s as a plain TIFF without throwing', async (_name, build) => {
    expect(await sniffFormat(build())).toMatchObject({ format: 'tiff' });
  });

  it('returns null for a folder', async () => {
    const path = dir.join('folder.jpg');
    await mkdir(path);
    expect(await sniffFormat(path)).toBeNull();
  });

  it('throws a not-found AppError for a missing file', async () => {
    const error = await sniffFormat(dir.join('missing.jpg')).catch((caught: unknown) => caught);
    expect(isAppError(error, 'not-found')).toBe(true);
    expect((error as Error).message).toContain('missing.jpg');
  });
});
