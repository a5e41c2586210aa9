/** `/v1/schools/:schoolId/events…`: every handler resolves the caller's membership first. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { TokenService } from '../auth/tokens.ts';
import { EVENT_STATES, type Database } from '../db/schema.ts';
import { requireMembership } from '../services/access.ts';
import type { Caller, EventService } from '../services/events.ts';
import { authenticate } from './auth.ts';
import { parse } from './validation.ts';

/** A real calendar date as `YYYY-MM-DD` (2025-02-30 is refused, not rolled over). */
const CalendarDate = z.iso.date({ error: 'must be a date as YYYY-MM-DD' });
const Text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);

const Fields = {
  name: Text(200),
  startsOn: CalendarDate,
  endsOn: CalendarDate.nullable(),
  location: Text(200).nullable(),
  description: z.string().max(10_000, 'must be at most 10000 characters').nullable(),
  state: z.enum(EVENT_STATES, { error: `must be one of ${EVENT_STATES.join(', ')}` }),
};

const CreateBody = z.strictObject({
  name: Fields.name,
  startsOn: Fields.startsOn,
  endsOn: Fields.endsOn.default(null),
  location: Fields.location.default(null),
  description: Fields.description.default(null),
  state: Fields.state.default('draft'),
});

const PatchBody = z
  .strictObject({
    version: z.number({ error: 'required: the version you last read' }).int().min(1),
    name: Fields.name.optional(),
    startsOn: Fields.startsOn.optional(),
    endsOn: Fields.endsOn.optional(),
    location: Fields.location.optional(),
    description: Fields.description.optional(),
    state: Fields.state.optional(),
  })
  .refine((body) => Object.keys(body).length > 1, 'name at least one field to change besides version');

const SchoolParams = z.object({ schoolId: z.string().min(1).max(100) });
const EventParams = SchoolParams.extend({ eventId: z.string().min(1).max(100) });

export function eventRoutes(app: FastifyInstance, deps: { db: Kysely<Database>; tokens: TokenService; events: EventService }): void {
  const { db, tokens, events } = deps;

  async function caller(request: FastifyRequest, schoolId: string): Promise<Caller> {
    const userId = await authenticate(tokens, request);
    return { userId, schoolId, role: await requireMembership(db, userId, schoolId) };
  }

  app.get('/v1/schools/:schoolId/events', async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    return { events: await events.list(await caller(request, schoolId)) };
  });

  app.post('/v1/schools/:schoolId/events', async (request, reply) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    const created = await events.create(who, parse(CreateBody, request.body));
    return reply.code(201).send(created);
  });

  app.get('/v1/schools/:schoolId/events/:eventId', async (request) => {
    const { schoolId, eventId } = parse(EventParams, request.params, 'path');
    return events.get(await caller(request, schoolId), eventId);
  });

  app.patch('/v1/schools/:schoolId/events/:eventId', async (request) => {
    const { schoolId, eventId } = parse(EventParams, request.params, 'path');
    const who = await caller(request, schoolId);
    const { version, ...changes } = parse(PatchBody, request.body);
    return events.update(who, eventId, version, changes);
  });
}
