import { writeFile } from 'node:fs/promises';
import type { Engine } from '../engine.ts';
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

/** `keepsake web`: serves the UI and the engine's contract on 127.0.0.1 until the signal aborts. */
export async function runWebCommand(engine: Engine, io: Io, options: WebCommandOptions): Promise<number> {
  const port = options.port === undefined ? 0 : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new AppError('invalid-input', '--port must be a whole number from 0 to 65535 (0 picks a free one).');
  const host = await startWebHost({ engine, port, ...(options.staticDir ? { staticDir: options.staticDir } : {}) });
  engine.jobs.start();
  engine.volumes.start();
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
