/**
 * A school's events. Every query carries the school id and the caller's role, so a route cannot
 * forget the tenant scope: there is no "get event by id" that ignores the school.
 *
 * Who sees an event is one SQL condition ({@link visibleTo}), used by the list and by every lookup of
 * one event (and so by the media routes, which start with {@link EventService.get}):
 * - staff (admin, photographer, teacher) see every event of their school;
 * - parents see a published event when its audience is the whole school, when their family is listed,
 *   or when one of their family's children is in a listed class;
 * - students see published school-wide events only: a student account is not linked to a student
 *   record (memberships carry a role, nothing ties a user to a `students` row), so there is no class
 *   to match a targeted event against.
 * Anything else is a 404, never a 403.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool, type Transaction } from 'kysely';
import { recordAudit } from '../audit.ts';
import type { Database, EventRow, EventState, Role } from '../db/schema.ts';
import { ApiError } from '../errors.ts';
import { EDITOR_ROLES, STAFF_ROLES } from './access.ts';
import { recordChange } from './changes.ts';
import { queueEventNotice, queueOpeningDigests, recipientsBeforeUpdate, type RecipientsBefore } from '../notify/notify-queue.ts';

type Reader = Kysely<Database> | Transaction<Database>;

/** Who an event is for: every member of the school, or only the listed classes and families (and staff). */
export type EventAudience = { scope: 'school' } | { scope: 'some'; classIds: string[]; familyIds: string[] };

/** The fields a client may set; ids, versions and timestamps are the server's. */
export interface EventFields {
  name: string;
  startsOn: string;
  endsOn: string | null;
  location: string | null;
  description: string | null;
  state: EventState;
  audience: EventAudience;
  /** `YYYY-MM-DD`: the last day (UTC) parents and students can open the gallery; null: it stays open. */
  galleryExpiresOn: string | null;
}

/** An event as the API shows it. */
export interface PublicEvent extends Omit<EventFields, 'audience'> {
  id: string;
  schoolId: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  /** Staff only: parents and students are not told which other classes and families an event is for. */
  audience?: EventAudience;
  /** The gallery has closed (today's UTC date is past `galleryExpiresOn`), as of this answer. */
  expired: boolean;
}

/** Who is acting, in which school, with which role (from {@link requireMembership}). */
export interface Caller {
  userId: string;
  schoolId: string;
  role: Role;
}

const NO_SUCH_EVENT = 'No such event in this school.';
/** More ids than this in one message would bury it; the first few are enough to find the mistake. */
const IDS_IN_MESSAGE = 5;

/**
 * Today as `YYYY-MM-DD` in UTC. A school has no time zone here, so gallery expiry counts UTC days:
 * a gallery open until 2026-07-01 closes at 2026-07-02T00:00Z.
 */
export function todayUtc(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}

/** Whether a gallery open until `expiresOn` (inclusive) has closed by `today`. */
export function galleryExpired(expiresOn: string | null, today: string = todayUtc()): boolean {
  return expiresOn !== null && expiresOn < today;
}

