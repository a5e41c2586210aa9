/**
 * Request rate limits: fixed-window counters behind one {@link RateLimitStore} interface, kept in
 * memory (one instance) or in Redis (several instances behind a load balancer share one count).
 *
 * Rules (limits per window, each 0 = off): every request per client IP, every `/v1/schools/:schoolId/…`
 * request per school, sign-in per IP and per account (email), refresh per IP. `/healthz`, `/readyz` and
 * `/metrics` are never limited: a load balancer or a scraper must not be locked out of them.
 *
 * Over a limit: HTTP 429 with `Retry-After` (whole seconds) and `{ code: 'forbidden', message }`. The
 * codes are a closed list shared with the desktop (`app/shared/errors.ts`) which has no "slow down" code
 * yet; `forbidden` at status 429 is the nearest existing meaning, and the status plus `Retry-After` let a
 * client tell it apart. Adding `'rate-limited'` belongs in the desktop's list first, then here.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import { ApiError } from './errors.ts';

/** One counter's state after a hit. */
export interface Hit {
  /** Hits in the current window, this one included. */
  count: number;
  /** Milliseconds until the window ends and the count starts again from zero. */
  resetInMs: number;
}

/** Where the counters live. `hit` must be atomic: N callers at once see N distinct counts. */
export interface RateLimitStore {
  hit(key: string, windowMs: number): Promise<Hit>;
  close(): Promise<void>;
}

/** One process's counters; the default when no `REDIS_URL` is set. */
export class MemoryStore implements RateLimitStore {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  private lastSweep = 0;

  constructor(private readonly now: () => number = Date.now) {}

  hit(key: string, windowMs: number): Promise<Hit> {
    const now = this.now();
    this.sweep(now, windowMs);
    let entry = this.windows.get(key);
    if (entry === undefined || entry.resetAt <= now) {
      entry = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, entry);
    }
    entry.count += 1;
    return Promise.resolve({ count: entry.count, resetInMs: entry.resetAt - now });
  }

  /** Drops ended windows at most once a window, so the map stays the size of the active clients. */
  private sweep(now: number, windowMs: number): void {
    if (now - this.lastSweep < windowMs) return;
    this.lastSweep = now;
    for (const [key, entry] of this.windows) if (entry.resetAt <= now) this.windows.delete(key);
  }

  close(): Promise<void> {
    this.windows.clear();
    return Promise.resolve();
  }
}

/**
 * INCR and, on the window's first hit (or a key that somehow lost its expiry), PEXPIRE, in one
 * script so no client can see a count without an expiry; returns the count and the time left.
 */
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if count == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

/** Counters shared by every instance through one Redis. */
export class RedisStore implements RateLimitStore {
  private readonly redis: Redis;

