import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Catalog } from '../catalog/catalog.ts';
import { catalogPath } from '../catalog/database.ts';
import { hashFile } from '../ingest/content-hash.ts';
import { isTempFile } from '../fs/durable-files.ts';
import { seededRandom } from '../shared/random.ts';

const BIN = fileURLToPath(new URL('../../bin/keepsake.mjs', import.meta.url));


/** Runs `keepsake import` as a real process; kills it with SIGKILL after `killAfterMs` unless it ends first. */
export function runImportProcess(
  args: { card: string; library: string; event: string },
  killAfterMs: number | null,
): Promise<{ code: number | null; killed: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'import', args.card, '--event', args.event, '--library', args.library, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let killed = false;
    const timer = killAfterMs === null ? null : setTimeout(() => {
      killed = child.kill('SIGKILL');
    }, killAfterMs);
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, killed, stdout, stderr });
    });
  });
}

/** The hashes of every media file of a source, by hash → paths. */
export async function sourceHashes(files: readonly string[]): Promise<Map<string, string[]>> {
  const map = new Map<string, string[]>();
  for (const file of files) {
    const { hash } = await hashFile(file);
    map.set(hash, [...(map.get(hash) ?? []), file]);
  }
  return map;
}

/**
 * Checks what must hold after a crash at any point: the catalog opens cleanly; every asset's file is there
 * with the recorded content; every file under a final name in the event folder is either an asset or a copy
 * whose destination an unfinished item has reserved; and every such file is a byte-exact copy of a source file.
 * Returns a list of violations (empty when all hold).
 */
export async function checkCrashInvariants(library: string, eventFolder: string, source: Map<string, string[]>): Promise<string[]> {
  const problems: string[] = [];
  // Killed before the library was even created: nothing happened, which is fine.
  if (!(await stat(catalogPath(library)).then(() => true, () => false))) return problems;
  const catalog = Catalog.open(library, { create: false });
  try {
    if (catalog.damage) problems.push(`catalog damaged: ${catalog.damage}`);
    const assets = catalog.db.prepare('SELECT id, hash, path FROM assets').all() as Array<{ id: number; hash: string; path: string }>;
    const paths = new Set<string>();
    for (const asset of assets) {
      if (paths.has(asset.path)) problems.push(`two assets share ${asset.path}`);
      paths.add(asset.path);
      const file = path.join(library, asset.path);
      const present = await stat(file).then(() => true, () => false);
      if (!present) {
        problems.push(`asset ${asset.id} has no file at ${asset.path}`);
        continue;
      }
      const { hash } = await hashFile(file);
      if (hash !== asset.hash) problems.push(`asset ${asset.id} at ${asset.path} does not hold the content recorded`);
      if (!source.has(hash)) problems.push(`asset ${asset.id} holds content that is on no source file`);
    }
    const reserved = new Set(
      (catalog.db.prepare("SELECT dest_path FROM import_items WHERE state = 'copying' AND dest_path IS NOT NULL").all() as Array<{ dest_path: string }>).map(
        (row) => row.dest_path,
      ),
    );
    const dir = path.join(library, eventFolder);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (isTempFile(name) || /\.(xmp|thm)$/i.test(name) || name.endsWith('.xxh128')) continue;
      const relative = path.join(eventFolder, name);
      if (!paths.has(relative) && !reserved.has(relative)) problems.push(`${relative} is neither an asset nor a reserved copy`);
      const { hash } = await hashFile(path.join(dir, name));
      if (!source.has(hash)) problems.push(`${relative} is not a complete copy of any source file`);
    }
  } finally {
    catalog.close();
  }
  return problems;
}

/** After the final, uninterrupted run: every distinct source content is in the library exactly once. */
export async function checkComplete(library: string, eventFolder: string, source: Map<string, string[]>): Promise<string[]> {
  const problems: string[] = [];
  const catalog = Catalog.open(library, { create: false });
  try {
    const hashes = (catalog.db.prepare('SELECT hash FROM assets').pluck().all() as string[]).sort();
    const expected = [...source.keys()].sort();
    if (JSON.stringify(hashes) !== JSON.stringify(expected)) {
      problems.push(`library holds ${hashes.length} distinct contents, the source ${expected.length}`);
    }
    const names = await readdir(path.join(library, eventFolder));
    const temps = names.filter(isTempFile);
    if (temps.length > 0) problems.push(`temporary files left: ${temps.join(', ')}`);
    const media = names.filter((name) => !isTempFile(name) && !/\.(xmp|thm|xxh128)$/i.test(name));
    if (media.length !== expected.length) problems.push(`event folder holds ${media.length} media files, expected ${expected.length}`);
  } finally {
    catalog.close();
  }
  return problems;
}

/** What {@link crashCycles} did. */
export interface CrashCyclesResult {
  kills: number;
  cycles: number;
  problems: string[];
}

/**
 * Imports `card` into fresh libraries under `workDir`, killing the process at random moments `kills` times in
 * all: after every kill the crash invariants are checked, and whenever a run gets to finish, the library must
 * be complete; the next cycle then starts from an empty library so every kill lands on real work.
 */
export async function crashCycles(options: {
  card: string;
  workDir: string;
  source: Map<string, string[]>;
  kills: number;
  seed: number;
  /** Kill delays are drawn from [min, max) ms after the process starts. */
  delayMs: [number, number];
  onKill?: (done: number) => void;
}): Promise<CrashCyclesResult> {
  const random = seededRandom(options.seed);
  const [min, max] = options.delayMs;
  let kills = 0;
  let cycles = 0;
  while (kills < options.kills) {
    cycles += 1;
    const args = { card: options.card, library: path.join(options.workDir, `library-${cycles}`), event: 'Sports Day' };
    for (;;) {
      const delay = kills < options.kills ? min + Math.floor(random() * (max - min)) : null;
      const result = await runImportProcess(args, delay);
      if (!result.killed) {
        const complete = await checkComplete(args.library, 'Sports Day', options.source);
        if (result.code !== 0) complete.push(`the import ended with exit code ${result.code}: ${result.stderr}`);
        if (complete.length > 0) return { kills, cycles, problems: complete.map((p) => `cycle ${cycles}: ${p}`) };
        break;
      }
      kills += 1;
      options.onKill?.(kills);
      const problems = await checkCrashInvariants(args.library, 'Sports Day', options.source);
      if (problems.length > 0) return { kills, cycles, problems: problems.map((p) => `kill ${kills} at ${delay} ms: ${p}`) };
    }
  }
  return { kills, cycles, problems: [] };
}
