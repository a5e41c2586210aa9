import { describe, expect, it } from 'vitest';
import { Catalog } from '../../catalog/catalog.ts';
import { main } from '../../cli/main.ts';
import { seededRandom } from '../../shared/random.ts';
import { checkDerivativeCache, runQueueProcess } from '../../test/derivatives-crash.ts';
import { makeJpeg, useTempDir } from '../../test/fixtures.ts';

const PHOTOS = 20;
const KILLS = 5;

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
      const result = await runQueueProcess(library, 700 + Math.floor(random() * 1200));
      if (result.killed) killedMidway++;
      const cache = await checkDerivativeCache(library);
      expect(cache.broken, `after kill ${kill + 1}`).toEqual([]);
    }
    expect(killedMidway, 'the kills landed while the queue was being worked').toBeGreaterThan(0);

    const last = await runQueueProcess(library, null);
    expect(last.code, last.stderr).toBe(0);
    const cache = await checkDerivativeCache(library);
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
