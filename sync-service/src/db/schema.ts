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
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

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

// ---- Plans, quotas and published media (migration 0003) ----

/**
 * A byte count in a `bigint` column (a school's storage passes 2^31 bytes long before it passes 2 GB of
 * photos). pg hands `bigint` back as text to stay exact, SQLite as a number; read it through
 * `Number()` (exact below 2^53 bytes, 9 PB).
 */
export type Bytes = ColumnType<number | string, number, number>;

export const RESERVATION_STATES = ['reserved', 'committed', 'released'] as const;
export type ReservationState = (typeof RESERVATION_STATES)[number];

export interface PlansTable {
  id: string;
  name: string;
  storage_bytes: Bytes;
  /** 0/1: whether stripped originals may be published. */
  originals_allowed: number;
  /** 0/1: whether videos may be published. */
  video_allowed: number;
}

export interface SubscriptionsTable {
  school_id: string;
  plan_id: string;
  created_at: string;
}

/** One row a school: what its published media take and what running publishes have reserved. */
export interface UsageTable {
  school_id: string;
  used_bytes: Bytes;
  reserved_bytes: Bytes;
}

export interface ReservationsTable {
  id: string;
  school_id: string;
  event_id: string;
  bytes: Bytes;
  objects: number;
  state: ReservationState;
  expires_at: string;
  created_by: string | null;
  created_at: string;
  /** When it was committed or released. */
  settled_at: string | null;
}

/** One published object: a variant of an asset of an event. */
export interface MediaTable {
  school_id: string;
  event_id: string;
  /** The desktop's content hash of the asset. */
  asset_id: string;
  variant: string;
  /** The asset's place in the manifest (the same for all its variants): the gallery's order and paging cursor. */
  position: number;
  kind: string;
  object_key: string;
  size: Bytes;
  hash: string;
  width: number | null;
  height: number | null;
  duration_sec: number | null;
  captured_at: string | null;
  rating: number;
  title: string | null;
  description: string | null;
  /** JSON text: string[]. */
  tags: string;
  /** JSON text: the student ids tagged. */
  people: string;
  published_at: string;
}

export interface Database {
  plans: PlansTable;
  subscriptions: SubscriptionsTable;
  usage: UsageTable;
  reservations: ReservationsTable;
  media: MediaTable;
}

export type PlanRow = Selectable<PlansTable>;
export type ReservationRow = Selectable<ReservationsTable>;
export type MediaRow = Selectable<MediaTable>;

// ---- People, consent and the change feed (migration 0002) ----

export const CONSENT_PURPOSES = ['publish', 'yearbook'] as const;
export type ConsentPurpose = (typeof CONSENT_PURPOSES)[number];

export const CHANGE_ENTITIES = ['event', 'student', 'class', 'family', 'consent', 'membership'] as const;
export type ChangeEntity = (typeof CHANGE_ENTITIES)[number];
export type ChangeOp = 'upsert' | 'delete';

export interface ClassesTable {
  id: string;
  school_id: string;
  name: string;
  created_at: string;
}

/**
 * A student (the desktop's "person"). Erasure keeps the row as a tombstone (`deleted_at` set, every
 * personal field null) so the change feed can still say `delete` for its id.
 */
