/**
 * Family access codes: `POST|DELETE /v1/schools/:schoolId/families/:familyId/access-code` (admins) and
 * `POST /v1/auth/access-code` (anyone holding a code: it becomes a parent account and a session).
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { SessionService } from '../auth/sessions.ts';
import type { TokenService } from '../auth/tokens.ts';
import type { Database } from '../db/schema.ts';
import { requireMembership } from '../services/access.ts';
import type { AccessCodeService } from '../services/access-codes.ts';
import { authenticate } from './auth.ts';
import { parse } from './validation.ts';
import { doc } from '../openapi.ts';

const Id = z.string().min(1).max(100);
const FamilyParams = z.object({ schoolId: Id, familyId: Id });

const RedeemBody = z.strictObject({
  code: z.string().trim().min(1, 'required').max(64, 'too long'),
  email: z.string().trim().max(320, 'too long').regex(/^[^\s@,;]+@[^\s@,;]+\.[^\s@,;]+$/, 'must be an e-mail address'),
  name: z.string().trim().min(1, 'required').max(200, 'too long'),
  // The same cap as sign-in keeps one request from feeding megabytes into scrypt.
  password: z.string().min(10, 'must be at least 10 characters').max(1024, 'too long'),
});

export function accessCodeRoutes(
  app: FastifyInstance,
  deps: { db: Kysely<Database>; tokens: TokenService; codes: AccessCodeService; sessions: SessionService },
): void {
  const { db, tokens, codes, sessions } = deps;
  const path = '/v1/schools/:schoolId/families/:familyId/access-code';

  app.post(path, doc({
    summary: 'Issue a new access code for a family (admins); the code is shown once',
    params: FamilyParams,
    success: { status: 201, description: 'Created' },
  }), async (request, reply) => {
    const { schoolId, familyId } = parse(FamilyParams, request.params, 'path');
    const userId = await authenticate(tokens, request);
    const role = await requireMembership(db, userId, schoolId);
    return reply.code(201).send(await codes.create({ userId, schoolId, role }, familyId));
  });

  app.delete(path, doc({
    summary: "Revoke a family's access code (admins)",
    params: FamilyParams,
    success: { status: 204, description: 'Done; no body' },
  }), async (request, reply) => {
    const { schoolId, familyId } = parse(FamilyParams, request.params, 'path');
    const userId = await authenticate(tokens, request);
    const role = await requireMembership(db, userId, schoolId);
    await codes.revoke({ userId, schoolId, role }, familyId);
    return reply.code(204).send();
  });

  app.post('/v1/auth/access-code', doc({
    summary: "Redeem a family access code: creates the parent's account and signs in",
    body: RedeemBody,
    success: { status: 201, description: 'Created' },
  }), async (request, reply) => {
    const body = parse(RedeemBody, request.body);
    const redeemed = await codes.redeem(body, { ip: request.ip });
    return reply.code(201).send(await sessions.open(redeemed.userId, { ip: request.ip, method: 'access-code' }));
  });
}
