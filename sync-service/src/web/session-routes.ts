/**
 * `/v1/web/session…`: the gallery's sign-in, refresh and sign-out, with the tokens in cookies
 * (`auth/web-session.ts`) instead of in the answer. Every one of these routes needs the same-origin
 * proof, so another site can neither sign a browser in to an account of its choosing nor out.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { PublicMembership, PublicUser, Session, SessionService } from '../auth/sessions.ts';
import type { TokenService } from '../auth/tokens.ts';
import {
  clearSessionCookies,
  configureWebSessions,
  cookieRefreshToken,
  requireSameOrigin,
  setSessionCookies,
} from '../auth/web-session.ts';
import type { Database } from '../db/schema.ts';
import { asService } from '../db/tenant-scope.ts';
import { ApiError } from '../errors.ts';
import { authenticate } from '../routes/auth.ts';
import type { RouteDoc } from '../openapi.ts';
import { parse } from '../routes/validation.ts';
import type { AccessCodeService } from '../services/access-codes.ts';

const Email = z.string({ error: 'required' }).trim().min(1, 'required').max(320, 'too long');

/** An account's email and password, as `/v1/auth/sign-in`. */
const PasswordBody = z.strictObject({
  email: Email,
  // A cap keeps one request from feeding megabytes into scrypt.
  password: z.string({ error: 'required' }).min(1, 'required').max(1024, 'too long'),
});

/** A family access code and the parent account it becomes, as `/v1/auth/access-code`. */
const AccessCodeBody = z.strictObject({
  accessCode: z.string({ error: 'required' }).trim().min(1, 'required').max(64, 'too long'),
  email: Email.regex(/^[^\s@,;]+@[^\s@,;]+\.[^\s@,;]+$/, 'must be an e-mail address'),
  name: z.string({ error: 'required' }).trim().min(1, 'required').max(200, 'too long'),
  password: z.string({ error: 'required' }).min(10, 'must be at least 10 characters').max(1024, 'too long'),
});

/** What the gallery learns of its session: who is signed in, where, and when the access cookie runs out. */
export interface WebSession {
  user: PublicUser;
  memberships: PublicMembership[];
  /** Seconds until the access cookie expires and the gallery should refresh. */
  expiresIn: number;
}

export interface WebSessionDeps {
  db: Kysely<Database>;
  tokens: TokenService;
  sessions: SessionService;
  codes: AccessCodeService;
  refreshTtlSeconds: number;
  /** The service's public URL: requests whose `Origin` is it are same-origin. */
  publicUrl: string;
}

export function webSessionRoutes(app: FastifyInstance, deps: WebSessionDeps): void {
  const { db, tokens, sessions, codes, refreshTtlSeconds } = deps;
  configureWebSessions(app, deps.publicUrl);

  const answer = (reply: FastifyReply, session: Session, status = 200) => {
    setSessionCookies(reply, session, refreshTtlSeconds);
    const body: WebSession = { user: session.user, memberships: session.memberships, expiresIn: session.expiresIn };
    return reply.code(status).send(body);
  };

  const doc = (summary: string, extra: Omit<RouteDoc, 'summary' | 'tag'> = {}): { config: { api: RouteDoc } } => ({
    config: { api: { summary, tag: 'gallery', errors: ['forbidden'], ...extra } },
  });

  app.post(
    '/v1/web/session',
    doc('Signs a browser in (email and password, or a family access code that becomes a parent account); the tokens go into HttpOnly cookies', {
      auth: 'none',
      body: z.union([PasswordBody, AccessCodeBody]),
      errors: ['forbidden', 'conflict'],
    }),
    async (request, reply) => {
      requireSameOrigin(request);
      const context = { ip: request.ip };
      const raw = request.body;
      if (typeof raw === 'object' && raw !== null && 'accessCode' in raw) {
        const body = parse(AccessCodeBody, raw);
        const redeemed = await codes.redeem({ code: body.accessCode, email: body.email, name: body.name, password: body.password }, context);
        return answer(reply, await sessions.open(redeemed.userId, { ...context, method: 'access-code' }), 201);
      }
      const body = parse(PasswordBody, raw);
      return answer(reply, await sessions.signIn(body.email, body.password, context));
    },
  );

  app.get('/v1/web/session', doc('Who the browser session (or bearer token) belongs to, and their schools', { auth: 'bearer' }), async (request, reply) => {
    const userId = await authenticate(tokens, request);
    reply.header('cache-control', 'no-store');
    const body: WebSession = { ...(await whoIs(db, userId)), expiresIn: tokens.accessTtlSeconds };
    return body;
  });

  app.post('/v1/web/session/refresh', doc('Trades the refresh cookie for new session cookies (it rotates)', { auth: 'none' }), async (request, reply) => {
    requireSameOrigin(request);
    noBody(request);
    const token = cookieRefreshToken(request);
    if (token === undefined) throw new ApiError('unauthorized', 'Your session has ended. Sign in again.');
    try {
      return answer(reply, await sessions.refresh(token, { ip: request.ip }));
    } catch (error) {
      // A spent or revoked token stays spent: drop it, so the browser stops offering it.
      clearSessionCookies(reply);
      throw error;
    }
  });

  app.delete('/v1/web/session', doc('Signs the browser out: revokes the session and expires its cookies', { auth: 'none', success: { status: 204, description: 'Signed out' } }), async (request, reply) => {
    requireSameOrigin(request);
    const token = cookieRefreshToken(request);
    if (token !== undefined) await sessions.signOut(token, { ip: request.ip });
    clearSessionCookies(reply);
    return reply.code(204).send();
  });
}

/** Refresh takes no body; one that is sent must be empty JSON. */
function noBody(request: FastifyRequest): void {
  if (request.body !== undefined && request.body !== null) parse(z.strictObject({}), request.body);
}

/** The user and their memberships in every school (a lookup that crosses schools by nature). */
async function whoIs(db: Kysely<Database>, userId: string): Promise<Omit<WebSession, 'expiresIn'>> {
  return asService(async () => {
    const user = await db.selectFrom('users').select(['id', 'email', 'name']).where('id', '=', userId).executeTakeFirst();
    if (user === undefined) throw new ApiError('unauthorized', 'Your session has ended. Sign in again.');
    const memberships = await db
      .selectFrom('memberships')
      .innerJoin('schools', 'schools.id', 'memberships.school_id')
      .select(['schools.id as schoolId', 'schools.name as schoolName', 'schools.slug as schoolSlug', 'memberships.role as role'])
      .where('memberships.user_id', '=', userId)
      .orderBy('schools.name')
      .execute();
    return { user, memberships };
  });
}
