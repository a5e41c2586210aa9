/**
 * `POST /v1/schools/:schoolId/events/:eventId/media/:assetId/views` (the gallery's lightbox says a
 * photo or video is on screen) and `GET /v1/schools/:schoolId/analytics` (the admins' report).
 *
 * Views are reported by the page rather than inferred from media URLs: the gallery's listing already
 * hands out the preview URLs, so opening a photo never reaches the service otherwise. A view is
 * accepted only where the media URL itself would answer, so nobody can count one for media they may
 * not see.
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { idSchema } from '../../../app/sync/protocol.ts';
import type { TokenService } from '../auth/tokens.ts';
import type { Database } from '../db/schema.ts';
import { doc } from '../openapi.ts';
import { callerOf } from '../routes/auth.ts';
import { parse } from '../routes/validation.ts';
import { AnalyticsReportSchema, ReportQuery } from './analytics.schemas.ts';
import type { AnalyticsService } from './analytics.service.ts';

const SchoolParams = z.object({ schoolId: idSchema });
const ViewParams = SchoolParams.extend({ eventId: idSchema, assetId: idSchema });
const EmptyBody = z.strictObject({});

/** What the analytics routes need. */
export interface AnalyticsRouteDeps {
  db: Kysely<Database>;
  tokens: TokenService;
  analytics: AnalyticsService;
}

/** Registers the view beacon and the admins' report. */
export function analyticsRoutes(app: FastifyInstance, deps: AnalyticsRouteDeps): void {
  const caller = callerOf(deps.db, deps.tokens);

  app.post('/v1/schools/:schoolId/events/:eventId/media/:assetId/views', doc({
    summary: 'Record that the caller is viewing one asset (counted once a day per family); the same access as its media URL',
    params: ViewParams,
    body: EmptyBody,
    success: { status: 204, description: 'Recorded; no body' },
    errors: ['gone'],
  }), async (request, reply) => {
    const { schoolId, eventId, assetId } = parse(ViewParams, request.params, 'path');
    const who = await caller(request, schoolId);
    if (request.body !== undefined && request.body !== null) parse(EmptyBody, request.body);
    await deps.analytics.recordView(who, eventId, assetId);
    return reply.code(204).send();
  });

  app.get('/v1/schools/:schoolId/analytics', doc({
    summary: 'Views, downloads, active families and storage by event and variant against the quota (admins)',
    params: SchoolParams,
    query: ReportQuery,
    response: AnalyticsReportSchema,
    errors: ['forbidden'],
  }), async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return deps.analytics.report(who, parse(ReportQuery, request.query, 'query'));
  });
}