export interface StudentsTable {
  id: string;
  school_id: string;
  /** Null only on a tombstone. */
  name: string | null;
  class_id: string | null;
  /** The desktop's roster key / person id; unique per school among live students. */
  remote_ref: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface FamiliesTable {
  id: string;
  school_id: string;
  name: string;
  /** Lower-cased contact address from the roster's family email; how a re-import finds the family again. */
  email: string | null;
  /**
   * `v1:` + HMAC-SHA-256 (server secret) of the family's live access code, base64url; null when it has
   * none. Unique, so a redemption finds its family by equality; cleared when the code is used or revoked.
   */
  access_code_hash: string | null;
  created_at: string;
  updated_at: string;
}

/** Parents' accounts in a family. */
export interface FamilyMembersTable {
  family_id: string;
  user_id: string;
}

export interface FamilyStudentsTable {
  family_id: string;
  student_id: string;
}

/** Opt-in: a purpose with no row is denied. */
export interface ConsentsTable {
  student_id: string;
  purpose: ConsentPurpose;
  /** 0/1. */
  granted: number;
  set_by_user_id: string | null;
  set_at: string;
}

/** The change feed: one row per entity (older rows for the same entity are dropped when it changes again). */
export interface ChangesTable {
  /** Autoincrement (SQLite) / identity (PostgreSQL); commit order within a school (see services/changes.ts). */
  seq: Generated<number>;
  school_id: string;
  entity: ChangeEntity;
  entity_id: string;
  op: ChangeOp;
  at: string;
}

export interface DeviceCheckpointsTable {
  device_id: string;
  school_id: string;
  user_id: string;
  seq: number;
  updated_at: string;
}

export interface Database {
  classes: ClassesTable;
  students: StudentsTable;
  families: FamiliesTable;
  family_members: FamilyMembersTable;
  family_students: FamilyStudentsTable;
  consents: ConsentsTable;
  changes: ChangesTable;
  device_checkpoints: DeviceCheckpointsTable;
}

export type ClassRow = Selectable<ClassesTable>;
export type StudentRow = Selectable<StudentsTable>;
export type FamilyRow = Selectable<FamiliesTable>;
export type ConsentRow = Selectable<ConsentsTable>;
export type ChangeRow = Selectable<ChangesTable>;

// ---- Family access codes and OIDC sign-in (migration 0004) ----

export interface OidcIdentitiesTable {
  issuer: string;
  /** The provider's `sub`: stable, unlike the e-mail address. */
  subject: string;
  user_id: string;
  created_at: string;
  last_sign_in_at: string;
}

/** A started OIDC sign-in, until its callback (or `expires_at`). */
export interface OidcLoginsTable {
  /** SHA-256 of the `state` sent to the provider. */
  state_hash: string;
  school_id: string;
  nonce: string;
  code_verifier: string;
  /** The desktop's loopback URL the callback redirects to with the one-time code. */
  return_to: string | null;
  /** The desktop's S256 challenge; `/exchange` then needs the matching verifier. */
  client_challenge: string | null;
  created_at: string;
  expires_at: string;
}

export interface OidcExchangeCodesTable {
  /** SHA-256 of the one-time code. */
  code_hash: string;
  user_id: string;
  school_id: string;
  client_challenge: string | null;
  created_at: string;
  expires_at: string;
}

export interface Database {
  oidc_identities: OidcIdentitiesTable;
  oidc_logins: OidcLoginsTable;
  oidc_exchange_codes: OidcExchangeCodesTable;
}

// ---- Event audience and gallery expiry (migration 0005) ----

export const AUDIENCE_SCOPES = ['school', 'some'] as const;
/** `school`: every member of the school; `some`: only the classes and families listed for the event. */
export type AudienceScope = (typeof AUDIENCE_SCOPES)[number];

/** The columns 0005 adds to `events` (merged into {@link EventsTable} above); both optional on insert. */
export interface EventsTable {
  audience_scope: ColumnType<AudienceScope, AudienceScope | undefined, AudienceScope>;
  /** `YYYY-MM-DD`: the last day (UTC) parents and students can open the gallery; null: no end. */
  gallery_expires_on: ColumnType<string | null, string | null | undefined, string | null>;
}

/** A class an event with audience `some` is for: its children's parents see the event. */
export interface EventClassesTable {
  event_id: string;
  school_id: string;
  class_id: string;
}

/** A family an event with audience `some` is for. */
export interface EventFamiliesTable {
  event_id: string;
  school_id: string;
  family_id: string;
}

export interface Database {
  event_classes: EventClassesTable;
  event_families: EventFamiliesTable;
}

// ---- Invitations and the mail outbox (migration 0007) ----

export const OUTBOX_STATES = ['queued', 'sending', 'sent', 'failed', 'cancelled'] as const;
export type OutboxState = (typeof OUTBOX_STATES)[number];

/** An invitation to join a school with a role, sent as a single-use e-mail link. */
export interface InvitesTable {
  id: string;
  school_id: string;
  /** Lower-cased; the account that accepts must have (or get) this address. */
  email: string;
  role: Role;
  /** The family a parent joins; set for parents and only for them. */
  family_id: string | null;
  /** SHA-256 of the link's token, base64url; replaced by each resend, so older links die. */
  token_hash: string;
  invited_by: string | null;
  /** How many times the link was sent (1 + resends). */
  sends: number;
  /** The outbox idempotency key of the latest mail, for its delivery state. */
  mail_key: string;
  created_at: string;
  /** When the latest link was made. */
  sent_at: string;
  expires_at: string;
  accepted_at: string | null;
  accepted_by: string | null;
  revoked_at: string | null;
}

/** One e-mail of the outbox. */
export interface OutboxTable {
  id: string;
  school_id: string;
  /** Unique: enqueueing the same mail twice is one row. Also the seed of its Message-ID. */
  idempotency_key: string;
  to_address: string;
  /** The sender's display name (the school's name); the address is the configured `MAIL_FROM`. */
  from_name: string;
  subject: string;
  /** The text and HTML bodies, sealed with the outbox key (they carry links); emptied once the mail is settled. */
  body: string;
  state: OutboxState;
  /** Sends tried so far (a claim counts as one). */
  attempts: number;
  next_attempt_at: string;
  /** The random id of the current claim: only its holder may settle the row. */
  claim_id: string | null;
  /** A `sending` row whose lease has passed belongs to a worker that died: it is due again. */
  lease_expires_at: string | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  sent_at: string | null;
}

export interface Database {
  invites: InvitesTable;
  outbox: OutboxTable;
}

export type InviteRow = Selectable<InvitesTable>;
export type OutboxRow = Selectable<OutboxTable>;

// ---- Object deletions (migration 0006) ----

/** A bucket object to delete once its erasure has committed; the row goes when the store confirms. */
export interface ObjectDeletionsTable {
  id: string;
  school_id: string;
  object_key: string;
  /** What asked for it, e.g. `student.erased`. */
  reason: string;
  /** Deletion requests that failed so far. */
  attempts: number;
  /** Not retried before this time (backoff after a failure). */
  next_attempt_at: string;
  /** A worker is deleting it until this time; past it, the worker is taken to have died. */
  claimed_until: string | null;
  last_error: string | null;
  created_at: string;
}

export interface Database {
  object_deletions: ObjectDeletionsTable;
}

// ---- The parents' gallery (migration 0009) ----

export interface MediaTable {
  /** Base64 of the picture's thumbhash from the manifest (the same on each variant row); null when the desktop sent none. */
  thumbhash: string | null;
}

// ---- Favourites (migration 0013) ----

/** One asset a family marked as a favourite in the gallery. */
export interface FavouritesTable {
  school_id: string;
  event_id: string;
  asset_id: string;
  family_id: string;
  /** The parent who marked it; null once that account is gone. */
  created_by: string | null;
  created_at: string;
}

export interface Database {
  favourites: FavouritesTable;
}

// ---- Parents' notifications (migration 0011) ----

export const NOTICE_STATES = ['pending', 'sending', 'sent', 'cancelled'] as const;
/** A digest's or notice's life: waiting, being turned into messages by a worker, done, or dropped. */
export type NoticeState = (typeof NOTICE_STATES)[number];

export const EVENT_NOTICE_KINDS = ['dates-changed', 'gallery-expiring'] as const;
export type EventNoticeKind = (typeof EVENT_NOTICE_KINDS)[number];

export const OUTBOX_CHANNELS = ['email', 'sms'] as const;
/** How an outbox row is delivered: by SMTP, or by the SMS provider (then `to_address` is a phone number). */
export type OutboxChannel = (typeof OUTBOX_CHANNELS)[number];

/** A member's choices for one school; no row means e-mail on, SMS off. */
export interface NotificationPreferencesTable {
  school_id: string;
  user_id: string;
  /** 0/1. */
  email_enabled: number;
  /** 0/1; 1 only with a phone number. */
  sms_enabled: number;
  /** E.164 (`+447700900123`). */
  phone: string | null;
  updated_at: string;
}

/** How a school's mail presents itself; no row: the school's name, no Reply-To. */
export interface NotificationSendersTable {
  school_id: string;
  display_name: string | null;
  reply_to: string | null;
  updated_at: string;
}

/** The pending (or sent) digest of new media for one parent and one event (migration 0014; per family before). */
export interface NotificationDigestsTable {
  id: string;
  school_id: string;
  /** The parent told: one digest per parent however many of their families may see the event. */
  user_id: string;
  event_id: string;
  /** 1 for the first digest of this parent and event, then 2, … */
  number: number;
  /** Media the parent may see that were new in the publishes this digest gathers. */
  new_media: number;
  state: NoticeState;
  /** The first publish this digest gathers; it is due NOTIFY_DIGEST_DELAY_SEC later. */
  opened_at: string;
  claim_id: string | null;
  lease_expires_at: string | null;
  created_at: string;
  updated_at: string;
  sent_at: string | null;
}

/** News about an event for everyone who may see it. */
export interface EventNoticesTable {
  id: string;
  school_id: string;
  event_id: string;
  kind: EventNoticeKind;
  /** What makes it once-only: the event's version (dates changed) or the closing date (gallery expiring). */
  ref: string;
  /** JSON text: the dates the mail states. */
  detail: string;
  state: NoticeState;
  claim_id: string | null;
  lease_expires_at: string | null;
  created_at: string;
  updated_at: string;
  sent_at: string | null;
}

export interface OutboxTable {
  channel: ColumnType<OutboxChannel, OutboxChannel | undefined, OutboxChannel>;
}

export interface Database {
  notification_preferences: NotificationPreferencesTable;
  notification_senders: NotificationSendersTable;
  notification_digests: NotificationDigestsTable;
  event_notices: EventNoticesTable;
}

export type NotificationDigestRow = Selectable<NotificationDigestsTable>;
export type EventNoticeRow = Selectable<EventNoticesTable>;

// ---- Gallery analytics (migration 0012) ----

export const ACTIVITY_KINDS = ['view', 'download'] as const;
export type ActivityKind = (typeof ACTIVITY_KINDS)[number];
/** `family`: parents and students (the gallery's audience); `staff`: admins, photographers, teachers. */
export type ActivityAudience = 'family' | 'staff';

/** One asset viewed or downloaded by one family (or by staff) on one day; at most one row for each. */
export interface MediaActivityTable {
  school_id: string;
  event_id: string;
  asset_id: string;
  /** The family it counts for; null for staff, and for a parent or student in no family. */
  family_id: string | null;
  audience: ActivityAudience;
  kind: ActivityKind;
  /** `YYYY-MM-DD`, UTC. */
  day: string;
}

export interface Database {
  media_activity: MediaActivityTable;
}

// ---- Further roster keys of students (migration 0015) ----

/**
 * A roster key a student is also known by, besides `students.remote_ref` (the one they were first
 * known by): the same child sent by a photographer's library and by the admin's roster file.
 */
export interface StudentRefsTable {
  school_id: string;
  remote_ref: string;
  student_id: string;
  created_at: string;
}

export interface Database {
  student_refs: StudentRefsTable;
}

// ---- Media versions (migration 0016) ----

/** Bumped with every change to an event's media rows; the gallery listing's prepared copies are keyed by it. */
export interface MediaVersionsTable {
  event_id: string;
  school_id: string;
  version: number;
}

export interface Database {
  media_versions: MediaVersionsTable;
}
