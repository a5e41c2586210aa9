// Kills a real `keepsake import` with SIGKILL at random moments, many times, checking after every kill that
// nothing was lost, duplicated or left half-written, then lets it finish and checks the library is complete.
// Usage: npm run soak:import -- [--kills 1000] [--photos 120] [--seed N]
import { parseArgs } from 'node:util';
import { crashCycles, sourceHashes } from '../app/test/import-crash.ts';
import { makeJpeg, tempDir } from '../app/test/fixtures.ts';

const { values } = parseArgs({
  options: { kills: { type: 'string', default: '1000' }, photos: { type: 'string', default: '120' }, seed: { type: 'string' } },
});
const kills = Number(values.kills);
const photos = Number(values.photos);
const seed = Number(values.seed ?? Date.now() % 1_000_000);
const dir = await tempDir('keepsake-soak-');
try {
  const files: string[] = [];
  for (let i = 0; i < photos; i += 1) {
    const folder = `${100 + Math.floor(i / 250)}CANON`;
    files.push(await makeJpeg(dir.join('card', 'DCIM', folder, `IMG_${String(i).padStart(4, '0')}.JPG`), { seed: i, width: 1600, height: 1200, quality: 95 }));
  }
  const source = await sourceHashes(files);
  const result = await crashCycles({
    card: dir.join('card'),
    workDir: dir.path,
    source,
    kills,
    seed,
    delayMs: [300, 300 + Math.max(1000, photos * 15)],
    onKill: (done) => {
      if (done % 25 === 0) console.log(`${done}/${kills} kills: invariants hold`);
    },
  });
  if (result.problems.length > 0) fail(result.problems.join('\n'));
  console.log(`${result.kills} kills over ${result.cycles} import(s) of ${photos} photos (seed ${seed}): nothing lost, duplicated or half-written`);
} finally {
  await dir.cleanup();
}

function fail(message: string): never {
  console.error(`${message}\n(replay with --seed ${seed})`);
  process.exit(1);
}
