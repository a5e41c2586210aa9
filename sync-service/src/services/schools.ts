/** Creating a school with its first admin: the set-up step, from the CLI or the first start. */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { recordAudit } from '../audit.ts';
import { hashPassword, DEFAULT_SCRYPT, type ScryptParams } from '../auth/passwords.ts';
import { normalizeEmail } from '../auth/sessions.ts';
import { EMAIL_PATTERN, SLUG_PATTERN } from '../config.ts';
import type { Database } from '../db/schema.ts';
import { withSchool } from '../db/tenant-scope.ts';
import { ApiError } from '../errors.ts';
import { subscribeToDefaultPlan } from './quota.ts';

export interface NewSchool {
  name: string;
  slug: string;
  adminEmail: string;
  /** Used only when the admin is a new user; an existing user keeps their password. */
  adminPassword: string;
  adminName?: string;
}

/** Creates the school and makes `adminEmail` its admin (creating that user if needed), in one transaction. */
export async function createSchool(
  db: Kysely<Database>,
  school: NewSchool,
  scrypt: ScryptParams = DEFAULT_SCRYPT,
): Promise<{ schoolId: string; userId: string; createdUser: boolean }> {
  if (school.name.trim() === '') throw new ApiError('invalid-input', 'The school needs a name.');
  if (!SLUG_PATTERN.test(school.slug)) throw new ApiError('invalid-input', `The slug "${school.slug}" must be lower-case letters, digits and dashes.`);
  const email = normalizeEmail(school.adminEmail);
  if (!EMAIL_PATTERN.test(email)) throw new ApiError('invalid-input', `"${school.adminEmail}" is not an email address.`);
  // Hash outside the transaction: scrypt takes a while and must not hold a write lock.
  const passwordHash = await hashPassword(school.adminPassword, scrypt);
  const now = new Date().toISOString();
  const schoolId = randomUUID();
  // The new school's own rows (membership, plan, usage, audit) are written in its scope.
  return withSchool(schoolId, () =>
    db.transaction().execute(async (trx) => {
      if ((await trx.selectFrom('schools').select('id').where('slug', '=', school.slug).executeTakeFirst()) !== undefined) {
        throw new ApiError('conflict', `A school with the slug "${school.slug}" already exists.`);
      }
      await trx.insertInto('schools').values({ id: schoolId, name: school.name.trim(), slug: school.slug, created_at: now }).execute();
      await subscribeToDefaultPlan(trx, schoolId, now);
      const existing = await trx.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
      const userId = existing?.id ?? randomUUID();
      if (existing === undefined) {
        await trx
          .insertInto('users')
          .values({ id: userId, email, password_hash: passwordHash, name: school.adminName ?? email.split('@')[0] ?? email, created_at: now })
          .execute();
      }
      await trx.insertInto('memberships').values({ user_id: userId, school_id: schoolId, role: 'admin', created_at: now }).execute();
      await recordAudit(trx, { action: 'school.create', subject: `school:${schoolId}`, schoolId, detail: { slug: school.slug, admin: email } });
      return { schoolId, userId, createdUser: existing === undefined };
    }),
  );
}

/** True when no school exists yet (first start). */
export async function hasNoSchool(db: Kysely<Database>): Promise<boolean> {
  return (await db.selectFrom('schools').select('id').limit(1).executeTakeFirst()) === undefined;
}
