import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// Builds the Electron shell: main → dist/main/main.cjs, the preload → dist/preload/preload.cjs (a sandboxed preload
// must be one CommonJS file that requires nothing but electron), and the engine's utility-process entry →
// dist/engine/engine-process.mjs with the two worker scripts it starts beside it. The renderer is built by its own
// workspace (npm run build -w renderer).

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// Electron 45 runs Node 22 in the main and utility processes, Chromium 140 in the preload.
const NODE_TARGET = 'node22';
const CHROME_TARGET = 'chrome140';
const WORKERS = ['app/catalog/integrity.worker.mjs', 'app/media/derivatives/heic.worker.mjs'];

/** What a build wrote, for checks. */
export interface DesktopBuild {
  main: string;
  preload: string;
  engine: string;
  workers: string[];
}

/** Modules a CommonJS bundle requires at run time. */
export function requiredModules(code: string): string[] {
  return [...new Set([...code.matchAll(/\brequire\(["']([^"']+)["']\)/g)].map((match) => match[1]!))].sort();
}

/** Builds the three bundles into `outDir` (default dist/) and refuses a preload that would require anything but electron. */
export async function buildDesktop(outDir = path.join(ROOT, 'dist')): Promise<DesktopBuild> {
  const out: DesktopBuild = {
    main: path.join(outDir, 'main', 'main.cjs'),
    preload: path.join(outDir, 'preload', 'preload.cjs'),
    engine: path.join(outDir, 'engine', 'engine-process.mjs'),
    workers: WORKERS.map((worker) => path.join(outDir, 'engine', path.basename(worker))),
  };
  const common = { bundle: true, sourcemap: 'linked', logLevel: 'warning', absWorkingDir: ROOT, legalComments: 'none' } as const;
  await Promise.all([
    // Dependencies stay in node_modules (packed into app.asar); only the shell's own code is bundled.
    build({ ...common, entryPoints: ['main/main.ts'], outfile: out.main, platform: 'node', format: 'cjs', target: NODE_TARGET, packages: 'external', external: ['electron'] }),
    build({ ...common, entryPoints: ['preload/preload.ts'], outfile: out.preload, platform: 'node', format: 'cjs', target: CHROME_TARGET, external: ['electron'] }),
    build({ ...common, entryPoints: ['app/ipc/engine-process.entry.ts'], outfile: out.engine, platform: 'node', format: 'esm', target: NODE_TARGET, packages: 'external' }),
  ]);
  await mkdir(path.dirname(out.engine), { recursive: true });
  // The engine finds its workers next to itself (new URL('./x.worker.mjs', import.meta.url)).
  await Promise.all(WORKERS.map((worker, i) => copyFile(path.join(ROOT, worker), out.workers[i]!)));
  const preloadRequires = requiredModules(await readFile(out.preload, 'utf8'));
  if (preloadRequires.some((name) => name !== 'electron')) throw new Error(`The preload must require nothing but electron; it requires ${preloadRequires.join(', ')}.`);
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const built = await buildDesktop(process.argv[2] ? path.resolve(process.argv[2]) : undefined);
  console.log(`Built ${path.relative(ROOT, built.main)}, ${path.relative(ROOT, built.preload)} and ${path.relative(ROOT, built.engine)}.`);
}
