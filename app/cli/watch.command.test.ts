import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/catalog.ts';
import { makeJpeg, tempDir, type TempDir } from '../test/fixtures.ts';
import { waitFor } from '../test/watch-helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/keepsake.mjs', import.meta.url));

let dir: TempDir;
beforeEach(async () => {
  dir = await tempDir('keepsake-cli-watch-');
});
afterEach(async () => {
  await dir.cleanup();
});

describe('keepsake watch', () => {
  it('catalogues a file dropped into an event folder and exits cleanly on SIGTERM', async () => {
    const library = dir.join('library');
    const catalog = Catalog.open(library);
    catalog.events.create({ name: 'Sports Day', folder: 'Sports Day' });
    catalog.close();
    await mkdir(path.join(library, 'Sports Day'));

    const child = spawn(process.execPath, [BIN, 'watch', '--library', library, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const lines = (): Array<Record<string, unknown>> =>
      out
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    try {
      await waitFor(() => lines().some((line) => line.type === 'ready'), `the ready line (stderr: ${err})`, 20_000);
      expect(lines()[0]).toMatchObject({ type: 'ready', events: 1, files: 0 });
      await makeJpeg(path.join(library, 'Sports Day', 'IMG_0001.jpg'), { seed: 1, width: 160, height: 120 });
      const added = await waitFor(() => lines().find((line) => line.type === 'added'), 'the added line', 20_000);
      expect(added).toMatchObject({ type: 'added', path: path.join('Sports Day', 'IMG_0001.jpg'), event: 'Sports Day' });
      // The dropped photo gets its thumbnail and placeholder while the watch goes on.
      await waitFor(() => {
        const peek = Catalog.open(library, { create: false });
        try {
          return peek.assets.getByPath(path.join('Sports Day', 'IMG_0001.jpg'))[0]?.thumbhash ?? undefined;
        } finally {
          peek.close();
        }
      }, 'the thumbnail of the dropped file', 20_000);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    const after = Catalog.open(library, { create: false });
    try {
      expect(after.assets.getByPath(path.join('Sports Day', 'IMG_0001.jpg'))).toHaveLength(1);
    } finally {
      after.close();
    }
  });
});
