/**
 * `GET /v1/schools/:schoolId/audit` (the school's audit trail, for admins) and
 * `GET /v1/schools/:schoolId/students/:studentId/consent/history` (one student's consent changes,
 * read from the same trail). Both check the role before anything is looked up: a 403 for a member who
 * is not an admin, a 404 for anyone not in the school.
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { TokenService } from '../auth/tokens.ts';
import type { Database } from '../db/schema.ts';
import { doc } from '../openapi.ts';
import { MAX_AUDIT_PAGE, type AuditLogService } from '../services/audit-log.ts';
import { callerOf } from './auth.ts';
import { parse } from './validation.ts';

const Id = z.string().min(1).max(100);
const SchoolParams = z.object({ schoolId: Id });
const StudentParams = SchoolParams.extend({ studentId: Id });

const Day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date as YYYY-MM-DD')
  .refine((text) => {
    const date = new Date(`${text}T00:00:00.000Z`);
    return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(text);
  }, 'is not a calendar date');

const Action = z.string().regex(/^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*$/, 'must be an action such as role.change');

/** `?action=role.change,member.remove&actor=<userId>&from=&to=&cursor=&limit=`. */
export const AuditQuerySchema = z
  .strictObject({
    action: z
      .string()
      .max(1000)
      .transform((text) => text.split(',').map((part) => part.trim()).filter((part) => part !== ''))
      .pipe(z.array(Action).max(20, 'at most 20 actions'))
      .optional(),
    actor: Id.optional(),
    from: Day.optional(),
    to: Day.optional(),
    cursor: z.string().max(500).optional(),
    limit: z
      .string()
      .regex(/^\d+$/, `must be a whole number from 1 to ${MAX_AUDIT_PAGE}`)
      .transform(Number)
      .pipe(z.number().int().min(1, `must be from 1 to ${MAX_AUDIT_PAGE}`).max(MAX_AUDIT_PAGE, `must be from 1 to ${MAX_AUDIT_PAGE}`))
      .default(50),
  })
  .refine((query) => query.from === undefined || query.to === undefined || query.from <= query.to, { message: 'must not be after to', path: ['from'] });

const Actor = z.object({ userId: z.string(), name: z.string(), email: z.string() }).nullable();

/** `GET /v1/schools/:schoolId/audit`. */
export const AuditPageSchema = z.object({
  entries: z.array(z.object({ id: z.string(), at: z.string(), action: z.string(), subject: z.string(), actor: Actor, detail: z.record(z.string(), z.unknown()) })),
  nextCursor: z.string().nullable(),
});

/** `GET /v1/schools/:schoolId/students/:studentId/consent/history`. */
export const ConsentHistorySchema = z.object({
  changes: z.array(z.object({ at: z.string(), purpose: z.string(), before: z.boolean().nullable(), after: z.boolean(), via: z.string(), role: z.string().nullable(), actor: Actor })),
});

/** Registers the admins' audit routes. */
export function auditRoutes(app: FastifyInstance, deps: { db: Kysely<Database>; tokens: TokenService; audit: AuditLogService }): void {
  const caller = callerOf(deps.db, deps.tokens);

  app.get('/v1/schools/:schoolId/audit', doc({
    summary: "The school's audit log, newest first, filtered by action, actor and days (admins)",
    params: SchoolParams,
    query: AuditQuerySchema,
    response: AuditPageSchema,
    errors: ['forbidden'],
  }), async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    const query = parse(AuditQuerySchema, request.query ?? {}, 'query');
    return deps.audit.list(who, {
      limit: query.limit,
      ...(query.action ? { actions: query.action } : {}),
      ...(query.actor !== undefined ? { actorUserId: query.actor } : {}),
      ...(query.from !== undefined ? { from: query.from } : {}),
      ...(query.to !== undefined ? { to: query.to } : {}),
      ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
    });
  });

  app.get('/v1/schools/:schoolId/students/:studentId/consent/history', doc({
    summary: "Every change of a student's consent: purpose, before and after, who and when (admins)",
    params: StudentParams,
    response: ConsentHistorySchema,
    errors: ['forbidden'],
  }), async (request) => {
    const { schoolId, studentId } = parse(StudentParams, request.params, 'path');
    return deps.audit.consentHistory(await caller(request, schoolId), studentId);
  });
}
