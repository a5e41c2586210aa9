/**
 * Builds the parents' gallery (`web/src`, plain TypeScript modules) with esbuild into `dist/web`:
 * `assets/<name>-<hash>.js|css` (and a `.gz` of each, served to browsers that accept gzip) and an
 * `index.html` naming them. Every file is written under a temporary name and renamed into place, the
 * shell last, so a build running beside another (two test processes, two instances on one volume) or
 * beside a server never shows a half-written file.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { SERVICE_ROOT } from '../config.ts';

/** The gallery's sources. */
export const WEB_ROOT = path.join(SERVICE_ROOT, 'web');
/**
 * Where the built gallery is served from: `sync-service/dist/web`, beside the sources rather than in
 * them, so the repository's lint and git ignore rules for build output (`sync-service/dist/**`) cover it.
 */
export const WEB_DIST = path.join(SERVICE_ROOT, 'dist', 'web');

/** What one build wrote. */
export interface GalleryBuild {
  /** The page's script and stylesheet, as paths under the dist folder (`assets/main-XXXX.js`). */
  script: string;
  style: string;
  /** Every asset written, with its size and its gzip size in bytes. */
  assets: Array<{ file: string; bytes: number; gzipBytes: number }>;
}

/** Every file the build reads: the sources, the page template and this file. */
function sourceFiles(): string[] {
  const files: string[] = [path.join(WEB_ROOT, 'index.html'), new URL(import.meta.url).pathname];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.push(full);
    }
  };
  walk(path.join(WEB_ROOT, 'src'));
  return files;
}

/** Whether `distDir` is missing or older than any source (the shell is written last, so its time is the build's). */
export function galleryIsStale(distDir: string = WEB_DIST): boolean {
  let built: number;
  try {
    built = fs.statSync(path.join(distDir, 'index.html')).mtimeMs;
  } catch {
    return true;
  }
  return sourceFiles().some((file) => fs.statSync(file).mtimeMs > built);
}

function writeAtomically(file: string, contents: string | Uint8Array): void {
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(temporary, contents);
  fs.renameSync(temporary, file);
}

/** Builds the gallery into `distDir` (default `dist/web`). */
export async function buildGallery(distDir: string = WEB_DIST): Promise<GalleryBuild> {
  const result = await build({
    entryPoints: { main: path.join(WEB_ROOT, 'src/main.ts'), styles: path.join(WEB_ROOT, 'src/styles.css') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    entryNames: 'assets/[name]-[hash]',
    outdir: distDir,
    write: false,
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  fs.mkdirSync(path.join(distDir, 'assets'), { recursive: true });
  const assets: GalleryBuild['assets'] = [];
  let script = '';
  let style = '';
  for (const output of result.outputFiles) {
    const relative = path.relative(distDir, output.path).split(path.sep).join('/');
    const gzip = gzipSync(output.contents, { level: 9 });
    writeAtomically(output.path, output.contents);
    writeAtomically(`${output.path}.gz`, gzip);
    assets.push({ file: relative, bytes: output.contents.length, gzipBytes: gzip.length });
    if (relative.endsWith('.js')) script = relative;
    if (relative.endsWith('.css')) style = relative;
  }
  if (script === '' || style === '') throw new Error('The gallery build made no script or no stylesheet.');
  const template = fs.readFileSync(path.join(WEB_ROOT, 'index.html'), 'utf8');
  const shell = template.replace('%STYLE%', `/${style}`).replace('%SCRIPT%', `/${script}`);
  writeAtomically(path.join(distDir, 'index.html'), shell);
  return { script, style, assets };
}

/** Builds when {@link galleryIsStale}; true when it did. */
export async function buildGalleryWhenStale(distDir: string = WEB_DIST): Promise<boolean> {
  if (!galleryIsStale(distDir)) return false;
  await buildGallery(distDir);
  return true;
}
