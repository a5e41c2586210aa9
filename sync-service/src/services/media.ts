/**
 * Published media: the manifest a desktop writes after uploading an event's objects, and the
 * short-lived URLs browsers read them through. The service never touches the bytes; it checks that
 * every object the manifest names is really in the bucket, at the stated size, under this school's
 * prefix, before anything counts against the quota.
 */
import { sql, type Insertable, type Kysely, type Transaction } from 'kysely';
import { recordAudit } from '../audit.ts';
import type { Database, MediaRow, MediaTable, Role } from '../db/schema.ts';
import { ApiError } from '../errors.ts';
import { isPostgres } from '../db/dialect.ts';
import { EDITOR_ROLES, STAFF_ROLES } from './access.ts';
import type { Caller, EventService, PublicEvent } from './events.ts';
import { ensureUsage, planOf, quotaExceeded, readUsage } from './quota.ts';
import { queueMediaDigests } from '../notify/notify-queue.ts';
import { bumpMediaVersion, firstAfter, PreparedEvents, type ListedItem } from './media-pages.ts';
import type { MediaSettings, ObjectStore } from './storage.ts';

import { MEDIA_VARIANTS, type ManifestAsset, type MediaVariant } from '../../../app/sync/protocol.ts';

export { MEDIA_VARIANTS, type ManifestAsset, type MediaVariant };
/** The variants a gallery page shows, signed in the listing; the others are fetched one at a time. */
const LISTED_VARIANTS: readonly string[] = ['thumb', 'preview', 'poster'];

/** The variants whose URLs, handed to a parent or student, are recorded as downloads (thumbs and posters are not). */
const AUDITED_VARIANTS: readonly string[] = ['preview', 'original', 'proxy'];
/** Whose downloads are recorded: the families' side; staff work with the media every day. */
const AUDITED_ROLES: readonly Role[] = ['parent', 'student'];

/** Presigned URLs kept for reuse (oldest dropped first): a few galleries' worth. */
const SIGNED_URL_CACHE = 50_000;
/** How many HeadObject calls run at once while a manifest is checked. */
const HEAD_CONCURRENCY = 16;
/** Smallest group of a manifest's keys under one event prefix that is listed rather than HEADed. */
const LIST_MIN_KEYS = 4;
/** Most prefixes one manifest check lists (at once); the keys of any further prefixes are HEADed. */
const MAX_LISTINGS = 8;
/** Objects in one listing page. */
const LIST_PAGE = 1000;
/** Most ranges a prefix of more than a page of keys is split into, to list them side by side. */
const MAX_SPLIT = 32;
/** The fixed bytes of a listing page's JSON. */
const PAGE_START = Buffer.from('{"media":[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from('}');
const NO_CHILDREN = Buffer.from(',"children":[],"favourite":false}');
const NO_CHILDREN_FAVOURITE = Buffer.from(',"children":[],"favourite":true}');
/** Rows per INSERT: about 20 parameters a row stays well under SQLite's and PostgreSQL's limits. */
const INSERT_CHUNK = 500;


export interface PublishResult {
  eventId: string;
  assets: number;
  objects: number;
  bytes: number;
  usedBytes: number;
  reservedBytes: number;
}

/** One published asset with all its variants, as {@link mayView} and the listing see it. */
/** What the desktop's manifest says about an asset (kind, time, size, rating, title, caption, tags). */
type MediaDescription = Omit<ManifestAsset, 'id' | 'people' | 'variants'>;

export interface MediaItem extends MediaDescription {
  assetId: string;
  position: number;
  /** Student ids tagged; shown to staff only. */
  people: string[];
  variants: Map<string, MediaRow>;
}

export interface SignedUrl {
  url: string;
  /** Null for CDN URLs, which do not expire. */
  expiresAt: string | null;
}

export interface PublicMedia extends MediaDescription {
  assetId: string;
  /** Staff only: every student tagged. */
  people?: string[];
  /** Parents only: the caller's own children tagged (never anyone else's). */
  children?: string[];
  /** Parents only: whether the caller's family marked it as a favourite. */
  favourite?: boolean;
  /** Every variant published, with its size; `url`/`expiresAt` for the listed ones (thumb, preview, poster). */
  variants: Record<string, { size: number } & Partial<SignedUrl>>;
}

/**
 * Whether `caller` may see `media` of `event`, an event `caller` was already allowed to see (who sees
 * which event, audience and expiry included, is `EventService`'s rule). Staff (admin, photographer,
 * teacher) see all of their school's media. Parents and students see the media of published events,
 * and only media whose every tagged student is in `publishable` (publish consent granted; no consent
 * row is a refusal): a withdrawal hides the media from the gallery at once.
 */
