import { mkdir, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isAppError } from '../shared/errors.ts';
import { makeJpeg, makePng, makeVideo, makeZeroByte, tempDir, type TempDir } from '../test/fixtures.ts';
import type * as Formats from './formats.ts';
import { sniffFormat } from './formats.ts';
import { isCameraCard, isJunkFile, isJunkFolder, ORPHAN_SIDECAR, scanSource } from './source-scanner.ts';

// Lets one test delete a file between the directory listing and the read, as a pulled card or a cleaner would.
vi.mock('./formats.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof Formats>();
  return { ...actual, sniffFormat: vi.fn(actual.sniffFormat) };
});

let dir: TempDir;

beforeEach(async () => {
  dir = await tempDir('keepsake-scan-');
});

afterEach(async () => {
  await dir.cleanup();
});

const small = { width: 16, height: 12 };

/** A hand-built minimal CR2 header (TIFF + "CR" v2): no tool writes Canon RAW files. */
async function makeCr2(file: string): Promise<string> {
  const bytes = Buffer.alloc(64);
  bytes.write('II*\0', 0, 'latin1');
  bytes.writeUInt32LE(16, 4);
  bytes.write('CR', 8, 'latin1');
  bytes[10] = 2;
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, bytes);
  return file;
}

async function write(file: string, text: string): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  return file;
}

const relatives = (files: Array<{ relativePath: string }>): string[] => files.map((file) => file.relativePath);

