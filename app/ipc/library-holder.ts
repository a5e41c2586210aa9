import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Engine } from '../engine.ts';
import type { Logger } from '../log/logger.ts';
import { AppError, toAppError } from '../shared/errors.ts';
import { CALLS, isMethod, type IpcError, type Outputs, type Result } from './contract.ts';
import { createDispatcher, toIpcError, type Dispatcher, type DispatcherOptions, type PushListener } from './dispatcher.ts';
import { isLibrary, type RecentLibraries } from './recent-libraries.ts';

/** Options of {@link createLibraryHolder}. */
export interface LibraryHolderOptions {
  /** A library already open when the host starts (its caller closes it); none means first run. */
  engine?: Engine | null;
  /** Opens (or creates) a library; the holder closes what this returns when it switches or closes. */
  openEngine(libraryPath: string, create: boolean): Promise<Engine>;
  /** Where opened libraries are remembered; null keeps no list. */
  recent?: RecentLibraries | null;
  /** The folder first run proposes for a new library. */
  suggestedPath: string;
  log?: Logger;
  /** The dispatcher's options for each library opened (Electron's keychain-backed session store, say). */
  dispatcherOptions?: (engine: Engine) => DispatcherOptions;
}

/** A dispatcher that may have no library yet, and opens or switches libraries on `library:open`. */
export interface LibraryHolder extends Dispatcher {
  /** The open library's engine, or null before one is chosen. */
  readonly engine: Engine | null;
}

const NO_LIBRARY: IpcError = {
  code: 'not-found',
  message: 'No library is open yet.',
  hint: 'Choose a library, or create a new one, on the first screen.',
};

/**
 * Holds the engine of the open library, if any. Before one is open every channel but `library:open` and
 * `library:recent` answers that no library is open (`library:info` included, which the UI takes as first run).
 */
export function createLibraryHolder(options: LibraryHolderOptions): LibraryHolder {
  let engine: Engine | null = options.engine ?? null;
  let owned = false;
  let dispatcher: Dispatcher | null = engine ? createDispatcher(engine, options.dispatcherOptions?.(engine)) : null;
  const listeners = new Set<PushListener>();
  const forward: PushListener = (event) => {
    for (const listener of listeners) listener(event);
  };
  let unsubscribe = dispatcher?.subscribe(forward) ?? null;
  // Opens run one after another: two windows asking at once must not leave two engines on one catalog.
  let opening: Promise<unknown> = Promise.resolve();
  if (engine && options.recent) void options.recent.remember({ path: engine.libraryRoot, name: libraryName(engine) }).catch(() => undefined);

  const release = async (): Promise<void> => {
    unsubscribe?.();
    unsubscribe = null;
    await dispatcher?.close();
    if (engine && owned) await engine.close();
    dispatcher = null;
    engine = null;
    owned = false;
  };

  const open = async (wanted: string, create: boolean): Promise<Outputs['library:open']> => {
    if (!path.isAbsolute(wanted)) throw new AppError('invalid-input', `"${wanted}" is not a full path; give the library folder's whole path (for example ${options.suggestedPath}).`);
    const root = path.resolve(wanted);
    if (engine && engine.libraryRoot === root) return info(engine);
    if (!(await isLibrary(root))) {
      const kind = await stat(root).then(
        (found) => (found.isDirectory() ? 'folder' : 'file'),
        () => 'missing',
      );
      if (kind === 'file') throw new AppError('invalid-input', `${root} is a file, not a folder; choose a folder for the library.`);
      if (!create) {
        throw new AppError(
          'not-found',
          kind === 'missing' ? `There is no folder at ${root}.` : `${root} is not a Keepsake library: it has no ${path.join('.keepsake', 'catalog.db')}. Choose the library's own folder, or create a new library there.`,
        );
      }
    }
    const next = await options.openEngine(root, true);
    await release();
    engine = next;
    owned = true;
    dispatcher = createDispatcher(next, options.dispatcherOptions?.(next));
    unsubscribe = dispatcher.subscribe(forward);
    await options.recent?.remember({ path: root, name: libraryName(next) }).catch((error: unknown) => options.log?.warn('recent libraries not saved', { error: toAppError(error) }));
    return info(next);
  };

  return {
    get engine() {
      return engine;
    },
    async call(method, input) {
      if (method === 'library:open' || method === 'library:recent') {
        const parsed = CALLS[method].safeParse(input === undefined ? {} : input);
        // The dispatcher words validation failures; without an engine there is none to ask, so say it here.
        if (!parsed.success) return { ok: false, error: { code: 'invalid-input', message: 'The library request is not valid: give a folder path.' } };
        try {
          if (method === 'library:recent') {
            return { ok: true, value: { libraries: (await options.recent?.list()) ?? [], suggested: options.suggestedPath } } satisfies Result<Outputs['library:recent']>;
          }
          const { path: wanted, create } = parsed.data as { path: string; create: boolean };
          const result = opening.then(() => open(wanted, create));
          opening = result.catch(() => undefined);
          return { ok: true, value: await result };
        } catch (error) {
          return { ok: false, error: toIpcError(error) };
        }
      }
      if (dispatcher) return dispatcher.call(method, input);
      if (typeof method !== 'string' || !isMethod(method)) return unknownMethod(method);
      return { ok: false, error: NO_LIBRARY };
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      await opening;
      await release();
      listeners.clear();
    },
  };
}

function info(engine: Engine): Outputs['library:open'] {
  return { root: engine.libraryRoot, name: libraryName(engine), readOnly: engine.catalog.readOnly, damage: engine.catalog.damage };
}

function libraryName(engine: Engine): string {
  return engine.catalog.library.get()?.name ?? path.basename(engine.libraryRoot);
}

function unknownMethod(method: unknown): Result {
  return {
    ok: false,
    error: { code: 'unknown-method', message: `Keepsake has no operation called "${String(method).slice(0, 80)}".`, hint: 'Update the app: the window and the engine may be of different versions.' },
  };
}
