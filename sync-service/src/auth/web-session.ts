/**
 * Browser sessions for the parents' gallery: the same access and refresh tokens as the desktop's, kept
 * in cookies page scripts cannot read (`HttpOnly; Secure; SameSite=Strict`) instead of in the page.
 *
 * - The access token travels in {@link ACCESS_COOKIE} (`Path=/`, as long as the token lives). Every API
 *   route accepts it in place of `Authorization: Bearer`, but only on a request that proves it comes
 *   from the gallery's own pages ({@link requireSameOrigin}): `Sec-Fetch-Site: same-origin` (or, from
 *   browsers that do not send it, an `Origin` equal to the service's), and the `X-Keepsake: 1` header,
 *   which a cross-site form cannot send and a cross-site script cannot send without a CORS preflight
 *   the service never grants. A cookie without that proof is a 403, whatever the route.
 * - The refresh token travels in {@link REFRESH_COOKIE}, sent only to `/v1/web/session…` (refresh and
 *   sign-out), so no other request ever carries it. It rotates like the desktop's (reuse detection included).
 *
 * A request with an `Authorization` header is a bearer request and ignores the cookies.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';

/** The access token's cookie; `__Host-` makes browsers insist on Secure, `Path=/` and no Domain. */
export const ACCESS_COOKIE = '__Host-keepsake-access';
/** The refresh token's cookie; `__Secure-` makes browsers insist on Secure. */
export const REFRESH_COOKIE = '__Secure-keepsake-refresh';
/** Where the refresh cookie is sent: the web session routes and nothing else. */
export const REFRESH_PATH = '/v1/web/session';
/** The header only the gallery's own scripts send. */
export const PROOF_HEADER = 'x-keepsake';

const NOT_SAME_ORIGIN =
  'This request was refused because it did not come from the gallery itself (a page on another site cannot act with your session). Reload the gallery and try again.';

/** The public origins of each app (from `PUBLIC_URL`), beside the one the request itself names. */
const publicOrigins = new WeakMap<FastifyInstance, string>();

/** Records the service's public URL, the origin browser requests must come from besides the request's own host. */
export function configureWebSessions(app: FastifyInstance, publicUrl: string): void {
  try {
    publicOrigins.set(app, new URL(publicUrl).origin);
  } catch {
    // A bad URL is refused by the configuration; without one, the request's own host is the only origin.
  }
}

/** The cookies of a request, by name (the first of duplicates wins, as browsers send the most specific first). */
export function readCookies(request: FastifyRequest): Map<string, string> {
  const cookies = new Map<string, string>();
  const header = request.headers.cookie;
  if (header === undefined) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}

/** Whether the request proves it comes from the service's own pages (see the module comment). */
export function isSameOrigin(request: FastifyRequest): boolean {
  if (request.headers[PROOF_HEADER] !== '1') return false;
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin';
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  return origin === `${request.protocol}://${request.host}` || origin === publicOrigins.get(request.server);
}

/** A 403 unless {@link isSameOrigin}: for every request a browser session makes. */
export function requireSameOrigin(request: FastifyRequest): void {
  if (!isSameOrigin(request)) throw new ApiError('forbidden', NOT_SAME_ORIGIN);
}

/**
 * The access token of a cookie-authenticated request, or undefined when there is no access cookie.
 * A cookie on a request without the same-origin proof is a 403: it may be a forged cross-site request.
 */
export function cookieAccessToken(request: FastifyRequest): string | undefined {
  const token = readCookies(request).get(ACCESS_COOKIE);
  if (token === undefined || token === '') return undefined;
  requireSameOrigin(request);
  return token;
}

/** The refresh token the browser holds, if any. */
export function cookieRefreshToken(request: FastifyRequest): string | undefined {
  const token = readCookies(request).get(REFRESH_COOKIE);
  return token === undefined || token === '' ? undefined : token;
}

function cookie(name: string, value: string, path: string, maxAgeSeconds: number): string {
  return `${name}=${value}; Path=${path}; Max-Age=${maxAgeSeconds}; HttpOnly; Secure; SameSite=Strict`;
}

/** Sets both cookies of a new or refreshed session. Tokens are base64url and JWTs: cookie-safe as they are. */
export function setSessionCookies(
  reply: FastifyReply,
  session: { accessToken: string; expiresIn: number; refreshToken: string },
  refreshTtlSeconds: number,
): void {
  reply.header('set-cookie', [
    cookie(ACCESS_COOKIE, session.accessToken, '/', session.expiresIn),
    cookie(REFRESH_COOKIE, session.refreshToken, REFRESH_PATH, refreshTtlSeconds),
  ]);
  // Answers that set session cookies are never stored by a cache on the way.
  reply.header('cache-control', 'no-store');
}

/** Expires both cookies (sign-out, or a refresh token that no longer works). */
export function clearSessionCookies(reply: FastifyReply): void {
  reply.header('set-cookie', [cookie(ACCESS_COOKIE, '', '/', 0), cookie(REFRESH_COOKIE, '', REFRESH_PATH, 0)]);
  reply.header('cache-control', 'no-store');
}
