/**
 * The schema, as Kysely migrations kept in code (an inline provider: no folder to ship or to find at
 * run time). Written with the schema builder and portable types only (text, integer) so the same
 * migration runs on SQLite and PostgreSQL. Never edit a released migration: add the next one.
 */
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely';
import type { Db } from './database.ts';
import { isPostgres } from './dialect.ts';

const MIGRATIONS: Record<string, Migration> = {
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
};

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
  const result = await new Migrator({ db, provider, ...(schema === undefined ? {} : { migrationTableSchema: schema }) }).migrateToLatest();
  if (result.error !== undefined) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`Database migration ${failed} failed: ${(result.error as Error).message}`, { cause: result.error });
  }
  return result;
}