describe(scanSource.name, () => {
  it('lists the media of a card sorted by path, with size, time and format', async () => {
    const jpeg = await makeJpeg(dir.join('DCIM', '100CANON', 'IMG_0002.JPG'), small);
    await makeCr2(dir.join('DCIM', '100CANON', 'IMG_0001.CR2'));
    await makeVideo(dir.join('DCIM', '101CANON', 'MVI_0003.MOV'), { durationSec: 0.2, width: 32, height: 24, audio: false });
    await utimes(jpeg, new Date('2026-05-14T10:00:00Z'), new Date('2026-05-14T10:00:00Z'));

    const scanned = await scanSource(dir.path);

    expect(relatives(scanned.files)).toEqual([
      path.join('DCIM', '100CANON', 'IMG_0001.CR2'),
      path.join('DCIM', '100CANON', 'IMG_0002.JPG'),
      path.join('DCIM', '101CANON', 'MVI_0003.MOV'),
    ]);
    expect(scanned.files[1]).toEqual({
      path: jpeg,
      relativePath: path.join('DCIM', '100CANON', 'IMG_0002.JPG'),
      size: (await stat(jpeg)).size,
      mtimeMs: Date.parse('2026-05-14T10:00:00Z'),
      kind: 'photo',
      format: 'jpeg',
      mime: 'image/jpeg',
      sidecars: [],
    });
    expect(scanned.files.map((file) => [file.kind, file.format])).toEqual([
      ['raw', 'cr2'],
      ['photo', 'jpeg'],
      ['video', 'mov'],
    ]);
    expect(scanned).toMatchObject({ root: dir.path, unsupported: [], ignored: 0 });
  });

  it('goes by content, not by name', async () => {
    await makePng(dir.join('really-a-png.jpg'), small);
    const text = await write(dir.join('notes.jpg'), 'not a photo');

    const scanned = await scanSource(dir.path);

    expect(scanned.files.map((file) => [path.basename(file.path), file.format])).toEqual([['really-a-png.jpg', 'png']]);
    expect(scanned.unsupported).toEqual([{ path: text, reason: expect.stringContaining('.jpg') }]);
  });

  it('reports files that are not media, and empty ones, with a reason', async () => {
    const notes = await write(dir.join('notes.txt'), 'shot list');
    const empty = await makeZeroByte(dir.join('IMG_0009.JPG'));

    const scanned = await scanSource(dir.path);

    expect(scanned.files).toEqual([]);
    expect(scanned.unsupported).toEqual([
      { path: empty, reason: 'the file is empty' },
      { path: notes, reason: 'not a photo or video Keepsake can import' },
    ]);
  });

  it('skips system clutter, the library folder and our temp files, counting them', async () => {
    await makeJpeg(dir.join('DCIM', 'IMG_0001.JPG'), small);
    // Clutter that holds real JPEG bytes, so only the names can be what excludes it.
    await makeJpeg(dir.join('DCIM', '._IMG_0001.JPG'), small);
    await makeJpeg(dir.join('.Trashes', '501', 'IMG_0000.JPG'), small);
    await makeJpeg(dir.join('.keepsake', 'cache', 'thumb.jpg'), small);
    await makeJpeg(dir.join('DCIM', 'IMG_0002.JPG.keepsake-tmp-4f2a'), small);
    await makeJpeg(dir.join('$RECYCLE.BIN', 'S-1-5-21', 'IMG_0003.JPG'), small);
    await write(dir.join('.DS_Store'), 'x');
    await write(dir.join('DCIM', 'Thumbs.db'), 'x');
    await write(dir.join('desktop.ini'), 'x');
    for (const folder of ['.Spotlight-V100', '.fseventsd', 'System Volume Information']) await write(dir.join(folder, 'index'), 'x');

    const scanned = await scanSource(dir.path);

    expect(relatives(scanned.files)).toEqual([path.join('DCIM', 'IMG_0001.JPG')]);
    expect(scanned.unsupported).toEqual([]);
    expect(scanned.ignored).toBe(11);
  });

  it('attaches XMP and THM sidecars to the media of the same name, ignoring case', async () => {
    const folder = dir.join('DCIM', '100CANON');
    await makeCr2(path.join(folder, 'IMG_0001.CR2'));
    await makeJpeg(path.join(folder, 'IMG_0001.JPG'), small);
    const rawXmp = await write(path.join(folder, 'IMG_0001.XMP'), '<x:xmpmeta/>');
    await makeJpeg(path.join(folder, 'IMG_0002.JPG'), small);
    const lowerXmp = await write(path.join(folder, 'img_0002.xmp'), '<x:xmpmeta/>');
    await makeCr2(path.join(folder, 'IMG_0003.CR2'));
    const darktable = await write(path.join(folder, 'IMG_0003.CR2.xmp'), '<x:xmpmeta/>');
    await makeVideo(path.join(folder, 'MVI_0004.MOV'), { durationSec: 0.2, width: 32, height: 24, audio: false });
    // A THM is a small JPEG: it must travel with the clip, not be imported as a photo.
    const thm = await makeJpeg(path.join(folder, 'MVI_0004.THM'), small);
    const orphan = await write(path.join(folder, 'IMG_0005.XMP'), '<x:xmpmeta/>');
    const elsewhere = await write(dir.join('DCIM', 'IMG_0002.xmp'), '<x:xmpmeta/>');

    const scanned = await scanSource(dir.path);

    expect(scanned.files.map((file) => [path.basename(file.path), file.sidecars])).toEqual([
      ['IMG_0001.CR2', [{ path: rawXmp, kind: 'xmp' }]],
      ['IMG_0001.JPG', []],
      ['IMG_0002.JPG', [{ path: lowerXmp, kind: 'xmp' }]],
      ['IMG_0003.CR2', [{ path: darktable, kind: 'xmp' }]],
      ['MVI_0004.MOV', [{ path: thm, kind: 'thm' }]],
    ]);
    expect(scanned.unsupported).toEqual([
      { path: orphan, reason: ORPHAN_SIDECAR },
      { path: elsewhere, reason: ORPHAN_SIDECAR },
    ].sort((a, b) => (a.path < b.path ? -1 : 1)));
  });

  it('does not follow links to folders, so a link loop cannot trap it', async () => {
    await makeJpeg(dir.join('card', 'DCIM', 'IMG_0001.JPG'), small);
    await makeJpeg(dir.join('outside', 'IMG_0099.JPG'), small);
    const loop = dir.join('card', 'DCIM', 'loop');
    const away = dir.join('card', 'away');
    await symlink(dir.join('card'), loop, 'dir');
    await symlink(dir.join('outside'), away, 'dir');
    const linkedFile = dir.join('card', 'linked.jpg');
    await symlink(dir.join('outside', 'IMG_0099.JPG'), linkedFile, 'file');

    const scanned = await scanSource(dir.join('card'));

    expect(relatives(scanned.files)).toEqual([path.join('DCIM', 'IMG_0001.JPG'), 'linked.jpg']);
    expect(scanned.unsupported.map((entry) => entry.path)).toEqual([loop, away]);
    expect(scanned.unsupported[0]!.reason).toContain('not followed');
  });

  it('reads unicode (NFC, NFD, emoji) and very long names, and matches sidecars across normalisations', async () => {
    const nfd = 'Cafe\u0301 Ana Lima.jpg';
    await makeJpeg(dir.join('São João', nfd), small);
    const xmp = await write(dir.join('São João', 'CAF\u00c9 ana lima.xmp'), '<x:xmpmeta/>');
    const emoji = `${'🎉'.repeat(60)}.jpg`;
    const long = `${'a'.repeat(250)}.jpg`;
    await makeJpeg(dir.join(emoji), small);
    await makeJpeg(dir.join(long), small);

    const scanned = await scanSource(dir.path);

    expect(relatives(scanned.files).sort()).toEqual([emoji, long, path.join('São João', nfd)].sort());
    expect(scanned.files.find((file) => file.path.endsWith(nfd))?.sidecars).toEqual([{ path: xmp, kind: 'xmp' }]);
    expect(scanned.unsupported).toEqual([]);
  });

  it('reports a file that vanishes mid-scan and goes on', async () => {
    await makeJpeg(dir.join('IMG_0001.JPG'), small);
    const doomed = await makeJpeg(dir.join('IMG_0002.JPG'), small);
    const { sniffFormat: realSniff } = await vi.importActual<typeof Formats>('./formats.ts');
    vi.mocked(sniffFormat).mockImplementation(async (source) => {
      if (source === doomed) await rm(doomed);
      return realSniff(source);
    });
    try {
      const scanned = await scanSource(dir.path);
      expect(relatives(scanned.files)).toEqual(['IMG_0001.JPG']);
      expect(scanned.unsupported).toEqual([{ path: doomed, reason: expect.stringContaining('disappeared') }]);
    } finally {
      vi.mocked(sniffFormat).mockImplementation(realSniff);
    }
  });

  it('throws not-found for a source that does not exist', async () => {
    const error = await scanSource(dir.join('EOS_DIGITAL')).catch((caught: unknown) => caught);
    expect(isAppError(error, 'not-found')).toBe(true);
    expect((error as Error).message).toContain('EOS_DIGITAL');
  });

  it('throws invalid-input for a source that is a file', async () => {
    const file = await write(dir.join('photo.txt'), 'x');
    await expect(scanSource(file)).rejects.toMatchObject({ code: 'invalid-input' });
  });

  it('stops with cancelled when the signal aborts', async () => {
    await makeJpeg(dir.join('IMG_0001.JPG'), small);
    const controller = new AbortController();
    controller.abort();
    await expect(scanSource(dir.path, { signal: controller.signal })).rejects.toMatchObject({ code: 'cancelled' });
  });

  it('returns nothing for an empty card', async () => {
    await mkdir(dir.join('DCIM'));
    expect(await scanSource(dir.path)).toEqual({ root: dir.path, files: [], unsupported: [], ignored: 0 });
  });
});