export function mayView(caller: Caller, event: PublicEvent, media: MediaItem, publishable: ReadonlySet<string>): boolean {
  if (event.schoolId !== caller.schoolId) return false;
  if ([...media.variants.values()].some((row) => row.event_id !== event.id)) return false;
  if (STAFF_ROLES.includes(caller.role)) return true;
  return event.state === 'published' && media.people.every((id) => publishable.has(id));
}

/** What narrows a listing: a page, and for parents their favourites or one of their children. */
export interface ListOptions {
  limit: number;
  after: number | undefined;
  /** Only the caller's family's favourites (parents only). */
  favourites?: boolean;
  /** Only media tagged with this student: for a parent one of their own children, for staff anyone. */
  child?: string | undefined;
}

/** A parent's side of the school: the families they are in and those families' live children. */
export interface FamilyScope {
  familyIds: string[];
  childIds: ReadonlySet<string>;
}

/** An event's media as the caller may see them: how many, and the first one's thumbhash for a cover. */
export interface EventMediaCount {
  eventId: string;
  mediaCount: number;
  coverThumbhash: string | null;
}

/**
 * The families `caller` (a parent) belongs to in their school and those families' live children, in
 * one query; empty for anyone else. A family with no children still counts (it has favourites).
 */
export async function familyScope(db: Kysely<Database>, caller: Caller): Promise<FamilyScope> {
  if (caller.role !== 'parent') return { familyIds: [], childIds: new Set() };
  const rows = await db
    .selectFrom('family_members')
    .innerJoin('families', 'families.id', 'family_members.family_id')
    .leftJoin('family_students', 'family_students.family_id', 'families.id')
    .leftJoin('students', (join) =>
      join.onRef('students.id', '=', 'family_students.student_id').on('students.deleted_at', 'is', null).on('students.school_id', '=', caller.schoolId),
    )
    .select(['families.id as family_id', 'students.id as student_id'])
    .where('family_members.user_id', '=', caller.userId)
    .where('families.school_id', '=', caller.schoolId)
    .execute();
  return {
    familyIds: [...new Set(rows.map((row) => row.family_id))],
    childIds: new Set(rows.flatMap((row) => (row.student_id === null ? [] : [row.student_id]))),
  };
}

/**
 * Of `tagged` (student ids), those of a live student of the school whose publish consent is granted:
 * one query however many. A tagged id that is not a live student (erased, or never synced) has no
 * consent, so its media stay hidden.
 */
export async function publishableStudents(db: Kysely<Database>, schoolId: string, tagged: readonly string[]): Promise<ReadonlySet<string>> {
  const ids = [...new Set(tagged)];
  if (ids.length === 0) return new Set();
  const rows = await db
    .selectFrom('consents')
    .innerJoin('students', 'students.id', 'consents.student_id')
    .select('consents.student_id')
    .where('students.school_id', '=', schoolId)
    .where('students.deleted_at', 'is', null)
    .where('consents.purpose', '=', 'publish')
    .where('consents.granted', '=', 1)
    .where('consents.student_id', 'in', ids)
    .execute();
  return new Set(rows.map((row) => row.student_id));
}

/** `Sports Day!` → `sports-day`; the file names browsers save never carry the camera's names. */
export function fileSlug(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return slug === '' ? 'event' : slug;
}

/** `sports-day-0042.jpg` for the preview and original, `sports-day-0042-thumb.webp` for the others. */
export function safeFileName(eventName: string, position: number, variant: string, key: string): string {
  const dot = key.lastIndexOf('.');
  const raw = dot > key.lastIndexOf('/') ? key.slice(dot + 1).toLowerCase() : '';
  const ext = /^[a-z0-9]{1,5}$/.test(raw) ? raw : 'bin';
  const suffix = variant === 'preview' || variant === 'original' ? '' : `-${variant}`;
  return `${fileSlug(eventName)}-${String(position + 1).padStart(4, '0')}${suffix}.${ext}`;
}

/** Runs `work` over `items`, at most `limit` at a time; resolves with the results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * The sizes of the objects among `keys` that are in the store. Keys are grouped by their event's prefix
 * (`schools/{school}/events/{event}/`, as the desktop lays them out); each group of at least
 * {@link LIST_MIN_KEYS} keys, the {@link MAX_LISTINGS} largest of them, is listed (1,000 objects a
 * request) instead of asked about one by one. Whatever a listing did not show (a smaller group, a
 * listing that failed or ran past its page budget, an object uploaded a moment ago) is asked with
 * HeadObject, so a key is only ever reported missing after a HEAD said so.
 */
