import type { Dirent, Stats } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { AppError, toAppError } from '../shared/errors.ts';
import { MEDIA_EXTENSIONS, type SniffedFormat, sniffFormat } from './formats.ts';

/** A metadata file that travels with a photo or video: Lightroom/darktable XMP, or a camera's THM thumbnail. */
export interface Sidecar {
  path: string;
  kind: 'xmp' | 'thm';
}

/** A photo, RAW or video found in a source, with what its bytes say it is. */
export interface ScannedFile extends SniffedFormat {
  path: string;
  /** Relative to the scanned root, with the platform's separators. */
  relativePath: string;
  size: number;
  mtimeMs: number;
  sidecars: Sidecar[];
}

/** A file (or folder) that will not be imported, and why, for the person importing. */
export interface UnsupportedEntry {
  path: string;
  reason: string;
}

/** What a folder or camera card holds. */
export interface ScannedSource {
  root: string;
  /** Sorted by path. */
  files: ScannedFile[];
  /** Sorted by path. */
  unsupported: UnsupportedEntry[];
  /** System clutter skipped without a word (AppleDouble files, .Trashes, Thumbs.db, our temp files…). */
  ignored: number;
}

/** Options for {@link scanSource}. */
export interface ScanOptions {
  signal?: AbortSignal;
  /** How many files are sniffed at once; default 8 (a card reader gains nothing from more). */
  concurrency?: number;
}

/** Why an orphan sidecar is listed in {@link ScannedSource.unsupported}. */
export const ORPHAN_SIDECAR = 'orphan sidecar';

const JUNK_FILES = new Set(['.ds_store', 'thumbs.db', 'desktop.ini']);
const JUNK_FOLDERS = new Set([
  '.trashes',
  '.spotlight-v100',
  '.fseventsd',
  '.temporaryitems',
  'system volume information',
  '$recycle.bin',
  '.trash',
  '.keepsake',
]);
const TEMP_MARKER = '.keepsake-tmp';
const SIDECAR_KINDS: Record<string, Sidecar['kind']> = { xmp: 'xmp', thm: 'thm' };
// Which media a sidecar prefers when RAW+JPEG (or a clip and its still) share a name: an XMP describes the RAW
// it was written for, a THM is a video's thumbnail. A sidecar goes with one file so an import copies it once.
const SIDECAR_PREFERENCE: Record<Sidecar['kind'], SniffedFormat['kind'][]> = {
  xmp: ['raw', 'photo', 'video'],
  thm: ['video', 'raw', 'photo'],
};

/** True for an operating system's or Keepsake's own clutter file, which a scan skips silently. */
export function isJunkFile(name: string): boolean {
  const lower = name.toLowerCase();
  return name.startsWith('._') || JUNK_FILES.has(lower) || lower.includes(TEMP_MARKER);
}

/** True for a system folder (trash, indexes, the library's `.keepsake`) that a scan does not enter. */
export function isJunkFolder(name: string): boolean {
  const lower = name.toLowerCase();
  return JUNK_FOLDERS.has(lower) || /^\.trash-\d+$/.test(lower) || lower.includes(TEMP_MARKER);
}

/** True when `root` holds a `DCIM` folder, as every camera card does (DCF standard). */
export async function isCameraCard(root: string): Promise<boolean> {
  try {
    if ((await stat(path.join(root, 'DCIM'))).isDirectory()) return true;
  } catch {
    // Fall through: a case-sensitive file system may hold it as `dcim`.
  }
  try {
    const entries = await readdir(root, { withFileTypes: true });
    return entries.some((entry) => entry.isDirectory() && entry.name.toUpperCase() === 'DCIM');
  } catch {
    return false;
  }
}

interface FoundFile {
  path: string;
  dir: string;
  name: string;
}

/**
 * Lists the photos, RAWs and videos under `root` (a folder or a mounted camera card), recognised by their bytes,
 * each with its sidecars; everything else is either reported in `unsupported` with a reason or, for system
 * clutter, counted in `ignored`. Links to folders are not followed, so link loops cannot trap the walk.
 * Throws `not-found` when `root` does not exist and `cancelled` when the signal aborts.
 */
export async function scanSource(root: string, options: ScanOptions = {}): Promise<ScannedSource> {
  const { signal } = options;
  const concurrency = Math.max(1, options.concurrency ?? 8);
  const base = path.resolve(root);
  await assertFolder(base);

  const candidates: FoundFile[] = [];
  const sidecars: Array<FoundFile & { kind: Sidecar['kind'] }> = [];
  const unsupported: UnsupportedEntry[] = [];
  let ignored = 0;

  const stack = [base];
  while (stack.length > 0) {
    throwIfAborted(signal);
    const dir = stack.pop()!;
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (dir === base) throw toAppError(error, `The source folder "${base}"`);
      unsupported.push({ path: dir, reason: `the folder could not be read: ${describeError(error)}` });
      continue;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      const type = await entryType(full, entry);
      if (type === 'dir') {
        if (isJunkFolder(entry.name)) ignored++;
        else stack.push(full);
        continue;
      }
      if (isJunkFile(entry.name)) {
        ignored++;
        continue;
      }
      if (type === 'link-dir') {
        unsupported.push({ path: full, reason: 'a link to a folder (links to folders are not followed)' });
      } else if (type === 'broken-link') {
        unsupported.push({ path: full, reason: 'a link whose target does not exist' });
      } else if (type === 'other') {
        unsupported.push({ path: full, reason: 'not a regular file' });
      } else if (type === 'gone') {
        unsupported.push({ path: full, reason: VANISHED });
      } else {
        const kind = SIDECAR_KINDS[extensionOf(entry.name)];
        if (kind) sidecars.push({ path: full, dir, name: entry.name, kind });
        else candidates.push({ path: full, dir, name: entry.name });
      }
    }
  }

  const sniffed = await mapLimited(candidates, concurrency, async (file) => {
    throwIfAborted(signal);
    return inspect(file);
  });

  const files: ScannedFile[] = [];
  for (const [i, result] of sniffed.entries()) {
    const file = candidates[i]!;
    if ('reason' in result) {
      unsupported.push({ path: file.path, reason: result.reason });
      continue;
    }
    files.push({
      path: file.path,
      relativePath: path.relative(base, file.path),
      size: result.stats.size,
      mtimeMs: result.stats.mtimeMs,
      kind: result.format.kind,
      format: result.format.format,
      mime: result.format.mime,
      sidecars: [],
    });
  }
  files.sort(byPath);

  attachSidecars(files, sidecars, unsupported);
  unsupported.sort(byPath);
  return { root: base, files, unsupported, ignored };
}

