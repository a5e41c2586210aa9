import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../../catalog/catalog.ts';
import { main } from '../../cli/main.ts';
import { seededRandom } from '../../shared/random.ts';
import { makeJpeg, useTempDir } from '../../test/fixtures.ts';
import { isTempFile } from '../../ingest/verified-copy.ts';
import { cacheRoot } from './derivative-paths.ts';

const BIN = fileURLToPath(new URL('../../../bin/keepsake.mjs', import.meta.url));
const PHOTOS = 20;
const KILLS = 5;

/** Runs `keepsake status --wait` (which works the job queue) and kills it with SIGKILL after `ms`, unless it ends first. */
function workQueue(library: string, killAfterMs: number | null): Promise<{ code: number | null; killed: boolean; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'status', '--wait', '--json', '--library', library], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let killed = false;
    const timer = killAfterMs === null ? null : setTimeout(() => (killed = child.kill('SIGKILL')), killAfterMs);
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, killed, stderr });
    });
  });
}

/** Every file under a final name in the cache decodes whole: a half-written derivative only ever has a temporary name. */
async function checkCache(library: string): Promise<{ finals: string[]; temps: string[]; broken: string[] }> {
  const finals: string[] = [];
  const temps: string[] = [];
  const broken: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(file);
      else if (isTempFile(entry.name)) temps.push(file);
      else {
        finals.push(file);
        // failOn 'warning' also rejects a file cut short that a lenient decoder would still draw.
        const ok = await sharp(file, { failOn: 'warning' }).stats().then(() => true, () => false);
        if (!ok) broken.push(file);
      }
    }
  };
  await walk(cacheRoot(library));
  return { finals, temps, broken };
}

describe('derivatives after kill -9', () => {
  it('are never half-written under their final name, and every job runs to completion once', async () => {
    const dir = await useTempDir('keepsake-derive-crash-');
    for (let i = 0; i < PHOTOS; i++) {
      await makeJpeg(dir.join('card', 'DCIM', '100CANON', `IMG_${String(i).padStart(4, '0')}.JPG`), { seed: i, width: 2000, height: 1333, quality: 92 });
    }
    const library = dir.join('library');
    const silent = { out: () => undefined, err: () => undefined, isTTY: false };
    expect(await main(['import', dir.join('card'), '--event', 'Sports Day', '--library', library, '--no-wait'], silent)).toBe(0);

    const random = seededRandom(Number(process.env.KEEPSAKE_CRASH_SEED ?? 7));
    let killedMidway = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      const result = await workQueue(library, 700 + Math.floor(random() * 1200));
      if (result.killed) killedMidway++;
      const cache = await checkCache(library);
      expect(cache.broken, `after kill ${kill + 1}`).toEqual([]);
    }
    expect(killedMidway, 'the kills landed while the queue was being worked').toBeGreaterThan(0);

    const last = await workQueue(library, null);
    expect(last.code, last.stderr).toBe(0);
    const cache = await checkCache(library);
    expect(cache.broken).toEqual([]);
    // A temporary file is rewritten and renamed when its job runs again, so none outlives the queue.
    expect(cache.temps).toEqual([]);
    const catalog = Catalog.open(library, { create: false });
    try {
      const assets = catalog.assets.listTimelinePage({ limit: 100 }).items;
      expect(assets).toHaveLength(PHOTOS);
      expect(assets.filter((asset) => asset.thumbhash === null)).toEqual([]);
      expect(cache.finals).toHaveLength(PHOTOS * 2);
      expect(catalog.jobs.counts('thumbs')).toMatchObject({ done: PHOTOS, queued: 0, running: 0, failed: 0 });
      expect([...catalog.jobs.completionsPerAsset('thumbs').values()].every((count) => count === 1)).toBe(true);
    } finally {
      catalog.close();
    }
  }, 120_000);
});
