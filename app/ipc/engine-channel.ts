import type { IpcError, PushEvent, Result } from './contract.ts';
import type { MediaFile } from './media.ts';

// The protocol between the main process and the engine process, and the main process's side of it. This module
// loads nothing of the engine, so Electron's main bundles it without SQLite, sharp or ffmpeg.

/** Messages the main process sends to the engine process. */
export type ToEngine =
  | { type: 'call'; id: number; method: string; input: unknown }
  | { type: 'media:resolve'; id: number; assetId: string; variant: string }
  /** A folder the user asked to import from (a path on the command line, "Import from Folder…"). */
  | { type: 'source:offer'; path: string }
  /** The answer to a `secret` request: the value loaded (or null), or why the keychain refused. */
  | { type: 'secret:result'; id: number; value: string | null; error: string | null }
  | { type: 'close' };

/** What the engine asks of the keychain, which only the main process can reach (Electron's safeStorage). */
export type SecretOp = 'load' | 'save' | 'clear';

/** The main process's keychain, as the engine process's secrets see it: `name` is e.g. `session:<library>`. */
export type SecretKeeper = (name: string, op: SecretOp, value: string | null) => Promise<string | null>;

/** Messages the engine process sends back. */
export type FromEngine =
  | { type: 'ready'; libraryRoot: string | null }
  | { type: 'failed'; error: IpcError }
  | { type: 'result'; id: number; result: Result }
  | { type: 'media'; id: number; media: MediaFile | null }
  | { type: 'push'; event: PushEvent }
  /** A secret to load, save or clear in the main process's keychain (only with `--keychain`). */
  | { type: 'secret'; id: number; name: string; op: SecretOp; value: string | null }
  | { type: 'closed' };

/** One end of a message channel: Electron's parentPort / UtilityProcess, or Node's `process.send` / ChildProcess. */
export interface MessageEnd<Out> {
  post(message: Out): void;
  /** Calls `listener` with every message received; returns a function that stops listening. */
  listen(listener: (message: unknown) => void): () => void;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The main process's side of the engine process. */
export interface EngineClient {
  /** Resolves with the library's root once the engine is open; rejects with its reason if it could not open. */
  /** Settles once the engine answers; `libraryRoot` is null on first run (no library chosen yet). */
  ready: Promise<{ libraryRoot: string | null }>;
  call(method: string, input: unknown): Promise<Result>;
  /** The file behind `/media/<assetId>/<variant>`, or null when there is none (or it lies outside the library). */
  resolveMedia(assetId: string, variant: string): Promise<MediaFile | null>;
  /** Offers a folder to the window as an import source (it arrives as `volume:inserted`). */
  offerSource(folder: string): void;
  subscribe(listener: (event: PushEvent) => void): () => void;
  /** Tell the client the process is gone (its exit handler calls this): every pending call resolves to an error. */
  lost(reason: string): void;
  /** Asks the engine to shut down; resolves once it has, or after `timeoutMs`. */
  close(timeoutMs?: number): Promise<void>;
}

/** An error thrown when the engine process could not open the library. */
export class EngineStartError extends Error {
  override readonly name = 'EngineStartError';
  constructor(readonly error: IpcError) {
    super(error.message);
  }
}

/** Options of {@link createEngineClient}. */
export interface EngineClientOptions {
  /** Answers the engine's `secret` requests; without it they are refused (the engine then keeps nothing). */
  secrets?: SecretKeeper;
}

/** Builds the client over the main process's end of the channel. */
export function createEngineClient(port: MessageEnd<ToEngine>, options: EngineClientOptions = {}): EngineClient {
  let nextId = 1;
  const calls = new Map<number, (result: Result) => void>();
  const media = new Map<number, (file: MediaFile | null) => void>();
  const listeners = new Set<(event: PushEvent) => void>();
  let gone: string | null = null;
  let onClosed: (() => void) | null = null;
  let settleReady!: { resolve: (value: { libraryRoot: string | null }) => void; reject: (error: Error) => void };
  const ready = new Promise<{ libraryRoot: string | null }>((resolve, reject) => (settleReady = { resolve, reject }));
  // An unobserved rejection of `ready` must not crash the main process; callers see it when they await.
  ready.catch(() => undefined);

  const stop = port.listen((raw) => {
    if (!isObject(raw) || typeof raw.type !== 'string') return;
    const message = raw as FromEngine;
    switch (message.type) {
      case 'ready':
        settleReady.resolve({ libraryRoot: message.libraryRoot });
        break;
      case 'failed':
        settleReady.reject(new EngineStartError(message.error));
        break;
      case 'result':
        calls.get(message.id)?.(message.result);
        calls.delete(message.id);
        break;
      case 'media':
        media.get(message.id)?.(message.media);
        media.delete(message.id);
        break;
      case 'push':
        for (const listener of listeners) {
          try {
            listener(message.event);
          } catch {
            // One failing listener (a notification the OS refused, say) must not keep the event from the window.
          }
        }
        break;
      case 'secret': {
        const { id, name, op, value } = message;
        const keeper = options.secrets;
        const answer = keeper ? keeper(name, op, value) : Promise.reject(new Error('This window has no keychain to keep secrets in.'));
        answer.then(
          (result) => gone === null && port.post({ type: 'secret:result', id, value: result ?? null, error: null }),
          (error: unknown) => gone === null && port.post({ type: 'secret:result', id, value: null, error: error instanceof Error ? error.message : String(error) }),
        );
        break;
      }
      case 'closed':
        onClosed?.();
        break;
    }
  });

  const lostResult = (): Result => ({ ok: false, error: { code: 'internal', message: 'The library stopped answering.', hint: 'Restart Keepsake; nothing already saved is lost.' } });

  return {
    ready,
    call(method, input) {
      if (gone !== null) return Promise.resolve(lostResult());
      const id = nextId++;
      return new Promise((resolve) => {
        calls.set(id, resolve);
        port.post({ type: 'call', id, method, input });
      });
    },
    resolveMedia(assetId, variant) {
      if (gone !== null) return Promise.resolve(null);
      const id = nextId++;
      return new Promise((resolve) => {
        media.set(id, resolve);
        port.post({ type: 'media:resolve', id, assetId, variant });
      });
    },
    offerSource(folder) {
      if (gone === null) port.post({ type: 'source:offer', path: folder });
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    lost(reason) {
      if (gone !== null) return;
      gone = reason;
      stop();
      settleReady.reject(new EngineStartError({ code: 'internal', message: reason }));
      for (const resolve of calls.values()) resolve(lostResult());
      for (const resolve of media.values()) resolve(null);
      calls.clear();
      media.clear();
      onClosed?.();
    },
    async close(timeoutMs = 10_000) {
      if (gone !== null) return;
      const done = new Promise<void>((resolve) => (onClosed = resolve));
      port.post({ type: 'close' });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
      gone = 'closed';
      stop();
    },
  };
}
