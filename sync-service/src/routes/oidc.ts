/**
 * `/v1/auth/oidc/*`: staff sign-in through the school's identity provider (see `auth/oidc.ts`).
 * Every route answers 404 when OIDC is not configured.
 *
 * - `GET /start?school=<slug>[&returnTo=<loopback URL>][&challenge=<S256 of a desktop verifier>]` → 302 to the provider.
 * - `GET /callback?code&state[&iss]` (the provider's redirect) → 302 to `returnTo?code=<one-time code>`,
 *   or, without `returnTo`, 200 `{ code, expiresIn }`. Refusals are 401 `{ code, message }`; once the state is
 *   known to be a started sign-in with `returnTo`, a refusal goes back there as
 *   `returnTo?error=access_denied&error_description=<why>`, so the desktop can say it.
 * - `POST /exchange {code, verifier?}` → the session, as sign-in returns it.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { OidcService } from '../auth/oidc.ts';
import type { SessionService } from '../auth/sessions.ts';
import { SLUG_PATTERN } from '../config.ts';
import { parse } from './validation.ts';
import { doc } from '../openapi.ts';

const StartQuery = z.strictObject({
  school: z.string().regex(SLUG_PATTERN, 'must be a school slug').max(100),
  returnTo: z.string().max(2000).optional(),
  challenge: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a base64url SHA-256 (S256) challenge').optional(),
});
const ExchangeBody = z.strictObject({
  code: z.string().min(1, 'required').max(200, 'too long'),
  verifier: z.string().regex(/^[A-Za-z0-9._~-]{43,128}$/, 'must be a PKCE verifier (43–128 characters)').optional(),
});

export function oidcRoutes(app: FastifyInstance, deps: { oidc: OidcService; sessions: SessionService }): void {
  const { oidc, sessions } = deps;

  app.get('/v1/auth/oidc/start', doc({ summary: "Start staff sign-in with the school's OpenID provider (redirects)", query: StartQuery }), async (request, reply) => {
    oidc.requireSettings();
    const query = parse(StartQuery, request.query, 'query');
    const url = await oidc.start(query, { ip: request.ip });
    return reply.header('cache-control', 'no-store').redirect(url.href, 302);
  });

  app.get('/v1/auth/oidc/callback', doc({ summary: "The provider's redirect back; hands the desktop a one-time code" }), async (request, reply) => {
    oidc.requireSettings();
    const raw = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    const result = await oidc.callback(raw, { ip: request.ip });
    reply.header('cache-control', 'no-store');
    if ('refused' in result) {
      const target = new URL(result.returnTo);
      target.searchParams.set('error', 'access_denied');
      target.searchParams.set('error_description', result.refused);
      return reply.redirect(target.href, 302);
    }
    if (result.returnTo === null) return { code: result.code, expiresIn: result.expiresIn };
    const target = new URL(result.returnTo);
    target.searchParams.set('code', result.code);
    return reply.redirect(target.href, 302);
  });

  app.post('/v1/auth/oidc/exchange', doc({ summary: 'Trade the one-time code (and PKCE verifier) for a session', body: ExchangeBody }), async (request) => {
    oidc.requireSettings();
    const body = parse(ExchangeBody, request.body);
    const userId = await oidc.exchange(body.code, body.verifier, { ip: request.ip });
    return sessions.open(userId, { ip: request.ip, method: 'oidc' });
  });
}