/** The API's shape of a row; `audience` is given for staff readers and left out for everyone else. */
export function toPublicEvent(row: EventRow, audience?: EventAudience, today: string = todayUtc()): PublicEvent {
  return {
    id: row.id,
    schoolId: row.school_id,
    name: row.name,
    startsOn: row.starts_on,
    endsOn: row.ends_on,
    location: row.location,
    description: row.description,
    state: row.state,
    ...(audience === undefined ? {} : { audience }),
    galleryExpiresOn: row.gallery_expires_on,
    expired: galleryExpired(row.gallery_expires_on, today),
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The audience of each of `rows`: one query for the targeted ones, none when all are school-wide. */
async function audiencesOf(db: Reader, schoolId: string, rows: readonly EventRow[]): Promise<Map<string, EventAudience>> {
  const result = new Map<string, EventAudience>();
  const targeted = new Map<string, { classIds: string[]; familyIds: string[] }>();
  for (const row of rows) {
    if (row.audience_scope === 'school') result.set(row.id, { scope: 'school' });
    else targeted.set(row.id, { classIds: [], familyIds: [] });
  }
  if (targeted.size > 0) {
    const ids = [...targeted.keys()];
    const targets = await db
      .selectFrom('event_classes')
      .select(['event_id', 'class_id as target_id', sql.lit<string>('class').as('kind')])
      .where('school_id', '=', schoolId)
      .where('event_id', 'in', ids)
      .unionAll(
        db
          .selectFrom('event_families')
          .select(['event_id', 'family_id as target_id', sql.lit<string>('family').as('kind')])
          .where('school_id', '=', schoolId)
          .where('event_id', 'in', ids),
      )
      .execute();
    for (const target of targets) {
      const lists = targeted.get(target.event_id);
      if (lists === undefined) continue;
      (target.kind === 'class' ? lists.classIds : lists.familyIds).push(target.target_id);
    }
    for (const [id, lists] of targeted) result.set(id, { scope: 'some', classIds: lists.classIds.sort(), familyIds: lists.familyIds.sort() });
  }
  return result;
}

/** Events by id as staff see them (the change feed's loader); ids of other schools are left out. */
export async function loadEvents(db: Reader, schoolId: string, ids: string[]): Promise<Map<string, PublicEvent>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('events').selectAll().where('school_id', '=', schoolId).where('id', 'in', ids).execute();
  const audiences = await audiencesOf(db, schoolId, rows);
  const today = todayUtc();
  return new Map(rows.map((row) => [row.id, toPublicEvent(row, audiences.get(row.id), today)]));
}

/** The events of `caller`'s school that `caller` may see, as a condition on `events` (see the module comment). */
function visibleTo(caller: Caller) {
  return (eb: ExpressionBuilder<Database, 'events'>): Expression<SqlBool> => {
    const ownSchool = eb('events.school_id', '=', caller.schoolId);
    if (STAFF_ROLES.includes(caller.role)) return ownSchool;
    const audience: Array<Expression<SqlBool>> = [eb('events.audience_scope', '=', 'school')];
    if (caller.role === 'parent') {
      audience.push(
        eb.exists(
          eb
            .selectFrom('event_families')
            .innerJoin('family_members', 'family_members.family_id', 'event_families.family_id')
            .select('event_families.family_id')
            .whereRef('event_families.event_id', '=', 'events.id')
            .where('event_families.school_id', '=', caller.schoolId)
            .where('family_members.user_id', '=', caller.userId),
        ),
        eb.exists(
          eb
            .selectFrom('event_classes')
            .innerJoin('students', 'students.class_id', 'event_classes.class_id')
            .innerJoin('family_students', 'family_students.student_id', 'students.id')
            .innerJoin('family_members', 'family_members.family_id', 'family_students.family_id')
            .select('event_classes.class_id')
            .whereRef('event_classes.event_id', '=', 'events.id')
            .where('event_classes.school_id', '=', caller.schoolId)
            .where('students.school_id', '=', caller.schoolId)
            .where('students.deleted_at', 'is', null)
            .where('family_members.user_id', '=', caller.userId),
        ),
      );
    }
    return eb.and([ownSchool, eb('events.state', '=', 'published'), eb.or(audience)]);
  };
}

function isStaff(caller: Caller): boolean {
  return STAFF_ROLES.includes(caller.role);
}

function requireEditor(caller: Caller): void {
  if (!EDITOR_ROLES.includes(caller.role)) throw new ApiError('forbidden', 'Only admins and photographers can create or change events.');
}

function checkDates(fields: Pick<EventFields, 'startsOn' | 'endsOn' | 'galleryExpiresOn'>): void {
  if (fields.endsOn !== null && fields.endsOn < fields.startsOn) {
    throw new ApiError('invalid-input', `endsOn (${fields.endsOn}) is before startsOn (${fields.startsOn}).`);
  }
  if (fields.galleryExpiresOn !== null && fields.galleryExpiresOn < fields.startsOn) {
    throw new ApiError('invalid-input', `galleryExpiresOn (${fields.galleryExpiresOn}) is before startsOn (${fields.startsOn}): the gallery would close before the event.`);
  }
}

/**
 * Refuses classes and families that are not this school's, with a 422 that reads the same whether an
 * id belongs to another school or to nothing at all.
 */
async function checkAudience(db: Reader, schoolId: string, audience: EventAudience): Promise<void> {
  if (audience.scope === 'school') return;
  const unknown = async (table: 'classes' | 'families', ids: string[]) => {
    if (ids.length === 0) return [];
    const found = new Set((await db.selectFrom(table).select('id').where('school_id', '=', schoolId).where('id', 'in', ids).execute()).map((r) => r.id));
    return ids.filter((id) => !found.has(id));
  };
  const refuse = (field: string, what: string, ids: string[]) => {
    const shown = ids.slice(0, IDS_IN_MESSAGE).join(', ') + (ids.length > IDS_IN_MESSAGE ? ` and ${ids.length - IDS_IN_MESSAGE} more` : '');
    return new ApiError('invalid-input', `audience.${field}: this school has no ${what} ${shown}. Pick the audience from this school's ${what === 'class' ? 'classes' : 'families'}.`, undefined, 422);
  };
  const classes = await unknown('classes', audience.classIds);
  if (classes.length > 0) throw refuse('classIds', 'class', classes);
  const families = await unknown('families', audience.familyIds);
  if (families.length > 0) throw refuse('familyIds', 'family', families);
}

/** Replaces the event's listed classes and families with `audience`'s (none for a school-wide event). */
async function writeAudience(trx: Transaction<Database>, schoolId: string, eventId: string, audience: EventAudience): Promise<void> {
  await trx.deleteFrom('event_classes').where('event_id', '=', eventId).execute();
  await trx.deleteFrom('event_families').where('event_id', '=', eventId).execute();
  if (audience.scope === 'school') return;
  if (audience.classIds.length > 0) {
    await trx.insertInto('event_classes').values(audience.classIds.map((id) => ({ event_id: eventId, school_id: schoolId, class_id: id }))).execute();
  }
  if (audience.familyIds.length > 0) {
    await trx.insertInto('event_families').values(audience.familyIds.map((id) => ({ event_id: eventId, school_id: schoolId, family_id: id }))).execute();
  }
}

export class EventService {
  constructor(private readonly db: Kysely<Database>) {}

  /** The school's events the caller may see, soonest first. */
  async list(caller: Caller): Promise<PublicEvent[]> {
    const rows = await this.db.selectFrom('events').selectAll().where(visibleTo(caller)).orderBy('starts_on').orderBy('name').orderBy('id').execute();
    const audiences = isStaff(caller) ? await audiencesOf(this.db, caller.schoolId, rows) : undefined;
    const today = todayUtc();
    return rows.map((row) => toPublicEvent(row, audiences?.get(row.id), today));
  }

  /** One event; 404 when it is in another school or not visible to the caller. */
  async get(caller: Caller, eventId: string): Promise<PublicEvent> {
    return this.present(this.db, caller, await this.visibleRow(caller, eventId));
  }

  /**
   * The event whose gallery (media listing, media URLs) the caller opens: as {@link get}, and then a
   * 410 for parents and students once the gallery has expired. Staff keep access to everything.
   */
  async gallery(caller: Caller, eventId: string): Promise<PublicEvent> {
    const event = await this.get(caller, eventId);
    if (event.expired && !isStaff(caller)) {
      throw new ApiError('gone', `This gallery closed on ${event.galleryExpiresOn ?? ''} (at the end of that day, UTC). Ask the school if you still need its photos.`);
    }
    return event;
  }

  async create(caller: Caller, fields: EventFields): Promise<PublicEvent> {
    requireEditor(caller);
    checkDates(fields);
    const now = new Date().toISOString();
    const row: EventRow = {
      id: randomUUID(),
      school_id: caller.schoolId,
      name: fields.name,
      starts_on: fields.startsOn,
      ends_on: fields.endsOn,
      location: fields.location,
      description: fields.description,
      state: fields.state,
      audience_scope: fields.audience.scope,
      gallery_expires_on: fields.galleryExpiresOn,
      version: 1,
      created_at: now,
      updated_at: now,
    };
    await this.db.transaction().execute(async (trx) => {
      await checkAudience(trx, caller.schoolId, fields.audience);
      await trx.insertInto('events').values(row).execute();
      await writeAudience(trx, caller.schoolId, row.id, fields.audience);
      await recordAudit(trx, {
        action: 'event.create',
        subject: `event:${row.id}`,
        schoolId: caller.schoolId,
        actorUserId: caller.userId,
        detail: { name: row.name, state: row.state, audience: fields.audience, galleryExpiresOn: row.gallery_expires_on },
      });
      await recordChange(trx, { schoolId: caller.schoolId, entity: 'event', entityId: row.id, op: 'upsert' });
    });
    return toPublicEvent(row, fields.audience);
  }

  /**
   * Applies `changes` if the event is still at `version`. The check and the write are one
   * `UPDATE … WHERE version = ?`, so two editors racing cannot both win; the loser gets a 409 that
   * carries the current event to merge against. A new audience replaces the old one in the same
   * transaction and is audited with both.
   */
  async update(caller: Caller, eventId: string, version: number, changes: Partial<EventFields>): Promise<PublicEvent> {
    const current = await this.visibleRow(caller, eventId);
    requireEditor(caller);
    if (current.version !== version) throw await this.conflict(current);
    checkDates({
      startsOn: changes.startsOn ?? current.starts_on,
      endsOn: changes.endsOn === undefined ? current.ends_on : changes.endsOn,
      galleryExpiresOn: changes.galleryExpiresOn === undefined ? current.gallery_expires_on : changes.galleryExpiresOn,
    });
    const { audience } = changes;
    const now = new Date().toISOString();
    const updated = await this.db.transaction().execute(async (trx) => {
      if (audience !== undefined) await checkAudience(trx, caller.schoolId, audience);
      const row = await trx
        .updateTable('events')
        .set((eb) => ({
          ...(changes.name === undefined ? {} : { name: changes.name }),
          ...(changes.startsOn === undefined ? {} : { starts_on: changes.startsOn }),
          ...(changes.endsOn === undefined ? {} : { ends_on: changes.endsOn }),
          ...(changes.location === undefined ? {} : { location: changes.location }),
          ...(changes.description === undefined ? {} : { description: changes.description }),
          ...(changes.state === undefined ? {} : { state: changes.state }),
          ...(audience === undefined ? {} : { audience_scope: audience.scope }),
          ...(changes.galleryExpiresOn === undefined ? {} : { gallery_expires_on: changes.galleryExpiresOn }),
          version: eb('version', '+', 1),
          updated_at: now,
        }))
        .where('id', '=', eventId)
        .where('school_id', '=', caller.schoolId)
        .where('version', '=', version)
        .returningAll()
        .executeTakeFirst();
      if (row === undefined) return undefined;
      await queueEventNotice(trx, { before: current, after: row });
      // The version matched and the row is now locked, so `current` still says what the audience was.
      let audit: { before: EventAudience; after: EventAudience } | undefined;
      // Who could see it before a new audience: the parents it widens to get the opening digest.
      let seenBefore: RecipientsBefore;
      if (audience !== undefined) {
        audit = { before: (await audiencesOf(trx, caller.schoolId, [current])).get(eventId) ?? { scope: 'school' }, after: audience };
        seenBefore = await recipientsBeforeUpdate(trx, current);
        await writeAudience(trx, caller.schoolId, eventId, audience);
      }
      await queueOpeningDigests(trx, { before: current, after: row, seenBefore });
      await recordAudit(trx, {
        action: 'event.update',
        subject: `event:${eventId}`,
        schoolId: caller.schoolId,
        actorUserId: caller.userId,
        detail: { fields: Object.keys(changes).sort(), version: row.version, ...(audit === undefined ? {} : { audience: audit }) },
      });
      await recordChange(trx, { schoolId: caller.schoolId, entity: 'event', entityId: eventId, op: 'upsert' });
      return this.present(trx, caller, row);
    });
    if (updated === undefined) throw await this.conflict(await this.visibleRow(caller, eventId));
    return updated;
  }

  private async visibleRow(caller: Caller, eventId: string): Promise<EventRow> {
    const row = await this.db.selectFrom('events').selectAll().where('id', '=', eventId).where(visibleTo(caller)).executeTakeFirst();
    if (row === undefined) throw new ApiError('not-found', NO_SUCH_EVENT);
    return row;
  }

  /** The row as `caller` may see it: with its audience for staff. */
  private async present(db: Reader, caller: Caller, row: EventRow): Promise<PublicEvent> {
    return toPublicEvent(row, isStaff(caller) ? (await audiencesOf(db, caller.schoolId, [row])).get(row.id) : undefined);
  }

  /** Only editors get this far, so the current event is shown as staff see it. */
  private async conflict(current: EventRow): Promise<ApiError> {
    const audience = (await audiencesOf(this.db, current.school_id, [current])).get(current.id);
    return new ApiError('conflict', `The event was changed by someone else (now version ${current.version}). Review it and try again.`, {
      current: toPublicEvent(current, audience),
    });
  }
}