async function sizesInStore(store: ObjectStore, keys: readonly string[]): Promise<Map<string, number>> {
  const groups = new Map<string, string[]>();
  for (const key of keys) {
    const segments = key.split('/');
    if (segments.length <= 4) continue;
    const prefix = `${segments.slice(0, 4).join('/')}/`;
    const group = groups.get(prefix);
    if (group === undefined) groups.set(prefix, [key]);
    else group.push(key);
  }
  const listed = [...groups.values()]
    .filter((group) => group.length >= LIST_MIN_KEYS)
    .sort((a, b) => b.length - a.length)
    .slice(0, MAX_LISTINGS);
  const sizes = new Map<string, number>();
  await Promise.all(listed.map((group) => listGroup(store, group, sizes)));
  const rest = keys.filter((key) => !sizes.has(key));
  const heads = await mapLimit(rest, HEAD_CONCURRENCY, (key) => store.head(key));
  for (const [i, key] of rest.entries()) {
    const head = heads[i];
    if (head !== undefined) sizes.set(key, head.size);
  }
  return sizes;
}

/**
 * Lists the keys' longest common prefix until every key was seen, the listing passed the last of them
 * (keys come in order), or it read twice the pages its keys fill plus two (the range then holds mostly
 * objects the manifest does not name: the keys left are cheaper to HEAD). A failed listing (a bucket
 * policy without s3:ListBucket, say) leaves its keys to HeadObject.
 */
async function listGroup(store: ObjectStore, group: readonly string[], sizes: Map<string, number>): Promise<void> {
  const sorted = [...group].sort();
  const first = sorted[0] ?? '';
  const last = sorted[sorted.length - 1] ?? '';
  let common = 0;
  while (common < first.length && first[common] === last[common]) common += 1;
  // Pages of one listing come one after the other; more than a page of keys is split by the next
  // character (the desktop's content hashes: 16 ranges) and the ranges are listed side by side.
  if (group.length > LIST_PAGE) {
    const parts = new Map<string, string[]>();
    for (const key of sorted) {
      const next = key.slice(common, common + 1);
      const part = parts.get(next) ?? [];
      part.push(key);
      parts.set(next, part);
    }
    if (parts.size > 1 && parts.size <= MAX_SPLIT) {
      await Promise.all([...parts.values()].map((part) => listGroup(store, part, sizes)));
      return;
    }
  }
  const wanted = new Set(group);
  const budget = Math.ceil(group.length / LIST_PAGE) * 2 + 2;
  let pages = 0;
  let remaining = wanted.size;
  try {
    for await (const page of store.list(first.slice(0, common))) {
      pages += 1;
      for (const object of page) {
        if (wanted.has(object.key) && !sizes.has(object.key)) {
          sizes.set(object.key, object.size);
          remaining -= 1;
        }
      }
      const end = page[page.length - 1]?.key;
      if (remaining === 0 || end === undefined || end >= last || pages >= budget) break;
    }
  } catch {
    // HeadObject answers for these keys, and reports the store's error if it is down.
  }
}

/** A key the school may name: under its prefix, and free of segments a URL would normalise away. */
function checkKey(key: string, prefixes: string[]): string | undefined {
  if (!prefixes.some((prefix) => key.startsWith(prefix))) return `${key} is not under ${prefixes[0]} (this school's objects).`;
  const segments = key.split('/');
  const control = [...key].some((char) => char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f);
  if (segments.some((s) => s === '' || s === '.' || s === '..') || key.includes('\\') || control) {
    return `${key} has an empty, "." or ".." segment, a backslash or a control character.`;
  }
  return undefined;
}

