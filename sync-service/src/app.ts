/**
 * The HTTP application, built but not listening, so tests drive it with `inject()` and `main.ts`
 * decides where it listens. Every response is JSON and every error is `{ code, message }`.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions, type RouteOptions } from 'fastify';
import type { Kysely } from 'kysely';
import { OidcService, type OidcSettings } from './auth/oidc.ts';
import { SessionService } from './auth/sessions.ts';
import type { ScryptParams } from './auth/passwords.ts';
import type { TokenService } from './auth/tokens.ts';
import { ping } from './db/database.ts';
import { withoutScope, withRequestedSchool } from './db/tenant-scope.ts';
import type { Database } from './db/schema.ts';
import { ApiError, type ApiErrorCode } from './errors.ts';
import { buildOpenApi, doc, isApiRoute, routeCollector, SERVICE_VERSION } from './openapi.ts';
import { createMetrics, countRejection, metricsRoutes } from './metrics.ts';
import { installRateLimits, type RateLimitOptions } from './ratelimit.ts';
import { analyticsRoutes } from './analytics/analytics.routes.ts';
import { AnalyticsService } from './analytics/analytics.service.ts';
import { accessCodeRoutes } from './routes/access-codes.ts';
import { authRoutes } from './routes/auth.ts';
import { eventRoutes } from './routes/events.ts';
import { mediaRoutes } from './routes/media.ts';
import { favouriteRoutes } from './routes/favourites.ts';
import { oidcRoutes } from './routes/oidc.ts';
import { peopleRoutes } from './routes/people.ts';
import { inviteRoutes } from './routes/invites.ts';
import { memberRoutes } from './routes/members.ts';
import { auditRoutes } from './routes/audit.ts';
import { notificationRoutes } from './notify/notify.routes.ts';
import { PreferenceService } from './notify/preferences.ts';
import { UnsubscribeTokens } from './notify/unsubscribe-tokens.ts';
import { Outbox } from './mail/outbox.ts';
import { InviteService } from './services/invites.ts';
import { MemberService } from './services/members.ts';
import { AuditLogService } from './services/audit-log.ts';
import { AccessCodeService } from './services/access-codes.ts';
import { EventService } from './services/events.ts';
import type { MediaSettings } from './services/storage.ts';
import { PeopleService } from './services/people.ts';
import { QuotaService } from './services/quota.ts';
import { FavouriteService } from './services/favourites.ts';
import { MediaService } from './services/media.ts';
import { mediaErasureHook } from './services/media-erasure.ts';
import { galleryRoutes, type GalleryOptions } from './web/gallery.ts';
import { installSecurityHeaders } from './web/headers.ts';
import { webSessionRoutes } from './web/session-routes.ts';

export interface AppOptions {
  db: Kysely<Database>;
  tokens: TokenService;
  refreshTtlSeconds: number;
  /** Lower cost in tests only; defaults to the memory-hard production setting. */
  scrypt?: ScryptParams;
  /** Fastify's pino logger options; `false` (the default) for tests. */
  logger?: FastifyServerOptions['logger'];
  /** Largest accepted body in bytes; 1 MiB by default, plenty for JSON metadata (media never comes through here). */
  bodyLimit?: number;
  /** The bucket media are published to (see `mediaSettingsFromConfig`); unset, the media routes answer 503. */
  media?: MediaSettings;
  /**
   * The worker that deletes erased media from the bucket (see `services/object-deletions.ts`), woken
   * after each erasure commits. Unset, queued deletions wait for a worker to start (`main.ts` runs one
   * whenever a bucket is configured).
   */
  objectDeletions?: { wake(): void };
  /**
   * Fastify's `trustProxy`: set only behind a load balancer (`TRUST_PROXY`). Then the client IP comes
   * from X-Forwarded-For and the balancer's `x-request-id` is kept. Off by default.
   */
  trustProxy?: boolean | string[];
  /** Request limits; none when absent (the tests' default), `main.ts` always passes them. */
  rateLimit?: Omit<RateLimitOptions, 'onReject'>;
  /** When set, `/metrics` needs `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /** Staff sign-in through an OpenID provider (`OIDC_*`); unset, the `/v1/auth/oidc/*` routes answer 404. */
  oidc?: OidcSettings;
  /** HMAC key for family access codes (`ACCESS_CODE_SECRET`, ≥ 32 bytes); default: derived from the signing key. */
  accessCodeSecret?: Buffer;
  /** The base of links in mail (`PUBLIC_URL`); default `http://127.0.0.1:8787`. */
  publicUrl?: string;
  /** How long an invitation link works (`INVITE_TTL_DAYS`); default 7 days. */
  inviteTtlSeconds?: number;
  /**
   * Where mail is queued; `main.ts` shares it with the outbox worker so a queued mail wakes it. Default: an
   * outbox sealed with a key derived from the signing key (the worker, wherever it runs, derives the same).
   */
  outbox?: Outbox;
  /** Called for every route as it is added (registered before any route is): how a test lists the whole API. */
  onRoute?: (route: RouteOptions) => void;
  /** The parents' gallery (`web/`): where its build is and whether to build it at start-up when stale; `false` serves none. */
  gallery?: GalleryOptions | false;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** A request id we accept from a load balancer: short and log-safe. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

