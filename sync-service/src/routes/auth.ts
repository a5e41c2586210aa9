/** `/v1/auth/*`: sign-in, refresh, sign-out. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { SessionService } from '../auth/sessions.ts';
import type { TokenService } from '../auth/tokens.ts';
import { ApiError } from '../errors.ts';
import { parse } from './validation.ts';

const SignInBody = z.strictObject({
  email: z.string().trim().min(1, 'required').max(320, 'too long'),
  // A cap keeps one request from feeding megabytes into scrypt.
  password: z.string().min(1, 'required').max(1024, 'too long'),
});
const RefreshBody = z.strictObject({ refreshToken: z.string().min(1, 'required').max(200, 'too long') });

/** The user id of a valid `Authorization: Bearer <jwt>` (scheme case-insensitive, RFC 7235); a 401 otherwise. */
export async function authenticate(tokens: TokenService, request: FastifyRequest): Promise<string> {
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Bearer +([A-Za-z0-9_\-.]+)$/i.exec(header);
  if (match?.[1] === undefined) throw new ApiError('unauthorized', 'Sign in first (send Authorization: Bearer <access token>).');
  return tokens.verify(match[1]);
}

export function authRoutes(app: FastifyInstance, sessions: SessionService): void {
  app.post('/v1/auth/sign-in', async (request) => {
    const body = parse(SignInBody, request.body);
    return sessions.signIn(body.email, body.password, { ip: request.ip });
  });

  app.post('/v1/auth/refresh', async (request) => {
    const body = parse(RefreshBody, request.body);
    return sessions.refresh(body.refreshToken, { ip: request.ip });
  });

  app.post('/v1/auth/sign-out', async (request, reply) => {
    const body = parse(RefreshBody, request.body);
    await sessions.signOut(body.refreshToken, { ip: request.ip });
    return reply.code(204).send();
  });
}