export class MediaService {
  private readonly signed = new Map<string, { url: string; expiresAtMs: number }>();
  private readonly prepared = new PreparedEvents();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly events: EventService,
    private readonly media: MediaSettings | undefined,
  ) {}

  private settings(): MediaSettings {
    if (this.media === undefined) {
      throw new ApiError('internal', 'This sync service has no object storage configured (set S3_BUCKET), so media cannot be published or shown.', undefined, 503);
    }
    return this.media;
  }

  /**
   * Replaces the event's published media with `assets` and commits the reservation against their real
   * total. Checks everything first (plan, keys, every object's presence and size); then one transaction.
   */
  async publish(caller: Caller, eventId: string, reservationId: string | undefined, assets: ManifestAsset[]): Promise<PublishResult> {
    await this.events.get(caller, eventId);
    if (!EDITOR_ROLES.includes(caller.role)) throw new ApiError('forbidden', 'Only admins and photographers can publish media.');
    const { store } = this.settings();
    const invalid = (message: string) => new ApiError('invalid-input', message, undefined, 422);

    const school = await this.db.selectFrom('schools').select(['id', 'slug']).where('id', '=', caller.schoolId).executeTakeFirstOrThrow();
    const prefixes = [`schools/${school.slug}/events/`, `schools/${school.id}/events/`];
    const plan = await planOf(this.db, caller.schoolId);

    const seenAssets = new Set<string>();
    const objects = new Map<string, number>();
    for (const asset of assets) {
      if (seenAssets.has(asset.id)) throw invalid(`Asset ${asset.id} appears twice in the manifest.`);
      seenAssets.add(asset.id);
      if (asset.kind === 'video' && plan.video_allowed !== 1) {
        throw invalid(`The ${plan.name} plan does not include video; asset ${asset.id} is a video. Leave videos out or change the plan.`);
      }
      for (const [variant, object] of Object.entries(asset.variants)) {
        if (variant === 'original' && plan.originals_allowed !== 1) {
          throw invalid(`The ${plan.name} plan does not include originals; asset ${asset.id} has one. Turn off publishing originals or change the plan.`);
        }
        const problem = checkKey(object.key, prefixes);
        if (problem !== undefined) throw invalid(problem);
        if (objects.has(object.key)) throw invalid(`${object.key} is named twice in the manifest.`);
        objects.set(object.key, object.size);
      }
    }

    // Every object must be in the bucket at its stated size before it counts.
    const keys = [...objects.keys()];
    const found = await sizesInStore(store, keys);
    for (const key of keys) {
      const size = found.get(key);
      const stated = objects.get(key) ?? 0;
      if (size === undefined) throw invalid(`${key} is not in the bucket: upload it before publishing the manifest.`);
      if (size !== stated) throw invalid(`${key} is ${size} bytes in the bucket but the manifest says ${stated}.`);
    }

    const now = new Date().toISOString();
    const rows: Array<Insertable<MediaTable>> = [];
    for (const [position, asset] of assets.entries()) {
      for (const [variant, object] of Object.entries(asset.variants)) {
        rows.push({
          school_id: caller.schoolId,
          event_id: eventId,
          asset_id: asset.id,
          variant,
          position,
          kind: asset.kind,
          object_key: object.key,
          size: object.size,
          hash: object.hash,
          width: asset.width,
          height: asset.height,
          duration_sec: asset.durationSec,
          captured_at: asset.capturedAt,
          rating: asset.rating,
          title: asset.title,
          description: asset.description,
          tags: JSON.stringify(asset.tags),
          people: JSON.stringify(asset.people),
          thumbhash: asset.thumbhash ?? null,
          published_at: now,
        });
      }
    }
    const total = rows.reduce((sum, row) => sum + Number(row.size), 0);
    const limit = Number(plan.storage_bytes);
    await ensureUsage(this.db, caller.schoolId);

    const outcome = await this.db.transaction().execute(async (trx) => {
      // Serialises manifests of one event (a row lock on PostgreSQL; SQLite has one writer anyway).
      await trx.updateTable('events').set((eb) => ({ version: eb.ref('version') })).where('id', '=', eventId).execute();
      const previous = Number(
        (await trx.selectFrom('media').select((eb) => eb.fn.coalesce(eb.fn.sum<number | string>('size'), sql<number>`0`).as('bytes')).where('event_id', '=', eventId).executeTakeFirst())
          ?.bytes ?? 0,
      );
      const held = reservationId === undefined ? 0 : await this.commitReservation(trx, caller, eventId, reservationId, now);
      const delta = total - previous;
      // Fits if it needs no more than was reserved for it, or else if it stays within the plan.
      const settled = await trx
        .updateTable('usage')
        .set({ used_bytes: sql`used_bytes + ${delta}`, reserved_bytes: sql`reserved_bytes - ${held}` })
        .where('school_id', '=', caller.schoolId)
        .$if(delta > held, (q) => q.where(sql<boolean>`used_bytes + reserved_bytes - ${held} + ${delta} <= ${limit}`))
        .executeTakeFirst();
      if (Number(settled.numUpdatedRows) !== 1) return { ok: false as const, needed: delta - held };
      // Before the old rows go: what was already published is not news in the families' digests.
      await queueMediaDigests(trx, { schoolId: caller.schoolId, eventId, assets });
      await trx.deleteFrom('media').where('event_id', '=', eventId).execute();
      await insertMedia(trx, rows);
      await bumpMediaVersion(trx, caller.schoolId, [eventId]);
      await recordAudit(trx, {
        action: 'media.published',
        subject: `event:${eventId}`,
        schoolId: caller.schoolId,
        actorUserId: caller.userId,
        detail: { assets: assets.length, objects: rows.length, bytes: total, previousBytes: previous, reservationId: reservationId ?? null, reservedBytes: held },
      });
      return { ok: true as const, usage: await readUsage(trx, caller.schoolId) };
    });
    if (!outcome.ok) throw await quotaExceeded(this.db, caller.schoolId, limit, outcome.needed);
    return { eventId, assets: assets.length, objects: rows.length, bytes: total, ...outcome.usage };
  }

  /** Marks the reservation committed and returns the bytes it held (0 if it had already run out). */
  private async commitReservation(trx: Transaction<Database>, caller: Caller, eventId: string, reservationId: string, now: string): Promise<number> {
    const committed = await trx
      .updateTable('reservations')
      .set({ state: 'committed', settled_at: now })
      .where('id', '=', reservationId)
      .where('school_id', '=', caller.schoolId)
      .where('event_id', '=', eventId)
      .where('state', '=', 'reserved')
      .returning('bytes')
      .executeTakeFirst();
    if (committed !== undefined) return Number(committed.bytes);
    const current = await trx
      .selectFrom('reservations')
      .select('state')
      .where('id', '=', reservationId)
      .where('school_id', '=', caller.schoolId)
      .where('event_id', '=', eventId)
      .executeTakeFirst();
    if (current === undefined) throw new ApiError('invalid-input', `No reservation ${reservationId} for this event.`, undefined, 422);
    if (current.state === 'committed') throw new ApiError('conflict', `Reservation ${reservationId} was already used by another manifest; reserve again.`);
    // Released (it ran out): nothing held, so the plan's limit alone decides.
    return 0;
  }

  /**
   * A page of the event's media the caller may see, with URLs for thumb, preview and poster, as the
   * JSON the route sends. The event's media come from its prepared copy (`media-pages.ts`: rows grouped,
   * the fields everyone sees written as JSON, URLs signed as first listed), kept per media version; two
   * queries whatever the page size: the event's media version with, for a parent, their families'
   * favourites of the event, and, for parents and students, the consent of everyone tagged on the page
   * (for a parent, with which of them are their own). The page is the positions after the cursor,
   * narrowed to the family's favourites or to one child's tag, one more than the page to tell whether
   * another follows. A `child` filter costs one query more, to check the child is the parent's; a
   * version not prepared yet, one more for the event's rows. Media hidden by consent leave a page
   * short: follow `nextCursor` until it is null.
   *
   * A parent is told, per media, only which of their own children are tagged; `child` must be one of
   * them (anyone else's id is a 404, whether or not that student exists).
   */
  async list(caller: Caller, eventId: string, page: ListOptions): Promise<Buffer> {
    const event = await this.events.gallery(caller, eventId);
    const settings = this.settings();
    const staff = STAFF_ROLES.includes(caller.role);
    const parent = caller.role === 'parent';
    if (page.favourites === true && !parent) throw new ApiError('forbidden', 'Favourites belong to a family: only parents have them.');
    if (page.child !== undefined && !staff && !(await this.ownChildren(caller, [page.child])).has(page.child)) throw new ApiError('not-found', 'No such child in your family.');
    const { version, favourites } = await this.listingState(caller, eventId);
    const prepared = await this.prepared.get(eventId, version, event.name, async () => groupItems(await this.eventRows(caller.schoolId, eventId)));
    // Positions after the cursor, narrowed to one child's tag or the family's favourites, one more than the page.
    const picked: ListedItem[] = [];
    for (let i = firstAfter(prepared.items, page.after); i < prepared.items.length && picked.length <= page.limit; i++) {
      const listed = prepared.items[i] as ListedItem;
      if (page.child !== undefined && !listed.item.people.includes(page.child)) continue;
      if (page.favourites === true && !favourites.has(listed.item.assetId)) continue;
      picked.push(listed);
    }
    const more = picked.length > page.limit;
    const onPage = picked.slice(0, page.limit);
    if (onPage.length === 0) return Buffer.from('{"media":[],"nextCursor":null}');
    const items = onPage.map((listed) => listed.item);
    const { publishable, own } = parent ? await this.parentTags(caller, items.flatMap((item) => item.people)) : { publishable: await this.publishable(caller, items), own: new Set<string>() };
    const parts: Buffer[] = [PAGE_START];
    for (const listed of onPage) {
      if (!mayView(caller, event, listed.item, publishable)) continue;
      if (listed.shown === undefined || Date.now() >= listed.renewAtMs) await this.signListed(settings, event, listed);
      if (parts.length > 1) parts.push(COMMA);
      if (staff) parts.push((listed.staffShown ??= Buffer.from(`${listed.head}${listed.people}${listed.variants ?? ''}`)));
      else parts.push(listed.shown as Buffer);
      if (parent) {
        const children = listed.item.people.filter((id) => own.has(id));
        const favourite = favourites.has(listed.item.assetId);
        parts.push(children.length > 0 ? Buffer.from(`,"children":${JSON.stringify(children)},"favourite":${favourite}}`) : favourite ? NO_CHILDREN_FAVOURITE : NO_CHILDREN);
      } else parts.push(CLOSE);
    }
    const last = onPage[onPage.length - 1]?.item.position;
    parts.push(Buffer.from(`],"nextCursor":${more && last !== undefined ? JSON.stringify(String(last)) : 'null'}}`));
    return Buffer.concat(parts);
  }

  /**
   * The event's media version and, for a parent, the assets of the event their families marked as
   * favourites: one query (a row per favourite, or one with none).
   */
  private async listingState(caller: Caller, eventId: string): Promise<{ version: number; favourites: ReadonlySet<string> }> {
    const base = this.db
      .selectFrom('events')
      .leftJoin('media_versions', 'media_versions.event_id', 'events.id')
      .where('events.id', '=', eventId)
      .where('events.school_id', '=', caller.schoolId);
    const rows =
      caller.role === 'parent'
        ? await base
            .leftJoin('favourites', (join) =>
              join.onRef('favourites.event_id', '=', 'events.id').on((eb) =>
                eb(
                  'favourites.family_id',
                  'in',
                  eb
                    .selectFrom('family_members')
                    .innerJoin('families', 'families.id', 'family_members.family_id')
                    .select('family_members.family_id')
                    .where('family_members.user_id', '=', caller.userId)
                    .where('families.school_id', '=', caller.schoolId),
                ),
              ),
            )
            .select(['media_versions.version', 'favourites.asset_id'])
            .execute()
        : await base.select(['media_versions.version', sql<string | null>`null`.as('asset_id')]).execute();
    return {
      version: Number(rows[0]?.version ?? 0),
      favourites: new Set(rows.flatMap((row) => (row.asset_id === null ? [] : [row.asset_id]))),
    };
  }

  /** Every media row of the event, in the listing's order. */
  private eventRows(schoolId: string, eventId: string): Promise<MediaRow[]> {
    return this.db
      .selectFrom('media')
      .selectAll()
      .where('event_id', '=', eventId)
      .where('school_id', '=', schoolId)
      .orderBy('position')
      .orderBy('variant')
      .execute();
  }

  /** Signs the listed variants of one prepared item and writes its variants' JSON; renewed when the URLs are half spent. */
  private async signListed(settings: MediaSettings, event: PublicEvent, listed: ListedItem): Promise<void> {
    const variants: PublicMedia['variants'] = {};
    let renewAtMs = Number.POSITIVE_INFINITY;
    for (const [variant, row] of listed.item.variants) {
      if (!LISTED_VARIANTS.includes(variant)) {
        variants[variant] = { size: Number(row.size) };
        continue;
      }
      const signed = await this.sign(settings, event, row);
      variants[variant] = { size: Number(row.size), ...signed };
      if (signed.expiresAt !== null) renewAtMs = Math.min(renewAtMs, Date.parse(signed.expiresAt) - (settings.urlTtlSeconds * 1000) / 2);
    }
    listed.variants = `,"variants":${JSON.stringify(variants)}`;
    listed.shown = Buffer.from(`${listed.head}${listed.variants}`);
    listed.staffShown = undefined;
    listed.renewAtMs = renewAtMs;
  }

  /**
   * For a parent, of the students tagged on a page: those whose publish consent is granted, and those
   * who are the parent's own children (live, of this school), in one query.
   */
  private async parentTags(caller: Caller, tagged: readonly string[]): Promise<{ publishable: ReadonlySet<string>; own: ReadonlySet<string> }> {
    const ids = [...new Set(tagged)];
    if (ids.length === 0) return { publishable: new Set(), own: new Set() };
    const rows = await this.db
      .selectFrom('students')
      .select((eb) => [
        'students.id',
        eb
          .exists(
            eb
              .selectFrom('consents')
              .select('consents.student_id')
              .whereRef('consents.student_id', '=', 'students.id')
              .where('consents.purpose', '=', 'publish')
              .where('consents.granted', '=', 1),
          )
          .as('publishable'),
        eb
          .exists(
            eb
              .selectFrom('family_students')
              .innerJoin('family_members', 'family_members.family_id', 'family_students.family_id')
              .innerJoin('families', 'families.id', 'family_students.family_id')
              .select('family_students.student_id')
              .whereRef('family_students.student_id', '=', 'students.id')
              .where('family_members.user_id', '=', caller.userId)
              .where('families.school_id', '=', caller.schoolId),
          )
          .as('own'),
      ])
      .where('students.school_id', '=', caller.schoolId)
      .where('students.deleted_at', 'is', null)
      .where('students.id', 'in', ids)
      .execute();
    return {
      publishable: new Set(rows.filter((row) => Boolean(row.publishable)).map((row) => row.id)),
      own: new Set(rows.filter((row) => Boolean(row.own)).map((row) => row.id)),
    };
  }

  /** Of `ids`, the caller's own children (live students of this school in one of the caller's families). */
  private async ownChildren(caller: Caller, ids: readonly string[]): Promise<ReadonlySet<string>> {
    if (caller.role !== 'parent' || ids.length === 0) return new Set();
    const rows = await this.db
      .selectFrom('family_students')
      .innerJoin('family_members', 'family_members.family_id', 'family_students.family_id')
      .innerJoin('families', 'families.id', 'family_students.family_id')
      .innerJoin('students', 'students.id', 'family_students.student_id')
      .select('family_students.student_id')
      .where('family_members.user_id', '=', caller.userId)
      .where('families.school_id', '=', caller.schoolId)
      .where('students.school_id', '=', caller.schoolId)
      .where('students.deleted_at', 'is', null)
      .where('family_students.student_id', 'in', [...ids])
      .execute();
    return new Set(rows.map((row) => row.student_id));
  }

  /** Whether `caller` may see asset `assetId` of `event` (an event they were allowed to open): the listing's rule for one asset. */
  async viewable(caller: Caller, event: PublicEvent, assetId: string): Promise<boolean> {
    const rows = await this.db
      .selectFrom('media')
      .selectAll()
      .where('event_id', '=', event.id)
      .where('school_id', '=', caller.schoolId)
      .where('asset_id', '=', assetId)
      .execute();
    const item = groupItems(rows)[0];
    return item !== undefined && mayView(caller, event, item, await this.publishable(caller, [item]));
  }

  /**
   * Each event the caller may see, with how many of its media they may see (audience and consent
   * applied) and the thumbhash of the first of them for a cover. Two queries after the event list: one
   * row per asset of those events (the columns read are the same on every variant row of an asset) and
   * the consent of everyone tagged.
   */
  async counts(caller: Caller): Promise<EventMediaCount[]> {
    const events = await this.events.list(caller);
    if (events.length === 0) return [];
    const staff = STAFF_ROLES.includes(caller.role);
    const rows = await this.db
      .selectFrom('media')
      .select(['event_id', 'asset_id', 'position', 'people', 'thumbhash'])
      .distinct()
      .where('school_id', '=', caller.schoolId)
      .where('event_id', 'in', events.map((e) => e.id))
      .orderBy('event_id')
      .orderBy('position')
      .execute();
    const items = rows.map((row) => ({ ...row, tags: parseList(row.people) }));
    const publishable = staff ? new Set<string>() : await publishableStudents(this.db, caller.schoolId, items.flatMap((item) => item.tags));
    const counts = new Map<string, EventMediaCount>(events.map((e) => [e.id, { eventId: e.id, mediaCount: 0, coverThumbhash: null }]));
    for (const item of items) {
      const entry = counts.get(item.event_id);
      if (entry === undefined || (!staff && !item.tags.every((id) => publishable.has(id)))) continue;
      entry.mediaCount += 1;
      entry.coverThumbhash ??= item.thumbhash;
    }
    return [...counts.values()];
  }

  /**
   * Of the students tagged in `items`, those whose publish consent is granted: one query for a whole
   * page, none for staff (who see every item). A tagged id that is not a live student of this school
   * (erased, or never synced) has no consent, so its media stay hidden.
   */
  private async publishable(caller: Caller, items: readonly MediaItem[]): Promise<ReadonlySet<string>> {
    if (STAFF_ROLES.includes(caller.role)) return new Set();
    return publishableStudents(this.db, caller.schoolId, items.flatMap((item) => item.people));
  }

  /**
   * A URL for one variant of one asset; 404 when there is none or the caller may not see it. With
   * `download`, the browser is told to save the file (`Content-Disposition: attachment`) instead of
   * showing it. A URL for a full-size variant (preview, original, proxy) handed to a parent or student
   * is recorded as `media.download`: once it is out, the service cannot tell showing from saving.
   */
  async url(caller: Caller, eventId: string, assetId: string, variant: string, options: { download?: boolean } = {}): Promise<SignedUrl> {
    const event = await this.events.gallery(caller, eventId);
    const settings = this.settings();
    const rows = await this.db
      .selectFrom('media')
      .selectAll()
      .where('event_id', '=', eventId)
      .where('school_id', '=', caller.schoolId)
      .where('asset_id', '=', assetId)
      .execute();
    const item = groupItems(rows)[0];
    const row = item?.variants.get(variant);
    if (item === undefined || row === undefined || !mayView(caller, event, item, await this.publishable(caller, [item]))) throw new ApiError('not-found', 'No such media in this event.');
    const disposition = options.download === true ? 'attachment' : 'inline';
    if (AUDITED_ROLES.includes(caller.role) && AUDITED_VARIANTS.includes(variant)) {
      await recordAudit(this.db, {
        action: 'media.download',
        subject: `event:${eventId}`,
        schoolId: caller.schoolId,
        actorUserId: caller.userId,
        detail: { eventId, assetId, variant, disposition },
      });
    }
    return this.sign(settings, event, row, disposition);
  }

  private async sign(settings: MediaSettings, event: PublicEvent, row: MediaRow, disposition: 'inline' | 'attachment' = 'inline'): Promise<SignedUrl> {
    if (settings.cdnBaseUrl !== undefined) {
      return { url: `${settings.cdnBaseUrl}/${row.object_key.split('/').map(encodeURIComponent).join('/')}`, expiresAt: null };
    }
    const fileName = safeFileName(event.name, row.position, row.variant, row.object_key);
    const contentDisposition = `${disposition}; filename="${fileName}"`;
    // A signature costs about a millisecond and a gallery page needs 300: a URL is reused while it has at
    // least half its lifetime left. Only callers who passed the authorisation check above ever get one.
    const cacheKey = `${row.object_key}\n${contentDisposition}`;
    const now = Date.now();
    const cached = this.signed.get(cacheKey);
    if (cached && cached.expiresAtMs - now >= (settings.urlTtlSeconds * 1000) / 2) return { url: cached.url, expiresAt: new Date(cached.expiresAtMs).toISOString() };
    const expiresAtMs = now + settings.urlTtlSeconds * 1000;
    const url = await settings.store.presignGet(row.object_key, { expiresIn: settings.urlTtlSeconds, contentDisposition });
    if (this.signed.size >= SIGNED_URL_CACHE) this.signed.delete(this.signed.keys().next().value!);
    this.signed.set(cacheKey, { url, expiresAtMs });
    return { url, expiresAt: new Date(expiresAtMs).toISOString() };
  }
}

