import path from 'node:path';
import { openEngine, resolveLibraryPath, type Engine, type EngineOptions } from '../engine.ts';
import { countCardMedia } from '../ingest/volumes.ts';
import { AppError, toAppError, isAppError } from '../shared/errors.ts';
import { toIpcError } from './dispatcher.ts';
import { createLibraryHolder } from './library-holder.ts';
import { RecentLibraries, userConfigDir } from './recent-libraries.ts';
import type { FromEngine, MessageEnd, SecretOp } from './engine-channel.ts';
import { cliCredentials, keptCredentials, type KeptCredentials } from '../cloud/credentials.ts';
import { sessionStoreOf, type SecretStore } from '../sync/secret-store.ts';
import { resolveMedia } from './media.ts';

// The engine runs in a process of its own (Electron's utility process; a forked Node in tests) so hashing, SQLite
// and sharp never share an event loop with the window. The protocol and the main process's side are in
// engine-channel.ts, which loads none of the engine.

/** Options of {@link serveEngine}. */
export interface ServeEngineOptions extends Omit<EngineOptions, 'libraryPath'> {
  /** The library to open; null starts on first run (or reopens the most recent library, with `recent`). */
  libraryPath: string | null;
  /** Start the job queue and the camera-card watcher of each library opened (the app does; some tests do not). */
  startBackground?: boolean;
  /** Where opened libraries are remembered; null keeps no list. */
  recent?: RecentLibraries | null;
  /** The folder first run proposes for a new library. */
  suggestedPath?: string;
  /**
   * Keep the sync session and any access key in the parent's keychain (Electron's safeStorage, which only the
   * main process has) instead of 0600 files in the library: `--keychain` on the command line.
   */
  keychain?: boolean;
}

/** One pending request for a secret, by id. */
type SecretWaiters = Map<number, { resolve: (value: string | null) => void; reject: (error: Error) => void }>;

/**
 * A secret kept by the other end of `port` (the main process's keychain), asked for by message. Requests that
 * cannot be answered (the keychain refused, the parent is gone) fail with the keychain's reason.
 */
export function remoteSecretStore(port: MessageEnd<FromEngine>, waiters: SecretWaiters, name: string, counter: { next: number }): SecretStore {
  const ask = (op: SecretOp, value: string | null): Promise<string | null> =>
    new Promise((resolve, reject) => {
      const id = counter.next++;
      waiters.set(id, { resolve, reject });
      port.post({ type: 'secret', id, name, op, value });
    });
  return {
    where: 'the system keychain',
    load: () => ask('load', null),
    save: async (value) => void (await ask('save', value)),
    clear: async () => void (await ask('clear', null)),
  };
}

