import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashFile } from './content-hash.ts';
import { copyVerified, tempPathFor, writeFileAtomic } from './verified-copy.ts';

const run = promisify(execFile);
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'keepsake-copy-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hashFile', () => {
  it('gives the same XXH3-128 digest as xxhsum -H2, so manifests can be checked with standard tools', async () => {
    const file = path.join(dir, 'photo.jpg');
    await writeFile(file, randomBytes(5 * 1024 * 1024 + 17));
    const { stdout } = await run('xxhsum', ['-H2', file]);
    const ours = await hashFile(file);
    expect(stdout.split(/\s+/)[0]).toBe(ours.hash);
    expect(ours.size).toBe(5 * 1024 * 1024 + 17);
  });
});

describe.each([
  ['kernel copy', {}],
  ['streaming copy', { kernelCopyMaxBytes: 0 }],
])('copyVerified (%s)', (_mode, mode) => {
  it('copies to every destination with the same content and hash', async () => {
    const source = path.join(dir, 'IMG_0001.JPG');
    const data = randomBytes(9 * 1024 * 1024);
    await writeFile(source, data);
    await mkdir(path.join(dir, 'a'));
    await mkdir(path.join(dir, 'b'));
    const targets = [path.join(dir, 'a', 'one.jpg'), path.join(dir, 'b', 'one.jpg')];
    const seen: number[] = [];
    const result = await copyVerified(source, targets, { ...mode, onBytes: (bytes) => seen.push(bytes) });
    expect(result).toEqual(await hashFile(source));
    for (const target of targets) expect((await readFile(target)).equals(data)).toBe(true);
    expect(seen.reduce((a, b) => a + b, 0)).toBe(data.length);
    expect(await readdir(path.join(dir, 'a'))).toEqual(['one.jpg']);
  });

  it('leaves no file at all when a destination cannot be written', async () => {
    const source = path.join(dir, 'IMG_0002.JPG');
    await writeFile(source, randomBytes(1024));
    await mkdir(path.join(dir, 'ok'));
    await mkdir(path.join(dir, 'blocked'));
    const targets = [path.join(dir, 'ok', 'x.jpg'), path.join(dir, 'blocked', 'x.jpg')];
    // A folder where the temporary file must go cannot be opened for writing, even by root.
    await mkdir(tempPathFor(targets[1]!));
    await expect(copyVerified(source, targets, mode)).rejects.toMatchObject({ name: 'AppError' });
    expect(await readdir(path.join(dir, 'ok'))).toEqual([]);
  });

  it('reports a source that vanished as not found', async () => {
    await expect(copyVerified(path.join(dir, 'gone.jpg'), [path.join(dir, 'x.jpg')], mode)).rejects.toMatchObject({ code: 'not-found' });
  });

  it('refuses a source whose content no longer matches what was hashed before', async () => {
    const source = path.join(dir, 'IMG_0003.JPG');
    await writeFile(source, randomBytes(2048));
    const before = await hashFile(source);
    await writeFile(source, randomBytes(2048));
    await expect(copyVerified(source, [path.join(dir, 'x.jpg')], { ...mode, expectedHash: before.hash })).rejects.toThrow(/changed since it was first read/);
    expect(await readdir(dir)).toEqual(['IMG_0003.JPG']);
  });

  it('stops at once when cancelled, leaving nothing behind', async () => {
    const source = path.join(dir, 'big.mov');
    await writeFile(source, randomBytes(32 * 1024 * 1024));
    const controller = new AbortController();
    const copy = copyVerified(source, [path.join(dir, 'copy.mov')], {
      ...mode,
      signal: controller.signal,
      onBytes: () => controller.abort(),
    });
    await expect(copy).rejects.toMatchObject({ code: 'cancelled' });
    expect(await readdir(dir)).toEqual(['big.mov']);
  });
});

describe('writeFileAtomic', () => {
  it('replaces a file whole', async () => {
    const file = path.join(dir, 'manifest.xxh128');
    await writeFile(file, 'old');
    await writeFileAtomic(file, 'new content');
    expect(await readFile(file, 'utf8')).toBe('new content');
    expect(await readdir(dir)).toEqual(['manifest.xxh128']);
  });
});
