import type { Dirent } from 'node:fs';
import { EventEmitter } from 'node:events';
import { readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type AppError, toAppError } from '../shared/errors.ts';
import { MEDIA_EXTENSIONS } from './formats.ts';
import { isCameraCard, isJunkFile, isJunkFolder } from './source-scanner.ts';
import type { CameraCard, RemovedVolume } from '../shared/views.ts';
export type { CameraCard, RemovedVolume } from '../shared/views.ts';

/** Events of {@link VolumeWatcher}. */
export interface VolumeWatcherEvents {
  card: [CameraCard];
  removed: [RemovedVolume];
  error: [AppError];
}

/** Where a platform mounts removable volumes. */
export interface MountRoots {
  /** Folders whose subfolders are mount points (`/media/ana`, `/Volumes`). */
  parents: string[];
  /** Mount points checked directly (Windows drive letters). */
  drives: string[];
}

/** Options for {@link VolumeWatcher}. */
export interface VolumeWatcherOptions {
  /** Milliseconds between polls; default 2000. */
  intervalMs?: number;
  /** Default `process.platform`; decides the default roots. */
  platform?: NodeJS.Platform;
  /** The desktop user whose mounts are watched on Linux; default the process's user. */
  user?: string;
  /** Folders whose subfolders are volumes; replaces the platform's defaults (tests pass a temp dir). */
  roots?: string[];
  /** Volumes checked directly; replaces the platform's defaults when given. */
  drives?: string[];
  /** Report cards already mounted when the watcher starts; default true. */
  reportExisting?: boolean;
  /** How many entries under DCIM the quick count visits at most; default 20000. */
  maxCountEntries?: number;
}

const DEFAULT_INTERVAL_MS = 2000;
const DEFAULT_MAX_COUNT_ENTRIES = 20_000;
const STAT_BATCH = 16;
// A missing mount root is normal (no /run/media on Debian, no /Volumes on Linux); it is not an error to report.
const QUIET_ERRNOS = new Set(['ENOENT', 'ENOTDIR']);

/** The folders and drives where `platform` mounts removable volumes for `user`. */
export function defaultMountRoots(platform: NodeJS.Platform = process.platform, user: string = currentUser()): MountRoots {
  if (platform === 'darwin') return { parents: ['/Volumes'], drives: [] };
  if (platform === 'win32') {
    // C: is the system drive and A:/B: are floppy letters; cards land on D: to Z:.
    const drives = Array.from({ length: 23 }, (_, i) => `${String.fromCharCode(68 + i)}:\\`);
    return { parents: [], drives };
  }
  const parents = user ? [`/media/${user}`, '/media', `/run/media/${user}`] : ['/media'];
  return { parents, drives: [] };
}

/**
 * Counts the media files under a card's DCIM folder by extension (no reading, no hashing), visiting at most
 * `maxEntries` entries so a huge or looping card cannot stall the prompt.
 */
export async function countCardMedia(
  volume: string,
  options: { maxEntries?: number } = {},
): Promise<{ mediaCount: number; bytes: number; partial: boolean }> {
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_COUNT_ENTRIES;
  let visited = 0;
  let mediaCount = 0;
  let bytes = 0;
  const dcim = await dcimPath(volume);
  const stack = [dcim];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      // DCIM itself unreadable means the card is gone or failing; a subfolder is skipped.
      if (dir === dcim) throw error;
      continue;
    }
    const media: string[] = [];
    for (const entry of entries) {
      if (++visited > maxEntries) return { mediaCount, bytes, partial: true };
      // Links are not followed, as in the scanner: a link loop on a card cannot trap the count.
      if (entry.isDirectory()) {
        if (!isJunkFolder(entry.name)) stack.push(path.join(dir, entry.name));
      } else if (entry.isFile() && !isJunkFile(entry.name) && MEDIA_EXTENSIONS.has(extensionOf(entry.name))) {
        media.push(path.join(dir, entry.name));
      }
    }
    for (let i = 0; i < media.length; i += STAT_BATCH) {
      const sizes = await Promise.all(
        media.slice(i, i + STAT_BATCH).map((file) => stat(file).then((stats) => stats.size, () => null)),
      );
      for (const size of sizes) {
        if (size === null) continue;
        mediaCount++;
        bytes += size;
      }
    }
  }
  return { mediaCount, bytes, partial: false };
}

/**
 * Watches the platform's mount roots for camera cards (volumes with a `DCIM` folder) by polling, which works the
 * same on every platform and needs no native module. Emits `card` once per mount and `removed` when it goes; every
 * failure becomes an `error` event (only when someone listens), never an exception out of the timer.
 */
export class VolumeWatcher extends EventEmitter<VolumeWatcherEvents> {
  private readonly intervalMs: number;
  private readonly parents: string[];
  private readonly drives: string[];
  private readonly reportExisting: boolean;
  private readonly maxCountEntries: number;
  private readonly known = new Map<string, CameraCard>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;
  private polled = false;
  // Bumped by start(), so a poll still running from before a stop()/start() cannot schedule a second timer chain.
  private generation = 0;
  private inFlight: Promise<void> | undefined;
  private reported = new Set<string>();

