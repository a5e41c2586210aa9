/**
 * Reading the change feed (staff only) and the devices' checkpoints. Each change carries its entity's
 * current state, read in the same snapshot as the page, so a desktop applies a page without further
 * calls. See services/changes.ts for how rows are written and why their order is commit order.
 */
import type { Kysely, Transaction } from 'kysely';
import type { ChangeEntity, ChangeOp, ChangeRow, Database } from '../db/schema.ts';
import { ApiError } from '../errors.ts';
import { STAFF_ROLES } from './access.ts';
import { loadEvents, type Caller } from './events.ts';
import { loadClasses, loadConsents, loadFamilies, loadStudents } from './people.ts';
import { loadMemberships } from './members.ts';

export interface FeedChange {
  seq: number;
  entity: ChangeEntity;
  id: string;
  op: ChangeOp;
  /** The entity as its own GET shows it; null for a delete. */
  data: unknown;
}

export interface FeedPage {
  changes: FeedChange[];
  /** Pass as `since` next time: the last seq in this page (or the `since` asked for, when empty). */
  next: number;
  /** True when more changes follow `next` right now. */
  more: boolean;
}

export interface Checkpoint {
  deviceId: string;
  seq: number;
  userId: string;
  updatedAt: string;
}

export const MAX_FEED_LIMIT = 1000;
const NOT_VISIBLE = 'No such resource in this school, or you cannot see it.';

function requireStaff(caller: Caller): void {
  if (!STAFF_ROLES.includes(caller.role)) throw new ApiError('not-found', NOT_VISIBLE);
}

type Loader = (trx: Transaction<Database>, schoolId: string, ids: string[]) => Promise<Map<string, unknown>>;

const LOADERS: Record<ChangeEntity, Loader> = {
  // With its audience and gallery expiry: the feed is for staff, who see both.
  event: loadEvents,
  student: loadStudents,
  class: loadClasses,
  family: loadFamilies,
  consent: loadConsents,
  // { userId, name, role }: the feed goes to every staff member, so no e-mail addresses (admins read them from /members).
  membership: loadMemberships,
};

export class FeedService {
  constructor(private readonly db: Kysely<Database>) {}

  /** Changes after `since`, oldest first, at most `limit`. */
  async read(caller: Caller, since: number, limit: number): Promise<FeedPage> {
    requireStaff(caller);
    const size = Math.min(Math.max(limit, 1), MAX_FEED_LIMIT);
    // One snapshot for the page and the entities' state (PostgreSQL; SQLite's reads are serial anyway).
    return this.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        const rows = await trx
          .selectFrom('changes')
          .selectAll()
          .where('school_id', '=', caller.schoolId)
          .where('seq', '>', since)
          .orderBy('seq')
          .limit(size + 1)
          .execute();
        const page = rows.slice(0, size);
        const state = await this.resolve(trx, caller.schoolId, page);
        const changes = page.map((row): FeedChange => {
          const data = row.op === 'delete' ? undefined : state.get(row.entity)?.get(row.entity_id);
          // An upsert whose entity is gone in this snapshot: it was removed since; say so.
          return data === undefined
            ? { seq: row.seq, entity: row.entity, id: row.entity_id, op: 'delete', data: null }
            : { seq: row.seq, entity: row.entity, id: row.entity_id, op: 'upsert', data };
        });
        return { changes, next: page.at(-1)?.seq ?? since, more: rows.length > size };
      });
  }

  private async resolve(trx: Transaction<Database>, schoolId: string, rows: ChangeRow[]): Promise<Map<ChangeEntity, Map<string, unknown>>> {
    const wanted = new Map<ChangeEntity, string[]>();
    for (const row of rows) {
      if (row.op === 'delete') continue;
      const ids = wanted.get(row.entity) ?? [];
      ids.push(row.entity_id);
      wanted.set(row.entity, ids);
    }
    const state = new Map<ChangeEntity, Map<string, unknown>>();
    for (const [entity, ids] of wanted) state.set(entity, await LOADERS[entity](trx, schoolId, ids));
    return state;
  }

  async getCheckpoint(caller: Caller, deviceId: string): Promise<Checkpoint> {
    requireStaff(caller);
    const row = await this.db
      .selectFrom('device_checkpoints')
      .selectAll()
      .where('school_id', '=', caller.schoolId)
      .where('device_id', '=', deviceId)
      .executeTakeFirst();
    if (row === undefined) throw new ApiError('not-found', 'This device has no checkpoint in this school yet.');
    return { deviceId: row.device_id, seq: row.seq, userId: row.user_id, updatedAt: row.updated_at };
  }

  /** Records how far a device got; a seq the feed has not reached yet is refused. */
  async setCheckpoint(caller: Caller, deviceId: string, seq: number): Promise<Checkpoint> {
    requireStaff(caller);
    const latest = await this.db.selectFrom('changes').select((eb) => eb.fn.max('seq').as('max')).where('school_id', '=', caller.schoolId).executeTakeFirst();
    const max = Number(latest?.max ?? 0);
    if (seq > max) throw new ApiError('invalid-input', `seq: ${seq} is beyond the latest change (${max}).`);
    const updatedAt = new Date().toISOString();
    await this.db
      .insertInto('device_checkpoints')
      .values({ device_id: deviceId, school_id: caller.schoolId, user_id: caller.userId, seq, updated_at: updatedAt })
      .onConflict((oc) => oc.columns(['device_id', 'school_id']).doUpdateSet({ user_id: caller.userId, seq, updated_at: updatedAt }))
      .execute();
    return { deviceId, seq, userId: caller.userId, updatedAt };
  }
}
