/**
 * The schema, as Kysely migrations kept in code (an inline provider: no folder to ship or to find at
 * run time). Written with the schema builder and portable types only (text, integer) so the same
 * migration runs on SQLite and PostgreSQL. Never edit a released migration: add the next one.
 */
import { randomUUID } from 'node:crypto';
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely';
import type { Db } from './database.ts';
import { isPostgres } from './dialect.ts';
import { asService } from './tenant-scope.ts';

export const MIGRATIONS: Record<string, Migration> = {
  '0001_schools_users_events': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('schools')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('slug', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('email', 'text', (c) => c.notNull().unique())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        // Belt and braces for "stored lower-cased": a code path that forgets cannot create a twin.
        .addCheckConstraint('users_email_lower', sql`email = lower(email)`)
        .execute();

      await db.schema
        .createTable('memberships')
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('memberships_pk', ['user_id', 'school_id'])
        .addCheckConstraint('memberships_role', sql`role in ('admin', 'photographer', 'teacher', 'parent', 'student')`)
        .execute();
      await db.schema.createIndex('memberships_school').on('memberships').column('school_id').execute();

      await db.schema
        .createTable('refresh_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('family_id', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('used_at', 'text')
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema.createIndex('refresh_tokens_family').on('refresh_tokens').column('family_id').execute();
      await db.schema.createIndex('refresh_tokens_user').on('refresh_tokens').column('user_id').execute();

      await db.schema
        .createTable('events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('starts_on', 'text', (c) => c.notNull())
        .addColumn('ends_on', 'text')
        .addColumn('location', 'text')
        .addColumn('description', 'text')
        .addColumn('state', 'text', (c) => c.notNull().defaultTo('draft'))
        .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addCheckConstraint('events_state', sql`state in ('draft', 'published', 'archived')`)
        .execute();
      await db.schema.createIndex('events_school_starts').on('events').columns(['school_id', 'starts_on']).execute();

      // No foreign keys here on purpose: the trail must outlive the users and schools it mentions.
      await db.schema
        .createTable('audit_log')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('school_id', 'text')
        .addColumn('actor_user_id', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_log_school_at').on('audit_log').columns(['school_id', 'at']).execute();
    },
  },
  '0002_people_consent_changes': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('classes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('classes_school_name', ['school_id', 'name'])
        .execute();

      await db.schema
        .createTable('students')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('name', 'text')
        .addColumn('class_id', 'text', (c) => c.references('classes.id').onDelete('set null'))
        .addColumn('remote_ref', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('deleted_at', 'text')
        // A tombstone keeps nothing personal; a live student has a name.
        .addCheckConstraint('students_tombstone', sql`(deleted_at is null and name is not null) or (deleted_at is not null and name is null and class_id is null and remote_ref is null)`)
        .execute();
      // NULLs are distinct on both engines, so tombstones (remote_ref null) never collide.
      await db.schema.createIndex('students_school_remote_ref').on('students').columns(['school_id', 'remote_ref']).unique().execute();
      await db.schema.createIndex('students_class').on('students').column('class_id').execute();

      await db.schema
        .createTable('families')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('email', 'text')
        .addColumn('access_code_hash', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addCheckConstraint('families_email_lower', sql`email = lower(email)`)
        .execute();
      await db.schema.createIndex('families_school_email').on('families').columns(['school_id', 'email']).unique().execute();

      await db.schema
        .createTable('family_members')
        .addColumn('family_id', 'text', (c) => c.notNull().references('families.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('family_members_pk', ['family_id', 'user_id'])
        .execute();
      await db.schema.createIndex('family_members_user').on('family_members').column('user_id').execute();

      await db.schema
        .createTable('family_students')
        .addColumn('family_id', 'text', (c) => c.notNull().references('families.id').onDelete('cascade'))
        .addColumn('student_id', 'text', (c) => c.notNull().references('students.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('family_students_pk', ['family_id', 'student_id'])
        .execute();
      await db.schema.createIndex('family_students_student').on('family_students').column('student_id').execute();

      // No foreign key on set_by_user_id: who gave consent must outlive their account.
      await db.schema
        .createTable('consents')
        .addColumn('student_id', 'text', (c) => c.notNull().references('students.id').onDelete('cascade'))
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('granted', 'integer', (c) => c.notNull())
        .addColumn('set_by_user_id', 'text')
        .addColumn('set_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('consents_pk', ['student_id', 'purpose'])
        .addCheckConstraint('consents_purpose', sql`purpose in ('publish', 'yearbook')`)
        .addCheckConstraint('consents_granted', sql`granted in (0, 1)`)
        .execute();

      // seq: SQLite's `integer primary key autoincrement` never reuses a value; PostgreSQL's identity
      // column is the same promise. A plain (4-byte) integer keeps pg from handing it back as text.
      const postgres = isPostgres(db);
      await db.schema
        .createTable('changes')
        .addColumn('seq', 'integer', (c) => (postgres ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement()))
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('entity', 'text', (c) => c.notNull())
        .addColumn('entity_id', 'text', (c) => c.notNull())
        .addColumn('op', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addCheckConstraint('changes_entity', sql`entity in ('event', 'student', 'class', 'family', 'consent', 'membership')`)
        .addCheckConstraint('changes_op', sql`op in ('upsert', 'delete')`)
        .execute();
      await db.schema.createIndex('changes_school_seq').on('changes').columns(['school_id', 'seq']).execute();
      await db.schema.createIndex('changes_entity').on('changes').columns(['school_id', 'entity', 'entity_id']).execute();

      await db.schema
        .createTable('device_checkpoints')
        .addColumn('device_id', 'text', (c) => c.notNull())
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('device_checkpoints_pk', ['device_id', 'school_id'])
        .execute();
    },
  },
  '0003_plans_quotas_media': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('plans')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('storage_bytes', 'bigint', (c) => c.notNull())
        .addColumn('originals_allowed', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('video_allowed', 'integer', (c) => c.notNull().defaultTo(1))
        .execute();
      // The embedded default: every school is on it until someone sells it another.
      await sql`insert into plans (id, name, storage_bytes, originals_allowed, video_allowed) values ('standard', 'Standard', ${100 * 1000 ** 3}, 0, 1)`.execute(db);

      await db.schema
        .createTable('subscriptions')
        .addColumn('school_id', 'text', (c) => c.primaryKey().references('schools.id').onDelete('cascade'))
        .addColumn('plan_id', 'text', (c) => c.notNull().references('plans.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await sql`insert into subscriptions (school_id, plan_id, created_at) select id, 'standard', created_at from schools`.execute(db);

      await db.schema
        .createTable('usage')
        .addColumn('school_id', 'text', (c) => c.primaryKey().references('schools.id').onDelete('cascade'))
        .addColumn('used_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('reserved_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
        .addCheckConstraint('usage_not_negative', sql`used_bytes >= 0 and reserved_bytes >= 0`)
        .execute();

      await db.schema
        .createTable('reservations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('event_id', 'text', (c) => c.notNull().references('events.id').onDelete('cascade'))
        .addColumn('bytes', 'bigint', (c) => c.notNull())
        .addColumn('objects', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('settled_at', 'text')
        .addCheckConstraint('reservations_state', sql`state in ('reserved', 'committed', 'released')`)
        .execute();
      await db.schema.createIndex('reservations_school_state').on('reservations').columns(['school_id', 'state', 'expires_at']).execute();

      await db.schema
        .createTable('media')
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('event_id', 'text', (c) => c.notNull().references('events.id').onDelete('cascade'))
        .addColumn('asset_id', 'text', (c) => c.notNull())
        .addColumn('variant', 'text', (c) => c.notNull())
        .addColumn('position', 'integer', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('object_key', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('width', 'integer')
        .addColumn('height', 'integer')
        .addColumn('duration_sec', 'double precision')
        .addColumn('captured_at', 'text')
        .addColumn('rating', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('title', 'text')
        .addColumn('description', 'text')
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('people', 'text', (c) => c.notNull())
        .addColumn('published_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('media_pk', ['event_id', 'asset_id', 'variant'])
        .execute();
      await db.schema.createIndex('media_event_position').on('media').columns(['event_id', 'position']).execute();
      await db.schema.createIndex('media_school').on('media').column('school_id').execute();
    },
  },
  '0004_access_codes_oidc': {
    async up(db: Kysely<unknown>) {
      // families.access_code_hash (0002) holds a keyed hash of the family's live code; looked up by equality.
      await db.schema.createIndex('families_access_code_hash').on('families').column('access_code_hash').unique().execute();

      // A staff member's account at the school's identity provider, linked at the first OIDC sign-in.
      await db.schema
        .createTable('oidc_identities')
        .addColumn('issuer', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_sign_in_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('oidc_identities_pk', ['issuer', 'subject'])
        .addUniqueConstraint('oidc_identities_issuer_user', ['issuer', 'user_id'])
        .execute();

      // A started authorization request (state, nonce, PKCE verifier): shared by every instance, single use.
      await db.schema
        .createTable('oidc_logins')
        .addColumn('state_hash', 'text', (c) => c.primaryKey())
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('nonce', 'text', (c) => c.notNull())
        .addColumn('code_verifier', 'text', (c) => c.notNull())
        .addColumn('return_to', 'text')
        .addColumn('client_challenge', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('oidc_logins_expires').on('oidc_logins').column('expires_at').execute();

      // The one-time code a finished OIDC sign-in hands to the desktop, traded for a session at /exchange.
      await db.schema
        .createTable('oidc_exchange_codes')
        .addColumn('code_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('client_challenge', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('oidc_exchange_codes_expires').on('oidc_exchange_codes').column('expires_at').execute();
    },
  },
  '0007_invites_outbox': {
    async up(db: Kysely<unknown>) {
      // An invitation by e-mail link. Only the SHA-256 of the link's token is kept; a resend replaces it.
      // No foreign key on invited_by / accepted_by: who invited whom must outlive their accounts.
      await db.schema
        .createTable('invites')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('family_id', 'text', (c) => c.references('families.id').onDelete('cascade'))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('invited_by', 'text')
        .addColumn('sends', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('mail_key', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('sent_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('accepted_at', 'text')
        .addColumn('accepted_by', 'text')
        .addColumn('revoked_at', 'text')
        .addCheckConstraint('invites_role', sql`role in ('admin', 'photographer', 'teacher', 'parent', 'student')`)
        .addCheckConstraint('invites_email_lower', sql`email = lower(email)`)
        .addCheckConstraint('invites_parent_family', sql`(role = 'parent') = (family_id is not null)`)
        .execute();
      await db.schema.createIndex('invites_school_created').on('invites').columns(['school_id', 'created_at']).execute();
      await db.schema.createIndex('invites_school_email').on('invites').columns(['school_id', 'email']).execute();

      // Mail waiting to go out, going out, or gone. One row per idempotency key; see src/mail/outbox.ts.
      await db.schema
        .createTable('outbox')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
        .addColumn('to_address', 'text', (c) => c.notNull())
        .addColumn('from_name', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'text', (c) => c.notNull())
        .addColumn('claim_id', 'text')
        .addColumn('lease_expires_at', 'text')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('sent_at', 'text')
        .addCheckConstraint('outbox_state', sql`state in ('queued', 'sending', 'sent', 'failed', 'cancelled')`)
        .execute();
      await db.schema.createIndex('outbox_due').on('outbox').columns(['state', 'next_attempt_at']).execute();
      await db.schema.createIndex('outbox_school').on('outbox').columns(['school_id', 'created_at']).execute();
    },
  },
  '0005_event_audience': {
    async up(db: Kysely<unknown>) {
      // Who an event is for: 'school' (every member), or 'some' (the classes and families listed below,
      // and nobody else, even when the list has run empty). Stored, not derived from the lists, so a
      // targeted event whose last class goes never turns school-wide.
      await db.schema
        .alterTable('events')
        .addColumn('audience_scope', 'text', (c) => c.notNull().defaultTo('school').check(sql`audience_scope in ('school', 'some')`))
        .execute();
      // The last day (YYYY-MM-DD, UTC) parents and students can open the event's gallery; null: no end.
      await db.schema.alterTable('events').addColumn('gallery_expires_on', 'text').execute();

      // Two tables rather than one (kind, target_id) pair so each target has a real foreign key.
      await db.schema
        .createTable('event_classes')
        .addColumn('event_id', 'text', (c) => c.notNull().references('events.id').onDelete('cascade'))
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('class_id', 'text', (c) => c.notNull().references('classes.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('event_classes_pk', ['event_id', 'class_id'])
        .execute();
      await db.schema.createIndex('event_classes_class').on('event_classes').column('class_id').execute();

      await db.schema
        .createTable('event_families')
        .addColumn('event_id', 'text', (c) => c.notNull().references('events.id').onDelete('cascade'))
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('family_id', 'text', (c) => c.notNull().references('families.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('event_families_pk', ['event_id', 'family_id'])
        .execute();
      await db.schema.createIndex('event_families_family').on('event_families').column('family_id').execute();
    },
  },
  '0006_object_deletions': {
    async up(db: Kysely<unknown>) {
      // Bucket objects to delete (an erasure's media), written in the erasure's transaction and deleted
      // after it commits, with retries: a row goes only once the store confirmed the deletion. No foreign
      // key on school_id: a school's removal must not take its pending deletions with it.
      await db.schema
        .createTable('object_deletions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('school_id', 'text', (c) => c.notNull())
        .addColumn('object_key', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'text', (c) => c.notNull())
        .addColumn('claimed_until', 'text')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('object_deletions_due').on('object_deletions').column('next_attempt_at').execute();
      await db.schema.createIndex('object_deletions_school').on('object_deletions').column('school_id').execute();
    },
  },
  '0008_row_security': {
    async up(db: Kysely<unknown>) {
      // PostgreSQL's row-level security as a second wall behind the services' `where school_id`: see
      // enableTenantRowSecurity below. SQLite has none; there the services' checks are the only wall.
      await enableRowSecurityEverywhere(db);
    },
  },
  '0009_gallery': {
    async up(db: Kysely<unknown>) {
      // The parents' gallery paints each picture's thumbhash (base64, from the manifest) before its thumbnail loads.
      await db.schema.alterTable('media').addColumn('thumbhash', 'text').execute();
    },
  },
  '0010_media_lookup_index': {
    async up(db: Kysely<unknown>) {
      // One media URL looks an asset up by school, event and asset. Without statistics SQLite's planner
      // took `media_school` for that and walked every row of the school (1.1 ms at 6,000 rows instead of
      // 0.03 ms); an index leading with the school and covering all three terms wins, and serves the
      // per-school scans `media_school` did. SQLite only: on PostgreSQL the same index made the planner,
      // before its first ANALYZE of a freshly published event, list a gallery page through it at 97 ms
      // instead of 16 ms, while the primary key already answers the lookup there.
      if (isPostgres(db)) return;
      await db.schema.createIndex('media_school_event_asset').on('media').columns(['school_id', 'event_id', 'asset_id']).execute();
      await db.schema.dropIndex('media_school').execute();
    },
  },
  '0013_favourites': {
    async up(db: Kysely<unknown>) {
      // A family's favourite media. An asset is known by its event and id (its variants are the media
      // rows): no foreign key to media, because a re-published manifest replaces those rows and a
      // favourite of an asset that comes back must survive it. Listings join through media, so a
      // favourite of an asset no longer published simply shows nowhere.
      await db.schema
        .createTable('favourites')
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('event_id', 'text', (c) => c.notNull().references('events.id').onDelete('cascade'))
        .addColumn('asset_id', 'text', (c) => c.notNull())
        .addColumn('family_id', 'text', (c) => c.notNull().references('families.id').onDelete('cascade'))
        .addColumn('created_by', 'text', (c) => c.references('users.id').onDelete('set null'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('favourites_pk', ['family_id', 'event_id', 'asset_id'])
        .execute();
      await db.schema.createIndex('favourites_event').on('favourites').columns(['event_id', 'asset_id']).execute();
      await db.schema.createIndex('favourites_school').on('favourites').column('school_id').execute();
      await enableTenantRowSecurity(db, 'favourites');
    },
  },
  '0011_notifications': {
    async up(db: Kysely<unknown>) {
      // What a member of a school wants to be told, and how. No row: e-mail on, SMS off (a parent who
      // joined through an invitation has an address and no phone number yet).
      await db.schema
        .createTable('notification_preferences')
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('email_enabled', 'integer', (c) => c.notNull().check(sql`email_enabled in (0, 1)`))
        .addColumn('sms_enabled', 'integer', (c) => c.notNull().check(sql`sms_enabled in (0, 1)`))
        .addColumn('phone', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('notification_preferences_pk', ['school_id', 'user_id'])
        .addCheckConstraint('notification_preferences_sms_phone', sql`sms_enabled = 0 or phone is not null`)
        .execute();
      await enableTenantRowSecurity(db, 'notification_preferences');

      // How a school's mail presents itself: the sender's display name (the school's name when null) and
      // where replies go (nowhere when null: MAIL_FROM is usually an address nobody reads).
      await db.schema
        .createTable('notification_senders')
        .addColumn('school_id', 'text', (c) => c.primaryKey().references('schools.id').onDelete('cascade'))
        .addColumn('display_name', 'text')
        .addColumn('reply_to', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await enableTenantRowSecurity(db, 'notification_senders');

      // One digest per family and event at a time: publishes add to the pending one (`new_media`), the
      // worker sends it once NOTIFY_DIGEST_DELAY_SEC has passed since `opened_at`, and a publish after
      // that opens the next `number`. See src/notify/digests.ts.
      await db.schema
        .createTable('notification_digests')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('family_id', 'text', (c) => c.notNull().references('families.id').onDelete('cascade'))
        .addColumn('event_id', 'text', (c) => c.notNull().references('events.id').onDelete('cascade'))
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('new_media', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('pending', 'sending', 'sent', 'cancelled')`))
        .addColumn('opened_at', 'text', (c) => c.notNull())
        .addColumn('claim_id', 'text')
        .addColumn('lease_expires_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('sent_at', 'text')
        .addUniqueConstraint('notification_digests_number', ['family_id', 'event_id', 'number'])
        .execute();
      await db.schema.createIndex('notification_digests_due').on('notification_digests').columns(['state', 'opened_at']).execute();
      await db.schema.createIndex('notification_digests_event').on('notification_digests').columns(['event_id', 'state']).execute();
      await enableTenantRowSecurity(db, 'notification_digests');

      // News about an event for everyone who may see it (its dates moved, its gallery closes soon). One
      // row per event, kind and `ref` (the version, the closing date), so a sweep that runs twice adds nothing.
      await db.schema
        .createTable('event_notices')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('event_id', 'text', (c) => c.notNull().references('events.id').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('dates-changed', 'gallery-expiring')`))
        .addColumn('ref', 'text', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('pending', 'sending', 'sent', 'cancelled')`))
        .addColumn('claim_id', 'text')
        .addColumn('lease_expires_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('sent_at', 'text')
        .addUniqueConstraint('event_notices_once', ['event_id', 'kind', 'ref'])
        .execute();
      await db.schema.createIndex('event_notices_due').on('event_notices').columns(['state', 'created_at']).execute();
      await enableTenantRowSecurity(db, 'event_notices');

      // Text messages go through the outbox too (the same claims, retries and idempotency), told apart by channel.
      await db.schema
        .alterTable('outbox')
        .addColumn('channel', 'text', (c) => c.notNull().defaultTo('email').check(sql`channel in ('email', 'sms')`))
        .execute();
    },
  },
  '0012_analytics': {
    async up(db: Kysely<unknown>) {
      // First-party gallery analytics, kept as small as the admin screens allow: one row says that one
      // family (or the school's staff, together) viewed or downloaded one asset on one UTC day. Opening
      // the same photo again that day changes nothing, so a row is its own de-duplication and a count is
      // a count of rows. No time of day, no user, no IP, no user agent. Families' rows go with the family.
      await db.schema
        .createTable('media_activity')
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('event_id', 'text', (c) => c.notNull().references('events.id').onDelete('cascade'))
        .addColumn('asset_id', 'text', (c) => c.notNull())
        .addColumn('family_id', 'text', (c) => c.references('families.id').onDelete('cascade'))
        .addColumn('audience', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('day', 'text', (c) => c.notNull())
        .addCheckConstraint('media_activity_audience', sql`audience in ('family', 'staff') and (audience = 'family' or family_id is null)`)
        .addCheckConstraint('media_activity_kind', sql`kind in ('view', 'download')`)
        .execute();
      // NULLs are distinct in a unique index on both engines: coalesce makes rows without a family collide too.
      await sql`create unique index media_activity_once on media_activity (school_id, event_id, asset_id, kind, day, audience, coalesce(family_id, ''))`.execute(db);
      await db.schema.createIndex('media_activity_school_day').on('media_activity').columns(['school_id', 'day']).execute();
      await enableTenantRowSecurity(db, 'media_activity');
    },
  },
  '0014_digests_per_recipient': {
    async up(db: Kysely<unknown>) {
      // Digests become one per parent and event instead of one per family and event: a parent in two
      // families (two households, a child at the school in each) got two mails about the same photos.
      // The rows move to each parent member of their family; a parent with rows through several
      // families keeps those of one (the first by id: every family was counted the same media).
      // A row left `sending` queued nothing (its messages and its mark commit together), so it is
      // pending again. The table is rebuilt rather than altered: SQLite cannot drop a foreign-key column.
      const old = await sql<{ user_id: string; family_id: string } & Record<'school_id' | 'event_id' | 'state' | 'opened_at' | 'created_at' | 'updated_at', string> & {
        number: number | string;
        new_media: number | string;
        sent_at: string | null;
      }>`select fm.user_id, d.family_id, d.school_id, d.event_id, d.number, d.new_media, d.state, d.opened_at, d.created_at, d.updated_at, d.sent_at
        from notification_digests d
        join family_members fm on fm.family_id = d.family_id
        join memberships m on m.user_id = fm.user_id and m.school_id = d.school_id and m.role = 'parent'
        order by fm.user_id, d.event_id, d.family_id, d.number`.execute(db);
      await db.schema.dropTable('notification_digests').execute();
      await db.schema
        .createTable('notification_digests')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('event_id', 'text', (c) => c.notNull().references('events.id').onDelete('cascade'))
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('new_media', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('pending', 'sending', 'sent', 'cancelled')`))
        .addColumn('opened_at', 'text', (c) => c.notNull())
        .addColumn('claim_id', 'text')
        .addColumn('lease_expires_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('sent_at', 'text')
        .addUniqueConstraint('notification_digests_number', ['user_id', 'event_id', 'number'])
        .execute();
      await db.schema.createIndex('notification_digests_due').on('notification_digests').columns(['state', 'opened_at']).execute();
      await db.schema.createIndex('notification_digests_event').on('notification_digests').columns(['event_id', 'state']).execute();
      await enableTenantRowSecurity(db, 'notification_digests');
      const firstFamily = new Map<string, string>();
      const moved = [];
      for (const row of old.rows) {
        const key = `${row.user_id}\u0000${row.event_id}`;
        const family = firstFamily.get(key) ?? row.family_id;
        firstFamily.set(key, family);
        if (family !== row.family_id) continue;
        const settled = row.state === 'sent' || row.state === 'cancelled';
        moved.push({
          id: randomUUID(),
          school_id: row.school_id,
          user_id: row.user_id,
          event_id: row.event_id,
          number: Number(row.number),
          new_media: Number(row.new_media),
          state: settled ? row.state : 'pending',
          opened_at: row.opened_at,
          claim_id: null,
          lease_expires_at: null,
          created_at: row.created_at,
          updated_at: row.updated_at,
          sent_at: row.sent_at,
        });
      }
      // 13 parameters a row: well under both engines' limits.
      for (let i = 0; i < moved.length; i += 500) {
        await (db as Kysely<Record<'notification_digests', (typeof moved)[number]>>).insertInto('notification_digests').values(moved.slice(i, i + 500)).execute();
      }

      // Gallery activity is kept ANALYTICS_RETENTION_DAYS; the retention deletes every school's old days at once.
      await db.schema.createIndex('media_activity_day').on('media_activity').column('day').execute();
    },
  },
  '0015_student_refs': {
    async up(db: Kysely<unknown>) {
      // The further roster keys of a student: the same child reaches the school from a photographer's
      // library and from the admin's roster file, each with its own key, and stays one student. The key
      // the student was first known by stays in `students.remote_ref`; a key is unique in its school
      // across both. Keys name children (a roster file's key is its name and class), so erasure deletes them.
      await db.schema
        .createTable('student_refs')
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('remote_ref', 'text', (c) => c.notNull())
        .addColumn('student_id', 'text', (c) => c.notNull().references('students.id').onDelete('cascade'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('student_refs_pk', ['school_id', 'remote_ref'])
        .execute();
      await db.schema.createIndex('student_refs_student').on('student_refs').column('student_id').execute();
      await enableTenantRowSecurity(db, 'student_refs');
    },
  },
  '0016_media_versions': {
    async up(db: Kysely<unknown>) {
      // A counter per event, bumped in the same transaction as every change to the event's media rows
      // (a publish, an erasure): the gallery listing keeps a prepared copy of an event's media and reads
      // this one row per request to know whether that copy is still the event's, on every instance.
      await db.schema
        .createTable('media_versions')
        .addColumn('event_id', 'text', (c) => c.primaryKey().references('events.id').onDelete('cascade'))
        .addColumn('school_id', 'text', (c) => c.notNull().references('schools.id').onDelete('cascade'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .execute();
      await enableTenantRowSecurity(db, 'media_versions');
    },
  },
};

/**
 * Tables shared by every school, left without row-level security: the school directory (a school's
 * name and slug are public: the sign-in page shows them, and the policies compare against its ids),
 * user accounts and their sessions (a user belongs to several schools; sign-in finds them by e-mail
 * before any school is known), the plan catalogue, OIDC identity links (per user, not per school) and
 * Kysely's own bookkeeping. Every other table is a school's and must have forced row-level security.
 */
export const SHARED_TABLES: readonly string[] = [
  'schools',
  'users',
  'refresh_tokens',
  'plans',
  'oidc_identities',
  'kysely_migration',
  'kysely_migration_lock',
];

/** The scope a connection was given (`db/scoped-driver.ts`); '*' is the service's, '' or unset none. */
const SCOPE = "current_setting('keepsake.school_id', true)";

/** A row of the school in scope, or any row in the service's scope. */
export const SCHOOL_POLICY = `school_id = ${SCOPE} or ${SCOPE} = '*'`;

/**
 * The policy of a table without `school_id`: a row is the school's whose parent rows are (the parents'
 * own policies apply inside the subquery). `links` pairs this table's columns with the parent's.
 */
export function throughParent(table: string, parent: string, links: Array<[column: string, parentColumn: string]>): string {
  const on = links.map(([column, parentColumn]) => `p.${quote(parentColumn)} = ${quote(table)}.${quote(column)}`).join(' and ');
  return `exists (select 1 from ${quote(parent)} p where ${on})`;
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Turns on and forces row-level security for a school's table, with `policy` (default
 * {@link SCHOOL_POLICY}) as both its USING and WITH CHECK: under school A's scope a query sees and writes
 * A's rows only, with no scope it sees none. FORCE makes the policy bind the table's owner too, so the
 * wall holds even when one non-superuser role both migrates and serves (superusers and BYPASSRLS roles
 * always skip it). Idempotent. PostgreSQL only; a no-op on SQLite. Migrations that add a school's table
 * call this for it.
 */
export async function enableTenantRowSecurity(db: Kysely<unknown>, table: string, policy: string = SCHOOL_POLICY): Promise<void> {
  if (!isPostgres(db)) return;
  const name = sql.id(table);
  await sql`alter table ${name} enable row level security`.execute(db);
  await sql`alter table ${name} force row level security`.execute(db);
  await sql`drop policy if exists keepsake_school on ${name}`.execute(db);
  await sql`create policy keepsake_school on ${name} using (${sql.raw(policy)}) with check (${sql.raw(policy)})`.execute(db);
}

/**
 * Migration 0008: every table of the current schema not in {@link SHARED_TABLES} gets forced row-level
 * security, found in the catalogue rather than listed, so the tables of earlier migrations are all
 * covered. A table with `school_id` gets {@link SCHOOL_POLICY}; one without goes through its parents
 * (each non-null foreign key to a school's table: consents via students, family members via families).
 * The audit trail also takes entries about no school (sign-ins) from any scope; those are read in the
 * service's scope only.
 */
async function enableRowSecurityEverywhere(db: Kysely<unknown>): Promise<void> {
  if (!isPostgres(db)) return;
  const tables = await sql<{ name: string; has_school_id: boolean }>`
    select c.relname as name,
      exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'school_id' and not a.attisdropped) as has_school_id
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = current_schema() and c.relkind = 'r' order by c.relname`.execute(db);
  const keys = await sql<{ child: string; parent: string; columns: string[]; parent_columns: string[]; nullable: boolean }>`
    select child.relname as child, parent.relname as parent,
      array(select a.attname::text from unnest(k.conkey) with ordinality as u(attnum, i)
        join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.attnum order by u.i) as columns,
      array(select a.attname::text from unnest(k.confkey) with ordinality as u(attnum, i)
        join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.attnum order by u.i) as parent_columns,
      exists (select 1 from unnest(k.conkey) as u(attnum)
        join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.attnum where not a.attnotnull) as nullable
    from pg_constraint k
    join pg_class child on child.oid = k.conrelid
    join pg_class parent on parent.oid = k.confrelid
    join pg_namespace n on n.oid = child.relnamespace
    where k.contype = 'f' and n.nspname = current_schema()
    order by child.relname, k.conname`.execute(db);
  const shared = new Set(SHARED_TABLES);
  for (const table of tables.rows) {
    if (shared.has(table.name)) continue;
    if (table.has_school_id) {
      await enableTenantRowSecurity(db, table.name);
      continue;
    }
    const parents = keys.rows.filter((k) => k.child === table.name && !k.nullable && !shared.has(k.parent) && k.parent !== table.name);
    // A table with neither stays as it is; the row-security test names it, to be given a policy by hand.
    if (parents.length === 0) continue;
    const policy = parents.map((k) => throughParent(table.name, k.parent, k.columns.map((column, i): [string, string] => [column, k.parent_columns[i] ?? column]))).join(' and ');
    await enableTenantRowSecurity(db, table.name, policy);
  }
  await sql`drop policy if exists keepsake_audit_append on audit_log`.execute(db);
  await sql`create policy keepsake_audit_append on audit_log for insert with check (school_id is null)`.execute(db);
}

const provider: MigrationProvider = {
  getMigrations: () => Promise.resolve(MIGRATIONS),
};

/**
 * Brings the schema to the latest version; a no-op when it already is. Throws on the first failure.
 *
 * On PostgreSQL the migrator is told the current schema explicitly: left unset, Kysely checks for
 * its bookkeeping tables in *every* schema, so a `kysely_migration` table in another schema of the
 * same database (another tenant, another test run) makes it skip creating its own and then fail.
 */
export async function migrateToLatest(database: Db): Promise<MigrationResultSet> {
  const db = database.kysely;
  const schema =
    database.kind === 'postgres'
      ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
      : undefined;
  // The service's scope: a migration that moves rows must see every school's, even under forced row security.
  const migrator = new Migrator({ db, provider, ...(schema === undefined ? {} : { migrationTableSchema: schema }) });
  const result = await asService(() => migrator.migrateToLatest());
  if (result.error !== undefined) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`Database migration ${failed} failed: ${(result.error as Error).message}`, { cause: result.error });
  }
  return result;
}
