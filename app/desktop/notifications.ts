import type { PushPayloads, Result } from '../ipc/contract.ts';

/** A native notification's text. */
export interface NotificationText {
  title: string;
  body: string;
}

type Finished = PushPayloads['import:finished'];

function number(n: number, locale: string): string {
  return new Intl.NumberFormat(locale).format(n);
}

function count(n: number, one: string, many: string, locale: string): string {
  return `${number(n, locale)} ${n === 1 ? one : many}`;
}

/**
 * The notification shown when an import ends, e.g. "Imported 1,204 photos into Sports Day · 3 could not be read".
 * `event` is the event's name as the import was started with (the finished event carries only the import's id).
 */
export function importFinishedNotification(finished: Finished, event: string | null, locale = 'en-US'): NotificationText {
  const into = event ? ` into ${event}` : '';
  const extras = [
    ...(finished.duplicates > 0 ? [`${number(finished.duplicates, locale)} already in the library`] : []),
    ...(finished.failed.length > 0 ? [`${number(finished.failed.length, locale)} could not be read`] : []),
  ];
  const tail = extras.length > 0 ? ` · ${extras.join(' · ')}` : '';
  if (finished.state === 'cancelled') {
    return { title: 'Import stopped', body: `Stopped after ${count(finished.imported, 'photo', 'photos', locale)}${into}${tail}. Start it again to finish: nothing is copied twice.` };
  }
  if (finished.state === 'failed' || (finished.error !== null && finished.state !== 'completed')) {
    const reason = finished.error?.message ?? 'the import could not finish';
    return { title: 'Import failed', body: `${count(finished.imported, 'photo', 'photos', locale)} imported${into} before it stopped: ${reason}` };
  }
  return { title: 'Import finished', body: `Imported ${count(finished.imported, 'photo', 'photos', locale)}${into}${tail}` };
}

/** Remembers which event each running import is for, so its finished notification can name it. */
export class ImportNotifier {
  private readonly events = new Map<string, string>();

  /** An `import:start` call for `event` answered with `importId`. */
  started(importId: string, event: string): void {
    this.events.set(importId, event);
  }

  /** The notification for an `import:finished` push event (forgets the import). */
  finished(payload: Finished): NotificationText {
    const event = this.events.get(payload.importId) ?? null;
    this.events.delete(payload.importId);
    return importFinishedNotification(payload, event);
  }
}

/** A call target, as the IPC guard forwards to it. */
export interface CallTarget {
  call(method: string, input: unknown): Promise<Result>;
}

/** Wraps the engine's call target so every import started through it is remembered by `notifier`. */
export function trackImports(target: CallTarget, notifier: ImportNotifier): CallTarget {
  return {
    async call(method, input) {
      const result = await target.call(method, input);
      if (method === 'import:start' && result.ok) {
        const { importId } = result.value as { importId: string };
        notifier.started(importId, (input as { event: string }).event);
      }
      return result;
    },
  };
}
