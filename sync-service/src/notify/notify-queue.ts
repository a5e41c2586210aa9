/**
 * The write side of parents' notifications, called inside the transactions of what they tell about, so
 * a notification is never queued for a change that rolled back nor lost for one that committed:
 * - {@link queueMediaDigests}, from a manifest's publish: adds the new media to each parent's pending
 *   digest for the event (one digest per parent and event, however many publishes it gathers, and
 *   however many of the parent's families may see the event);
 * - {@link queueOpeningDigests}, from an event's update: the media already there, for the parents who
 *   have just come to see it (the event published, or its audience widened);
 * - {@link queueEventNotice}, from an event's update: queues "the dates moved" for everyone who may see it.
 * The worker (`notification-worker.ts`) turns them into outbox messages later.
 *
 * Who is told is who may see the event, by the gallery's own rules (`services/events.ts`): a published
 * event, for the whole school or for the listed families and the families of children in the listed
 * classes; the parents of those families are told, each once. What is counted is what they may see
 * (`services/media.ts`, `mayView`): media whose every tagged child has publish consent.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database, EventRow, NotificationDigestRow } from '../db/schema.ts';
import { publishableStudents } from '../services/media.ts';

type Reader = Kysely<Database> | Transaction<Database>;

/** The part of a manifest asset the digest needs: its id and who is tagged in it. */
export interface PublishedAsset {
  id: string;
  people: readonly string[];
}

/** The families of `schoolId` that may see a targeted event: those listed, and those of children in the listed classes. */
function familiesListedFor(db: Reader, schoolId: string, eventId: string) {
  return db
    .selectFrom('event_families')
    .select('family_id')
    .where('event_id', '=', eventId)
    .where('school_id', '=', schoolId)
    .union(
      db
        .selectFrom('event_classes')
        .innerJoin('students', 'students.class_id', 'event_classes.class_id')
        .innerJoin('family_students', 'family_students.student_id', 'students.id')
        .select('family_students.family_id')
        .where('event_classes.event_id', '=', eventId)
        .where('event_classes.school_id', '=', schoolId)
        .where('students.school_id', '=', schoolId)
        .where('students.deleted_at', 'is', null),
    );
}

/**
 * The parents of `schoolId` who may see the event (whatever its state; callers check it is published),
 * each once however many of their families may: members with the parent role in a family of the school
 * that may (every family for a school-wide event). With `only`, that one account or none.
 */
export async function recipientsSeeing(db: Reader, schoolId: string, event: Pick<EventRow, 'id' | 'audience_scope'>, only?: string): Promise<string[]> {
  let query = db
    .selectFrom('family_members')
    .innerJoin('families', 'families.id', 'family_members.family_id')
    .innerJoin('memberships', 'memberships.user_id', 'family_members.user_id')
    .select('family_members.user_id')
    .distinct()
    .where('families.school_id', '=', schoolId)
    .where('memberships.school_id', '=', schoolId)
    .where('memberships.role', '=', 'parent');
  if (event.audience_scope !== 'school') query = query.where('family_members.family_id', 'in', familiesListedFor(db, schoolId, event.id));
  if (only !== undefined) query = query.where('family_members.user_id', '=', only);
  return (await query.orderBy('family_members.user_id').execute()).map((row) => row.user_id);
}

/** Of the event's media (given as each asset's tagged people), how many every tagged child has publish consent for. */
async function countPublishable(trx: Transaction<Database>, schoolId: string, assets: ReadonlyArray<readonly string[]>): Promise<number> {
  const allowed = await publishableStudents(trx, schoolId, assets.flat());
  return assets.filter((people) => people.every((id) => allowed.has(id))).length;
}

/**
 * Adds a publish of `assets` for `eventId` to the digests of the parents who may see it. Call it in
 * the publish's transaction before the event's previous media rows are replaced: an asset is new when
 * the event did not already have it (a manifest names every asset of the event, so a second batch
 * re-sends the first). Of the new assets, only those every tagged child has consent for count: what
 * every parent of the event may see (`mayView`), so a parent in two families is told it once. A parent
 * with a pending digest gets the count added to it; one without (none yet, or the last was sent) gets
 * the next: one UPDATE and one INSERT for all of them (a school-wide event has hundreds of parents).
 * Publishes of one event are serialised by the publish's lock on the event row, so the
 * update-then-insert cannot race with itself; a worker claiming the pending digest meanwhile only moves
 * this publish to the next digest. Returns how many new media were counted.
 */
