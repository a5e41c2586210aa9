/**
 * Builds the renderer into `renderer/dist/`: `index.html`, `app.js` (one ES module, minified) and
 * `app.css`. Both hosts serve this folder as it is: the web host over HTTP, Electron through its
 * `keepsake://app/` protocol. Run with `npm run build -w renderer` (`--watch` rebuilds on change, `--outdir DIR` builds elsewhere).
 */
import { copyFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.dirname(fileURLToPath(import.meta.url));
const outFlag = process.argv.indexOf('--outdir');
/** `renderer/dist`, or the folder given with `--outdir` (tests build into their own). */
const outdir = outFlag > 0 && process.argv[outFlag + 1] ? path.resolve(process.argv[outFlag + 1]!) : path.join(root, 'dist');

/** The esbuild options of the renderer's bundle. */
export const BUILD_OPTIONS: esbuild.BuildOptions = {
  entryPoints: { app: path.join(root, 'src/main.tsx') },
  bundle: true,
  format: 'esm',
  target: ['chrome120'],
  platform: 'browser',
  minify: true,
  sourcemap: 'linked',
  jsx: 'automatic',
  outdir,
  define: { 'process.env.NODE_ENV': '"production"' },
  loader: { '.css': 'css' },
  legalComments: 'none',
  logLevel: 'warning',
};

async function main(): Promise<void> {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  await copyFile(path.join(root, 'index.html'), path.join(outdir, 'index.html'));
  if (process.argv.includes('--watch')) {
    const context = await esbuild.context(BUILD_OPTIONS);
    await context.watch();
    return;
  }
  const result = await esbuild.build({ ...BUILD_OPTIONS, metafile: true });
  const bytes = Object.values(result.metafile?.outputs ?? {}).reduce((sum, output) => sum + output.bytes, 0);
  process.stdout.write(`renderer built into ${path.relative(process.cwd(), outdir) || '.'} (${Math.round(bytes / 1024)} KiB)\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
