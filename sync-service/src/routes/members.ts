/**
 * `/v1/schools/:schoolId/members…`: who is in the school with which role; admins change roles and
 * remove access. Bodies are strict: a `schoolId`, `userId` or `email` in a PATCH is a 400.
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { TokenService } from '../auth/tokens.ts';
import { ROLES, type Database } from '../db/schema.ts';
import type { MemberService } from '../services/members.ts';
import { callerOf } from './auth.ts';
import { parse } from './validation.ts';
import { doc } from '../openapi.ts';

const Id = z.string().min(1).max(100);
const SchoolParams = z.object({ schoolId: Id });
const MemberParams = SchoolParams.extend({ userId: Id });
const RoleBody = z.strictObject({ role: z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` }) });

export function memberRoutes(app: FastifyInstance, deps: { db: Kysely<Database>; tokens: TokenService; members: MemberService }): void {
  const { db, tokens, members } = deps;
  const base = '/v1/schools/:schoolId/members';

  const caller = callerOf(db, tokens);

  app.get(base, doc({
    summary: "The school's members (admins: with e-mail; photographers and teachers: name and role)",
    params: SchoolParams,
  }), async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    return { members: await members.list(await caller(request, schoolId)) };
  });

  app.patch(`${base}/:userId`, doc({
    summary: "Change a member's role (admins; never the last admin)",
    params: MemberParams,
    body: RoleBody,
    errors: ['forbidden', 'conflict'],
  }), async (request) => {
    const { schoolId, userId } = parse(MemberParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return members.changeRole(who, userId, parse(RoleBody, request.body).role);
  });

  app.delete(`${base}/:userId`, doc({
    summary: "Remove a member's access to the school (admins; never the last admin)",
    params: MemberParams,
    success: { status: 204, description: 'Done; no body' },
    errors: ['forbidden', 'conflict'],
  }), async (request, reply) => {
    const { schoolId, userId } = parse(MemberParams, request.params, 'path');
    await members.remove(await caller(request, schoolId), userId);
    return reply.code(204).send();
  });
}