/** Safe texts for Fastify's own 4xx errors, whose messages are written for developers. */
function frameworkError(error: FastifyError, bodyLimit: number): ApiError | undefined {
  const status = error.statusCode ?? 500;
  if (status >= 500) return undefined;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('invalid-input', `The request body is larger than ${bodyLimit} bytes.`, undefined, 413);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('unsupported-media', 'Send the request body as application/json.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('invalid-input', 'The request says it has a JSON body but the body is empty.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('invalid-input', 'The Content-Length header does not match the body.');
    default:
      break;
  }
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new ApiError('invalid-input', 'The request body is not valid JSON.');
  }
  const code: ApiErrorCode = status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : status === 404 ? 'not-found' : 'invalid-input';
  return new ApiError(code, error.message, undefined, status);
}

export function buildApp(options: AppOptions): FastifyInstance {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit,
    ...(options.trustProxy === undefined || options.trustProxy === false ? {} : { trustProxy: options.trustProxy }),
    // Our own ids, never a client's: a request id is what logs are joined on, so it must be unique. Behind a
    // trusted load balancer its `x-request-id` (validated) is kept, so its logs and ours join on one id.
    genReqId: (raw) => {
      const given = options.trustProxy ? raw.headers['x-request-id'] : undefined;
      return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
    },
  });

  const onRoute = options.onRoute;
  if (onRoute !== undefined) app.addHook('onRoute', (route) => onRoute(route));
  // The OpenAPI document is built from the routes as registered, with the schemas their handlers parse with.
  const registered = routeCollector();
  app.addHook('onRoute', (route) => registered.onRoute(route));

  // Every handler runs in a tenant scope (db/tenant-scope.ts), which row-level security enforces on
  // PostgreSQL: routes under `:schoolId` in that school's, the others in none (their services open the
  // service's scope for the one lookup that must cross schools). The id is only ever a bind parameter;
  // the handler still validates it and checks membership.
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    const scoped = route.url.includes(':schoolId');
    route.handler = function scopedHandler(this: FastifyInstance, request, reply) {
      const run = () => handler.call(this, request, reply);
      return scoped ? withRequestedSchool((request.params as Record<string, unknown>).schoolId, run) : withoutScope(run);
    };
  });

  // JSON only: drop Fastify's text/plain parser, so any other content type is a 415.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // CSP, HSTS, nosniff, referrer and opener policies on every response, errors and 404s included.
  installSecurityHeaders(app, options.media);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const known = error instanceof ApiError ? error : frameworkError(error, bodyLimit);
    if (known !== undefined) {
      return reply.code(known.status).send(known.toJSON());
    }
    // Unexpected: log it whole, answer without detail (no stack, no SQL) but with the id to look it up by.
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({ code: 'internal', message: `Something went wrong on the server (request ${request.id}).` });
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ code: 'not-found', message: `No such endpoint: ${request.method} ${request.url.split('?')[0] ?? ''}` });
  });

  const metrics = createMetrics();
  metricsRoutes(app, metrics, { token: options.metricsToken });
  if (options.rateLimit !== undefined) installRateLimits(app, { ...options.rateLimit, onReject: countRejection(metrics) });

  app.get('/healthz', doc({ summary: 'Liveness: the process answers', auth: 'none' }), async () => ({ status: 'ok' }));
  app.get('/readyz', doc({ summary: 'Readiness: the database answers', auth: 'none', errors: ['internal'] }), async (request, reply) => {
    try {
      await ping(options.db);
      return { status: 'ready' };
    } catch (error) {
      request.log.warn({ err: error }, 'database not reachable');
      return reply.code(503).send({ code: 'internal', message: 'The database is not reachable.' });
    }
  });

  const sessions = new SessionService(options.db, options.tokens, {
    refreshTtlSeconds: options.refreshTtlSeconds,
    ...(options.scrypt === undefined ? {} : { scrypt: options.scrypt }),
  });
  authRoutes(app, sessions);
  const codes = new AccessCodeService(options.db, options.accessCodeSecret ?? options.tokens.deriveSecret('access-codes'), {
    ...(options.scrypt === undefined ? {} : { scrypt: options.scrypt }),
  });
  accessCodeRoutes(app, { db: options.db, tokens: options.tokens, codes, sessions });
  oidcRoutes(app, { oidc: new OidcService(options.db, options.oidc), sessions });
  eventRoutes(app, { db: options.db, tokens: options.tokens, events: new EventService(options.db) });
  const mediaEvents = new EventService(options.db);
  const analytics = new AnalyticsService({
    db: options.db,
    events: mediaEvents,
    media: new MediaService(options.db, mediaEvents, options.media),
    quota: new QuotaService(options.db),
    metrics,
  });
  mediaRoutes(app, { db: options.db, tokens: options.tokens, events: mediaEvents, media: options.media, analytics });
  analyticsRoutes(app, { db: options.db, tokens: options.tokens, analytics });
  const galleryEvents = new EventService(options.db);
  favouriteRoutes(app, { db: options.db, tokens: options.tokens, favourites: new FavouriteService(options.db, galleryEvents, new MediaService(options.db, galleryEvents, options.media)) });
  const people = new PeopleService(options.db);
  // An erasure takes the student's media off the gallery in its transaction and queues their objects' deletion.
  people.onStudentErased.push(mediaErasureHook);
  const deletions = options.objectDeletions;
  if (deletions !== undefined) people.afterErasure.push(() => deletions.wake());
  peopleRoutes(app, { db: options.db, tokens: options.tokens, people });
  const outbox = options.outbox ?? new Outbox(options.tokens.deriveSecret('outbox'));
  const invites = new InviteService(options.db, outbox, {
    publicUrl: options.publicUrl ?? 'http://127.0.0.1:8787',
    ...(options.inviteTtlSeconds === undefined ? {} : { ttlSeconds: options.inviteTtlSeconds }),
    ...(options.scrypt === undefined ? {} : { scrypt: options.scrypt }),
  });
  inviteRoutes(app, { db: options.db, tokens: options.tokens, invites, sessions });
  memberRoutes(app, { db: options.db, tokens: options.tokens, members: new MemberService(options.db) });
  auditRoutes(app, { db: options.db, tokens: options.tokens, audit: new AuditLogService(options.db) });
  // The notification worker (main.ts) signs unsubscribe links with the same derived key.
  const unsubscribeTokens = new UnsubscribeTokens(options.tokens.deriveSecret('notify-unsubscribe'));
  notificationRoutes(app, { db: options.db, tokens: options.tokens, preferences: new PreferenceService(options.db, unsubscribeTokens) });
  // The parents' gallery: cookie sessions for browsers, and the pages themselves.
  webSessionRoutes(app, {
    db: options.db,
    tokens: options.tokens,
    sessions,
    codes,
    refreshTtlSeconds: options.refreshTtlSeconds,
    publicUrl: options.publicUrl ?? 'http://127.0.0.1:8787',
  });
  if (options.gallery !== false) galleryRoutes(app, options.gallery ?? {});

  let openApi: Record<string, unknown> | undefined;
  app.get('/v1/openapi.json', doc({ summary: 'This API as an OpenAPI 3.1 document', auth: 'none' }), async () => {
    openApi ??= buildOpenApi(registered.routes.filter(isApiRoute), { version: SERVICE_VERSION, serverUrl: options.publicUrl });
    return openApi;
  });
  return app;
}
