/**
 * The gallery listing's prepared copies of events' media. A listing page is the same for every caller
 * but for who may see what (audience, consent, the caller's own children and favourites), so the
 * rows of an event, grouped into items and with the JSON of the fields everyone sees already written,
 * are kept per event and reused until the event's media version (`media_versions`, bumped in the
 * transaction of every publish and erasure) moves on. The version is read from the database on every
 * request, so an instance never serves another instance's outdated copy; everything that depends on
 * the caller is still decided per request, outside this cache.
 */
import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { MediaItem } from './media.ts';

/** Assets kept prepared, over all events (the least recently listed events dropped first): about 25 galleries of 2,000, ~4 KB each. */
const KEPT_ITEMS = 50_000;

/** One asset as the listing writes it: its JSON in parts, the URLs' part renewed as they age. */
export interface ListedItem {
  item: MediaItem;
  /** `{"assetId":…,"thumbhash":…`: every caller's fields, without the closing brace. */
  head: string;
  /** `,"people":[…]`: staff only. */
  people: string;
  /** `,"variants":{…}` with the listed variants' URLs; unset until first listed. */
  variants?: string;
  /** When the URLs in {@link variants} have half their lifetime left and are signed again. */
  renewAtMs: number;
  /** UTF-8 of head and variants (what parents and students see, before their own fields), once signed. */
  shown?: Buffer;
  /** UTF-8 of head, people and variants (what staff see), written when staff first list it. */
  staffShown?: Buffer;
}

/** An event's media at one version, in position order. */
export interface PreparedEvent {
  version: number;
  /** The event's name at preparation: it names the files browsers save, so a rename prepares again. */
  eventName: string;
  items: ListedItem[];
}

/** Writes an item's fields everyone sees as JSON (the same bytes `JSON.stringify` of the listing's object gives). */
export function listedItem(item: MediaItem): ListedItem {
  const head = JSON.stringify({
    assetId: item.assetId,
    kind: item.kind,
    capturedAt: item.capturedAt,
    width: item.width,
    height: item.height,
    durationSec: item.durationSec,
    rating: item.rating,
    title: item.title,
    description: item.description,
    tags: item.tags,
    thumbhash: item.thumbhash ?? null,
  }).slice(0, -1);
  return { item, head, people: `,"people":${JSON.stringify(item.people)}`, renewAtMs: 0 };
}

export class PreparedEvents {
  private readonly kept = new Map<string, PreparedEvent>();
  private keptItems = 0;
  /** Preparations under way, shared by the requests that arrive while one runs. */
  private readonly loading = new Map<string, Promise<PreparedEvent>>();

  /**
   * The event's prepared media at `version`, prepared from `load` (the event's items in position order)
   * when none is kept for that version and name.
   */
  async get(eventId: string, version: number, eventName: string, load: () => Promise<MediaItem[]>): Promise<PreparedEvent> {
    const kept = this.kept.get(eventId);
    if (kept !== undefined && kept.version === version && kept.eventName === eventName) {
      this.kept.delete(eventId);
      this.kept.set(eventId, kept);
      return kept;
    }
    const key = `${eventId}\n${version}\n${eventName}`;
    let pending = this.loading.get(key);
    if (pending === undefined) {
      pending = load()
        .then((items) => {
          const prepared: PreparedEvent = { version, eventName, items: items.map(listedItem) };
          const current = this.kept.get(eventId);
          // A slower preparation of an older version never replaces a newer one.
          if (current === undefined || current.version <= version) this.keep(eventId, prepared);
          return prepared;
        })
        .finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    return pending;
  }

  /** Keeps `prepared` as the event's (the most recently listed), dropping the longest unlisted beyond {@link KEPT_ITEMS}. */
  private keep(eventId: string, prepared: PreparedEvent): void {
    const previous = this.kept.get(eventId);
    if (previous !== undefined) {
      this.kept.delete(eventId);
      this.keptItems -= previous.items.length;
    }
    this.kept.set(eventId, prepared);
    this.keptItems += prepared.items.length;
    for (const [oldest, dropped] of this.kept) {
      if (this.keptItems <= KEPT_ITEMS || oldest === eventId) break;
      this.kept.delete(oldest);
      this.keptItems -= dropped.items.length;
    }
  }
}

/**
 * Moves the media version of `eventIds` on: call it in the transaction that changes their media rows,
 * so the new version commits (and the prepared copies of the old one stop being served) with the rows.
 */
export async function bumpMediaVersion(trx: Transaction<Database>, schoolId: string, eventIds: readonly string[]): Promise<void> {
  if (eventIds.length === 0) return;
  await trx
    .insertInto('media_versions')
    .values(eventIds.map((eventId) => ({ event_id: eventId, school_id: schoolId, version: 1 })))
    .onConflict((conflict) => conflict.column('event_id').doUpdateSet((eb) => ({ version: eb('media_versions.version', '+', 1) })))
    .execute();
}

/** The index of the first item after position `after` (all of them when undefined). */
export function firstAfter(items: readonly ListedItem[], after: number | undefined): number {
  if (after === undefined) return 0;
  let low = 0;
  let high = items.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((items[middle] as ListedItem).item.position <= after) low = middle + 1;
    else high = middle;
  }
  return low;
}
