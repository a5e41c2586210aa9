/**
 * Who may do what in a school. Every school-scoped route starts here: the caller's role comes from
 * the database on each request (not from the token), so removing a member takes effect at once.
 */
import type { Kysely } from 'kysely';
import type { Database, Role } from '../db/schema.ts';
import { ApiError } from '../errors.ts';

/** Roles that see drafts and archived events; the others see published ones only. */
export const STAFF_ROLES: readonly Role[] = ['admin', 'photographer', 'teacher'];
/** Roles that create and edit events. */
export const EDITOR_ROLES: readonly Role[] = ['admin', 'photographer'];

/** Not-found for a school the caller is not in: a 403 would confirm the school exists. */
export const NO_SUCH_SCHOOL = 'No such school, or you are not a member of it.';

/** The caller's role in `schoolId`; a 404 {@link ApiError} when they are not a member. */
export async function requireMembership(db: Kysely<Database>, userId: string, schoolId: string): Promise<Role> {
  const row = await db
    .selectFrom('memberships')
    .select('role')
    .where('user_id', '=', userId)
    .where('school_id', '=', schoolId)
    .executeTakeFirst();
  if (row === undefined) throw new ApiError('not-found', NO_SUCH_SCHOOL);
  return row.role;
}
