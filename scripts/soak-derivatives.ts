// Kills the job queue (`keepsake status --wait`) with SIGKILL at random moments, many times, checking after
// every kill that no derivative is half-written under its final name, then lets it finish and checks that
// every photo has its thumbnails and every job ran to completion exactly once.
// Usage: npm run soak:derivatives -- [--kills 200] [--photos 60] [--seed N]
import { parseArgs } from 'node:util';
import { Catalog } from '../app/catalog/catalog.ts';
import { main } from '../app/cli/main.ts';
import { seededRandom } from '../app/shared/random.ts';
import { checkDerivativeCache, runQueueProcess } from '../app/test/derivatives-crash.ts';
import { makeJpeg, tempDir } from '../app/test/fixtures.ts';

const { values } = parseArgs({
  options: { kills: { type: 'string', default: '200' }, photos: { type: 'string', default: '60' }, seed: { type: 'string' } },
});
const kills = Number(values.kills);
const photos = Number(values.photos);
const seed = Number(values.seed ?? Date.now() % 1_000_000);
const dir = await tempDir('keepsake-soak-derivatives-');
let failed = false;
try {
  for (let i = 0; i < photos; i++) {
    await makeJpeg(dir.join('card', 'DCIM', '100CANON', `IMG_${String(i).padStart(4, '0')}.JPG`), { seed: i, width: 2000, height: 1333, quality: 92 });
  }
  const library = dir.join('library');
  const silent = { out: () => undefined, err: () => undefined, isTTY: false };
  if ((await main(['import', dir.join('card'), '--event', 'Soak', '--library', library, '--no-wait'], silent)) !== 0) throw new Error('the import failed');
  const random = seededRandom(seed);
  for (let kill = 1; kill <= kills; kill++) {
    // Between kills, take a few finished thumbnails away so the queue always has work to be killed in.
    const catalog = Catalog.open(library, { create: false });
    catalog.jobs.retryFailed();
    catalog.db.prepare("UPDATE jobs SET state = 'queued' WHERE kind = 'thumbs' AND state = 'done' AND asset_id % 7 = @n").run({ n: kill % 7 });
    catalog.db.prepare('UPDATE assets SET thumbhash = NULL WHERE id % 7 = @n').run({ n: kill % 7 });
    catalog.close();
    await runQueueProcess(library, 600 + Math.floor(random() * 1500));
    const cache = await checkDerivativeCache(library);
    if (cache.broken.length > 0) throw new Error(`after kill ${kill}: half-written derivatives under their final name: ${cache.broken.join(', ')}`);
    if (kill % 10 === 0) console.log(`${kill}/${kills} kills: no half-written derivative`);
  }
  const last = await runQueueProcess(library, null);
  if (last.code !== 0) throw new Error(`the last run exited with ${last.code}: ${last.stderr}`);
  const cache = await checkDerivativeCache(library);
  const catalog = Catalog.open(library, { create: false });
  try {
    const counts = catalog.jobs.counts('thumbs');
    const missing = catalog.db.prepare('SELECT count(*) AS n FROM assets WHERE thumbhash IS NULL').get() as { n: number };
    const problems = [
      ...(cache.broken.length ? [`${cache.broken.length} broken derivatives`] : []),
      ...(cache.temps.length ? [`${cache.temps.length} temporary files left`] : []),
      ...(counts.queued + counts.running + counts.failed ? [`jobs not finished: ${JSON.stringify(counts)}`] : []),
      ...(missing.n ? [`${missing.n} assets without a placeholder`] : []),
    ];
    if (problems.length) throw new Error(problems.join('; '));
    console.log(`soak passed: ${kills} kills, ${photos} photos, seed ${seed}`);
  } finally {
    catalog.close();
  }
} catch (error) {
  failed = true;
  console.error(`soak failed (seed ${seed}): ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await dir.cleanup();
}
process.exitCode = failed ? 1 : 0;