describe(isCameraCard.name, () => {
  it('is true for a volume with a DCIM folder', async () => {
    await mkdir(dir.join('DCIM'));
    expect(await isCameraCard(dir.path)).toBe(true);
  });

  it('is false for a volume without one, a DCIM file, or a missing path', async () => {
    expect(await isCameraCard(dir.path)).toBe(false);
    await write(dir.join('DCIM'), 'not a folder');
    expect(await isCameraCard(dir.path)).toBe(false);
    expect(await isCameraCard(dir.join('gone'))).toBe(false);
  });
});

describe(isJunkFile.name, () => {
  it('matches AppleDouble, Finder and Explorer files and our temp files, not photos', () => {
    expect(['._IMG_0001.JPG', '.DS_Store', 'Thumbs.db', 'THUMBS.DB', 'desktop.ini', 'a.jpg.keepsake-tmp-1'].every(isJunkFile)).toBe(true);
    expect(['IMG_0001.JPG', '.hidden.jpg', 'thumbs.jpg'].some(isJunkFile)).toBe(false);
  });
});

describe(isJunkFolder.name, () => {
  it('matches system folders and the library folder, not DCIM', () => {
    expect(['.Trashes', '.Spotlight-V100', '.fseventsd', 'System Volume Information', '$RECYCLE.BIN', '.keepsake', '.Trash-1000'].every(isJunkFolder)).toBe(true);
    expect(['DCIM', '100CANON', 'keepsake'].some(isJunkFolder)).toBe(false);
  });
});
