import { utilityProcess, type UtilityProcess } from 'electron';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { createEngineClient, type EngineClient, type MessageEnd, type SecretKeeper, type ToEngine } from '../app/ipc/engine-channel.ts';
import type { Logger } from '../app/log/logger.ts';

/** Options of {@link startEngine}. */
export interface StartEngineOptions {
  /** The bundled engine entry (dist/engine/engine-process.mjs). */
  entry: string;
  /** The library to open; null lets the engine reopen the most recent one or start on first run. */
  libraryPath: string | null;
  /** Electron's resources folder when packaged (FFmpeg is shipped there), else null. */
  resourcesPath: string | null;
  log: Logger;
  /** Called when the engine process exits without being asked to. */
  onUnexpectedExit: (code: number) => void;
  /** The keychain the engine keeps the sync session and access keys in (see main/safe-storage.ts). */
  secrets: SecretKeeper;
}

/** A running engine process and its client. */
export interface EngineHandle {
  client: EngineClient;
  process: UtilityProcess;
  /** Asks the engine to finish and close; kills the process if it has not within `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

async function shippedTool(resourcesPath: string | null, name: 'ffmpeg' | 'ffprobe'): Promise<string | null> {
  if (resourcesPath === null) return null;
  const file = path.join(resourcesPath, 'bin', process.platform === 'win32' ? `${name}.exe` : name);
  return access(file).then(() => file, () => null);
}

/** Starts the engine in Electron's utility process, so imports, hashing and sharp never run on the main thread. */
export async function startEngine(options: StartEngineOptions): Promise<EngineHandle> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  // The shipped FFmpeg wins over whatever is on PATH: it is the build the app was tested with.
  const ffmpeg = await shippedTool(options.resourcesPath, 'ffmpeg');
  const ffprobe = await shippedTool(options.resourcesPath, 'ffprobe');
  if (ffmpeg) env.FFMPEG_PATH = ffmpeg;
  if (ffprobe) env.FFPROBE_PATH = ffprobe;
  const args = [...(options.libraryPath === null ? [] : ['--library', options.libraryPath]), '--keychain'];
  const child = utilityProcess.fork(options.entry, args, { serviceName: 'Keepsake engine', env, stdio: 'ignore' });
  const end: MessageEnd<ToEngine> = {
    post: (message) => child.postMessage(message),
    listen: (listener) => {
      child.on('message', listener);
      return () => void child.off('message', listener);
    },
  };
  const client = createEngineClient(end, { secrets: options.secrets });
  let closing = false;
  child.once('exit', (code) => {
    client.lost('The engine process exited.');
    if (!closing) {
      options.log.error('engine process exited', { code });
      options.onUnexpectedExit(code);
    }
  });
  return {
    client,
    process: child,
    async stop(timeoutMs) {
      closing = true;
      await client.close(timeoutMs);
      // A process that did not finish closing in time is stopped: quitting must not hang on it.
      if (child.pid !== undefined) child.kill();
    },
  };
}