export async function queueMediaDigests(
  trx: Transaction<Database>,
  publish: { schoolId: string; eventId: string; assets: readonly PublishedAsset[]; now?: Date },
): Promise<number> {
  const { schoolId, eventId } = publish;
  const event = await trx.selectFrom('events').select(['id', 'state', 'audience_scope']).where('id', '=', eventId).where('school_id', '=', schoolId).executeTakeFirst();
  // Parents see published events only; media published to a draft are not news to anyone yet.
  if (event === undefined || event.state !== 'published') return 0;
  const before = new Set(
    (await trx.selectFrom('media').select('asset_id').distinct().where('event_id', '=', eventId).where('school_id', '=', schoolId).execute()).map((row) => row.asset_id),
  );
  const count = await countPublishable(trx, schoolId, publish.assets.filter((asset) => !before.has(asset.id)).map((asset) => asset.people));
  if (count === 0) return 0;
  const at = (publish.now ?? new Date()).toISOString();
  const recipients = await recipientsSeeing(trx, schoolId, event);
  const added = new Set<string>();
  for (const users of chunks(recipients)) {
    const rows = await trx
      .updateTable('notification_digests')
      .set((eb) => ({ new_media: eb('new_media', '+', count), updated_at: at }))
      .where('event_id', '=', eventId)
      .where('state', '=', 'pending')
      .where('user_id', 'in', users)
      .returning('user_id')
      .execute();
    for (const row of rows) added.add(row.user_id);
  }
  await openDigests(trx, { schoolId, eventId, at }, recipients.filter((id) => !added.has(id)).map((userId) => ({ userId, newMedia: count })));
  return count;
}

/** Parents per `in (…)` list, and digests per INSERT (13 parameters a row): well under both engines' limits. */
const CHUNK = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/** The digests of `eventId` of each of `users`, by user. */
async function digestsOf(trx: Transaction<Database>, eventId: string, users: readonly string[]): Promise<Map<string, Array<Pick<NotificationDigestRow, 'id' | 'number' | 'new_media' | 'state'>>>> {
  const result = new Map<string, Array<Pick<NotificationDigestRow, 'id' | 'number' | 'new_media' | 'state'>>>();
  for (const list of chunks(users)) {
    const rows = await trx.selectFrom('notification_digests').select(['user_id', 'id', 'number', 'new_media', 'state']).where('event_id', '=', eventId).where('user_id', 'in', list).execute();
    for (const { user_id, ...row } of rows) result.set(user_id, [...(result.get(user_id) ?? []), row]);
  }
  return result;
}

/** Inserts the next digest (its number one more than the parent's last for the event) of each parent given. */
async function openDigests(trx: Transaction<Database>, event: { schoolId: string; eventId: string; at: string }, digests: ReadonlyArray<{ userId: string; newMedia: number }>): Promise<void> {
  const { schoolId, eventId, at } = event;
  const earlier = await digestsOf(trx, eventId, digests.map((d) => d.userId));
  const rows = digests.map((digest) => ({
    id: randomUUID(),
    school_id: schoolId,
    user_id: digest.userId,
    event_id: eventId,
    number: Math.max(0, ...(earlier.get(digest.userId) ?? []).map((d) => Number(d.number))) + 1,
    new_media: digest.newMedia,
    state: 'pending' as const,
    opened_at: at,
    claim_id: null,
    lease_expires_at: null,
    created_at: at,
    updated_at: at,
    sent_at: null,
  }));
  for (const list of chunks(rows)) await trx.insertInto('notification_digests').values(list).execute();
}

/** Who could see an event before an update: from {@link recipientsBeforeUpdate}, or none for an event that was not published. */
export type RecipientsBefore = readonly string[] | undefined;

/**
 * The parents who may see `event` as it is before an update that may change its audience: call it in
 * the update's transaction before the audience is written, and hand it to {@link queueOpeningDigests}.
 * Undefined for an event that is not published (nobody sees it yet).
 */
