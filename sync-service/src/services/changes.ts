/**
 * Writing the change feed. Every write of a synced entity calls {@link recordChange} inside its own
 * transaction, so the change row commits or rolls back with the write it describes.
 *
 * Ordering. A reader pages by `seq > since`, so a row must never become visible *after* a reader has
 * moved past its seq. SQLite has one writer at a time, so seq order is commit order. On PostgreSQL
 * identity values are handed out at insert time and two transactions can commit out of order; there
 * every feed-writing transaction first takes a per-school advisory lock ({@link lockChangeFeed}) held
 * until commit, so within a school seq order is commit order too (the feed is read per school).
 *
 * Compaction. The feed carries each entity's *current* state, not its history, so an entity needs
 * only its latest row: writing a change drops that entity's older rows. A desktop that was offline
 * for a month gets each changed entity once, not every intermediate edit.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import { isPostgres } from '../db/dialect.ts';
import type { ChangeEntity, ChangeOp, Database } from '../db/schema.ts';

type Writer = Kysely<Database> | Transaction<Database>;

export interface ChangeEntry {
  schoolId: string;
  entity: ChangeEntity;
  entityId: string;
  op: ChangeOp;
}

/**
 * Serialises feed writers of one school until the transaction ends (PostgreSQL; a no-op on SQLite,
 * which serialises all writers). Take it first in a transaction that writes several rows, so lock
 * order is always "feed lock, then rows" and two writers cannot deadlock.
 */
export async function lockChangeFeed(trx: Writer, schoolId: string): Promise<void> {
  if (!isPostgres(trx)) return;
  await sql`select pg_advisory_xact_lock(hashtext(${`keepsake.changes:${schoolId}`}))`.execute(trx);
}

/** Appends one change row (and drops the entity's older ones). Call it inside the write's transaction. */
export async function recordChange(trx: Writer, change: ChangeEntry): Promise<void> {
  await lockChangeFeed(trx, change.schoolId);
  await trx
    .deleteFrom('changes')
    .where('school_id', '=', change.schoolId)
    .where('entity', '=', change.entity)
    .where('entity_id', '=', change.entityId)
    .execute();
  await trx
    .insertInto('changes')
    .values({ school_id: change.schoolId, entity: change.entity, entity_id: change.entityId, op: change.op, at: new Date().toISOString() })
    .execute();
}

/** {@link recordChange} for several entities; an entity named twice is written once, with its last op. */
export async function recordChanges(trx: Writer, changes: ChangeEntry[]): Promise<void> {
  const latest = new Map<string, ChangeEntry>();
  for (const change of changes) {
    const key = `${change.entity}\u0000${change.entityId}`;
    latest.delete(key);
    latest.set(key, change);
  }
  for (const change of latest.values()) await recordChange(trx, change);
}
