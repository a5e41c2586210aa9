/**
 * Published media: the manifest a desktop writes after uploading an event's objects, and the
 * short-lived URLs browsers read them through. The service never touches the bytes; it checks that
 * every object the manifest names is really in the bucket, at the stated size, under this school's
 * prefix, before anything counts against the quota.
 */
import { sql, type ExpressionBuilder, type Insertable, type Kysely, type Transaction } from 'kysely';
import { recordAudit } from '../audit.ts';
import type { Database, MediaRow, MediaTable, Role } from '../db/schema.ts';
import { ApiError } from '../errors.ts';
import { isPostgres } from '../db/dialect.ts';
import { EDITOR_ROLES, STAFF_ROLES } from './access.ts';
import type { Caller, EventService, PublicEvent } from './events.ts';
import { ensureUsage, planOf, quotaExceeded, readUsage } from './quota.ts';
import { queueMediaDigests } from '../notify/notify-queue.ts';
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
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) await trx.insertInto('media').values(rows.slice(i, i + INSERT_CHUNK)).execute();
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
   * A page of the event's media the caller may see, with URLs for thumb, preview and poster. Two
   * queries whatever the page size: the page's rows (its positions picked by a subquery, one more than
   * the page to tell whether another follows, narrowed there to the family's favourites or to one
   * child's tag; for a parent each row says whether the family marked its asset) and, for parents and
   * students, the consent of everyone tagged in them (for a parent, with which of them are their own).
   * A `child` filter costs one query more, to check the child is the parent's. Media hidden by consent
   * leave a page short: follow `nextCursor` until it is null.
   *
   * A parent is told, per media, only which of their own children are tagged; `child` must be one of
   * them (anyone else's id is a 404, whether or not that student exists).
   */
  async list(caller: Caller, eventId: string, page: ListOptions): Promise<{ media: PublicMedia[]; nextCursor: string | null }> {
    const event = await this.events.gallery(caller, eventId);
    const settings = this.settings();
    const staff = STAFF_ROLES.includes(caller.role);
    const parent = caller.role === 'parent';
    if (page.favourites === true && !parent) throw new ApiError('forbidden', 'Favourites belong to a family: only parents have them.');
    if (page.child !== undefined && !staff && !(await this.ownChildren(caller, [page.child])).has(page.child)) throw new ApiError('not-found', 'No such child in your family.');
    // The tag list is JSON text holding each id as a JSON string: an exact substring test, no LIKE escaping.
    const tag = page.child === undefined ? undefined : JSON.stringify(page.child);
    const tagged = (text: string) => (isPostgres(this.db) ? sql<number>`strpos(m.people, ${text})` : sql<number>`instr(m.people, ${text})`);
    // The caller's families in this school, as a subquery of the page's query: no round trip of its own.
    const families = (sub: ExpressionBuilder<Database, 'favourites'>) =>
      sub
        .selectFrom('family_members')
        .innerJoin('families', 'families.id', 'family_members.family_id')
        .select('family_members.family_id')
        .where('family_members.user_id', '=', caller.userId)
        .where('families.school_id', '=', caller.schoolId);
    const rows = await this.db
      .selectFrom('media')
      .selectAll('media')
      .$if(parent, (q) =>
        q.select((eb) =>
          eb
            .exists(
              eb
                .selectFrom('favourites')
                .select('favourites.asset_id')
                .whereRef('favourites.event_id', '=', 'media.event_id')
                .whereRef('favourites.asset_id', '=', 'media.asset_id')
                .where('favourites.family_id', 'in', families),
            )
            .as('favourite'),
        ),
      )
      .where('media.event_id', '=', eventId)
      .where('media.school_id', '=', caller.schoolId)
      .where('media.position', 'in', (eb) =>
        eb
          .selectFrom('media as m')
          .select('m.position')
          .distinct()
          .where('m.event_id', '=', eventId)
          .where('m.school_id', '=', caller.schoolId)
          .$if(page.after !== undefined, (q) => q.where('m.position', '>', page.after ?? -1))
          .$if(tag !== undefined, (q) => q.where(tagged(tag ?? ''), '>', 0))
          .$if(page.favourites === true, (q) =>
            q.where((inner) =>
              inner.exists(
                inner
                  .selectFrom('favourites')
                  .select('favourites.asset_id')
                  .whereRef('favourites.event_id', '=', 'm.event_id')
                  .whereRef('favourites.asset_id', '=', 'm.asset_id')
                  .where('favourites.family_id', 'in', families),
              ),
            ),
          )
          .orderBy('m.position')
          .limit(page.limit + 1),
      )
      .orderBy('media.position')
      .orderBy('media.variant')
      .execute();
    const marked = new Set(rows.flatMap((row) => ('favourite' in row && Boolean(row.favourite) ? [row.asset_id] : [])));
    const grouped = groupItems(rows);
    const more = grouped.length > page.limit;
    const onPage = grouped.slice(0, page.limit);
    if (onPage.length === 0) return { media: [], nextCursor: null };
    const { publishable, own } = parent ? await this.parentTags(caller, onPage.flatMap((item) => item.people)) : { publishable: await this.publishable(caller, onPage), own: new Set<string>() };
    const items = onPage.filter((item) => mayView(caller, event, item, publishable) && (page.child === undefined || item.people.includes(page.child)));
    const media = await Promise.all(
      items.map(async (item) => {
        const variants: PublicMedia['variants'] = {};
        for (const [variant, row] of item.variants) {
          variants[variant] = LISTED_VARIANTS.includes(variant) ? { size: Number(row.size), ...(await this.sign(settings, event, row)) } : { size: Number(row.size) };
        }
        const shown = toPublicMedia(item, variants, staff);
        return parent ? { ...shown, children: item.people.filter((id) => own.has(id)), favourite: marked.has(item.assetId) } : shown;
      }),
    );
    const last = onPage[onPage.length - 1]?.position;
    return { media, nextCursor: more && last !== undefined ? String(last) : null };
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

function toPublicMedia(item: MediaItem, variants: PublicMedia['variants'], staff: boolean): PublicMedia {
  return {
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
    ...(staff ? { people: item.people } : {}),
    variants,
  };
}
