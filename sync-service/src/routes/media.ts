/**
 * `/v1/schools/:schoolId/quota…` (reservations before a publish) and
 * `/v1/schools/:schoolId/events/:eventId/manifest|media…` (publishing and reading media).
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { idSchema, manifestBodySchema, MEDIA_VARIANTS, reservationRequestSchema } from '../../../app/sync/protocol.ts';
import type { AnalyticsService } from '../analytics/analytics.service.ts';
import type { TokenService } from '../auth/tokens.ts';
import type { Database } from '../db/schema.ts';
import type { EventService } from '../services/events.ts';
import { MediaService } from '../services/media.ts';
import { QuotaService } from '../services/quota.ts';
import type { MediaSettings } from '../services/storage.ts';
import { callerOf } from './auth.ts';
import { parse } from './validation.ts';
import { doc } from '../openapi.ts';

/** A manifest of 2,000 assets × 4 variants is about 2.5 MB of JSON; the app-wide limit is for metadata. */
export const MANIFEST_BODY_LIMIT = 16 * 1024 * 1024;
export const MAX_PAGE = 100;

const Id = idSchema;
const SchoolParams = z.object({ schoolId: Id });
const EventParams = SchoolParams.extend({ eventId: Id });
const ReservationParams = SchoolParams.extend({ reservationId: Id });
const VariantParams = EventParams.extend({ assetId: Id, variant: z.enum(MEDIA_VARIANTS, { error: `must be one of ${MEDIA_VARIANTS.join(', ')}` }) });

// The bodies are the desktop's own schemas (app/sync/protocol.ts).
const ReserveBody = reservationRequestSchema;
const ManifestBody = manifestBodySchema;

const PageQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^\d+$/, `must be a whole number from 1 to ${MAX_PAGE}`)
    .transform(Number)
    .pipe(z.number().int().min(1, `must be from 1 to ${MAX_PAGE}`).max(MAX_PAGE, `must be from 1 to ${MAX_PAGE}`))
    .default(MAX_PAGE),
  cursor: z.string().regex(/^\d{1,9}$/, 'must be the nextCursor of the previous page').transform(Number).optional(),
});

/** A listing page, narrowed for a parent to the family's favourites or to one of their children. */
const ListQuery = PageQuery.extend({
  favourites: z.enum(['0', '1'], { error: "must be 1 (only the family's favourites) or 0" }).optional(),
  child: Id.optional(),
});

/** `?download=1`: the URL makes the browser save the file (`attachment`); otherwise it shows it (`inline`). */
const UrlQuery = z.strictObject({
  download: z.enum(['0', '1'], { error: 'must be 1 (save the file) or 0 (show it)' }).optional(),
});

export interface MediaRouteDeps {
  db: Kysely<Database>;
  tokens: TokenService;
  events: EventService;
  /** Unset: no bucket configured; publishing and URLs answer 503. */
  media: MediaSettings | undefined;
  /** Counts publishes and records downloads (`analytics/`); unset, neither is counted. */
  analytics?: Pick<AnalyticsService, 'published' | 'recordDownload'>;
}

export function mediaRoutes(app: FastifyInstance, deps: MediaRouteDeps): void {
  const { db, tokens } = deps;
  const quota = new QuotaService(db);
  const media = new MediaService(db, deps.events, deps.media);

  const caller = callerOf(db, tokens);

  app.post('/v1/schools/:schoolId/quota/reservations', doc({
    summary: "Reserve storage before uploading an event's objects",
    params: SchoolParams,
    body: ReserveBody,
    success: { status: 201, description: 'Created' },
    errors: ['forbidden', 'quota-exceeded'],
  }), async (request, reply) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return reply.code(201).send(await quota.reserve(who, parse(ReserveBody, request.body)));
  });

  app.post('/v1/schools/:schoolId/quota/reservations/:reservationId/release', doc({
    summary: 'Give back what a reservation holds',
    params: ReservationParams,
    body: z.strictObject({}),
    errors: ['conflict'],
  }), async (request) => {
    const { schoolId, reservationId } = parse(ReservationParams, request.params, 'path');
    const who = await caller(request, schoolId);
    if (request.body !== undefined && request.body !== null) parse(z.strictObject({}), request.body);
    return quota.release(who, reservationId);
  });

  app.get('/v1/schools/:schoolId/quota', doc({ summary: "The school's plan, usage and reservations", params: SchoolParams }), async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    return quota.summary(await caller(request, schoolId));
  });

  app.put('/v1/schools/:schoolId/events/:eventId/manifest', { bodyLimit: MANIFEST_BODY_LIMIT, ...doc({
    summary: "Publish an event's media: every object is checked in the bucket before it counts",
    params: EventParams,
    body: ManifestBody,
    errors: ['forbidden', 'conflict', 'quota-exceeded'],
  }) }, async (request) => {
    const { schoolId, eventId } = parse(EventParams, request.params, 'path');
    const who = await caller(request, schoolId);
    const body = parse(ManifestBody, request.body);
    const result = await media.publish(who, eventId, body.reservationId, body.assets);
    deps.analytics?.published(result);
    return result;
  });

  app.get('/v1/schools/:schoolId/events/:eventId/media', doc({
    summary: "A page of an event's published media, with short-lived URLs for thumbnails and previews",
    params: EventParams,
    query: ListQuery,
    errors: ['gone', 'forbidden'],
  }), async (request, reply) => {
    const { schoolId, eventId } = parse(EventParams, request.params, 'path');
    const who = await caller(request, schoolId);
    const page = parse(ListQuery, request.query, 'query');
    // The page comes written as JSON (most of it prepared once per event): sent as it is.
    const json = await media.list(who, eventId, { limit: page.limit, after: page.cursor, favourites: page.favourites === '1', child: page.child });
    return reply.type('application/json; charset=utf-8').send(json);
  });

  app.get('/v1/schools/:schoolId/media/counts', doc({
    summary: 'How many media of each event the caller may see (audience and consent applied), with a cover thumbhash',
    params: SchoolParams,
  }), async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    return { events: await media.counts(await caller(request, schoolId)) };
  });

  app.get('/v1/schools/:schoolId/events/:eventId/media/:assetId/:variant', doc({
    summary: 'A short-lived URL for one variant of one asset (download=1 to save it)',
    params: VariantParams,
    query: UrlQuery,
    errors: ['gone'],
  }), async (request) => {
    const params = parse(VariantParams, request.params, 'path');
    const who = await caller(request, params.schoolId);
    const { download } = parse(UrlQuery, request.query, 'query');
    const url = await media.url(who, params.eventId, params.assetId, params.variant, { download: download === '1' });
    if (download === '1') await deps.analytics?.recordDownload(who, params.eventId, params.assetId, params.variant);
    return url;
  });
}
