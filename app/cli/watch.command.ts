import type { Engine } from '../engine.ts';
import { WatchService } from '../watch/watch.service.ts';
import type { Io } from './main.ts';

/** Options of {@link runWatchCommand}. */
export interface WatchCommandOptions {
  /** One JSON object per line on stdout instead of text. */
  json: boolean;
  /** Stops the watch (SIGINT/SIGTERM in the CLI). */
  signal: AbortSignal;
  /** Milliseconds between looks for newly created events; default 10 s. */
  eventRefreshMs?: number;
  /** Passed to the service (tests shorten it). */
  stabilityMs?: number;
}

/**
 * `keepsake watch`: catalogues files dropped into event folders as they arrive, printing one line per file
 * added, moved, missing or back (JSON lines with --json) until the signal aborts; returns the exit code.
 */
export async function runWatchCommand(engine: Engine, io: Io, options: WatchCommandOptions): Promise<number> {
  const service = new WatchService({
    catalog: engine.catalog,
    imports: engine.imports,
    libraryRoot: engine.libraryRoot,
    log: engine.log.child('watch'),
    ...(options.stabilityMs === undefined ? {} : { stabilityMs: options.stabilityMs }),
  });
  const line = (record: Record<string, unknown>, text: string, toErr = false): void => {
    if (options.json) io.out(`${JSON.stringify(record)}\n`);
    else if (toErr) io.err(`${text}\n`);
    else io.out(`${text}\n`);
  };
  service.on('added', (added) => line({ type: 'added', ...added }, `added     ${added.path}  (${added.event})`));
  service.on('moved', (moved) => line({ type: 'moved', ...moved }, `moved     ${moved.from} → ${moved.to}`));
  service.on('missing', (missing) => line({ type: 'missing', ...missing }, `missing   ${missing.path}`));
  service.on('restored', (restored) => line({ type: 'restored', ...restored }, `back      ${restored.path}`));
  service.on('skipped', (skipped) => line({ type: 'skipped', ...skipped }, `skipped   ${skipped.path}: ${skipped.reason}`, true));
  service.on('error', ({ path, error }) =>
    line({ type: 'error', path, error: error.toJSON() }, `keepsake: ${path ? `${path}: ` : ''}${error.message}`, true),
  );
  if (options.signal.aborted) return 0;
  // Stopping cancels a start-up scan still running; what it did not reach, the next start finishes.
  const stopped = new Promise<void>((resolve) =>
    options.signal.addEventListener('abort', () => void service.stop().finally(resolve), { once: true }),
  );
  let refresh: NodeJS.Timeout | undefined;
  try {
    let summary;
    try {
      summary = await service.start();
    } catch (error) {
      if (options.signal.aborted) return 0;
      throw error;
    }
    if (options.json) io.out(`${JSON.stringify({ type: 'ready', ...summary, osWatches: service.osWatches() })}\n`);
    else {
      io.err(
        `Watching ${summary.events} event folder(s), ${summary.files.toLocaleString('en')} files, in ${engine.libraryRoot} ` +
          `(since last time: ${summary.added} added, ${summary.moved} moved, ${summary.missing} missing, ${summary.restored} back). Ctrl-C to stop.\n`,
      );
    }
    // Files the watcher catalogues get their thumbnails (and videos their proxies) as they arrive.
    engine.jobs.start();
    // Events created elsewhere (an import, the desktop app) get their folders watched too.
    refresh = setInterval(() => void service.refreshEvents().catch(() => undefined), options.eventRefreshMs ?? 10_000);
    await stopped;
    return 0;
  } finally {
    if (refresh) clearInterval(refresh);
    await service.stop();
  }
}
