/** `/v1/auth/*`: sign-in, refresh, sign-out. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { SessionService } from '../auth/sessions.ts';
import type { TokenService } from '../auth/tokens.ts';
import { cookieAccessToken } from '../auth/web-session.ts';
import type { Database } from '../db/schema.ts';
import { ApiError } from '../errors.ts';
import { requireMembership } from '../services/access.ts';
import type { Caller } from '../services/events.ts';
import { parse } from './validation.ts';
import { doc } from '../openapi.ts';

const SignInBody = z.strictObject({
  email: z.string().trim().min(1, 'required').max(320, 'too long'),
  // A cap keeps one request from feeding megabytes into scrypt.
  password: z.string().min(1, 'required').max(1024, 'too long'),
});
const RefreshBody = z.strictObject({ refreshToken: z.string().min(1, 'required').max(200, 'too long') });

/**
 * The user id of a valid `Authorization: Bearer <jwt>` (scheme case-insensitive, RFC 7235), or, with no
 * such header, of the gallery's access cookie on a same-origin request (`auth/web-session.ts`; the
 * cookie without that proof is a 403); a 401 otherwise.
 */
export async function authenticate(tokens: TokenService, request: FastifyRequest): Promise<string> {
  const header = request.headers.authorization;
  const fromCookie = header === undefined ? cookieAccessToken(request) : undefined;
  if (fromCookie !== undefined) return tokens.verify(fromCookie);
  const match = header === undefined ? null : /^Bearer +([A-Za-z0-9_\-.]+)$/i.exec(header);
  if (match?.[1] === undefined) throw new ApiError('unauthorized', 'Sign in first (send Authorization: Bearer <access token>).');
  return tokens.verify(match[1]);
}

/**
 * How a school's route learns who calls: the signed-in user ({@link authenticate}) and their role in
 * the school, read from the database on every request; a 404 when they are not a member.
 */
export function callerOf(db: Kysely<Database>, tokens: TokenService): (request: FastifyRequest, schoolId: string) => Promise<Caller> {
  return async (request, schoolId) => {
    const userId = await authenticate(tokens, request);
    return { userId, schoolId, role: await requireMembership(db, userId, schoolId) };
  };
}

export function authRoutes(app: FastifyInstance, sessions: SessionService): void {
  app.post('/v1/auth/sign-in', doc({ summary: 'Sign in with e-mail and password', body: SignInBody }), async (request) => {
    const body = parse(SignInBody, request.body);
    return sessions.signIn(body.email, body.password, { ip: request.ip });
  });

  app.post('/v1/auth/refresh', doc({
    summary: 'Trade a refresh token for a new session (the old token is spent; reuse revokes the session)',
    body: RefreshBody,
  }), async (request) => {
    const body = parse(RefreshBody, request.body);
    return sessions.refresh(body.refreshToken, { ip: request.ip });
  });

  app.post('/v1/auth/sign-out', doc({ summary: 'End a session', body: RefreshBody, success: { status: 204, description: 'Done; no body' } }), async (request, reply) => {
    const body = parse(RefreshBody, request.body);
    await sessions.signOut(body.refreshToken, { ip: request.ip });
    return reply.code(204).send();
  });
}
