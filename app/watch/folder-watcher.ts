import { watch as watchPath, type Dirent, type FSWatcher } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { isJunkFile, isJunkFolder } from '../ingest/source-scanner.ts';
import { isTempFile } from '../fs/durable-files.ts';
import { AppError, toAppError } from '../shared/errors.ts';

/** What the watcher knows of a file whose writes have finished. */
export interface WatchedFileStats {
  size: number;
  mtimeMs: number;
}

/** Callbacks of {@link watchFolders}; each is called for files below the watched folders only. */
export interface FolderWatchHandlers {
  /** A file appeared (created, copied, moved in) and its size and mtime have been stable for `stabilityMs`. */
  add?: (file: string, stats: WatchedFileStats) => void;
  /** A file already known was written again, and those writes have finished. */
  change?: (file: string, stats: WatchedFileStats) => void;
  /** A known file is gone (deleted, or moved out or to another name: the new name arrives as an `add`). */
  unlink?: (file: string) => void;
  /** A watched folder vanished (drive pulled, folder deleted), the OS refused a watch, or a read failed. */
  error?: (error: AppError, folder: string) => void;
}

/** Options of {@link watchFolders}. */
export interface FolderWatchOptions {
  /** How long a new file's size and mtime must stay unchanged before it counts as written; default 1000 ms. */
  stabilityMs?: number;
  /** How often files still being written are stat'ed; default 100 ms. */
  pollMs?: number;
  /** How often a vanished watched folder is looked for again, and folders the OS would not watch are re-read; default 2000 ms. */
  rescanMs?: number;
  /** Watch each root with one recursive OS watch (macOS FSEvents, Windows) instead of one per folder; default by platform. */
  recursive?: boolean;
}

/** A running watch; see {@link watchFolders}. */
export interface FolderWatch {
  /** Stops every OS watch and timer; no handler is called afterwards. */
  close(): Promise<void>;
  /** Starts watching another folder (a new event); resolves once it is watched. */
  addRoot(folder: string): Promise<void>;
  /** Files known below `root` (or below every root) when called: what the initial walk found, kept up to date. */
  files(root?: string): string[];
  /** Treats `file` as just written: it is reported through `add`/`change` once its writes finish. */
  recheck(file: string): void;
  /** Files seen changing whose writes have not finished yet. */
  pendingWrites(): number;
  /** OS watch handles in use: one per folder on Linux, one per root where recursive watching is native. */
  osWatches(): number;
}

const DEFAULT_STABILITY_MS = 1000;
const DEFAULT_POLL_MS = 100;
const DEFAULT_RESCAN_MS = 2000;
const WALK_CONCURRENCY = 8;
const STAT_CONCURRENCY = 32;
const CHECK_BATCH = 64;

/** True for files no watcher reports: OS clutter (`._*`, `.DS_Store`, `Thumbs.db`) and Keepsake's own temp files. */
export function isIgnoredFile(name: string): boolean {
  return isJunkFile(name) || isTempFile(name);
}

/**
 * Watches the files below `roots` and resolves once every folder is watched. Only folders get an OS watch —
 * inotify on a folder already reports its children being created, written, moved and deleted — so 100,000
 * files in 1,000 folders cost 1,000 watches instead of the 101,000 a per-file watcher (chokidar) takes, and
 * the start-up walk is a readdir per folder with no stat per file. A changed name is stat'ed until its size
 * and mtime hold still (like chokidar's `awaitWriteFinish`). Files present at start are not reported; ask
 * {@link FolderWatch.files} for them. Failures, including a root that vanishes, become `error` calls, never throws.
 */
export async function watchFolders(roots: readonly string[], handlers: FolderWatchHandlers, options: FolderWatchOptions = {}): Promise<FolderWatch> {
  const tree = new TreeWatcher(handlers, options);
  await Promise.all(roots.map((root) => tree.addRoot(root)));
  return tree;
}

