import { writeFile } from 'node:fs/promises';
import { openEngine, resolveLibraryPath, type Engine } from '../engine.ts';
import { RecentLibraries } from '../ipc/recent-libraries.ts';
import { AppError } from '../shared/errors.ts';
import { startWebHost } from '../web-host/web-host.ts';
import type { Io } from './main.ts';

/** Options of {@link runWebCommand}. */
export interface WebCommandOptions {
  port?: string;
  /** Writes the URL (with its token) to this file, for scripts and tests that start the host. */
  openUrlFile?: string;
  staticDir?: string;
  signal: AbortSignal;
}

/** Opens a library chosen on the page and starts its background work (thumbnails, camera cards). */
async function openForPage(libraryPath: string, create: boolean): Promise<Engine> {
  const engine = await openEngine({ libraryPath, create });
  engine.jobs.start();
  engine.volumes.start();
  return engine;
}

/**
 * `keepsake web`: serves the UI and the engine's contract on 127.0.0.1 until the signal aborts. With no
 * `engine` (no library named on the command line) it reopens the most recent library that is still there,
 * or starts on the page's first run, where the user chooses or creates one.
 */
export async function runWebCommand(engine: Engine | null, io: Io, options: WebCommandOptions): Promise<number> {
  const port = options.port === undefined ? 0 : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new AppError('invalid-input', '--port must be a whole number from 0 to 65535 (0 picks a free one).');
  const recent = new RecentLibraries();
  const host = await startWebHost({
    engine,
    port,
    openLibrary: openForPage,
    recent,
    suggestedLibraryPath: resolveLibraryPath(undefined, {}),
    ...(options.staticDir ? { staticDir: options.staticDir } : {}),
  });
  if (engine) {
    engine.jobs.start();
    engine.volumes.start();
  } else {
    const last = (await recent.list()).find((library) => library.available);
    const reopened = last ? await host.dispatcher.call('library:open', { path: last.path }) : null;
    if (!reopened?.ok) io.err('No library is open yet: choose or create one on the page.\n');
  }
  if (options.openUrlFile) await writeFile(options.openUrlFile, `${host.url}\n`, { mode: 0o600 });
  io.out(`Keepsake is running at ${host.url}\n`);
  io.err('Open that address in a browser on this computer; Ctrl-C stops it.\n');
  await new Promise<void>((resolve) => {
    if (options.signal.aborted) return resolve();
    options.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await host.close();
  io.err('Keepsake stopped.\n');
  return 0;
}
