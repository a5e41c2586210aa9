import { fork } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDesktop, requiredModules, type DesktopBuild } from '../../scripts/build-desktop.ts';
import { createEngineClient, type MessageEnd, type ToEngine } from '../ipc/engine-channel.ts';
import { makeJpeg, tempDir, type TempDir } from '../test/fixtures.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let out: string;
let built: DesktopBuild;
let dir: TempDir;

beforeAll(async () => {
  // Inside the repository, so the bundles resolve node_modules as they do from app.asar.
  await mkdir(path.join(ROOT, 'dist'), { recursive: true });
  out = await mkdtemp(path.join(ROOT, 'dist', 'build-check-'));
  built = await buildDesktop(out);
  dir = await tempDir('keepsake-bundle-');
}, 60_000);

afterAll(async () => {
  await rm(out, { recursive: true, force: true });
  await dir.cleanup();
});

describe(buildDesktop.name, () => {
  it('bundles a preload that requires nothing but electron', async () => {
    expect(requiredModules(await readFile(built.preload, 'utf8'))).toEqual(['electron']);
  });

  it('keeps the engine out of the main process: main loads no native module', async () => {
    const modules = requiredModules(await readFile(built.main, 'utf8'));
    expect(modules).toContain('electron');
    for (const native of ['better-sqlite3', 'sharp', 'fluent-ffmpeg', '@aws-sdk/client-s3', 'chokidar']) expect(modules).not.toContain(native);
  });

  it('builds an engine bundle that opens a library and imports photos under plain Node, workers included', async () => {
    await makeJpeg(dir.join('card', 'DCIM', 'IMG_0001.JPG'), { seed: 3, width: 320, height: 240 });
    const child = fork(built.engine, ['--library', dir.join('library')], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const end: MessageEnd<ToEngine> = {
      post: (message) => void child.send(message),
      listen: (listener) => {
        child.on('message', listener);
        return () => void child.off('message', listener);
      },
    };
    const client = createEngineClient(end);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await client.ready;
      const finished = new Promise<unknown>((resolve) => client.subscribe((event) => event.event === 'import:finished' && resolve(event.payload)));
      expect(await client.call('import:start', { source: dir.join('card'), event: 'Bundle Day' })).toMatchObject({ ok: true });
      expect(await finished).toMatchObject({ state: 'completed', imported: 1 });
      await client.close();
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    for (const worker of built.workers) expect(await readFile(worker, 'utf8')).toMatch(/parentPort/);
  }, 60_000);
});