interface FolderNode {
  watcher: FSWatcher | null;
  /** Names of regular files directly in the folder. */
  files: Set<string>;
  /** Names of the subfolders being watched. */
  folders: Set<string>;
  /** True when the OS refused a watch and the folder is re-read every `rescanMs` instead. */
  polled: boolean;
}

interface PendingWrite {
  size: number;
  mtimeMs: number;
  changedAt: number;
}

class TreeWatcher implements FolderWatch {
  private readonly stabilityMs: number;
  private readonly pollMs: number;
  private readonly rescanMs: number;
  private readonly recursive: boolean;
  private readonly roots = new Set<string>();
  private readonly vanishedRoots = new Set<string>();
  private readonly folders = new Map<string, FolderNode>();
  private readonly pending = new Map<string, PendingWrite>();
  private readonly queue = new Set<string>();
  private draining: Promise<void> | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private rescanTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private watchLimitReported = false;

  constructor(
    private readonly handlers: FolderWatchHandlers,
    options: FolderWatchOptions,
  ) {
    this.stabilityMs = options.stabilityMs ?? DEFAULT_STABILITY_MS;
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.rescanMs = options.rescanMs ?? DEFAULT_RESCAN_MS;
    this.recursive = options.recursive ?? (process.platform === 'darwin' || process.platform === 'win32');
  }

  async addRoot(folder: string): Promise<void> {
    const root = path.resolve(folder);
    if (this.closed || this.roots.has(root)) return;
    this.roots.add(root);
    const present = await lstat(root).then(
      (stats) => stats.isDirectory(),
      () => false,
    );
    if (!present) {
      this.rootVanished(root, null);
      return;
    }
    await this.addTree(root, false);
  }

  files(root?: string): string[] {
    const base = root === undefined ? null : path.resolve(root);
    const out: string[] = [];
    for (const [folder, node] of this.folders) {
      if (base !== null && folder !== base && !folder.startsWith(base + path.sep)) continue;
      // Concatenation, not path.join: both parts are already normal, and this runs for every file at start-up.
      const prefix = folder.endsWith(path.sep) ? folder : folder + path.sep;
      for (const name of node.files) out.push(prefix + name);
    }
    return out;
  }

  recheck(file: string): void {
    this.schedule(path.resolve(file));
  }

  pendingWrites(): number {
    return this.pending.size + this.queue.size;
  }