  constructor(options: VolumeWatcherOptions = {}) {
    super();
    this.intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.reportExisting = options.reportExisting ?? true;
    this.maxCountEntries = options.maxCountEntries ?? DEFAULT_MAX_COUNT_ENTRIES;
    const custom = options.roots !== undefined || options.drives !== undefined;
    const defaults = custom ? { parents: [], drives: [] } : defaultMountRoots(options.platform, options.user);
    this.parents = options.roots ?? defaults.parents;
    this.drives = options.drives ?? defaults.drives;
  }

  /** Starts polling; the first poll runs at once. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopped = false;
    this.generation++;
    this.schedule(0, this.generation);
  }

  /** Stops polling and waits for a poll under way to finish; no event is emitted afterwards. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  /** The cards mounted now, as last reported. */
  get cards(): CameraCard[] {
    return [...this.known.values()];
  }

  /** Checks the mount roots once (the timer calls this; tests may too). Never rejects. */
  poll(): Promise<void> {
    this.inFlight ??= this.pollOnce()
      .catch((error: unknown) => this.report(error))
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  private schedule(delayMs: number, generation: number): void {
    this.timer = setTimeout(() => {
      void this.poll().then(() => {
        if (this.running && generation === this.generation) this.schedule(this.intervalMs, generation);
      });
    }, delayMs);
  }

  private async pollOnce(): Promise<void> {
    const errors = new Map<string, AppError>();
    const volumes = await this.listVolumes(errors);
    const flags = await Promise.all(volumes.map((volume) => isCameraCard(volume)));
    const present = new Set(volumes.filter((_, i) => flags[i]));
    const silent = !this.polled && !this.reportExisting;
    this.polled = true;

    for (const [volume, card] of this.known) {
      if (present.has(volume)) continue;
      this.known.delete(volume);
      this.emitUnlessStopped('removed', () => this.emit('removed', { path: card.path, label: card.label }));
    }
    for (const volume of present) {
      if (this.known.has(volume)) continue;
      if (silent) {
        this.known.set(volume, { path: volume, label: labelOf(volume), mediaCount: 0, bytes: 0, partial: true });
        continue;
      }
      let counted: Awaited<ReturnType<typeof countCardMedia>>;
      try {
        counted = await countCardMedia(volume, { maxEntries: this.maxCountEntries });
      } catch (error) {
        // Pulled out while being counted: the next poll finds it gone, or counts it again if it is back.
        this.collect(errors, toAppError(error, `The card at ${volume}`));
        continue;
      }
      if (this.stopped) return;
      const card: CameraCard = { path: volume, label: labelOf(volume), ...counted };
      this.known.set(volume, card);
      this.emitUnlessStopped('card', () => this.emit('card', card));
    }
    // Each distinct problem is reported once, not every two seconds, until it clears and comes back.
    const previous = this.reported;
    this.reported = new Set(errors.keys());
    for (const [message, error] of errors) {
      if (!previous.has(message)) this.emitError(error);
    }
  }

  private async listVolumes(errors: Map<string, AppError>): Promise<string[]> {
    const found = new Set<string>();
    await Promise.all([
      ...this.parents.map(async (parent) => {
        let entries: Dirent[];
        try {
          entries = await readdir(parent, { withFileTypes: true });
        } catch (error) {
          if (!QUIET_ERRNOS.has((error as NodeJS.ErrnoException).code ?? '')) {
            this.collect(errors, toAppError(error, `The mount folder ${parent}`));
          }
          return;
        }
        for (const entry of entries) {
          // macOS lists the boot volume as a link to `/`; links are kept and a missing DCIM rules them out.
          if (entry.name.startsWith('.') || !(entry.isDirectory() || entry.isSymbolicLink())) continue;
          found.add(path.join(parent, entry.name));
        }
      }),
      ...this.drives.map(async (drive) => {
        // An empty card reader's letter fails to stat (not ready); that only means "no card".
        const stats = await stat(drive).catch(() => null);
        if (stats?.isDirectory()) found.add(drive);
      }),
    ]);
    return [...found].sort();
  }

  private collect(errors: Map<string, AppError>, error: AppError): void {
    errors.set(error.message, error);
  }

  private report(error: unknown): void {
    this.emitError(toAppError(error, 'Watching for camera cards'));
  }

  private emitError(error: AppError): void {
    // An `error` event without a listener would throw out of the timer and end the process.
    if (this.stopped || this.listenerCount('error') === 0) return;
    try {
      this.emit('error', error);
    } catch {
      // A throwing error listener must not break polling either.
    }
  }

  private emitUnlessStopped(event: 'card' | 'removed', emit: () => void): void {
    if (this.stopped) return;
    try {
      emit();
    } catch (error) {
      this.emitError(toAppError(error, `A ${event} listener failed`));
    }
  }
}

async function dcimPath(volume: string): Promise<string> {
  const direct = path.join(volume, 'DCIM');
  if (await stat(direct).then((stats) => stats.isDirectory(), () => false)) return direct;
  const entries = await readdir(volume, { withFileTypes: true });
  const found = entries.find((entry) => entry.isDirectory() && entry.name.toUpperCase() === 'DCIM');
  return found ? path.join(volume, found.name) : direct;
}

function labelOf(volume: string): string {
  return path.basename(volume) || volume.replace(/[\\/]+$/, '');
}

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

function currentUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    // Containers may run as a uid with no passwd entry.
    return process.env.USER ?? process.env.LOGNAME ?? '';
  }
}