/** PostgreSQL's types of the media columns: a manifest's rows go in as one `unnest` of a typed array per column. */
const MEDIA_COLUMN_TYPES: Record<keyof MediaTable, string> = {
  school_id: 'text',
  event_id: 'text',
  asset_id: 'text',
  variant: 'text',
  position: 'integer',
  kind: 'text',
  object_key: 'text',
  size: 'bigint',
  hash: 'text',
  width: 'integer',
  height: 'integer',
  duration_sec: 'double precision',
  captured_at: 'text',
  rating: 'integer',
  title: 'text',
  description: 'text',
  tags: 'text',
  people: 'text',
  thumbhash: 'text',
  published_at: 'text',
};

/**
 * Inserts a manifest's media rows. On PostgreSQL one statement of 20 array parameters, whatever the
 * number of rows (multi-row VALUES of 10,000 parameters a statement cost it about ten times as much to
 * parse, plan and bind); on SQLite, in process, multi-row VALUES of {@link INSERT_CHUNK} rows.
 */
async function insertMedia(trx: Transaction<Database>, rows: ReadonlyArray<Insertable<MediaTable>>): Promise<void> {
  if (rows.length === 0) return;
  if (!isPostgres(trx)) {
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) await trx.insertInto('media').values(rows.slice(i, i + INSERT_CHUNK)).execute();
    return;
  }
  const columns = Object.keys(MEDIA_COLUMN_TYPES) as Array<keyof MediaTable>;
  const arrays = columns.map((column) => sql`${rows.map((row) => row[column] ?? null)}::${sql.raw(MEDIA_COLUMN_TYPES[column])}[]`);
  await sql`insert into media (${sql.join(columns.map((column) => sql.ref(column)))}) select * from unnest(${sql.join(arrays)})`.execute(trx);
}

function parseList(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

function groupItems(rows: MediaRow[]): MediaItem[] {
  const items = new Map<string, MediaItem>();
  for (const row of rows) {
    let item = items.get(row.asset_id);
    if (item === undefined) {
      item = {
        assetId: row.asset_id,
        position: row.position,
        // Written only from a checked manifest, so one of the manifest's kinds.
        kind: row.kind as MediaDescription['kind'],
        capturedAt: row.captured_at,
        width: row.width,
        height: row.height,
        durationSec: row.duration_sec === null ? null : Number(row.duration_sec),
        rating: row.rating,
        title: row.title,
        description: row.description,
        tags: parseList(row.tags),
        people: parseList(row.people),
        thumbhash: row.thumbhash,
        variants: new Map(),
      };
      items.set(row.asset_id, item);
    }
    item.variants.set(row.variant, row);
  }
  return [...items.values()].sort((a, b) => a.position - b.position);
}