const VANISHED = 'the file disappeared during the scan (was the card removed?)';

type EntryType = 'dir' | 'file' | 'link-dir' | 'broken-link' | 'other' | 'gone';

async function entryType(full: string, entry: Dirent): Promise<EntryType> {
  if (entry.isDirectory()) return 'dir';
  if (entry.isFile()) return 'file';
  let stats: Stats;
  try {
    // Some file systems (and network shares) report no type in readdir; ask lstat rather than guess.
    stats = await lstat(full);
  } catch {
    return 'gone';
  }
  if (stats.isDirectory()) return 'dir';
  if (stats.isFile()) return 'file';
  if (!stats.isSymbolicLink()) return 'other';
  try {
    const target = await stat(full);
    if (target.isDirectory()) return 'link-dir';
    return target.isFile() ? 'file' : 'other';
  } catch {
    return 'broken-link';
  }
}

async function inspect(file: FoundFile): Promise<{ stats: Stats; format: SniffedFormat } | { reason: string }> {
  let stats: Stats;
  let format: SniffedFormat | null;
  try {
    stats = await stat(file.path);
    if (!stats.isFile()) return { reason: 'not a regular file' };
    format = await sniffFormat(file.path);
  } catch (error) {
    return { reason: describeError(error) };
  }
  if (format) return { stats, format };
  if (stats.size === 0) return { reason: 'the file is empty' };
  const extension = extensionOf(file.name);
  if (MEDIA_EXTENSIONS.has(extension)) {
    return { reason: `its content is not a photo or video Keepsake can import, despite the .${extension} name` };
  }
  return { reason: 'not a photo or video Keepsake can import' };
}

function attachSidecars(
  files: ScannedFile[],
  sidecars: Array<FoundFile & { kind: Sidecar['kind'] }>,
  unsupported: UnsupportedEntry[],
): void {
  // Keys are per folder and compare names case-insensitively in NFC, so `IMG_0001.XMP` written by a Mac (NFD)
  // finds `img_0001.cr2` from the camera.
  const byFullName = new Map<string, ScannedFile[]>();
  const byStem = new Map<string, ScannedFile[]>();
  const push = (map: Map<string, ScannedFile[]>, key: string, file: ScannedFile): void => {
    const list = map.get(key);
    if (list) list.push(file);
    else map.set(key, [file]);
  };
  for (const file of files) {
    const dir = path.dirname(file.path);
    const name = path.basename(file.path);
    push(byFullName, key(dir, name), file);
    push(byStem, key(dir, stemOf(name)), file);
  }
  for (const sidecar of sidecars.sort(byPath)) {
    const stem = stemOf(sidecar.name);
    // `IMG_0001.CR2.xmp` (darktable) names its file exactly; `IMG_0001.xmp` names a stem shared by RAW+JPEG.
    const matches = byFullName.get(key(sidecar.dir, stem)) ?? byStem.get(key(sidecar.dir, stem));
    const owner = matches && pickOwner(matches, sidecar.kind);
    if (owner) owner.sidecars.push({ path: sidecar.path, kind: sidecar.kind });
    else unsupported.push({ path: sidecar.path, reason: ORPHAN_SIDECAR });
  }
}

function pickOwner(matches: ScannedFile[], kind: Sidecar['kind']): ScannedFile | undefined {
  for (const preferred of SIDECAR_PREFERENCE[kind]) {
    const found = matches.find((file) => file.kind === preferred);
    if (found) return found;
  }
  return matches[0];
}

function key(dir: string, name: string): string {
  return `${dir}\0${name.normalize('NFC').toLowerCase()}`;
}

function stemOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

async function assertFolder(root: string): Promise<void> {
  let stats: Stats;
  try {
    stats = await stat(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AppError('not-found', `The source "${root}" does not exist (was the card removed or the drive unplugged?)`, {
        cause: error,
      });
    }
    throw toAppError(error, `The source "${root}"`);
  }
  if (!stats.isDirectory()) throw new AppError('invalid-input', `The source "${root}" is a file, not a folder or camera card`);
}

function describeError(error: unknown): string {
  // The sniffer wraps fs errors with the file's path; the entry already carries it, so describe the cause alone.
  const cause = error instanceof AppError && error.cause !== undefined ? error.cause : error;
  if ((cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return VANISHED;
  return toAppError(cause).message;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AppError('cancelled', 'The scan was cancelled.');
}

function byPath(a: { path: string }, b: { path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/** Runs `fn` over `items` with at most `limit` at once, keeping results in order; stops starting work after a failure. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
