import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../test/fixtures.ts';
import { clearToolPathCache, findFfmpeg, findFfprobe, locateTool } from './ffmpeg-path.ts';

const run = promisify(execFile);

async function fakeTool(path: string, mode = 0o755): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, '#!/bin/sh\necho fake\n');
  await chmod(path, mode);
  return path;
}

const noPackage = (): undefined => undefined;

describe(locateTool.name, () => {
  it('uses FFPROBE_PATH when it points at a runnable file', async () => {
    const dir = await useTempDir('keepsake-ffmpeg-path-');
    const tool = await fakeTool(dir.join('custom', 'my-ffprobe'));
    const pathDir = dir.join('bin');
    await fakeTool(dir.join('bin', 'ffprobe'));
    expect(await locateTool('ffprobe', { env: { FFPROBE_PATH: tool, PATH: pathDir }, packageBinary: noPackage })).toEqual({ path: tool, source: 'env' });
  });

  it('reports an environment variable that points nowhere, naming it', async () => {
    const dir = await useTempDir('keepsake-ffmpeg-path-');
    await expect(locateTool('ffmpeg', { env: { FFMPEG_PATH: dir.join('missing') }, packageBinary: noPackage })).rejects.toMatchObject({ name: 'AppError', code: 'unsupported-media', message: expect.stringMatching(/^FFMPEG_PATH is set to ".*missing", but there is no runnable ffmpeg there/) });
  });

  it('prefers a binary shipped in an npm package over PATH', async () => {
    const dir = await useTempDir('keepsake-ffmpeg-path-');
    const shipped = await fakeTool(dir.join('node_modules', '@ffmpeg-installer', 'linux-x64', 'ffmpeg'));
    await fakeTool(dir.join('bin', 'ffmpeg'));
    const packageBinary = (name: string): string | undefined => (name === '@ffmpeg-installer/ffmpeg' ? shipped : undefined);
    expect(await locateTool('ffmpeg', { env: { PATH: dir.join('bin') }, packageBinary })).toEqual({ path: shipped, source: 'package' });
  });

  it('falls through when no package is installed', async () => {
    const dir = await useTempDir('keepsake-ffmpeg-path-');
    const onPath = await fakeTool(dir.join('bin', 'ffprobe'));
    expect(await locateTool('ffprobe', { env: { PATH: dir.join('bin') }, packageBinary: noPackage })).toEqual({ path: onPath, source: 'path' });
  });

  it('searches PATH in order, skipping relative entries and files that cannot run', async () => {
    const dir = await useTempDir('keepsake-ffmpeg-path-');
    await fakeTool(dir.join('a', 'ffmpeg'), 0o644);
    await mkdir(dir.join('b', 'ffmpeg'), { recursive: true });
    const runnable = await fakeTool(dir.join('c', 'ffmpeg'));
    await fakeTool(dir.join('d', 'ffmpeg'));
    const PATH = ['relative/bin', dir.join('a'), dir.join('b'), dir.join('c'), dir.join('d')].join(':');
    expect(await locateTool('ffmpeg', { env: { PATH }, platform: 'linux', packageBinary: noPackage })).toEqual({ path: runnable, source: 'path' });
  });

  it('finds ffmpeg.exe through Path and PATHEXT on Windows', async () => {
    const dir = await useTempDir('keepsake-ffmpeg-path-');
    const exe = await fakeTool(dir.join('bin', 'ffmpeg.exe'));
    const env = { Path: dir.join('bin'), PATHEXT: '.COM;.EXE' };
    expect(await locateTool('ffmpeg', { env, platform: 'win32', packageBinary: noPackage })).toEqual({ path: exe, source: 'path' });
  });

  it('explains how to install FFmpeg when it is nowhere', async () => {
    const dir = await useTempDir('keepsake-ffmpeg-path-');
    await expect(locateTool('ffprobe', { env: { PATH: dir.path }, packageBinary: noPackage })).rejects.toMatchObject({ name: 'AppError', code: 'unsupported-media', message: expect.stringMatching(/ffprobe was not found.*apt install ffmpeg.*FFPROBE_PATH/) });
  });
});

describe(findFfprobe.name, () => {
  it('finds the installed ffprobe and it runs', async () => {
    clearToolPathCache();
    const path = await findFfprobe();
    const { stdout } = await run(path, ['-version']);
    expect(stdout).toMatch(/^ffprobe version/);
  });

  it('returns the cached path on later calls', async () => {
    expect(findFfprobe()).toBe(findFfprobe());
    expect(await findFfprobe()).toBe(await findFfprobe());
  });
});

describe(findFfmpeg.name, () => {
  it('finds the installed ffmpeg and it runs', async () => {
    const { stdout } = await run(await findFfmpeg(), ['-version']);
    expect(stdout).toMatch(/^ffmpeg version/);
  });
});
