/** `/v1/schools/:schoolId/events…`: every handler resolves the caller's membership first. */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { TokenService } from '../auth/tokens.ts';
import { EVENT_STATES, type Database } from '../db/schema.ts';
import type { EventService } from '../services/events.ts';
import { callerOf } from './auth.ts';
import { parse } from './validation.ts';
import { doc } from '../openapi.ts';

/** A real calendar date as `YYYY-MM-DD` (2025-02-30 is refused, not rolled over). */
const CalendarDate = z.iso.date({ error: 'must be a date as YYYY-MM-DD' });
const Text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);

/** The most classes, or families, one event can list (a school with more wants `scope: 'school'`). */
const MAX_AUDIENCE = 500;
/** A list of class (or family) ids, each kept once, in sorted order. */
const TargetIds = (singular: string, plural: string) =>
  z
    .array(z.string().min(1, 'must not contain an empty id').max(100, 'must contain ids of at most 100 characters'), { error: `must be a list of ${singular} ids` })
    .max(MAX_AUDIENCE, `must list at most ${MAX_AUDIENCE} ${plural}`)
    .transform((ids) => [...new Set(ids)].sort());

/** `{ scope: 'school' }`, or `{ scope: 'some', classIds?, familyIds? }` naming at least one of them. */
const Audience = z.discriminatedUnion(
  'scope',
  [
    z.strictObject({ scope: z.literal('school') }),
    z
      .strictObject({ scope: z.literal('some'), classIds: TargetIds('class', 'classes').default([]), familyIds: TargetIds('family', 'families').default([]) })
      .refine((a) => a.classIds.length + a.familyIds.length > 0, 'must name at least one class or family; for everyone, use { "scope": "school" }'),
  ],
  { error: 'must be { "scope": "school" } or { "scope": "some", "classIds": [...], "familyIds": [...] }' },
);

const Fields = {
  name: Text(200),
  startsOn: CalendarDate,
  endsOn: CalendarDate.nullable(),
  location: Text(200).nullable(),
  description: z.string().max(10_000, 'must be at most 10000 characters').nullable(),
  state: z.enum(EVENT_STATES, { error: `must be one of ${EVENT_STATES.join(', ')}` }),
  audience: Audience,
  galleryExpiresOn: CalendarDate.nullable(),
};

const CreateBody = z.strictObject({
  name: Fields.name,
  startsOn: Fields.startsOn,
  endsOn: Fields.endsOn.default(null),
  location: Fields.location.default(null),
  description: Fields.description.default(null),
  state: Fields.state.default('draft'),
  audience: Fields.audience.default({ scope: 'school' }),
  galleryExpiresOn: Fields.galleryExpiresOn.default(null),
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
    audience: Fields.audience.optional(),
    galleryExpiresOn: Fields.galleryExpiresOn.optional(),
  })
  .refine((body) => Object.keys(body).length > 1, 'name at least one field to change besides version');

const SchoolParams = z.object({ schoolId: z.string().min(1).max(100) });
const EventParams = SchoolParams.extend({ eventId: z.string().min(1).max(100) });

export function eventRoutes(app: FastifyInstance, deps: { db: Kysely<Database>; tokens: TokenService; events: EventService }): void {
  const { db, tokens, events } = deps;

  const caller = callerOf(db, tokens);

  app.get('/v1/schools/:schoolId/events', doc({
    summary: "The school's events the caller may see (staff: all; parents and students: published events of their audience)",
    params: SchoolParams,
  }), async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    return { events: await events.list(await caller(request, schoolId)) };
  });

  app.post('/v1/schools/:schoolId/events', doc({
    summary: 'Create an event (admins and photographers)',
    params: SchoolParams,
    body: CreateBody,
    success: { status: 201, description: 'Created' },
    errors: ['forbidden'],
  }), async (request, reply) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    const created = await events.create(who, parse(CreateBody, request.body));
    return reply.code(201).send(created);
  });

  app.get('/v1/schools/:schoolId/events/:eventId', doc({ summary: 'One event', params: EventParams }), async (request) => {
    const { schoolId, eventId } = parse(EventParams, request.params, 'path');
    return events.get(await caller(request, schoolId), eventId);
  });

  app.patch('/v1/schools/:schoolId/events/:eventId', doc({
    summary: 'Change an event at the version last read (409 with the current event when stale)',
    params: EventParams,
    body: PatchBody,
    errors: ['forbidden', 'conflict'],
  }), async (request) => {
    const { schoolId, eventId } = parse(EventParams, request.params, 'path');
    const who = await caller(request, schoolId);
    const { version, ...changes } = parse(PatchBody, request.body);
    return events.update(who, eventId, version, changes);
  });
}
