/**
 * Plans and storage quotas. A desktop reserves room before it uploads an event and the manifest
 * commits the reservation against the real sizes, so two desktops publishing at once cannot overrun
 * the plan: the check and the hold are one conditional UPDATE of the school's `usage` row, whose
 * affected-row count says whether it fitted.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import { recordAudit } from '../audit.ts';
import type { Database, PlanRow, ReservationState } from '../db/schema.ts';
import { ApiError } from '../errors.ts';
import { EDITOR_ROLES } from './access.ts';
import type { Caller } from './events.ts';

/** The plan seeded by migration 0003; schools without a subscription row are on it too. */
export const DEFAULT_PLAN_ID = 'standard';
/** How long a reservation holds its room unless committed or released first. */
export const DEFAULT_RESERVATION_TTL_SECONDS = 4 * 3600;

type Db = Kysely<Database> | Transaction<Database>;

export interface PublicPlan {
  id: string;
  name: string;
  storageBytes: number;
  originalsAllowed: boolean;
  videoAllowed: boolean;
}

export interface PublicReservation {
  id: string;
  bytes: number;
  expiresAt: string;
}

export interface QuotaSummary {
  plan: PublicPlan;
  usedBytes: number;
  reservedBytes: number;
  limitBytes: number;
  byEvent: Array<{ eventId: string; name: string; usedBytes: number; reservedBytes: number; assets: number }>;
}

export function toPublicPlan(row: PlanRow): PublicPlan {
  return {
    id: row.id,
    name: row.name,
    storageBytes: Number(row.storage_bytes),
    originalsAllowed: row.originals_allowed === 1,
    videoAllowed: row.video_allowed === 1,
  };
}

/** `1.5 GB`, `740 MB`, `12 bytes`: decimal units, as storage is sold. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} ${bytes === 1 ? 'byte' : 'bytes'}`;
  const units = ['KB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const shown = value >= 100 ? value.toFixed(0) : value.toFixed(1).replace(/\.0$/, '');
  return `${shown} ${units[unit]}`;
}

/** Puts a new school on the default plan; called inside {@link createSchool}'s transaction. */
export async function subscribeToDefaultPlan(db: Db, schoolId: string, now: string): Promise<void> {
  await db.insertInto('subscriptions').values({ school_id: schoolId, plan_id: DEFAULT_PLAN_ID, created_at: now }).execute();
  await ensureUsage(db, schoolId);
}

/** The school's plan (the default one when it has no subscription row). */
export async function planOf(db: Db, schoolId: string): Promise<PlanRow> {
  const subscribed = await db
    .selectFrom('subscriptions')
    .innerJoin('plans', 'plans.id', 'subscriptions.plan_id')
    .selectAll('plans')
    .where('subscriptions.school_id', '=', schoolId)
    .executeTakeFirst();
  if (subscribed !== undefined) return subscribed;
  const fallback = await db.selectFrom('plans').selectAll().where('id', '=', DEFAULT_PLAN_ID).executeTakeFirst();
  if (fallback === undefined) throw new Error(`The default plan "${DEFAULT_PLAN_ID}" is missing from the plans table.`);
  return fallback;
}

/** Creates the school's usage row if it has none (schools made before migration 0003, or by hand). */
export async function ensureUsage(db: Db, schoolId: string): Promise<void> {
  await db
    .insertInto('usage')
    .values({ school_id: schoolId, used_bytes: 0, reserved_bytes: 0 })
    .onConflict((oc) => oc.column('school_id').doNothing())
    .execute();
}

export async function readUsage(db: Db, schoolId: string): Promise<{ usedBytes: number; reservedBytes: number }> {
  const row = await db.selectFrom('usage').select(['used_bytes', 'reserved_bytes']).where('school_id', '=', schoolId).executeTakeFirst();
  return { usedBytes: Number(row?.used_bytes ?? 0), reservedBytes: Number(row?.reserved_bytes ?? 0) };
}

