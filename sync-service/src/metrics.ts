/**
 * `/metrics` in the Prometheus text format. Each app gets its own registry (never prom-client's
 * global one), so two apps in one process, as in the tests, never share or clash over metrics.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ApiError } from './errors.ts';
import type { RateLimitRule } from './ratelimit.ts';
import { doc } from './openapi.ts';

/** The metrics one app records into. */
export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  rateLimited: Counter<'rule'>;
  /** Gallery views recorded (each accepted request, before the once-a-day de-duplication). */
  mediaViews: Counter<'audience'>;
  /** Downloads (`?download=1` URLs) handed out, by variant. */
  mediaDownloads: Counter<'audience' | 'variant'>;
  /** Manifests published. */
  publishes: Counter;
  /** Assets in the manifests published (a re-published asset counts again). */
  publishedAssets: Counter;
  /** Sign-in attempts by way in and outcome, counted from the answers of the sign-in routes. */
  signIns: Counter<'method' | 'outcome'>;
}

/** The routes that sign someone in, and the `method` label each is counted under. */
const SIGN_IN_ROUTES: ReadonlyMap<string, string> = new Map([
  ['POST /v1/auth/sign-in', 'password'],
  ['POST /v1/web/session', 'gallery'],
  ['POST /v1/auth/access-code', 'access-code'],
  ['POST /v1/auth/oidc/exchange', 'oidc'],
]);

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'rate_limit_rejections_total',
      help: 'Requests refused with 429, by rate-limit rule.',
      labelNames: ['rule'],
      registers: [registry],
    }),
    mediaViews: new Counter({
      name: 'media_views_total',
      help: 'Gallery views recorded, by audience (family or staff).',
      labelNames: ['audience'],
      registers: [registry],
    }),
    mediaDownloads: new Counter({
      name: 'media_downloads_total',
      help: 'Download URLs handed out, by audience and variant.',
      labelNames: ['audience', 'variant'],
      registers: [registry],
    }),
    publishes: new Counter({ name: 'media_publishes_total', help: 'Event manifests published.', registers: [registry] }),
    publishedAssets: new Counter({ name: 'media_published_assets_total', help: 'Assets in the event manifests published.', registers: [registry] }),
    signIns: new Counter({
      name: 'sign_ins_total',
      help: 'Sign-in attempts by method and outcome (failure: refused credentials; malformed and rate-limited requests are not counted).',
      labelNames: ['method', 'outcome'],
      registers: [registry],
    }),
  };
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Times every response by its route pattern (`/v1/schools/:schoolId/events`, never the raw URL, so
 * the label set stays small) and serves `/metrics`, behind `Authorization: Bearer <token>` when a
 * token is set. Unmatched URLs are labelled `unmatched`.
 */
export function metricsRoutes(app: FastifyInstance, metrics: Metrics, options: { token?: string | undefined } = {}): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    const signIn = SIGN_IN_ROUTES.get(`${request.method} ${route}`);
    const outcome = reply.statusCode < 300 ? 'success' : reply.statusCode === 401 ? 'failure' : undefined;
    if (signIn !== undefined && outcome !== undefined) metrics.signIns.inc({ method: signIn, outcome });
  });

  app.get('/metrics', doc({ summary: 'Prometheus metrics (a bearer token when METRICS_TOKEN is set)', auth: 'none', errors: ['unauthorized'] }), async (request, reply) => {
    const token = options.token;
    if (token !== undefined) {
      const match = /^Bearer +(\S+)$/i.exec(request.headers.authorization ?? '');
      if (match?.[1] === undefined || !sameSecret(match[1], token)) {
        throw new ApiError('unauthorized', 'Send Authorization: Bearer <METRICS_TOKEN> to read the metrics.');
      }
    }
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
}

/** For {@link RateLimitOptions.onReject}. */
export function countRejection(metrics: Metrics): (rule: RateLimitRule) => void {
  return (rule) => metrics.rateLimited.inc({ rule });
}
