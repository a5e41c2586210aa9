import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { isTempFile } from '../fs/durable-files.ts';
import { cacheRoot } from '../media/derivatives/derivative-paths.ts';

const BIN = fileURLToPath(new URL('../../bin/keepsake.mjs', import.meta.url));

/** Runs `keepsake status --wait` (which works the job queue) and kills it with SIGKILL after `ms`, unless it ends first. */
export function runQueueProcess(library: string, killAfterMs: number | null): Promise<{ code: number | null; killed: boolean; stderr: string }> {
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

/** What the derivative cache holds: files under final names, temporary files, and final files that do not decode whole. */
export interface CacheState {
  finals: string[];
  temps: string[];
  broken: string[];
}

/** Every file under a final name in the cache must decode whole: a half-written derivative only ever has a temporary name. */
export async function checkDerivativeCache(library: string): Promise<CacheState> {
  const state: CacheState = { finals: [], temps: [], broken: [] };
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(file);
      else if (isTempFile(entry.name)) state.temps.push(file);
      else {
        state.finals.push(file);
        // failOn 'warning' also rejects a file cut short that a lenient decoder would still draw.
        const ok = await sharp(file, { failOn: 'warning' }).stats().then(() => true, () => false);
        if (!ok) state.broken.push(file);
      }
    }
  };
  await walk(cacheRoot(library));
  return state;
}