export async function recipientsBeforeUpdate(trx: Transaction<Database>, event: EventRow): Promise<RecipientsBefore> {
  return event.state === 'published' ? recipientsSeeing(trx, event.school_id, event) : undefined;
}

/**
 * Queues the opening digest of an event for the parents who have just come to see it, telling them of
 * the media it already holds:
 * - everyone, when it has just been published (from draft or archived): the desktop creates events as
 *   drafts and publishes their photos before the office opens them to families;
 * - the newcomers, when the audience of a published event was widened (classes or families added, or
 *   made school-wide): `seenBefore` are those who could see it before the update. Narrowing tells nobody.
 * Nobody is told twice: a parent already sent digests about the event (an earlier audience, or before it
 * was archived) is told only of what is more than those counted, and a pending digest is raised to the
 * total rather than added to. Call it in the update's transaction after the audience is written. Returns
 * how many parents got an opening digest.
 */
export async function queueOpeningDigests(trx: Transaction<Database>, change: { before: EventRow; after: EventRow; seenBefore?: RecipientsBefore; now?: Date }): Promise<number> {
  const { before, after } = change;
  if (after.state !== 'published') return 0;
  const wasPublished = before.state === 'published';
  if (wasPublished && change.seenBefore === undefined) return 0;
  const had = new Set(wasPublished ? change.seenBefore : []);
  const newcomers = (await recipientsSeeing(trx, after.school_id, after)).filter((id) => !had.has(id));
  if (newcomers.length === 0) return 0;
  const rows = await trx.selectFrom('media').select(['asset_id', 'people']).distinct().where('event_id', '=', after.id).where('school_id', '=', after.school_id).execute();
  const assets = new Map<string, string[]>();
  for (const row of rows) assets.set(row.asset_id, JSON.parse(row.people) as string[]);
  const total = await countPublishable(trx, after.school_id, [...assets.values()]);
  if (total === 0) return 0;
  const at = (change.now ?? new Date()).toISOString();
  const digests = await digestsOf(trx, after.id, newcomers);
  const fresh: Array<{ userId: string; newMedia: number }> = [];
  let opened = 0;
  for (const userId of newcomers) {
    const own = digests.get(userId) ?? [];
    // A digest being sent now is as good as told.
    const told = own.filter((d) => d.state === 'sent' || d.state === 'sending').reduce((sum, d) => sum + Number(d.new_media), 0);
    const news = total - told;
    if (news <= 0) continue;
    opened += 1;
    const pending = own.find((d) => d.state === 'pending');
    if (pending === undefined) fresh.push({ userId, newMedia: news });
    else await trx.updateTable('notification_digests').set({ new_media: news, updated_at: at }).where('id', '=', pending.id).where('state', '=', 'pending').execute();
  }
  await openDigests(trx, { schoolId: after.school_id, eventId: after.id, at }, fresh);
  return opened;
}

/**
 * Queues "the dates of this event changed" when an update moved `starts_on` or `ends_on` of a published
 * event (or published it with other dates than before: families were never told the old ones, so that
 * is no news). Call it in the update's transaction with the row before and after.
 */
export async function queueEventNotice(trx: Transaction<Database>, change: { before: EventRow; after: EventRow; now?: Date }): Promise<boolean> {
  const { before, after } = change;
  if (before.state !== 'published' || after.state !== 'published') return false;
  if (before.starts_on === after.starts_on && before.ends_on === after.ends_on) return false;
  const at = (change.now ?? new Date()).toISOString();
  await trx
    .insertInto('event_notices')
    .values({
      id: randomUUID(),
      school_id: after.school_id,
      event_id: after.id,
      kind: 'dates-changed',
      ref: `v${after.version}`,
      detail: JSON.stringify({ startsOn: after.starts_on, endsOn: after.ends_on, previousStartsOn: before.starts_on, previousEndsOn: before.ends_on }),
      state: 'pending',
      claim_id: null,
      lease_expires_at: null,
      created_at: at,
      updated_at: at,
      sent_at: null,
    })
    .onConflict((oc) => oc.columns(['event_id', 'kind', 'ref']).doNothing())
    .execute();
  return true;
}
