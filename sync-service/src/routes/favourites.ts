/**
 * `/v1/schools/:schoolId/events/:eventId/favourites…`: the parents' favourites of an event's media,
 * per family (see `services/favourites.ts`).
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { idSchema } from '../../../app/sync/protocol.ts';
import type { TokenService } from '../auth/tokens.ts';
import type { Database } from '../db/schema.ts';
import type { FavouriteService } from '../services/favourites.ts';
import { callerOf } from './auth.ts';
import { parse } from './validation.ts';
import { doc } from '../openapi.ts';

const EventParams = z.object({ schoolId: idSchema, eventId: idSchema });
const AssetParams = EventParams.extend({ assetId: idSchema });

/** Registers the favourites routes. */
export function favouriteRoutes(app: FastifyInstance, deps: { db: Kysely<Database>; tokens: TokenService; favourites: FavouriteService }): void {
  const { favourites } = deps;
  const caller = callerOf(deps.db, deps.tokens);
  const base = '/v1/schools/:schoolId/events/:eventId/favourites';

  app.get(base, doc({ summary: "The caller's family's favourites in an event (parents)", params: EventParams, errors: ['forbidden', 'gone'] }), async (request) => {
    const { schoolId, eventId } = parse(EventParams, request.params, 'path');
    return favourites.list(await caller(request, schoolId), eventId);
  });

  app.put(`${base}/:assetId`, doc({
    summary: "Mark a photo or video as one of the family's favourites (parents)",
    params: AssetParams,
    body: z.strictObject({}),
    errors: ['forbidden', 'gone'],
  }), async (request) => {
    const { schoolId, eventId, assetId } = parse(AssetParams, request.params, 'path');
    if (request.body !== undefined && request.body !== null) parse(z.strictObject({}), request.body);
    return favourites.add(await caller(request, schoolId), eventId, assetId);
  });

  app.delete(`${base}/:assetId`, doc({
    summary: "Take a photo or video off the family's favourites (parents)",
    params: AssetParams,
    success: { status: 204, description: 'Done; no body' },
    errors: ['forbidden', 'gone'],
  }), async (request, reply) => {
    const { schoolId, eventId, assetId } = parse(AssetParams, request.params, 'path');
    await favourites.remove(await caller(request, schoolId), eventId, assetId);
    return reply.code(204).send();
  });
}
