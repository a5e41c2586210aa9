/**
 * `/v1/schools/:schoolId/{classes,students,roster,families,changes,devices}…`: students, classes,
 * families and consent, and the change feed desktops poll. Every handler resolves the caller's
 * membership first; bodies are strict (an id, schoolId or deletedAt in a body is a 400).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { TokenService } from '../auth/tokens.ts';
import { CONSENT_PURPOSES, type Database } from '../db/schema.ts';
import { requireMembership } from '../services/access.ts';
import type { Caller } from '../services/events.ts';
import { FeedService, MAX_FEED_LIMIT } from '../services/feed.ts';
import type { PeopleService } from '../services/people.ts';
import { authenticate } from './auth.ts';
import { parse } from './validation.ts';

const Text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);
const Id = z.string().min(1).max(100);
const Email = z.string().trim().max(320).regex(/^[^\s@,;]+@[^\s@,;]+\.[^\s@,;]+$/, 'must be an e-mail address');

const ClassBody = z.strictObject({ name: Text(100) });

const StudentCreateBody = z.strictObject({
  name: Text(200),
  classId: Id.nullable().default(null),
  remoteRef: Text(200).nullable().default(null),
});

const StudentPatchBody = z
  .strictObject({ name: Text(200).optional(), classId: Id.nullable().optional(), remoteRef: Text(200).nullable().optional() })
  .refine((body) => Object.keys(body).length > 0, 'name at least one field to change');

const RosterBody = z.strictObject({
  rows: z
    .array(
      z.strictObject({
        name: Text(200),
        class: Text(100).nullable().default(null),
        remoteRef: Text(200),
        familyEmail: Email.nullable().optional(),
        consent: z.strictObject({ publish: z.boolean().optional(), yearbook: z.boolean().optional() }).optional(),
      }),
    )
    .max(5000, 'at most 5000 rows per request'),
});

const FamilyBody = z.strictObject({ name: Text(200), email: Email.nullable().default(null) });
const MemberBody = z.strictObject({ userId: Id });
const FamilyStudentBody = z.strictObject({ studentId: Id });
const ConsentBody = z.strictObject({ granted: z.boolean({ error: 'required: true or false' }) });
const CheckpointBody = z.strictObject({ seq: z.number({ error: 'required: the last seq applied' }).int().min(0) });

const Count = z.string().regex(/^\d{1,15}$/, 'must be a whole number').transform(Number);
const FeedQuery = z.strictObject({
  since: Count.default(0),
  limit: Count.pipe(z.number().min(1, 'must be at least 1').max(MAX_FEED_LIMIT, `must be at most ${MAX_FEED_LIMIT}`)).default(500),
});

const SchoolParams = z.object({ schoolId: Id });
const StudentParams = SchoolParams.extend({ studentId: Id });
const FamilyParams = SchoolParams.extend({ familyId: Id });
const ConsentParams = StudentParams.extend({ purpose: z.enum(CONSENT_PURPOSES, { error: `must be one of ${CONSENT_PURPOSES.join(', ')}` }) });
const DeviceParams = SchoolParams.extend({ deviceId: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, 'must be 1–100 letters, digits or . _ : -') });

export function peopleRoutes(app: FastifyInstance, deps: { db: Kysely<Database>; tokens: TokenService; people: PeopleService }): void {
  const { db, tokens, people } = deps;
  const feed = new FeedService(db);

  async function caller(request: FastifyRequest, schoolId: string): Promise<Caller> {
    const userId = await authenticate(tokens, request);
    return { userId, schoolId, role: await requireMembership(db, userId, schoolId) };
  }
  const base = '/v1/schools/:schoolId';

  // ---- Classes ----
  app.get(`${base}/classes`, async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    return { classes: await people.listClasses(await caller(request, schoolId)) };
  });
  app.post(`${base}/classes`, async (request, reply) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return reply.code(201).send(await people.createClass(who, parse(ClassBody, request.body).name));
  });

  // ---- Students ----
  app.get(`${base}/students`, async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    return { students: await people.listStudents(await caller(request, schoolId)) };
  });
  app.post(`${base}/students`, async (request, reply) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return reply.code(201).send(await people.createStudent(who, parse(StudentCreateBody, request.body)));
  });
  app.get(`${base}/students/:studentId`, async (request) => {
    const { schoolId, studentId } = parse(StudentParams, request.params, 'path');
    return people.getStudent(await caller(request, schoolId), studentId);
  });
  app.patch(`${base}/students/:studentId`, async (request) => {
    const { schoolId, studentId } = parse(StudentParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return people.updateStudent(who, studentId, parse(StudentPatchBody, request.body));
  });
  app.delete(`${base}/students/:studentId`, async (request, reply) => {
    const { schoolId, studentId } = parse(StudentParams, request.params, 'path');
    await people.eraseStudent(await caller(request, schoolId), studentId);
    return reply.code(204).send();
  });

  // ---- Consent ----
  app.get(`${base}/students/:studentId/consent`, async (request) => {
    const { schoolId, studentId } = parse(StudentParams, request.params, 'path');
    return people.getConsent(await caller(request, schoolId), studentId);
  });
  app.put(`${base}/students/:studentId/consent/:purpose`, async (request) => {
    const { schoolId, studentId, purpose } = parse(ConsentParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return people.setConsent(who, studentId, purpose, parse(ConsentBody, request.body).granted);
  });

  // ---- Roster ----
  app.post(`${base}/roster`, async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return people.importRoster(who, parse(RosterBody, request.body).rows);
  });

  // ---- Families ----
  app.get(`${base}/families`, async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    return { families: await people.listFamilies(await caller(request, schoolId)) };
  });
  app.post(`${base}/families`, async (request, reply) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return reply.code(201).send(await people.createFamily(who, parse(FamilyBody, request.body)));
  });
  app.get(`${base}/families/:familyId`, async (request) => {
    const { schoolId, familyId } = parse(FamilyParams, request.params, 'path');
    return people.getFamily(await caller(request, schoolId), familyId);
  });
  app.post(`${base}/families/:familyId/members`, async (request) => {
    const { schoolId, familyId } = parse(FamilyParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return people.setFamilyMember(who, familyId, parse(MemberBody, request.body).userId, true);
  });
  app.delete(`${base}/families/:familyId/members/:userId`, async (request) => {
    const { schoolId, familyId, userId } = parse(FamilyParams.extend({ userId: Id }), request.params, 'path');
    return people.setFamilyMember(await caller(request, schoolId), familyId, userId, false);
  });
  app.post(`${base}/families/:familyId/students`, async (request) => {
    const { schoolId, familyId } = parse(FamilyParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return people.setFamilyStudent(who, familyId, parse(FamilyStudentBody, request.body).studentId, true);
  });
  app.delete(`${base}/families/:familyId/students/:studentId`, async (request) => {
    const { schoolId, familyId, studentId } = parse(FamilyParams.extend({ studentId: Id }), request.params, 'path');
    return people.setFamilyStudent(await caller(request, schoolId), familyId, studentId, false);
  });

  // ---- Change feed and device checkpoints (staff) ----
  app.get(`${base}/changes`, async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    const { since, limit } = parse(FeedQuery, request.query, 'query');
    return feed.read(who, since, limit);
  });
  app.get(`${base}/devices/:deviceId/checkpoint`, async (request) => {
    const { schoolId, deviceId } = parse(DeviceParams, request.params, 'path');
    return feed.getCheckpoint(await caller(request, schoolId), deviceId);
  });
  app.put(`${base}/devices/:deviceId/checkpoint`, async (request) => {
    const { schoolId, deviceId } = parse(DeviceParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return feed.setCheckpoint(who, deviceId, parse(CheckpointBody, request.body).seq);
  });
}
