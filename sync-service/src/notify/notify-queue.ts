/**
 * The write side of parents' notifications, called inside the transactions of what they tell about, so
 * a notification is never queued for a change that rolled back nor lost for one that committed:
 * - {@link queueMediaDigests}, from a manifest's publish: adds the new media to each family's pending
 *   digest for the event (one digest per family and event, however many publishes it gathers);
 * - {@link queueEventNotice}, from an event's update: queues "the dates moved" for everyone who may see it.
 * The worker (`notification-worker.ts`) turns both into outbox messages later.
 *
 * Who is told is who may see the event, by the gallery's own rules (`services/events.ts`): a published
 * event, for the whole school or for the listed families and the families of children in the listed
 * classes. What is counted is what those families may see (`services/media.ts`, `mayView`): media whose
 * every tagged child has publish consent.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database, EventRow } from '../db/schema.ts';
import { publishableStudents } from '../services/media.ts';

type Reader = Kysely<Database> | Transaction<Database>;

/** The part of a manifest asset the digest needs: its id and who is tagged in it. */
export interface PublishedAsset {
  id: string;
  people: readonly string[];
}

/** The families of `schoolId` that may see the event (whatever its state; callers check it is published). */
export async function familiesSeeing(db: Reader, schoolId: string, event: Pick<EventRow, 'id' | 'audience_scope'>): Promise<string[]> {
  if (event.audience_scope === 'school') {
    return (await db.selectFrom('families').select('id').where('school_id', '=', schoolId).orderBy('id').execute()).map((row) => row.id);
  }
  const rows = await db
    .selectFrom('event_families')
    .select('family_id')
    .where('event_id', '=', event.id)
    .where('school_id', '=', schoolId)
    .union(
      db
        .selectFrom('event_classes')
        .innerJoin('students', 'students.class_id', 'event_classes.class_id')
        .innerJoin('family_students', 'family_students.student_id', 'students.id')
        .select('family_students.family_id')
        .where('event_classes.event_id', '=', event.id)
        .where('event_classes.school_id', '=', schoolId)
        .where('students.school_id', '=', schoolId)
        .where('students.deleted_at', 'is', null),
    )
    .execute();
  return rows.map((row) => row.family_id).sort();
}

/**
 * Adds a publish of `assets` for `eventId` to the digests of the families that may see it. Call it in
 * the publish's transaction before the event's previous media rows are replaced: an asset is new when
 * the event did not already have it (a manifest names every asset of the event, so a second batch
 * re-sends the first). Of the new assets, only those every tagged child has consent for count. A family
 * with a pending digest gets the count added to it; one without (none yet, or the last was sent) gets
 * the next. Publishes of one event are serialised by the publish's lock on the event row, so the
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
  const fresh = publish.assets.filter((asset) => !before.has(asset.id));
  const allowed = await publishableStudents(trx, schoolId, fresh.flatMap((asset) => asset.people));
  const count = fresh.filter((asset) => asset.people.every((id) => allowed.has(id))).length;
  if (count === 0) return 0;
  await addToDigests(trx, schoolId, event, count, publish.now ?? new Date());
  return count;
}

/** Adds `count` new media of `event` to the pending digest of every family that may see it (opening one where none is). */
async function addToDigests(trx: Transaction<Database>, schoolId: string, event: Pick<EventRow, 'id' | 'audience_scope'>, count: number, now: Date): Promise<void> {
  const at = now.toISOString();
  const eventId = event.id;
  for (const familyId of await familiesSeeing(trx, schoolId, event)) {
    const added = await trx
      .updateTable('notification_digests')
      .set((eb) => ({ new_media: eb('new_media', '+', count), updated_at: at }))
      .where('family_id', '=', familyId)
      .where('event_id', '=', eventId)
      .where('state', '=', 'pending')
      .executeTakeFirst();
    if (Number(added.numUpdatedRows) > 0) continue;
    const last = await trx
      .selectFrom('notification_digests')
      .select((eb) => eb.fn.max('number').as('number'))
      .where('family_id', '=', familyId)
      .where('event_id', '=', eventId)
      .executeTakeFirst();
    await trx
      .insertInto('notification_digests')
      .values({
        id: randomUUID(),
        school_id: schoolId,
        family_id: familyId,
        event_id: eventId,
        number: Number(last?.number ?? 0) + 1,
        new_media: count,
        state: 'pending',
        opened_at: at,
        claim_id: null,
        lease_expires_at: null,
        created_at: at,
        updated_at: at,
        sent_at: null,
      })
      .execute();
  }
}

/**
 * Queues the digests of an event that has just been published (from draft or archived) with media already
 * in it: the desktop creates events as drafts and publishes their photos before the office opens them to
 * families, and those photos are news the moment families can see them. Call it in the update's transaction
 * after the audience is written. Returns how many media were counted (those every tagged child has consent for).
 */
export async function queueOpeningDigests(trx: Transaction<Database>, change: { before: EventRow; after: EventRow; now?: Date }): Promise<number> {
  const { before, after } = change;
  if (before.state === 'published' || after.state !== 'published') return 0;
  const rows = await trx.selectFrom('media').select(['asset_id', 'people']).distinct().where('event_id', '=', after.id).where('school_id', '=', after.school_id).execute();
  const assets = new Map<string, string[]>();
  for (const row of rows) assets.set(row.asset_id, JSON.parse(row.people) as string[]);
  const allowed = await publishableStudents(trx, after.school_id, [...assets.values()].flat());
  const count = [...assets.values()].filter((people) => people.every((id) => allowed.has(id))).length;
  if (count > 0) await addToDigests(trx, after.school_id, after, count, change.now ?? new Date());
  return count;
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
