/**
 * Reading the audit trail, for the school's admins: newest first, filtered by action, actor and days,
 * a page at a time behind an opaque cursor. Entries are the school's own (sign-ins and other entries
 * about no school are never listed here), and a detail field that could carry a credential is dropped
 * before it leaves the service, whatever a writer put there.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { ApiError } from '../errors.ts';
import type { Caller } from './events.ts';

/** Most entries one page holds. */
export const MAX_AUDIT_PAGE = 200;

/** Who did it, as the admins' list names them (null when the service itself did, or the account is gone). */
export interface AuditActor {
  userId: string;
  name: string;
  email: string;
}

/** One entry as admins read it. */
export interface PublicAuditEntry {
  id: string;
  at: string;
  action: string;
  subject: string;
  actor: AuditActor | null;
  detail: Record<string, unknown>;
}

/** A page of the trail; `nextCursor` is null on the last one. */
export interface AuditPage {
  entries: PublicAuditEntry[];
  nextCursor: string | null;
}

/** The filters of one page; days are UTC and both ends are included. */
export interface AuditQuery {
  actions?: string[];
  actorUserId?: string;
  from?: string;
  to?: string;
  cursor?: string;
  limit: number;
}

/** One change to a student's consent, from the audit trail. */
export interface ConsentChange {
  at: string;
  purpose: string;
  before: boolean | null;
  after: boolean;
  /** How it was set: by hand (`api`) or by a roster import. */
  via: string;
  role: string | null;
  actor: AuditActor | null;
}

// Keys that would name a credential; entries are written without them, and this makes sure of it.
const SECRET_KEY = /token|secret|password|hash|cookie|verifier|^code$|^sub$/i;

/** Reads the audit trail of the caller's school. */
export class AuditLogService {
  constructor(private readonly db: Kysely<Database>) {}

  /** A page of entries, newest first (admins). */
  async list(caller: Caller, query: AuditQuery): Promise<AuditPage> {
    requireAdmin(caller);
    const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
    let select = this.db
      .selectFrom('audit_log')
      .leftJoin('users', 'users.id', 'audit_log.actor_user_id')
      .select(['audit_log.id', 'audit_log.at', 'audit_log.action', 'audit_log.subject', 'audit_log.detail', 'audit_log.actor_user_id', 'users.name', 'users.email'])
      .where('audit_log.school_id', '=', caller.schoolId);
    if (query.actions && query.actions.length > 0) select = select.where('audit_log.action', 'in', query.actions);
    if (query.actorUserId !== undefined) select = select.where('audit_log.actor_user_id', '=', query.actorUserId);
    if (query.from !== undefined) select = select.where('audit_log.at', '>=', `${query.from}T00:00:00.000Z`);
    // `at` is an ISO instant: every instant of the last day sorts below the next day's midnight.
    if (query.to !== undefined) select = select.where('audit_log.at', '<', nextDay(query.to));
    if (after) {
      select = select.where((eb) => eb.or([eb('audit_log.at', '<', after.at), eb.and([eb('audit_log.at', '=', after.at), eb('audit_log.id', '<', after.id)])]));
    }
    const rows = await select.orderBy('audit_log.at', 'desc').orderBy('audit_log.id', 'desc').limit(query.limit + 1).execute();
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      entries: page.map((row) => ({
        id: row.id,
        at: row.at,
        action: row.action,
        subject: row.subject,
        actor: actorOf(row.actor_user_id, row.name, row.email),
        detail: publicDetail(row.detail),
      })),
      nextCursor: rows.length > query.limit && last ? encodeCursor(last.at, last.id) : null,
    };
  }

  /** Every recorded change of one student's consent, newest first (admins; a student of another school is a 404). */
  async consentHistory(caller: Caller, studentId: string): Promise<{ changes: ConsentChange[] }> {
    requireAdmin(caller);
    const student = await this.db.selectFrom('students').select('id').where('school_id', '=', caller.schoolId).where('id', '=', studentId).where('deleted_at', 'is', null).executeTakeFirst();
    if (!student) throw new ApiError('not-found', 'No such student in this school.');
    const rows = await this.db
      .selectFrom('audit_log')
      .leftJoin('users', 'users.id', 'audit_log.actor_user_id')
      .select(['audit_log.id', 'audit_log.at', 'audit_log.detail', 'audit_log.actor_user_id', 'users.name', 'users.email'])
      .where('audit_log.school_id', '=', caller.schoolId)
      .where('audit_log.action', '=', 'consent.set')
      .where('audit_log.subject', '=', `student:${studentId}`)
      .orderBy('audit_log.at', 'desc')
      .orderBy('audit_log.id', 'desc')
      .limit(1000)
      .execute();
    return {
      changes: rows.map((row) => {
        const detail = publicDetail(row.detail);
        return {
          at: row.at,
          purpose: String(detail.purpose ?? ''),
          before: typeof detail.before === 'boolean' ? detail.before : null,
          after: detail.after === true,
          via: typeof detail.via === 'string' ? detail.via : 'api',
          role: typeof detail.role === 'string' ? detail.role : null,
          actor: actorOf(row.actor_user_id, row.name, row.email),
        };
      }),
    };
  }
}

function requireAdmin(caller: Caller): void {
  if (caller.role !== 'admin') throw new ApiError('forbidden', 'Only the school’s admins can read its audit log.');
}

function actorOf(userId: string | null, name: string | null, email: string | null): AuditActor | null {
  return userId === null || email === null ? null : { userId, name: name ?? '', email };
}

function publicDetail(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
  return Object.fromEntries(Object.entries(parsed as Record<string, unknown>).filter(([key]) => !SECRET_KEY.test(key)));
}

function nextDay(day: string): string {
  const date = new Date(`${day}T00:00:00.000Z`);
  date.setUTCDate(date.getUTCDate() + 1);
  return date.toISOString();
}

function encodeCursor(at: string, id: string): string {
  return Buffer.from(JSON.stringify([at, id])).toString('base64url');
}

function decodeCursor(cursor: string): { at: string; id: string } {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string') return { at: value[0], id: value[1] };
  } catch {
    // Falls through to the same answer as a well-formed cursor of the wrong shape.
  }
  throw new ApiError('invalid-input', 'Invalid query: cursor: is not a cursor this service gave out; start from the first page.');
}
