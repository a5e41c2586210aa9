/**
 * `/v1/schools/:schoolId/{classes,students,roster,families,changes,devices}…`: students, classes,
 * families and consent, and the change feed desktops poll. Every handler resolves the caller's
 * membership first; bodies are strict (an id, schoolId or deletedAt in a body is a 400).
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { TokenService } from '../auth/tokens.ts';
import { CONSENT_PURPOSES, type Database } from '../db/schema.ts';
import { FeedService, MAX_FEED_LIMIT } from '../services/feed.ts';
import type { PeopleService } from '../services/people.ts';
import { callerOf } from './auth.ts';
import { parse } from './validation.ts';
import { doc } from '../openapi.ts';

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

/** The most consent records one page of `GET /consents` carries. */
export const MAX_CONSENT_PAGE = 1000;
const ConsentListQuery = z.strictObject({
  after: Id.optional(),
  limit: Count.pipe(z.number().min(1, 'must be at least 1').max(MAX_CONSENT_PAGE, `must be at most ${MAX_CONSENT_PAGE}`)).default(MAX_CONSENT_PAGE),
});

const SchoolParams = z.object({ schoolId: Id });
const StudentParams = SchoolParams.extend({ studentId: Id });
const FamilyParams = SchoolParams.extend({ familyId: Id });
const ConsentParams = StudentParams.extend({ purpose: z.enum(CONSENT_PURPOSES, { error: `must be one of ${CONSENT_PURPOSES.join(', ')}` }) });
const DeviceParams = SchoolParams.extend({ deviceId: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, 'must be 1–100 letters, digits or . _ : -') });

