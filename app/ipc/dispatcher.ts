import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { z } from 'zod';
import type { Engine } from '../engine.ts';
import { EventFolders } from '../ingest/event-folders.ts';
import { AppError, isAppError, toAppError, type ErrorCode } from '../shared/errors.ts';
import type { AssetId, EventId, PersonId } from '../shared/ids.ts';
import type { SessionStore } from '../sync/sync-client.ts';
import { createPublishHandlers } from './publish-handlers.ts';
import { createAdminHandlers } from './admin-handlers.ts';
import type { SecretStore } from '../sync/secret-store.ts';
import { CALLS, isMethod, type Input, type IpcError, type Method, type Outputs, type PushEvent, type Result } from './contract.ts';

/** A listener of push events. */
export type PushListener = (event: PushEvent) => void;

/** The contract served over one engine: the Electron main process and the web host both use it. */
export interface Dispatcher {
  call(method: string, input: unknown): Promise<Result>;
  subscribe(listener: PushListener): () => void;
  /** Cancels running imports and detaches from the engine. */
  close(): Promise<void>;
}

const HINTS: Partial<Record<ErrorCode, string>> = {
  'not-found': 'Check that the item still exists (reload the list), or that the card or folder is connected.',
  'invalid-input': 'Correct the highlighted value and try again.',
  'unsupported-media': 'Keepsake imports photos (JPEG, PNG, TIFF, WebP, GIF, HEIC, RAW) and videos (MP4, MOV, MTS, AVI).',
  'corrupt-media': 'The file is damaged; copy it again from the camera card if you still have it.',
  io: 'Check the drive is connected and writable, then try again.',
  'disk-full': 'Free some space on the destination disk, then run the import again: it resumes where it stopped.',
  conflict: 'Reload to see the latest version, then make your change again.',
  network: 'Check the network connection; Keepsake retries by itself.',
  cancelled: 'Start it again to finish it: nothing already done is lost.',
  internal: 'Try again; if it keeps happening, the log in .keepsake/logs says more.',
};

/** The boundary error for any thrown value: a sentence and a hint, never a stack. */
export function toIpcError(error: unknown): IpcError {
  const appError = isAppError(error) ? error : toAppError(error);
  const message = appError.code === 'internal' && !isAppError(error) ? 'Something went wrong inside Keepsake.' : appError.message;
  const hint = HINTS[appError.code];
  return { code: appError.code, message, ...(hint ? { hint } : {}) };
}

function describeIssues(issues: z.core.$ZodIssue[]): string {
  const first = issues[0];
  if (!first) return 'The request is not valid.';
  const where = first.path.length > 0 ? `"${first.path.map(String).join('.')}"` : 'the request';
  const what =
    first.code === 'unrecognized_keys' ? `has fields Keepsake does not know (${first.keys.slice(0, 3).join(', ')})` : first.message.replace(/^Invalid input: /, '').toLowerCase();
  return `The value of ${where} is not valid: ${what}.`;
}

type Handlers = { [M in Method]: (input: Input<M>) => Promise<Outputs[M]> | Outputs[M] };

/** Options of {@link createDispatcher}. */
export interface DispatcherOptions {
  /** Where the sync session's refresh token is kept: Electron passes the keychain's; by default a 0600 file in the library. */
  sessions?: SessionStore;
  /** Where an access key entered in the settings is kept: Electron passes the keychain's; by default a 0600 file in the library. */
  credentials?: SecretStore;
  /** How often the school's change feed is pulled while signed in (default 60 s; 0 never). */
  feedPollMs?: number;
}