  osWatches(): number {
    let count = 0;
    for (const node of this.folders.values()) if (node.watcher) count++;
    return count;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const node of this.folders.values()) node.watcher?.close();
    this.folders.clear();
    this.pending.clear();
    this.queue.clear();
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    await Promise.all([this.draining, this.polling]);
  }

  /** Watches `folder` and everything below it; with `report`, files found are new (a folder moved or copied in). */
  private async addTree(folder: string, report: boolean): Promise<void> {
    if (this.closed || this.folders.has(folder)) return;
    const node: FolderNode = { watcher: null, files: new Set(), folders: new Set(), polled: false };
    this.folders.set(folder, node);
    this.folders.get(path.dirname(folder))?.folders.add(path.basename(folder));
    // The watch is placed before the folder is read, so nothing created in between goes unseen.
    if (!this.recursive || this.roots.has(folder)) this.watch(folder, node);
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (isGone(error)) this.schedule(folder);
      else this.fail(toAppError(error, `The folder "${folder}" could not be read`), folder);
      return;
    }
    if (this.closed || this.folders.get(folder) !== node) return;
    const subfolders: string[] = [];
    for (const entry of entries) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) {
        if (!isJunkFolder(entry.name)) subfolders.push(full);
      } else if (entry.isFile() && !isIgnoredFile(entry.name)) {
        if (report) this.schedule(full);
        else node.files.add(entry.name);
      }
    }
    await forEachLimited(subfolders, WALK_CONCURRENCY, (sub) => this.addTree(sub, report));
  }

  private watch(folder: string, node: FolderNode): void {
    try {
      const watcher = watchPath(folder, { persistent: true, recursive: this.recursive && this.roots.has(folder) });
      watcher.on('change', (_type, filename) => this.onEvent(folder, filename));
      watcher.on('error', () => this.schedule(folder));
      node.watcher = watcher;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EMFILE') {
        // Out of inotify watches: the folder is still covered, by re-reading it every rescanMs.
        node.polled = true;
        this.ensureRescan();
        if (!this.watchLimitReported) {
          this.watchLimitReported = true;
          this.fail(
            new AppError(
              'io',
              `The system's limit on watched folders is reached (Linux: fs.inotify.max_user_watches); "${folder}" and others are checked every ${Math.round(this.rescanMs / 1000)} s instead.`,
              { cause: error },
            ),
            folder,
          );
        }
      } else if (isGone(error)) {
        this.schedule(folder);
      } else {
        this.fail(toAppError(error, `The folder "${folder}" could not be watched`), folder);
      }
    }
  }

  private onEvent(base: string, filename: string | Buffer | null): void {
    if (this.closed) return;
    if (filename === null) {
      void this.rescan(base);
      return;
    }
    const name = filename.toString();
    this.schedule(path.join(base, name));
    // Events about the watched folder itself (deleted, moved away) carry its own name.
    if (name === path.basename(base)) this.schedule(base);
  }

  private schedule(target: string): void {
    if (this.closed) return;
    this.queue.add(target);
    if (!this.draining) {
      this.draining = this.drain()
        .catch((error: unknown) => this.fail(toAppError(error, 'Watching folders'), path.dirname(target)))
        .finally(() => (this.draining = null));
    }
  }

  /** Looks at queued paths in batches; a path queued again while being looked at waits for the next batch. */
  private async drain(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    while (this.queue.size > 0 && !this.closed) {
      const batch: string[] = [];
      for (const target of this.queue) {
        batch.push(target);
        if (batch.length >= CHECK_BATCH) break;
      }
      for (const target of batch) this.queue.delete(target);
      await forEachLimited(batch, STAT_CONCURRENCY, (target) => this.check(target));
    }
  }

  private async check(target: string): Promise<void> {
    if (!this.covers(target)) return;
    let stats;
    try {
      stats = await lstat(target);
    } catch (error) {
      if (isGone(error)) this.gone(target);
      else this.fail(toAppError(error, target), path.dirname(target));
      return;
    }
    if (this.closed) return;
    const name = path.basename(target);
    if (stats.isDirectory()) {
      if (!this.folders.has(target) && !isJunkFolder(name) && this.folders.has(path.dirname(target))) await this.addTree(target, true);
      return;
    }
    if (!stats.isFile() || isIgnoredFile(name) || !this.folders.has(path.dirname(target))) return;
    const now = Date.now();
    const known = this.pending.get(target);
    if (!known) this.pending.set(target, { size: stats.size, mtimeMs: stats.mtimeMs, changedAt: now });
    else if (known.size !== stats.size || known.mtimeMs !== stats.mtimeMs) Object.assign(known, { size: stats.size, mtimeMs: stats.mtimeMs, changedAt: now });
    this.ensurePoll();
  }

  /** True when `target` is a watched root or lies below one. */
  private covers(target: string): boolean {
    for (let dir = target; ; ) {
      if (this.roots.has(dir)) return true;
      const parent = path.dirname(dir);
      if (parent === dir) return false;
      dir = parent;
    }
  }

  private gone(target: string): void {
    this.pending.delete(target);
    if (this.folders.has(target)) {
      this.removeTree(target);
      if (this.roots.has(target)) this.rootVanished(target, null);
      return;
    }
    const parent = this.folders.get(path.dirname(target));
    if (parent?.files.delete(path.basename(target))) this.call(() => this.handlers.unlink?.(target));
  }

  /** Forgets a folder that vanished, reporting each file it held as gone. */
  private removeTree(folder: string): void {
    const node = this.folders.get(folder);
    if (!node) return;
    this.folders.delete(folder);
    node.watcher?.close();
    this.folders.get(path.dirname(folder))?.folders.delete(path.basename(folder));
    for (const name of node.folders) this.removeTree(path.join(folder, name));
    for (const name of node.files) {
      const file = path.join(folder, name);
      this.pending.delete(file);
      this.call(() => this.handlers.unlink?.(file));
    }
  }

  private rootVanished(root: string, cause: unknown): void {
    if (this.closed || this.vanishedRoots.has(root)) return;
    this.vanishedRoots.add(root);
    this.fail(new AppError('not-found', `The watched folder "${root}" is not there (was it deleted, renamed, or its drive removed?); it is watched again when it is back.`, { cause }), root);
    this.ensureRescan();
  }

  private ensurePoll(): void {
    if (this.pollTimer || this.polling || this.closed || this.pending.size === 0) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      this.polling = this.pollPending()
        .catch((error: unknown) => this.fail(toAppError(error, 'Watching folders'), ''))
        .finally(() => {
        this.polling = null;
        this.ensurePoll();
      });
    }, this.pollMs);
  }

  /** Stats every file still being written; reports those whose size and mtime held still for `stabilityMs`. */
  private async pollPending(): Promise<void> {
    const now = Date.now();
    await forEachLimited([...this.pending], STAT_CONCURRENCY, async ([file, state]) => {
      let stats;
      try {
        stats = await stat(file);
      } catch {
        this.pending.delete(file);
        this.schedule(file);
        return;
      }
      if (this.closed || this.pending.get(file) !== state) return;
      if (stats.size !== state.size || stats.mtimeMs !== state.mtimeMs) {
        Object.assign(state, { size: stats.size, mtimeMs: stats.mtimeMs, changedAt: now });
        return;
      }
      if (now - state.changedAt < this.stabilityMs) return;
      this.pending.delete(file);
      const node = this.folders.get(path.dirname(file));
      if (!node || !stats.isFile()) return;
      const name = path.basename(file);
      const known = node.files.has(name);
      node.files.add(name);
      const info = { size: stats.size, mtimeMs: stats.mtimeMs };
      this.call(() => (known ? this.handlers.change?.(file, info) : this.handlers.add?.(file, info)));
    });
  }

  private ensureRescan(): void {
    if (this.rescanTimer || this.closed) return;
    this.rescanTimer = setInterval(() => void this.rescanAll(), this.rescanMs);
    this.rescanTimer.unref?.();
  }

  /** Looks for vanished roots coming back and re-reads folders the OS would not watch. */
  private async rescanAll(): Promise<void> {
    for (const root of [...this.vanishedRoots]) {
      const back = await lstat(root).then(
        (stats) => stats.isDirectory(),
        () => false,
      );
      if (!back || this.closed) continue;
      this.vanishedRoots.delete(root);
      await this.addTree(root, true);
    }
    for (const [folder, node] of this.folders) if (node.polled) await this.rescan(folder);
    const needed = this.vanishedRoots.size > 0 || [...this.folders.values()].some((node) => node.polled);
    if (!needed && this.rescanTimer) {
      clearInterval(this.rescanTimer);
      this.rescanTimer = null;
    }
  }

  /** Re-reads one folder and looks at every name that appeared or disappeared since it was last read. */
  private async rescan(folder: string): Promise<void> {
    const node = this.folders.get(folder);
    if (!node || this.closed) return;
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch {
      this.schedule(folder);
      return;
    }
    const seen = new Set<string>();
    for (const entry of entries) {
      seen.add(entry.name);
      const known = entry.isDirectory() ? node.folders.has(entry.name) : node.files.has(entry.name);
      if (!known) this.schedule(path.join(folder, entry.name));
    }
    for (const name of [...node.files, ...node.folders]) if (!seen.has(name)) this.schedule(path.join(folder, name));
  }

  private fail(error: AppError, folder: string): void {
    this.call(() => this.handlers.error?.(error, folder));
  }

  private call(handler: () => void): void {
    if (this.closed) return;
    try {
      handler();
    } catch {
      // A throwing handler must not stop the watch.
    }
  }
}

function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Runs `fn` over `items`, at most `limit` at once. */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
