/**
 * A school's events. Every query carries the school id and the caller's role, so a route cannot
 * forget the tenant scope: there is no "get event by id" that ignores the school.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { recordAudit } from '../audit.ts';
import type { Database, EventRow, EventState, Role } from '../db/schema.ts';
import { ApiError } from '../errors.ts';
import { EDITOR_ROLES, STAFF_ROLES } from './access.ts';
import { recordChange } from './changes.ts';

/** The fields a client may set; ids, versions and timestamps are the server's. */
export interface EventFields {
  name: string;
  startsOn: string;
  endsOn: string | null;
  location: string | null;
  description: string | null;
  state: EventState;
}

/** An event as the API shows it. */
export interface PublicEvent extends EventFields {
  id: string;
  schoolId: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** Who is acting, in which school, with which role (from {@link requireMembership}). */
export interface Caller {
  userId: string;
  schoolId: string;
  role: Role;
}

const NO_SUCH_EVENT = 'No such event in this school.';

export function toPublicEvent(row: EventRow): PublicEvent {
  return {
    id: row.id,
    schoolId: row.school_id,
    name: row.name,
    startsOn: row.starts_on,
    endsOn: row.ends_on,
    location: row.location,
    description: row.description,
    state: row.state,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function requireEditor(caller: Caller): void {
  if (!EDITOR_ROLES.includes(caller.role)) throw new ApiError('forbidden', 'Only admins and photographers can create or change events.');
}

function checkDates(fields: Pick<EventFields, 'startsOn' | 'endsOn'>): void {
  if (fields.endsOn !== null && fields.endsOn < fields.startsOn) {
    throw new ApiError('invalid-input', `endsOn (${fields.endsOn}) is before startsOn (${fields.startsOn}).`);
  }
}

export class EventService {
  constructor(private readonly db: Kysely<Database>) {}

  /** The school's events the caller may see, soonest first. */
  async list(caller: Caller): Promise<PublicEvent[]> {
    let query = this.db.selectFrom('events').selectAll().where('school_id', '=', caller.schoolId);
    if (!STAFF_ROLES.includes(caller.role)) query = query.where('state', '=', 'published');
    const rows = await query.orderBy('starts_on').orderBy('name').orderBy('id').execute();
    return rows.map(toPublicEvent);
  }

  /** One event; 404 when it is in another school or not visible to the caller's role. */
  async get(caller: Caller, eventId: string): Promise<PublicEvent> {
    return toPublicEvent(await this.visibleRow(caller, eventId));
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
      version: 1,
      created_at: now,
      updated_at: now,
    };
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('events').values(row).execute();
      await recordAudit(trx, {
        action: 'event.create',
        subject: `event:${row.id}`,
        schoolId: caller.schoolId,
        actorUserId: caller.userId,
        detail: { name: row.name, state: row.state },
      });
      await recordChange(trx, { schoolId: caller.schoolId, entity: 'event', entityId: row.id, op: 'upsert' });
    });
    return toPublicEvent(row);
  }

  /**
   * Applies `changes` if the event is still at `version`. The check and the write are one
   * `UPDATE … WHERE version = ?`, so two editors racing cannot both win; the loser gets a 409 that
   * carries the current event to merge against.
   */
  async update(caller: Caller, eventId: string, version: number, changes: Partial<EventFields>): Promise<PublicEvent> {
    const current = await this.visibleRow(caller, eventId);
    requireEditor(caller);
    if (current.version !== version) throw this.conflict(current);
    checkDates({ startsOn: changes.startsOn ?? current.starts_on, endsOn: changes.endsOn === undefined ? current.ends_on : changes.endsOn });
    const now = new Date().toISOString();
    const updated = await this.db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('events')
        .set((eb) => ({
          ...(changes.name === undefined ? {} : { name: changes.name }),
          ...(changes.startsOn === undefined ? {} : { starts_on: changes.startsOn }),
          ...(changes.endsOn === undefined ? {} : { ends_on: changes.endsOn }),
          ...(changes.location === undefined ? {} : { location: changes.location }),
          ...(changes.description === undefined ? {} : { description: changes.description }),
          ...(changes.state === undefined ? {} : { state: changes.state }),
          version: eb('version', '+', 1),
          updated_at: now,
        }))
        .where('id', '=', eventId)
        .where('school_id', '=', caller.schoolId)
        .where('version', '=', version)
        .returningAll()
        .executeTakeFirst();
      if (row === undefined) return undefined;
      await recordAudit(trx, {
        action: 'event.update',
        subject: `event:${eventId}`,
        schoolId: caller.schoolId,
        actorUserId: caller.userId,
        detail: { fields: Object.keys(changes).sort(), version: row.version },
      });
      await recordChange(trx, { schoolId: caller.schoolId, entity: 'event', entityId: eventId, op: 'upsert' });
      return row;
    });
    if (updated === undefined) throw this.conflict(await this.visibleRow(caller, eventId));
    return toPublicEvent(updated);
  }

  private async visibleRow(caller: Caller, eventId: string): Promise<EventRow> {
    let query = this.db.selectFrom('events').selectAll().where('id', '=', eventId).where('school_id', '=', caller.schoolId);
    if (!STAFF_ROLES.includes(caller.role)) query = query.where('state', '=', 'published');
    const row = await query.executeTakeFirst();
    if (row === undefined) throw new ApiError('not-found', NO_SUCH_EVENT);
    return row;
  }

  private conflict(current: EventRow): ApiError {
    return new ApiError('conflict', `The event was changed by someone else (now version ${current.version}). Review it and try again.`, {
      current: toPublicEvent(current),
    });
  }
}