/** Builds the dispatcher: validates every input with the contract before the engine sees it. */
export function createDispatcher(engine: Engine, options: DispatcherOptions = {}): Dispatcher {
  const listeners = new Set<PushListener>();
  const imports = new Map<string, AbortController>();
  const running = new Set<Promise<void>>();
  const push = (event: PushEvent): void => {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        engine.log.warn('push listener failed', { error: toAppError(error) });
      }
    }
  };
  const onProgress = (progress: Outputs['jobs:progress']): void => push({ event: 'jobs:progress', payload: progress });
  const onDone = (job: { kind: string; assetId: AssetId | null }): void => {
    if (job.kind === 'thumbs' && job.assetId !== null) push({ event: 'asset:thumbReady', payload: { assetId: job.assetId } });
  };
  const onCard = (card: PushEvent & { event: 'volume:inserted' }): void => push(card);
  const onCardInserted = (payload: Parameters<typeof onCard>[0]['payload']): void => onCard({ event: 'volume:inserted', payload });
  const onCardRemoved = (payload: { path: string; label: string }): void => push({ event: 'volume:removed', payload });
  engine.jobs.on('progress', onProgress);
  engine.jobs.on('done', onDone);
  engine.volumes.on('card', onCardInserted);
  engine.volumes.on('removed', onCardRemoved);
  const publishing = createPublishHandlers(engine, { push, pollMs: options.feedPollMs ?? 60_000, ...(options.sessions ? { sessions: options.sessions } : {}), ...(options.credentials ? { credentials: options.credentials } : {}) });

  const { catalog } = engine;
  const folders = new EventFolders(catalog);
  const batch = (ids: readonly number[], apply: (id: AssetId) => void): { updated: number } => {
    catalog.assertWritable();
    const missing = ids.find((id) => !catalog.assets.get(id as AssetId));
    if (missing !== undefined) throw new AppError('not-found', `Asset ${missing} is not in the library; nothing was changed.`);
    catalog.transaction(() => ids.forEach((id) => apply(id as AssetId)));
    return { updated: ids.length };
  };
  const person = (id: number): PersonId => {
    if (!catalog.people.get(id as PersonId)) throw new AppError('not-found', `Person ${id} is not in the library.`);
    return id as PersonId;
  };

  const handlers: Handlers = {
    'library:info': () => {
      const info = catalog.library.get();
      return { root: engine.libraryRoot, name: info?.name ?? '', readOnly: catalog.readOnly, damage: catalog.damage };
    },
    // A dispatcher serves one engine; switching libraries is the holder's (see library-holder.ts).
    'library:open': ({ path: wanted }) => {
      if (path.resolve(wanted) !== engine.libraryRoot) throw new AppError('conflict', `Keepsake has the library at ${engine.libraryRoot} open; restart it with the other library to switch.`);
      const info = catalog.library.get();
      return { root: engine.libraryRoot, name: info?.name ?? '', readOnly: catalog.readOnly, damage: catalog.damage };
    },
    'library:recent': () => ({ libraries: [{ path: engine.libraryRoot, name: catalog.library.get()?.name ?? path.basename(engine.libraryRoot), openedAt: new Date().toISOString(), available: true }], suggested: engine.libraryRoot }),
    'library:status': () => {
      const byStatus = catalog.assets.countByStatus();
      return {
        assets: catalog.assets.count(),
        unreadable: byStatus.unreadable,
        missing: byStatus.missing,
        events: catalog.events.list().length,
        people: catalog.people.list().length,
        jobs: catalog.jobs.countsByKind(),
      };
    },
    'events:list': () => {
      const covers = catalog.assets.eventCovers();
      return catalog.events.listSummaries().map((event) => ({
        ...event,
        unpublishedCount: Math.max(0, event.assetCount - catalog.cloud.publicationCounts(event.id).published),
        coverAssetId: covers.get(event.id) ?? null,
      }));
    },
    'events:create': (input) => {
      catalog.assertWritable();
      const planned = folders.peek(input.name);
      if (planned.id !== null) throw new AppError('conflict', `An event named "${planned.name}" already exists.`);
      return catalog.events.create({ ...input, name: planned.name, folder: planned.folder });
    },
    'events:update': ({ id, version, ...fields }) => {
      catalog.assertWritable();
      return catalog.events.update(id as EventId, version, fields);
    },
    'assets:eventPage': ({ eventId, order, limit, after }) => {
      if (!catalog.events.get(eventId as EventId)) throw new AppError('not-found', `Event ${eventId} is not in the library.`);
      return catalog.assets.listEventPage(eventId as EventId, { limit, after, order });
    },
    'assets:timelinePage': ({ order, limit, after }) => catalog.assets.listTimelinePage({ limit, after, order }),
    'assets:get': ({ id }) => {
      const asset = catalog.assets.get(id as AssetId);
      if (!asset) throw new AppError('not-found', `Asset ${id} is not in the library.`);
      return { asset, tags: catalog.tags.forAsset(asset.id), people: catalog.people.forAsset(asset.id), variants: [...engine.derivatives.variantsOf(asset), 'original'] };
    },
    'assets:positions': ({ eventId, order }) => {
      if (eventId !== undefined && !catalog.events.get(eventId as EventId)) throw new AppError('not-found', `Event ${eventId} is not in the library.`);
      return { ids: catalog.assets.listIds({ eventId: (eventId ?? null) as EventId | null, ...(order ? { order } : {}) }) };
    },
    'assets:getMany': ({ ids }) => catalog.assets.getMany(ids as AssetId[]),
    'assets:setRating': ({ ids, rating }) => batch(ids, (id) => catalog.assets.setCulling(id, { rating })),
    'assets:setFlag': ({ ids, flag }) => batch(ids, (id) => catalog.assets.setCulling(id, { flag })),
    'assets:setColorLabel': ({ ids, colorLabel }) => batch(ids, (id) => catalog.assets.setCulling(id, { colorLabel })),
    'assets:setText': ({ ids, title, description }) => {
      if (title === undefined && description === undefined) throw new AppError('invalid-input', 'Give a title, a description or both.');
      return batch(ids, (id) => catalog.assets.setText(id, { ...(title !== undefined ? { title } : {}), ...(description !== undefined ? { description } : {}) }));
    },
    'tags:add': ({ ids, tags }) => batch(ids, (id) => catalog.tags.tagAsset(id, tags)),
    'tags:remove': ({ ids, tags }) => batch(ids, (id) => tags.forEach((tag) => catalog.tags.untagAsset(id, tag))),
    'people:list': () => catalog.people.list(),
    'people:tag': ({ ids, personId }) => {
      const who = person(personId);
      return batch(ids, (id) => catalog.people.tagAsset(id, who));
    },
    'people:untag': ({ ids, personId }) => {
      const who = person(personId);
      return batch(ids, (id) => catalog.people.untagAsset(id, who));
    },
    'people:importRoster': ({ file }) => engine.roster.import(file),
    'search:query': ({ query, limit, after }) => engine.search.search(query, { limit, after }),
    'search:suggest': ({ prefix, limit }) => engine.search.suggest(prefix, limit),
    'import:preview': async ({ source, event, template, limit, quick }) => {
      if (quick) {
        const names = await engine.imports.previewNames({ source, event, limit, ...(template !== undefined ? { renameTemplate: template } : {}) });
        return { ...names, duplicates: null };
      }
      const report = await engine.imports.run({ source, event, dryRun: true, ...(template !== undefined ? { renameTemplate: template } : {}) });
      return {
        event: report.event.name,
        names: report.imported.slice(0, limit).map((file) => ({ source: file.source, destination: file.destination })),
        duplicates: report.duplicates.length,
        failed: report.failed,
        total: report.imported.length,
      };
    },
    'import:start': async ({ source, event, template, backupDir, tags }) => {
      catalog.assertWritable();
      const importId = randomBytes(16).toString('hex');
      const controller = new AbortController();
      imports.set(importId, controller);
      const errors: Array<{ source: string; reason: string }> = [];
      engine.jobs.start();
      const work = engine.imports
        .run({
          source,
          event,
          ...(template !== undefined ? { renameTemplate: template } : {}),
          ...(backupDir !== undefined ? { backupDir } : {}),
          ...(tags !== undefined ? { tags } : {}),
          signal: controller.signal,
          onProgress: (progress) => {
            engine.jobs.notify();
            push({
              event: 'import:progress',
              payload: {
                importId,
                phase: progress.phase,
                filesDone: progress.filesDone,
                filesTotal: progress.filesTotal,
                bytesDone: progress.bytesDone,
                bytesTotal: progress.bytesTotal,
                bytesPerSec: progress.bytesPerSec,
                etaSec: progress.etaSec,
                current: progress.current,
                errors,
              },
            });
          },
        })
        .then(
          (report) => {
            push({
              event: 'import:finished',
              payload: {
                importId,
                state: report.state,
                imported: report.imported.length,
                duplicates: report.duplicates.length,
                failed: report.failed,
                error: report.error ? { code: report.state === 'cancelled' ? 'cancelled' : 'io', message: report.error } : null,
              },
            });
          },
          (error: unknown) => {
            engine.log.warn('import failed', { importId, error: toAppError(error) });
            const state = isAppError(error, 'cancelled') ? 'cancelled' : 'failed';
            push({ event: 'import:finished', payload: { importId, state, imported: 0, duplicates: 0, failed: [], error: toIpcError(error) } });
          },
        )
        .finally(() => {
          imports.delete(importId);
          running.delete(work);
        });
      running.add(work);
      return { importId };
    },
    'import:cancel': ({ importId }) => {
      const controller = imports.get(importId);
      controller?.abort();
      return { cancelled: controller !== undefined };
    },
    'jobs:progress': () => engine.jobs.progress(),
    'assets:unreadable': ({ limit }) =>
      engine.search
        .search('is:unreadable', { limit })
        .items.map((asset) => ({ id: asset.id, path: asset.path, originalName: asset.originalName, reason: asset.error })),
    'volumes:list': () => engine.volumes.cards,
    ...publishing.handlers,
    ...createAdminHandlers(engine, publishing.client),
  };

  return {
    async call(method, input) {
      if (typeof method !== 'string' || !isMethod(method)) {
        return { ok: false, error: { code: 'unknown-method', message: `Keepsake has no operation called "${String(method).slice(0, 80)}".`, hint: 'Update the app: the window and the engine may be of different versions.' } };
      }
      const parsed = CALLS[method].safeParse(input === undefined ? {} : input);
      if (!parsed.success) {
        return { ok: false, error: { code: 'invalid-input', message: describeIssues(parsed.error.issues), hint: HINTS['invalid-input']! } };
      }
      try {
        const handler = handlers[method] as (value: unknown) => unknown;
        return { ok: true, value: await handler(parsed.data) };
      } catch (error) {
        if (!isAppError(error)) engine.log.error('call failed', { method, error: toAppError(error) });
        return { ok: false, error: toIpcError(error) };
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      for (const controller of imports.values()) controller.abort();
      await Promise.allSettled([...running]);
      await publishing.close();
      engine.jobs.off('progress', onProgress);
      engine.jobs.off('done', onDone);
      engine.volumes.off('card', onCardInserted);
      engine.volumes.off('removed', onCardRemoved);
      listeners.clear();
    },
  };
}