/** The 507 a publish gets when it does not fit, in words an admin can act on. */
export async function quotaExceeded(db: Db, schoolId: string, limit: number, needed: number): Promise<ApiError> {
  const school = await db.selectFrom('schools').select('name').where('id', '=', schoolId).executeTakeFirst();
  const { usedBytes, reservedBytes } = await readUsage(db, schoolId);
  const left = Math.max(0, limit - usedBytes - reservedBytes);
  return new ApiError(
    'quota-exceeded',
    `${school?.name ?? 'This school'} has ${formatBytes(left)} of its ${formatBytes(limit)} left; this publish needs ${formatBytes(needed)}.`,
    { limitBytes: limit, usedBytes, reservedBytes, neededBytes: needed },
  );
}

function requireEditor(caller: Caller): void {
  if (!EDITOR_ROLES.includes(caller.role)) throw new ApiError('forbidden', 'Only admins and photographers can reserve storage.');
}

export class QuotaService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: { reservationTtlSeconds?: number } = {},
  ) {}

  /**
   * Holds `bytes` for a publish of `eventId`, or throws 507 `quota-exceeded`. Atomic: the hold is
   * `UPDATE usage SET reserved_bytes = reserved_bytes + n WHERE used + reserved + n <= limit`, and
   * the reservation row is written in the same transaction, so concurrent calls never overbook.
   */
  async reserve(caller: Caller, request: { eventId: string; bytes: number; objects: number }): Promise<PublicReservation> {
    requireEditor(caller);
    const event = await this.db
      .selectFrom('events')
      .select('id')
      .where('id', '=', request.eventId)
      .where('school_id', '=', caller.schoolId)
      .executeTakeFirst();
    if (event === undefined) throw new ApiError('not-found', 'No such event in this school.');
    await ensureUsage(this.db, caller.schoolId);
    await this.releaseExpired(caller.schoolId);

    const now = new Date();
    const ttl = this.options.reservationTtlSeconds ?? DEFAULT_RESERVATION_TTL_SECONDS;
    const reservation = { id: randomUUID(), bytes: request.bytes, expiresAt: new Date(now.getTime() + ttl * 1000).toISOString() };
    const granted = await this.db.transaction().execute(async (trx) => {
      const limit = Number((await planOf(trx, caller.schoolId)).storage_bytes);
      const held = await trx
        .updateTable('usage')
        .set({ reserved_bytes: sql`reserved_bytes + ${request.bytes}` })
        .where('school_id', '=', caller.schoolId)
        .where(sql<boolean>`used_bytes + reserved_bytes + ${request.bytes} <= ${limit}`)
        .executeTakeFirst();
      if (Number(held.numUpdatedRows) !== 1) return { ok: false as const, limit };
      await trx
        .insertInto('reservations')
        .values({
          id: reservation.id,
          school_id: caller.schoolId,
          event_id: request.eventId,
          bytes: request.bytes,
          objects: request.objects,
          state: 'reserved',
          expires_at: reservation.expiresAt,
          created_by: caller.userId,
          created_at: now.toISOString(),
          settled_at: null,
        })
        .execute();
      await recordAudit(trx, {
        action: 'quota.reserve',
        subject: `reservation:${reservation.id}`,
        schoolId: caller.schoolId,
        actorUserId: caller.userId,
        detail: { eventId: request.eventId, bytes: request.bytes, objects: request.objects },
      });
      return { ok: true as const, limit };
    });
    if (!granted.ok) throw await quotaExceeded(this.db, caller.schoolId, granted.limit, request.bytes);
    return reservation;
  }

  /** Gives the room back. Idempotent for a released reservation; 409 for a committed one. */
  async release(caller: Caller, reservationId: string): Promise<{ id: string; state: ReservationState; bytes: number }> {
    requireEditor(caller);
    const released = await this.db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('reservations')
        .set({ state: 'released', settled_at: new Date().toISOString() })
        .where('id', '=', reservationId)
        .where('school_id', '=', caller.schoolId)
        .where('state', '=', 'reserved')
        .returning(['id', 'bytes', 'event_id'])
        .executeTakeFirst();
      if (row === undefined) return undefined;
      const bytes = Number(row.bytes);
      await trx
        .updateTable('usage')
        .set({ reserved_bytes: sql`reserved_bytes - ${bytes}` })
        .where('school_id', '=', caller.schoolId)
        .execute();
      await recordAudit(trx, {
        action: 'quota.release',
        subject: `reservation:${row.id}`,
        schoolId: caller.schoolId,
        actorUserId: caller.userId,
        detail: { eventId: row.event_id, bytes },
      });
      return { id: row.id, state: 'released' as const, bytes };
    });
    if (released !== undefined) return released;
    const current = await this.db
      .selectFrom('reservations')
      .select(['id', 'state', 'bytes'])
      .where('id', '=', reservationId)
      .where('school_id', '=', caller.schoolId)
      .executeTakeFirst();
    if (current === undefined) throw new ApiError('not-found', 'No such reservation in this school.');
    if (current.state === 'committed') throw new ApiError('conflict', 'This reservation was already used by a published manifest; it can no longer be released.');
    return { id: current.id, state: current.state, bytes: Number(current.bytes) };
  }

  /** The school's plan and usage, per event; admins only. */
  async summary(caller: Caller): Promise<QuotaSummary> {
    if (caller.role !== 'admin') throw new ApiError('forbidden', 'Only admins can see the storage quota.');
    await ensureUsage(this.db, caller.schoolId);
    await this.releaseExpired(caller.schoolId);
    const plan = toPublicPlan(await planOf(this.db, caller.schoolId));
    const usage = await readUsage(this.db, caller.schoolId);
    const used = await this.db
      .selectFrom('media')
      .select((eb) => ['event_id', eb.fn.sum<number | string>('size').as('bytes'), eb.fn.count<number | string>('asset_id').distinct().as('assets')])
      .where('school_id', '=', caller.schoolId)
      .groupBy('event_id')
      .execute();
    const reserved = await this.db
      .selectFrom('reservations')
      .select((eb) => ['event_id', eb.fn.sum<number | string>('bytes').as('bytes')])
      .where('school_id', '=', caller.schoolId)
      .where('state', '=', 'reserved')
      .groupBy('event_id')
      .execute();
    const names = new Map(
      (await this.db.selectFrom('events').select(['id', 'name']).where('school_id', '=', caller.schoolId).execute()).map((e) => [e.id, e.name]),
    );
    const byId = new Map<string, QuotaSummary['byEvent'][number]>();
    const entry = (eventId: string) => {
      let found = byId.get(eventId);
      if (found === undefined) {
        found = { eventId, name: names.get(eventId) ?? '', usedBytes: 0, reservedBytes: 0, assets: 0 };
        byId.set(eventId, found);
      }
      return found;
    };
    for (const row of used) Object.assign(entry(row.event_id), { usedBytes: Number(row.bytes), assets: Number(row.assets) });
    for (const row of reserved) entry(row.event_id).reservedBytes = Number(row.bytes);
    const byEvent = [...byId.values()].sort((a, b) => b.usedBytes + b.reservedBytes - (a.usedBytes + a.reservedBytes) || a.name.localeCompare(b.name));
    return { plan, ...usage, limitBytes: plan.storageBytes, byEvent };
  }

  /**
   * Releases the school's reservations that ran out (lazily, on its next reservation). Each row
   * flips state in a conditional UPDATE, so two callers racing never give the same bytes back twice.
   */
  async releaseExpired(schoolId: string): Promise<number> {
    const now = new Date().toISOString();
    return this.db.transaction().execute(async (trx) => {
      const expired = await trx
        .updateTable('reservations')
        .set({ state: 'released', settled_at: now })
        .where('school_id', '=', schoolId)
        .where('state', '=', 'reserved')
        .where('expires_at', '<=', now)
        .returning(['id', 'bytes'])
        .execute();
      if (expired.length === 0) return 0;
      const bytes = expired.reduce((sum, row) => sum + Number(row.bytes), 0);
      await trx
        .updateTable('usage')
        .set({ reserved_bytes: sql`reserved_bytes - ${bytes}` })
        .where('school_id', '=', schoolId)
        .execute();
      await recordAudit(trx, {
        action: 'quota.expire',
        subject: `school:${schoolId}`,
        schoolId,
        detail: { reservations: expired.map((row) => row.id), bytes },
      });
      return expired.length;
    });
  }
}