  constructor(
    url: string,
    /** Namespaces the keys, so several deployments (or test runs) can share a Redis. */
    private readonly prefix = 'keepsake:rl:',
  ) {
    // Fail fast instead of queueing: a limiter that waits for Redis makes every request wait with it.
    this.redis = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500 });
    this.redis.on('error', () => undefined); // reconnects by itself; each failed hit is reported by `hit`
  }

  /** Connects now, so a bad `REDIS_URL` fails at start rather than on the first request. */
  async connect(): Promise<void> {
    await this.redis.connect();
  }

  async hit(key: string, windowMs: number): Promise<Hit> {
    const result = (await this.redis.eval(HIT_SCRIPT, 1, this.prefix + key, String(windowMs))) as [number, number];
    return { count: Number(result[0]), resetInMs: Number(result[1]) };
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** Requests allowed per window; 0 turns a rule off. */
export interface RateLimits {
  windowSeconds: number;
  /** Every request from one client IP (a ceiling well above normal use). */
  perIp: number;
  /** Every request to one school's `/v1/schools/:schoolId/…` routes, whoever sends it. */
  perSchool: number;
  /** Sign-in attempts from one IP. */
  signInPerIp: number;
  /** Sign-in attempts for one email, from anywhere (slows password guessing spread over many IPs). */
  signInPerAccount: number;
  /** Refresh calls from one IP. */
  refreshPerIp: number;
}

export const DEFAULT_RATE_LIMITS: RateLimits = {
  windowSeconds: 60,
  perIp: 1200,
  // Sized for the evening a digest goes out: 400 families opening a gallery in the same minutes make ~10
  // requests each (session, events, counts, pages, view beacons). The limit keeps one school from starving
  // the others on a shared instance; it is not there to turn a school's own parents away.
  perSchool: 6000,
  signInPerIp: 10,
  signInPerAccount: 5,
  refreshPerIp: 30,
};

export type RateLimitRule = 'ip' | 'school' | 'sign-in-ip' | 'sign-in-account' | 'refresh-ip';

export interface RateLimitOptions {
  store: RateLimitStore;
  limits: RateLimits;
  /** Called for each refusal, e.g. to count it in /metrics. */
  onReject?: (rule: RateLimitRule) => void;
}

/** Never limited: probes and scrapes must always get through. */
const EXEMPT = new Set(['/healthz', '/readyz', '/metrics']);

/** POST routes that test a secret (a password, an access code, an invitation token): sign-in's per-IP limit. */
const SECRET_GUESS_ROUTES = new Set(['/v1/auth/sign-in', '/v1/auth/access-code', '/v1/auth/invites/accept', '/v1/auth/invites/inspect', '/v1/web/session', '/v1/auth/oidc/exchange']);
/**
 * GET routes of staff sign-in through OpenID: each start writes a pending sign-in and each callback tests
 * a state; they share sign-in's per-IP budget with the POSTs above (the one-time code exchange among them).
 */
const OIDC_GET_ROUTES = new Set(['/v1/auth/oidc/start', '/v1/auth/oidc/callback']);
/** POST routes that trade a refresh token: refresh's per-IP limit. */
const REFRESH_ROUTES = new Set(['/v1/auth/refresh', '/v1/web/session/refresh']);
/** POST routes that check an account's password: sign-in's per-account limit (the gallery's sign-in is one). */
const PASSWORD_ROUTES = new Set(['/v1/auth/sign-in', '/v1/web/session']);

/** A 429; carries the wait so the hook can set `Retry-After`. */
export class RateLimitedError extends ApiError {
  readonly retryAfterSeconds: number;
  constructor(what: string, resetInMs: number) {
    const seconds = Math.max(1, Math.ceil(resetInMs / 1000));
    super('forbidden', `Too many requests ${what}; try again in ${seconds} s.`, undefined, 429);
    this.retryAfterSeconds = seconds;
  }
}

/**
 * Installs the rules as hooks: IP, school, sign-in-by-IP and refresh before the body is read
 * (`onRequest`, so refused requests cost nothing), sign-in-by-account once the body is parsed.
 * Every sign-in attempt counts toward the account limit, success included: counting at the attempt is
 * atomic, whereas "check, then count on failure" lets a parallel burst on N instances through.
 * If the store fails (Redis down), the request is let through and the failure logged: the limits
 * protect the service but are not worth an outage.
 */
export function installRateLimits(app: FastifyInstance, options: RateLimitOptions): void {
  const { store, limits } = options;
  const windowMs = limits.windowSeconds * 1000;

  const check = async (request: FastifyRequest, rule: RateLimitRule, limit: number, key: string, what: string): Promise<void> => {
    if (limit <= 0) return;
    let hit: Hit;
    try {
      hit = await store.hit(`${rule}:${key}`, windowMs);
    } catch (error) {
      request.log.warn({ err: error, rule }, 'rate limit store unavailable; request let through');
      return;
    }
    if (hit.count > limit) {
      options.onReject?.(rule);
      // The account key is an email: keep it out of the logs.
      request.log.info({ rule, key: rule === 'sign-in-account' ? undefined : key, count: hit.count }, 'rate limited');
      throw new RateLimitedError(what, hit.resetInMs);
    }
  };

  app.addHook('onRequest', async (request, reply) => {
    const route = request.routeOptions.url;
    if (route !== undefined && EXEMPT.has(route)) return;
    try {
      await check(request, 'ip', limits.perIp, request.ip, 'from this address');
      const params = request.params as Record<string, unknown> | undefined;
      const schoolId = params?.schoolId;
      if (typeof schoolId === 'string' && schoolId !== '') {
        await check(request, 'school', limits.perSchool, schoolId, 'for this school');
      }
      // Redeeming an access code or an invitation link is a guess at a secret too: it shares sign-in's per-IP budget.
      const guess = route !== undefined && ((request.method === 'POST' && SECRET_GUESS_ROUTES.has(route)) || (request.method === 'GET' && OIDC_GET_ROUTES.has(route)));
      if (guess) {
        await check(request, 'sign-in-ip', limits.signInPerIp, request.ip, 'to sign in from this address');
      } else if (request.method === 'POST' && route !== undefined && REFRESH_ROUTES.has(route)) {
        await check(request, 'refresh-ip', limits.refreshPerIp, request.ip, 'to refresh a session from this address');
      }
    } catch (error) {
      setRetryAfter(reply, error);
      throw error;
    }
  });

  app.addHook('preHandler', async (request, reply) => {
    if (request.method !== 'POST' || !PASSWORD_ROUTES.has(request.routeOptions.url ?? '')) return;
    const email = (request.body as { email?: unknown } | null | undefined)?.email;
    if (typeof email !== 'string' || email.trim() === '') return; // the route's validation answers that
    try {
      await check(request, 'sign-in-account', limits.signInPerAccount, email.trim().toLowerCase(), 'to sign in to this account');
    } catch (error) {
      setRetryAfter(reply, error);
      throw error;
    }
  });

  app.addHook('onClose', async () => store.close());
}

function setRetryAfter(reply: FastifyReply, error: unknown): void {
  if (error instanceof RateLimitedError) reply.header('retry-after', String(error.retryAfterSeconds));
}
