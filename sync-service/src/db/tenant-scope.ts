/**
 * Which school's rows the current piece of work may touch, carried through every `await` by an
 * AsyncLocalStorage. On PostgreSQL the database enforces it: each connection taken from the pool is
 * told the scope (`keepsake.school_id`, see `scoped-driver.ts`) and row-level security hides every
 * other school's rows. SQLite has no row-level security: there the services' own `where school_id`
 * checks are the only wall, and the scope is carried but unused.
 *
 * Three scopes:
 * - a school (`withSchool`): every request under `/v1/schools/:schoolId/…` runs in one;
 * - the service (`asService`): all schools, for the few lookups that must cross them (a user's
 *   memberships at sign-in, a family found by its access-code hash, an OIDC sign-in found by its
 *   state, migrations). Keep each one around the exact query that needs it;
 * - none: no tenant row is visible or writable at all. Work outside any scope gets this (fail closed).
 *
 * The scope is read before each statement, so it follows the code, inside a transaction too: a
 * query wrapped in `asService` within a school's transaction sees every school, the next one the
 * school's rows again.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** The value of `keepsake.school_id` that row-level security reads as "every school". */
export const SERVICE_SCOPE = '*';
/** The value that matches no school. */
export const NO_SCOPE = '';

/** A school's id, {@link SERVICE_SCOPE} or {@link NO_SCOPE}: what the connection is told. */
export type ScopeSetting = string;

const storage = new AsyncLocalStorage<ScopeSetting>();

/** True for a value that can name a school: not empty and not the service's wildcard. */
export function isSchoolScope(schoolId: string): boolean {
  return schoolId !== NO_SCOPE && schoolId !== SERVICE_SCOPE;
}

/** Runs `work` with the rows of `schoolId` only. Throws for the empty string and the service wildcard. */
export function withSchool<T>(schoolId: string, work: () => T): T {
  if (!isSchoolScope(schoolId)) throw new RangeError(`"${schoolId}" cannot name a school's rows.`);
  return storage.run(schoolId, work);
}

/** Runs `work` with every school's rows: only for a lookup that must cross schools (see the module comment). */
export function asService<T>(work: () => T): T {
  return storage.run(SERVICE_SCOPE, work);
}

/** Runs `work` with no tenant rows at all, whatever scope the caller is in. */
export function withoutScope<T>(work: () => T): T {
  return storage.run(NO_SCOPE, work);
}

/**
 * Runs `work` in the scope of the school a request names, or in no scope when the value cannot name
 * one (the handler then answers its own 404 or 400 for it).
 */
export function withRequestedSchool<T>(schoolId: unknown, work: () => T): T {
  return typeof schoolId === 'string' && isSchoolScope(schoolId) ? withSchool(schoolId, work) : withoutScope(work);
}

/** The current scope, or `outside` when no scope was opened. */
export function currentScope(outside: ScopeSetting = NO_SCOPE): ScopeSetting {
  return storage.getStore() ?? outside;
}
