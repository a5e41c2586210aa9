import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crashCycles, sourceHashes } from '../test/import-crash.ts';
import { makeJpeg, tempDir, type TempDir } from '../test/fixtures.ts';

// The real CLI in a real process, killed with SIGKILL at random moments. `npm run soak:import` runs the same
// cycles a thousand times; the suite keeps a handful so it stays fast. Set KEEPSAKE_CRASH_SEED to replay.
const KILLS = Number(process.env.KEEPSAKE_CRASH_KILLS ?? 10);
const SEED = Number(process.env.KEEPSAKE_CRASH_SEED ?? Date.now() % 100_000);

let dir: TempDir;
let files: string[];
beforeAll(async () => {
  dir = await tempDir('keepsake-crash-');
  files = [];
  for (let i = 0; i < 60; i += 1) {
    const folder = i < 30 ? '100CANON' : '101CANON';
    files.push(await makeJpeg(dir.join('card', 'DCIM', folder, `IMG_${String(i).padStart(4, '0')}.JPG`), { seed: i, width: 1024, height: 768, quality: 95 }));
  }
}, 120_000);
afterAll(async () => {
  await dir.cleanup();
});

describe('import after kill -9', () => {
  it(`loses, duplicates and half-writes nothing across ${KILLS} kills at random moments (seed ${SEED})`, async () => {
    const source = await sourceHashes(files);
    // The process needs ~0.4 s to start and ~0.6 s to import this card: kills land before, during and near the end.
    const result = await crashCycles({ card: dir.join('card'), workDir: dir.path, source, kills: KILLS, seed: SEED, delayMs: [300, 1400] });
    expect(result.problems, `seed ${SEED}`).toEqual([]);
    expect(result.kills).toBe(KILLS);
  }, 300_000);
});
