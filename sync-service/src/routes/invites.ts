/**
 * Invitations: `/v1/schools/:schoolId/invites…` (admins: create, list, resend, revoke) and
 * `/v1/auth/invites/{inspect,accept}` (whoever holds a link: see what it is for, then accept it into a
 * new account or, signed in, into their own).
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { SessionService } from '../auth/sessions.ts';
import type { TokenService } from '../auth/tokens.ts';
import { ROLES, type Database } from '../db/schema.ts';
import { ApiError } from '../errors.ts';
import { INVITE_STATUSES, type InviteService } from '../services/invites.ts';
import { ACCESS_COOKIE, readCookies } from '../auth/web-session.ts';
import { authenticate, callerOf } from './auth.ts';
import { parse } from './validation.ts';
import { doc } from '../openapi.ts';

const Id = z.string().min(1).max(100);
const SchoolParams = z.object({ schoolId: Id });
const InviteParams = SchoolParams.extend({ inviteId: Id });

const CreateBody = z.strictObject({
  email: z.string().trim().max(320, 'too long').regex(/^[^\s@,;]+@[^\s@,;]+\.[^\s@,;]+$/, 'must be an e-mail address'),
  role: z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` }),
  familyId: Id.nullable().default(null),
});
const ListQuery = z.strictObject({ status: z.enum(INVITE_STATUSES, { error: `must be one of ${INVITE_STATUSES.join(', ')}` }).optional() });

const Token = z.string().trim().min(1, 'required').max(200, 'too long');
const InspectBody = z.strictObject({ token: Token });
const AcceptBody = z.strictObject({
  token: Token,
  name: z.string().trim().min(1, 'required').max(200, 'too long').optional(),
  // The same rule as an access-code account; the cap keeps one request from feeding megabytes into scrypt.
  password: z.string().min(10, 'must be at least 10 characters').max(1024, 'too long').optional(),
});

export function inviteRoutes(
  app: FastifyInstance,
  deps: { db: Kysely<Database>; tokens: TokenService; invites: InviteService; sessions: SessionService },
): void {
  const { db, tokens, invites, sessions } = deps;
  const base = '/v1/schools/:schoolId/invites';

  const caller = callerOf(db, tokens);

  app.get(base, doc({ summary: 'Invitations of the school, by status (admins)', params: SchoolParams, query: ListQuery }), async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const { status } = parse(ListQuery, request.query, 'query');
    return { invites: await invites.list(await caller(request, schoolId), status) };
  });

  app.post(base, doc({
    summary: 'Invite someone by e-mail with a role (admins); the link is mailed',
    params: SchoolParams,
    body: CreateBody,
    success: { status: 201, description: 'Created' },
    errors: ['forbidden'],
  }), async (request, reply) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return reply.code(201).send(await invites.create(who, parse(CreateBody, request.body)));
  });

  app.post(`${base}/:inviteId/resend`, doc({
    summary: 'Send an invitation again with a new link (the old link stops working)',
    params: InviteParams,
  }), async (request) => {
    const { schoolId, inviteId } = parse(InviteParams, request.params, 'path');
    return invites.resend(await caller(request, schoolId), inviteId);
  });

  app.delete(`${base}/:inviteId`, doc({
    summary: 'Revoke an invitation (admins)',
    params: InviteParams,
    success: { status: 204, description: 'Done; no body' },
  }), async (request, reply) => {
    const { schoolId, inviteId } = parse(InviteParams, request.params, 'path');
    await invites.revoke(await caller(request, schoolId), inviteId);
    return reply.code(204).send();
  });

  app.post('/v1/auth/invites/inspect', doc({ summary: 'What an invitation link is for: school, role and address', body: InspectBody }), async (request) => {
    const body = parse(InspectBody, request.body);
    return invites.inspect(body.token);
  });

  // 201 with a session for a new account; 200 when a signed-in user adds the school to theirs.
  app.post('/v1/auth/invites/accept', doc({
    summary: 'Accept an invitation into a new account, or into the signed-in one',
    body: AcceptBody,
    errors: ['forbidden', 'conflict'],
  }), async (request, reply) => {
    const body = parse(AcceptBody, request.body);
    const context = { ip: request.ip };
    let accepted: { userId: string; createdAccount: boolean };
    // Signed in with a bearer token (the desktop) or the gallery's session cookie (a browser).
    if (request.headers.authorization !== undefined || readCookies(request).has(ACCESS_COOKIE)) {
      const signedInUserId = await authenticate(tokens, request);
      if (body.name !== undefined || body.password !== undefined) {
        throw new ApiError('invalid-input', 'You are signed in: send only the token to add this school to your account.');
      }
      accepted = await invites.accept(body.token, { signedInUserId }, context);
    } else {
      if (body.name === undefined || body.password === undefined) {
        throw new ApiError('invalid-input', 'To create your account, send your name and a password (or sign in first to use an account you have).');
      }
      accepted = await invites.accept(body.token, { account: { name: body.name, password: body.password } }, context);
    }
    const session = await sessions.open(accepted.userId, { ip: request.ip, method: 'invite' });
    return reply.code(accepted.createdAccount ? 201 : 200).send(session);
  });
}
