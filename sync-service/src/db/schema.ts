/**
 * The row types Kysely checks queries against. Column names are snake_case as stored; the HTTP layer
 * maps them to camelCase.
 *
 * Conventions, chosen so one migration and one query text run on SQLite and PostgreSQL alike:
 * - ids are text UUIDs from `crypto.randomUUID()` (no database-specific uuid type or sequence);
 * - timestamps are ISO-8601 UTC text from `Date#toISOString()`: fixed width, so text order is time
 *   order and `<`/`>` comparisons work on both engines; readable in a SQL shell; and free of the
 *   `bigint`-as-string trap pg has for 64-bit integer milliseconds;
 * - calendar dates (`starts_on`) are `YYYY-MM-DD` text: a school day has no time zone;
 * - booleans, when they come, are integers 0/1.
 */
import type { Insertable, Selectable } from 'kysely';

export const ROLES = ['admin', 'photographer', 'teacher', 'parent', 'student'] as const;
export type Role = (typeof ROLES)[number];

export const EVENT_STATES = ['draft', 'published', 'archived'] as const;
export type EventState = (typeof EVENT_STATES)[number];

export interface SchoolsTable {
  id: string;
  name: string;
  slug: string;
  created_at: string;
}

export interface UsersTable {
  id: string;
  /** Lower-cased before it is stored, so the unique index is case-insensitive on both engines. */
  email: string;
  password_hash: string;
  name: string;
  created_at: string;
}

export interface MembershipsTable {
  user_id: string;
  school_id: string;
  role: Role;
  created_at: string;
}

export interface RefreshTokensTable {
  id: string;
  /** Every token rotated from one sign-in shares a family; reuse of any of them revokes it whole. */
  family_id: string;
  user_id: string;
  /** SHA-256 of the token, base64url: a leaked table does not hand out sessions. */
  token_hash: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  revoked_at: string | null;
}

export interface EventsTable {
  id: string;
  school_id: string;
  name: string;
  starts_on: string;
  ends_on: string | null;
  location: string | null;
  description: string | null;
  state: EventState;
  /** Bumped by every update; a PATCH names the version it read (optimistic concurrency). */
  version: number;
  created_at: string;
  updated_at: string;
}

export interface AuditLogTable {
  id: string;
  school_id: string | null;
  actor_user_id: string | null;
  action: string;
  subject: string;
  /** JSON text; small and never queried into, so no json/jsonb type split between engines. */
  detail: string;
  at: string;
}

export interface Database {
  schools: SchoolsTable;
  users: UsersTable;
  memberships: MembershipsTable;
  refresh_tokens: RefreshTokensTable;
  events: EventsTable;
  audit_log: AuditLogTable;
}

export type EventRow = Selectable<EventsTable>;
export type NewAuditRow = Insertable<AuditLogTable>;