/** A served engine: `closed` settles once the engine has shut down (after a `close` message, or {@link ServedEngine.close}). */
export interface ServedEngine {
  /** The open library's engine; null until one is chosen on first run. */
  readonly engine: Engine | null;
  closed: Promise<void>;
  /** Shuts the engine down as a `close` message would (when the parent has gone, say). */
  close(): Promise<void>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * Serves the contract over `port` until a `close` message arrives. Every call is answered by id as soon as it
 * finishes, so a long one never holds up the others. The library is held by a {@link createLibraryHolder}: named
 * on the command line it is opened at once (a failure is reported as `failed`); otherwise the most recent one
 * still on disk is reopened, or the window starts on first run and opens one with `library:open`.
 */
export async function serveEngine(port: MessageEnd<FromEngine>, options: ServeEngineOptions): Promise<ServedEngine | null> {
  const { libraryPath, startBackground, recent = null, suggestedPath, keychain = false, ...engineOptions } = options;
  // Answers to `secret` requests arrive on the same port as calls; they are matched here, before anything asks.
  const waiters: SecretWaiters = new Map();
  const counter = { next: 1 };
  const stopSecrets = port.listen((message) => {
    if (!isObject(message) || message.type !== 'secret:result' || typeof message.id !== 'number') return;
    const waiter = waiters.get(message.id);
    waiters.delete(message.id);
    if (typeof message.error === 'string') waiter?.reject(new AppError('io', `The system keychain did not answer: ${message.error}`));
    else waiter?.resolve(typeof message.value === 'string' ? message.value : null);
  });
  const secret = (kind: 'session' | 'credentials', root: string): SecretStore => remoteSecretStore(port, waiters, `${kind}:${root}`, counter);
  const holder = createLibraryHolder({
    ...(keychain ? { dispatcherOptions: (engine: Engine) => ({ sessions: sessionStoreOf(secret('session', engine.libraryRoot)) }) } : {}),
    async openEngine(root, create) {
      // The access key comes from the keychain from the very first upload on (jobs start below).
      const credentials = keychain ? keptCredentials(secret('credentials', root), engineOptions.credentials ?? cliCredentials(undefined)) : engineOptions.credentials;
      const opened = await openEngine({ ...engineOptions, libraryPath: root, create, ...(credentials ? { credentials } : {}) });
      if (keychain) await (credentials as KeptCredentials).load().catch(() => undefined);
      if (startBackground) {
        opened.jobs.start();
        opened.volumes.start();
      }
      return opened;
    },
    recent,
    suggestedPath: suggestedPath ?? resolveLibraryPath(undefined, {}),
  });
  const wanted = libraryPath ?? (await recent?.list().catch(() => []))?.find((library) => library.available)?.path ?? null;
  if (wanted !== null) {
    const opened = await holder.call('library:open', { path: path.resolve(wanted), create: libraryPath !== null && options.create !== false });
    if (!opened.ok && libraryPath !== null) {
      await holder.close();
      stopSecrets();
      port.post({ type: 'failed', error: opened.error });
      return null;
    }
  }
  // A parent that has gone cannot be told anything; the engine still finishes what it is writing.
  const post = (message: FromEngine): void => {
    try {
      port.post(message);
    } catch (error) {
      holder.engine?.log.warn('engine message not delivered', { type: message.type, error: toAppError(error) });
    }
  };
  const unsubscribe = holder.subscribe((event) => post({ type: 'push', event }));
  let shutdown: Promise<void> | null = null;
  let stopListening: () => void = () => undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const close = (): Promise<void> => {
    shutdown ??= (async () => {
      stopListening();
      unsubscribe();
      await holder.close();
      stopSecrets();
      for (const waiter of waiters.values()) waiter.reject(new AppError('io', 'Keepsake is closing.'));
      waiters.clear();
      post({ type: 'closed' });
      resolveClosed();
    })();
    return shutdown;
  };

  const offerSource = async (folder: string): Promise<void> => {
    const label = path.basename(folder) || folder;
    // A folder without a DCIM is still offered; its figures are then unknown lower bounds.
    const counted = await countCardMedia(folder).catch(() => ({ mediaCount: 0, bytes: 0, partial: true }));
    post({ type: 'push', event: { event: 'volume:inserted', payload: { path: folder, label, ...counted } } });
  };

  stopListening = port.listen((message) => {
    if (!isObject(message) || typeof message.type !== 'string' || shutdown !== null) return;
    if (message.type === 'call' && typeof message.id === 'number' && typeof message.method === 'string') {
      const id = message.id;
      void holder.call(message.method, message.input).then(
        (result) => post({ type: 'result', id, result }),
        // The holder resolves every call; should it ever reject, the caller still gets an answer.
        (error: unknown) => post({ type: 'result', id, result: { ok: false, error: toIpcError(error) } }),
      );
    } else if (message.type === 'media:resolve' && typeof message.id === 'number') {
      const id = message.id;
      const engine = holder.engine;
      if (engine === null) return post({ type: 'media', id, media: null });
      resolveMedia(engine, String(message.assetId), String(message.variant)).then(
        (media) => post({ type: 'media', id, media }),
        (error: unknown) => {
          if (!isAppError(error, 'not-found')) engine.log.warn('media request failed', { error: toAppError(error) });
          post({ type: 'media', id, media: null });
        },
      );
    } else if (message.type === 'source:offer' && typeof message.path === 'string' && path.isAbsolute(message.path)) {
      void offerSource(message.path);
    } else if (message.type === 'close') {
      void close();
    }
  });
  post({ type: 'ready', libraryRoot: holder.engine?.libraryRoot ?? null });
  return {
    get engine() {
      return holder.engine;
    },
    closed,
    close,
  };
}

/** The parent-facing end of the current process: Electron's `process.parentPort`, else Node's IPC channel. */
export function processPort(): MessageEnd<FromEngine> {
  const parentPort = (process as NodeJS.Process & { parentPort?: ElectronParentPort }).parentPort;
  if (parentPort) {
    return {
      post: (message) => parentPort.postMessage(message),
      listen: (listener) => {
        const handler = (event: { data: unknown }): void => listener(event.data);
        parentPort.on('message', handler);
        return () => parentPort.off('message', handler);
      },
    };
  }
  if (typeof process.send !== 'function') throw new Error('The engine process needs a parent: start it with utilityProcess.fork or child_process.fork.');
  return {
    post: (message) => void process.send!(message),
    listen: (listener) => {
      process.on('message', listener);
      return () => void process.off('message', listener);
    },
  };
}

/** Electron's `process.parentPort`, described here because `app/` never sees Electron's typings. */
interface ElectronParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
  off(event: 'message', listener: (event: { data: unknown }) => void): void;
}

/**
 * The engine process's options from its command line (`--library DIR`) and environment (`KEEPSAKE_LIBRARY`); with
 * neither, the most recent library (remembered in the user's settings folder) or first run.
 */
export function engineOptionsFrom(argv: readonly string[], env: NodeJS.ProcessEnv): ServeEngineOptions {
  const at = argv.indexOf('--library');
  const flag = at >= 0 ? argv[at + 1] : undefined;
  const named = flag || env.KEEPSAKE_LIBRARY ? resolveLibraryPath(flag, env) : null;
  return {
    libraryPath: named,
    startBackground: !argv.includes('--no-background'),
    keychain: argv.includes('--keychain'),
    recent: new RecentLibraries(userConfigDir(env)),
    suggestedPath: resolveLibraryPath(undefined, {}),
  };
}
