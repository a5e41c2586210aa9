import { execFile, spawn } from 'node:child_process';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeCameraCard } from '../test/camera-card.ts';
import { makeJpeg, tempDir, type TempDir } from '../test/fixtures.ts';
import { openEngine } from '../engine.ts';
import { EXIT, main, type Io } from './main.ts';

const BIN = fileURLToPath(new URL('../../bin/keepsake.mjs', import.meta.url));
const exec = promisify(execFile);

let dir: TempDir;
beforeEach(async () => {
  dir = await tempDir('keepsake-cli-');
});
afterEach(async () => {
  await dir.cleanup();
});

// JSON as a script reads it: the assertions below name the fields they expect.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** Runs the CLI in-process and captures what a person (or a script) would read. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string; json: () => Json }> {
  let out = '';
  let err = '';
  const io: Io = { out: (text) => (out += text), err: (text) => (err += text), isTTY: false };
  const code = await main(argv, io);
  return { code, out, err, json: () => JSON.parse(out) };
}

describe('keepsake CLI', () => {
  it('creates a library, imports a card and reports what it did as JSON', async () => {
    const library = dir.join('library');
    const card = await makeCameraCard(dir.join('card'));
    expect((await cli('init', library, '--json')).json()).toEqual({ library, created: true });

    const imported = await cli('import', card.root, '--event', 'Sports Day', '--library', library, '--json');
    expect(imported.code).toBe(EXIT.partial); // the zero-byte file failed
    const report = imported.json();
    expect(report.imported).toHaveLength(card.media.length);
    expect(report.duplicates).toHaveLength(1);
    expect(report.failed).toEqual([{ source: card.broken[0], reason: expect.stringMatching(/empty/) }]);
    // Every photo and the video got their thumbnails (and the video its proxy) before the command returned;
    // the truncated JPEG, imported as the photographer's file, is the one that could not be drawn.
    expect(report.derivatives).toEqual({
      finished: true,
      made: { thumbs: card.media.length - 1, proxy: 1 },
      failed: [{ kind: 'thumbs', path: expect.stringMatching(/IMG_9001\.jpg$/i), error: 'truncated JPEG' }],
    });
    const engine = await openEngine({ libraryPath: library, create: false });
    try {
      const assets = engine.catalog.assets.listTimelinePage({ limit: 100 }).items;
      for (const asset of assets.filter((item) => item.status === 'ok')) {
        expect(asset.thumbhash, asset.path).not.toBeNull();
        for (const variant of engine.derivatives.variantsOf(asset)) {
          expect((await stat(engine.derivatives.pathOf(asset, variant))).size, `${asset.path} ${variant}`).toBeGreaterThan(0);
        }
      }
      expect(assets.filter((item) => item.status === 'unreadable').map((item) => item.error)).toEqual(['unreadable: truncated JPEG']);
    } finally {
      await engine.close();
    }

    const status = await cli('status', '--library', library, '--json');
    expect(status.code).toBe(EXIT.ok);
    expect(status.json()).toMatchObject({ assets: card.media.length, events: 1, unreadable: 1, missing: 0 });
    expect(status.json().jobs).toMatchObject({ thumbs: { queued: 0, running: 0, failed: 1 }, proxy: { queued: 0, running: 0, done: 1 } });

    const events = await cli('events', '--library', library);
    expect(events.out).toMatch(/2026-05-14\s+Sports Day\s+\d+ photos, 1 video\b/);
  });

  it('prints a plain report and plain progress lines when not on a terminal', async () => {
    const library = dir.join('library');
    await makeJpeg(dir.join('folder', 'a.jpg'), { seed: 1 });
    const result = await cli('import', dir.join('folder'), '--event', 'Play', '--library', library);
    expect(result.code).toBe(EXIT.ok);
    expect(result.out).toMatch(/^Imported 1 file\(s\) \(.+\) into "Play"/);
    expect(result.err).toMatch(/^import: 1\/1 files/m);
  });

  it('words each waiting queue for what it is: thumbnails to make, uploads to send', async () => {
    const library = dir.join('library');
    await makeJpeg(dir.join('folder', 'a.jpg'), { seed: 2 });
    expect((await cli('import', dir.join('folder'), '--event', 'Play', '--library', library, '--no-wait')).code).toBe(EXIT.ok);
    const engine = await openEngine({ libraryPath: library, create: false });
    try {
      const [asset] = engine.catalog.assets.listTimelinePage({ limit: 1 }).items;
      engine.catalog.jobs.enqueue('publish', asset!.id);
    } finally {
      await engine.close();
    }
    const report = await cli('status', '--library', library);
    expect(report.out).toMatch(/^Thumbnails and previews: 1 to make, 0 failed \(keepsake status --wait makes them\)$/m);
    expect(report.out).toMatch(/^Uploads: 1 to send, 0 failed \(keepsake start or status --wait sends them; keepsake uploads lists them\)$/m);
    expect(report.out).not.toMatch(/publish: 1 to make/);
  });

  it('searches the library', async () => {
    const library = dir.join('library');
    const card = await makeCameraCard(dir.join('card'));
    await cli('import', card.root, '--event', 'Sports Day', '--library', library);
    const found = await cli('search', 'tag:relay', '--library', library, '--json');
    expect(found.code).toBe(EXIT.ok);
    expect(found.json().items.map((asset: { originalName: string }) => asset.originalName)).toEqual(['IMG_0001.JPG']);
    const bad = await cli('search', 'rating>=9', '--library', library);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toMatch(/rating/);
  });

  it('imports a roster', async () => {
    const library = dir.join('library');
    await cli('init', library);
    const csv = dir.join('roster.csv');
    await writeFile(csv, 'Name,Class,Family email,Publish\nAna Lima,4B,lima@example.org,yes\n,4B,,\n');
    const result = await cli('roster', 'import', csv, '--library', library, '--json');
    expect(result.code).toBe(EXIT.partial);
    expect(result.json()).toMatchObject({ created: 1, errors: [{ line: 3 }] });
  });

  it('says what is wrong, with exit codes scripts can rely on', async () => {
    const missing = await cli('status', '--library', dir.join('nowhere'));
    expect(missing.code).toBe(EXIT.notFound);
    expect(missing.err).toMatch(/There is no Keepsake library at .*keepsake init/);

    const noEvent = await cli('import', dir.path, '--library', dir.join('lib'));
    expect(noEvent.code).toBe(EXIT.usage);
    expect(noEvent.err).toMatch(/--event "Sports Day"/);

    const badTemplate = await cli('import', dir.path, '--event', 'X', '--rename', '{nope}', '--library', dir.join('lib'), '--json');
    expect(badTemplate.code).toBe(EXIT.usage);
    expect(badTemplate.json()).toEqual({ error: { code: 'invalid-input', message: expect.stringMatching(/unknown token "\{nope\}"/) } });

    const noCard = await cli('import', dir.join('no-card'), '--event', 'X', '--library', dir.join('lib'));
    expect(noCard.code).toBe(EXIT.notFound);

    expect((await cli('frobnicate')).code).toBe(EXIT.usage);
    expect((await cli('import', '--bogus')).code).toBe(EXIT.usage);
  });

  it('follows the job queue with status --watch until stopped, and status --wait works it to the end', async () => {
    const library = dir.join('library');
    const card = await makeCameraCard(dir.join('card'));
    expect((await cli('import', card.root, '--event', 'Sports Day', '--library', library, '--no-wait')).code).toBe(EXIT.partial);
    const child = spawn(process.execPath, [BIN, 'status', '--watch', '--json', '--library', library], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 20_000;
      while (!out.includes('\n') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      const first = JSON.parse(out.split('\n')[0]!) as { jobs: Record<string, { queued: number }> };
      // Nothing works the queue yet: watching only reads it.
      expect(first.jobs).toMatchObject({ thumbs: { queued: card.media.length }, proxy: { queued: 1 } });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    const waited = await cli('status', '--wait', '--json', '--library', library);
    expect(waited.code).toBe(EXIT.partial); // the truncated JPEG cannot be drawn
    expect(waited.json().jobs).toMatchObject({ thumbs: { queued: 0, running: 0, done: card.media.length - 1, failed: 1 }, proxy: { queued: 0, done: 1 } });
  });

  it('runs as the package bin with KEEPSAKE_LIBRARY choosing the library', async () => {
    const library = dir.join('from-env');
    const { stdout } = await exec(process.execPath, [BIN, 'init', '--json'], { env: { ...process.env, KEEPSAKE_LIBRARY: library } });
    expect(JSON.parse(stdout)).toEqual({ library: path.resolve(library), created: true });
    const help = await exec(process.execPath, [BIN, '--help']);
    expect(help.stdout).toMatch(/Usage: keepsake <command>/);
  });
});