export function peopleRoutes(app: FastifyInstance, deps: { db: Kysely<Database>; tokens: TokenService; people: PeopleService }): void {
  const { db, tokens, people } = deps;
  const feed = new FeedService(db);

  const caller = callerOf(db, tokens);
  const base = '/v1/schools/:schoolId';

  // ---- Classes ----
  app.get(`${base}/classes`, doc({ summary: "The school's classes", params: SchoolParams }), async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    return { classes: await people.listClasses(await caller(request, schoolId)) };
  });
  app.post(`${base}/classes`, doc({
    summary: 'Create a class (admins)',
    params: SchoolParams,
    body: ClassBody,
    success: { status: 201, description: 'Created' },
  }), async (request, reply) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return reply.code(201).send(await people.createClass(who, parse(ClassBody, request.body).name));
  });

  // ---- Students ----
  app.get(`${base}/students`, doc({ summary: 'Students the caller may see (staff: all; parents: their children)', params: SchoolParams }), async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    return { students: await people.listStudents(await caller(request, schoolId)) };
  });
  app.post(`${base}/students`, doc({
    summary: 'Add a student (admins)',
    params: SchoolParams,
    body: StudentCreateBody,
    success: { status: 201, description: 'Created' },
  }), async (request, reply) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return reply.code(201).send(await people.createStudent(who, parse(StudentCreateBody, request.body)));
  });
  app.get(`${base}/students/:studentId`, doc({ summary: 'One student', params: StudentParams }), async (request) => {
    const { schoolId, studentId } = parse(StudentParams, request.params, 'path');
    return people.getStudent(await caller(request, schoolId), studentId);
  });
  app.patch(`${base}/students/:studentId`, doc({
    summary: "Change a student's name, class or roster key (admins)",
    params: StudentParams,
    body: StudentPatchBody,
  }), async (request) => {
    const { schoolId, studentId } = parse(StudentParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return people.updateStudent(who, studentId, parse(StudentPatchBody, request.body));
  });
  app.delete(`${base}/students/:studentId`, doc({
    summary: 'Erase a student: personal data, their tagged media and its objects (admins)',
    params: StudentParams,
    success: { status: 204, description: 'Done; no body' },
  }), async (request, reply) => {
    const { schoolId, studentId } = parse(StudentParams, request.params, 'path');
    await people.eraseStudent(await caller(request, schoolId), studentId);
    return reply.code(204).send();
  });

  // ---- Consent ----
  app.get(`${base}/family/children`, doc({
    summary: "The caller's own children, first names only, with their consent (parents)",
    params: SchoolParams,
    errors: ['forbidden'],
  }), async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    return { children: await people.familyChildren(await caller(request, schoolId)) };
  });
  app.get(`${base}/consents`, doc({
    summary: `Every student's consent, a page of at most ${MAX_CONSENT_PAGE} in student-id order; \`next\` is the \`after\` of the next page, null at the end (admins)`,
    params: SchoolParams,
    query: ConsentListQuery,
    errors: ['forbidden'],
  }), async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    const { after, limit } = parse(ConsentListQuery, request.query, 'query');
    return people.listConsents(who, after ?? null, limit);
  });
  app.get(`${base}/students/:studentId/consent`, doc({
    summary: "A student's consent per purpose, with who set it and when",
    params: StudentParams,
  }), async (request) => {
    const { schoolId, studentId } = parse(StudentParams, request.params, 'path');
    return people.getConsent(await caller(request, schoolId), studentId);
  });
  app.put(`${base}/students/:studentId/consent/:purpose`, doc({
    summary: 'Grant or withdraw consent for one purpose',
    params: ConsentParams,
    body: ConsentBody,
  }), async (request) => {
    const { schoolId, studentId, purpose } = parse(ConsentParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return people.setConsent(who, studentId, purpose, parse(ConsentBody, request.body).granted);
  });

  // ---- Roster ----
  app.post(`${base}/roster`, doc({
    summary: 'Import a roster: classes, students and families, matched by roster key',
    params: SchoolParams,
    body: RosterBody,
  }), async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return people.importRoster(who, parse(RosterBody, request.body).rows);
  });

  // ---- Families ----
  app.get(`${base}/families`, doc({ summary: 'Families the caller may see (staff: all; parents: their own)', params: SchoolParams }), async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    return { families: await people.listFamilies(await caller(request, schoolId)) };
  });
  app.post(`${base}/families`, doc({
    summary: 'Create a family (admins)',
    params: SchoolParams,
    body: FamilyBody,
    success: { status: 201, description: 'Created' },
  }), async (request, reply) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return reply.code(201).send(await people.createFamily(who, parse(FamilyBody, request.body)));
  });
  app.get(`${base}/families/:familyId`, doc({ summary: 'One family with its parents and children', params: FamilyParams }), async (request) => {
    const { schoolId, familyId } = parse(FamilyParams, request.params, 'path');
    return people.getFamily(await caller(request, schoolId), familyId);
  });
  app.delete(`${base}/families/:familyId`, doc({
    summary: "Erase a family: its personal data, its parents' access and its children (admins)",
    params: FamilyParams,
    success: { status: 204, description: 'Done; no body' },
  }), async (request, reply) => {
    const { schoolId, familyId } = parse(FamilyParams, request.params, 'path');
    await people.eraseFamily(await caller(request, schoolId), familyId);
    return reply.code(204).send();
  });
  app.post(`${base}/families/:familyId/members`, doc({
    summary: "Link a parent's account to a family (admins)",
    params: FamilyParams,
    body: MemberBody,
  }), async (request) => {
    const { schoolId, familyId } = parse(FamilyParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return people.setFamilyMember(who, familyId, parse(MemberBody, request.body).userId, true);
  });
  app.delete(`${base}/families/:familyId/members/:userId`, doc({
    summary: 'Unlink a parent from a family (admins)',
    params: FamilyParams.extend({ userId: Id }),
  }), async (request) => {
    const { schoolId, familyId, userId } = parse(FamilyParams.extend({ userId: Id }), request.params, 'path');
    return people.setFamilyMember(await caller(request, schoolId), familyId, userId, false);
  });
  app.post(`${base}/families/:familyId/students`, doc({
    summary: 'Link a child to a family (admins)',
    params: FamilyParams,
    body: FamilyStudentBody,
  }), async (request) => {
    const { schoolId, familyId } = parse(FamilyParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return people.setFamilyStudent(who, familyId, parse(FamilyStudentBody, request.body).studentId, true);
  });
  app.delete(`${base}/families/:familyId/students/:studentId`, doc({
    summary: 'Unlink a child from a family (admins)',
    params: FamilyParams.extend({ studentId: Id }),
  }), async (request) => {
    const { schoolId, familyId, studentId } = parse(FamilyParams.extend({ studentId: Id }), request.params, 'path');
    return people.setFamilyStudent(await caller(request, schoolId), familyId, studentId, false);
  });

  // ---- Change feed and device checkpoints (staff) ----
  app.get(`${base}/changes`, doc({
    summary: 'The change feed since a cursor: events, people, consent and members, deletions included',
    params: SchoolParams,
    query: FeedQuery,
  }), async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    const { since, limit } = parse(FeedQuery, request.query, 'query');
    return feed.read(who, since, limit);
  });
  app.get(`${base}/devices/:deviceId/checkpoint`, doc({ summary: 'Where a desktop left the change feed', params: DeviceParams }), async (request) => {
    const { schoolId, deviceId } = parse(DeviceParams, request.params, 'path');
    return feed.getCheckpoint(await caller(request, schoolId), deviceId);
  });
  app.put(`${base}/devices/:deviceId/checkpoint`, doc({
    summary: 'Record where a desktop has applied the change feed to',
    params: DeviceParams,
    body: CheckpointBody,
  }), async (request) => {
    const { schoolId, deviceId } = parse(DeviceParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return feed.setCheckpoint(who, deviceId, parse(CheckpointBody, request.body).seq);
  });
}
