/**
 * Least privilege across the whole API, as one matrix: every route the app registers × every principal
 * (each role of two schools, a parent per family, an outsider, no token, an expired and a forged token)
 * × every target (ids of school A and B, of family 1 and 2, of a draft event and of published events for
 * the whole school, for family 1 and for the class, and ids of one school asked for under the other
 * school's path). Each cell is compared with a small policy per route
 * that mirrors the README's tables, and every response body is scanned for ids, names and e-mails the
 * principal may not know (the other school; for a parent, the other family; for parents and students,
 * drafts and published events they are not in the audience of).
 *
 * The route list comes from the app itself (`onRoute`), so a new route fails this suite until it is
 * classified here.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3Server } from '../../app/test/s3-server.ts';
import { buildApp } from './app.ts';
import { generatePem, keysFromPem } from './auth/keys.ts';
import type { Role } from './db/schema.ts';
import { S3ObjectStore } from './services/storage.ts';
import { TEST_DATABASES } from './test/databases.ts';
import { injectAs, TEST_SCRYPT, TEST_TOKENS, startHarness, type Harness } from './test/harness.ts';

type Method = 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
type SchoolKey = 'A' | 'B';
type FamilyKey = 1 | 2;
/**
 * `published` is for the whole school; `forFamily` is published for family 1 of its school only; `forClass`
 * is published for the school's class (every family's children are in it).
 */
type EventKind = 'draft' | 'published' | 'forFamily' | 'forClass';
const EVENT_KINDS: readonly EventKind[] = ['draft', 'published', 'forFamily', 'forClass'];
/** The family a `forFamily` event is for. */
const TARGETED_FAMILY: FamilyKey = 1;

/** Routes anyone may call: no school data behind them. Anything under /v1/auth/ is the auth helper's (sign-in, OIDC, access codes). */
const PUBLIC_ROUTES = new Set(['GET /healthz', 'GET /readyz', 'GET /metrics', 'POST /v1/auth/sign-in', 'POST /v1/auth/refresh', 'POST /v1/auth/sign-out', 'GET /v1/openapi.json']);
/** The one-click unsubscribe link: its signed token is the authorisation, and it can only turn e-mail off. */
PUBLIC_ROUTES.add('GET /v1/notifications/unsubscribe').add('POST /v1/notifications/unsubscribe');
/** The gallery's pages and files (no data in them) and its cookie sessions, which are sign-in like /v1/auth/. */
const GALLERY_ROUTES = new Set(['GET /', 'GET /sign-in', 'GET /invite', 'GET /events', 'GET /events/:eventId', 'GET /family', 'GET /assets/:name']);
const isPublic = (key: string) => PUBLIC_ROUTES.has(key) || GALLERY_ROUTES.has(key) || / \/v1\/(auth|web)\//.test(key);

interface Family {
  id: string;
  name: string;
  email: string;
  parent: User;
  /** A second parent of the family (not a principal): the one the member routes link and unlink. */
  coParent: User;
  children: Array<{ id: string; name: string }>;
  /** Erased by DELETE /students/:id. */
  eraseVictim: { id: string; name: string };
  /** Unlinked and relinked by the family-student routes. */
  unlinkVictim: { id: string; name: string };
}

interface User {
  id: string;
  email: string;
  name: string;
  token: string;
}

interface School {
  key: SchoolKey;
  id: string;
  slug: string;
  name: string;
  users: Record<'admin' | 'photographer' | 'teacher' | 'student', User>;
  classId: string;
  className: string;
  families: Record<FamilyKey, Family>;
  events: Record<EventKind, { id: string; name: string; assetId: string }>;
  reservationId: string;
  deviceId: string;
  /** Pending invitations: one the resend route renews, one the revoke route withdraws. */
  inviteIds: { resend: string; revoke: string };
  /** Members (not principals) whose role the member routes set and whose access they remove. */
  memberTargets: { roleChange: User; removal: User };
}

interface World {
  A: School;
  B: School;
}

/** Who calls: a member (role, school, family for parents) or one of the unauthenticated kinds. */
interface Principal {
  label: string;
  kind: 'member' | 'outsider' | 'anonymous' | 'expired' | 'forged';
  token: string | undefined;
  school?: SchoolKey;
  role?: Role;
  family?: FamilyKey;
}

/** What a request names: the school in the path, and whose resources (school, family, event) it names. */
interface Target {
  path: SchoolKey;
  res: SchoolKey;
  family: FamilyKey;
  event: EventKind;
}

/** The caller as a policy sees it: a member of the path's school. */
interface Ctx {
  role: Role;
  /** The target's resources are in the path's school. */
  own: boolean;
  /** The caller is a parent of the target family (in the path's school). */
  ownFamily: boolean;
  /** The caller's own family, for parents. */
  callerFamily: FamilyKey | undefined;
  event: EventKind;
}

interface RouteSpec {
  method: Method;
  url: string;
  /** Which target dimensions change the request (the path school always does). */
  dims: Array<'res' | 'family' | 'event'>;
  /** The concrete path for a target. */
  path: (t: Target, w: World) => string;
  /** A valid body for the target (read at send time: PATCH bodies carry the current version). */
  body?: (t: Target, w: World, h: Harness) => unknown;
  /** The expected status for a member of the path's school. */
  policy: (c: Ctx) => number;
  /** Writes something when allowed: run one at a time, after every read and every denied request. */
  mutates: boolean;
}

const staff = (r: Role) => r === 'admin' || r === 'photographer' || r === 'teacher';
const editor = (r: Role) => r === 'admin' || r === 'photographer';
const reader = (r: Role) => staff(r) || r === 'parent';
/** May see a student or family of the target: staff of its school, or its own parent. */
const seesPerson = (c: Ctx) => c.own && (staff(c.role) || (c.role === 'parent' && c.ownFamily));
/**
 * May see the target event: staff; anyone of the school when it is published for the whole school; the
 * parents of the family a family event is for; the parents of the class's children for a class event
 * (student accounts are linked to no student record, so no class: school-wide only).
 */
const seesEvent = (c: Ctx) =>
  c.own && (staff(c.role) || c.event === 'published' || (c.role === 'parent' && (c.event === 'forClass' || (c.event === 'forFamily' && c.callerFamily === TARGETED_FAMILY))));
/** Read first (404 when hidden), then the write rule (403 when visible but not allowed). */
const readThenWrite = (sees: (c: Ctx) => boolean, may: (r: Role) => boolean, ok: number) => (c: Ctx) => (!sees(c) ? 404 : !may(c.role) ? 403 : ok);
/** Collection writes name no resource, so there is nothing to hide: a role that may not write gets 403. */
const writeOnly = (may: (r: Role) => boolean, ok: number) => (c: Ctx) => (may(c.role) ? ok : 403);
const readOnly = (sees: (c: Ctx) => boolean) => (c: Ctx) => (sees(c) ? 200 : 404);

let counter = 0;
const unique = (prefix: string) => `${prefix} ${++counter}`;

const school = (t: Target, w: World) => w[t.path].id;
const res = (t: Target, w: World) => w[t.res];
const family = (t: Target, w: World) => res(t, w).families[t.family];
const child = (t: Target, w: World) => family(t, w).children[0] as { id: string; name: string };
const event = (t: Target, w: World) => res(t, w).events[t.event];
const base = (t: Target, w: World) => `/v1/schools/${school(t, w)}`;

function manifestFor(s: School, kind: EventKind) {
  const e = s.events[kind];
  const people = [1, 2].flatMap((f) => s.families[f as FamilyKey].children.map((c) => c.id));
  return {
    assets: [
      {
        id: e.assetId,
        kind: 'photo',
        capturedAt: '2026-06-12T10:00:00.000Z',
        width: 4000,
        height: 3000,
        durationSec: null,
        rating: 3,
        title: `${s.slug}-${kind}-title`,
        description: null,
        tags: ['matrix'],
        people,
        variants: {
          thumb: { key: objectKey(s, kind, 'thumb.webp'), size: OBJECT_BODY.length, hash: `h-${e.assetId}-thumb` },
          preview: { key: objectKey(s, kind, 'preview.jpg'), size: OBJECT_BODY.length, hash: `h-${e.assetId}-preview` },
        },
      },
    ],
  };
}
const OBJECT_BODY = Buffer.from('matrix object bytes');
const objectKey = (s: School, kind: EventKind, file: string) => `schools/${s.slug}/events/${s.events[kind].id}/${s.events[kind].assetId}/${file}`;

/** The matrix's classification of every non-public route. */
const ROUTES: RouteSpec[] = [
  // ---- Events ----
  { method: 'GET', url: '/v1/schools/:schoolId/events', dims: [], path: (t, w) => `${base(t, w)}/events`, policy: () => 200, mutates: false },
  {
    method: 'POST',
    url: '/v1/schools/:schoolId/events',
    dims: [],
    path: (t, w) => `${base(t, w)}/events`,
    body: () => ({ name: unique('Matrix event'), startsOn: '2026-07-01' }),
    policy: writeOnly(editor, 201),
    mutates: true,
  },
  {
    method: 'GET',
    url: '/v1/schools/:schoolId/events/:eventId',
    dims: ['res', 'event'],
    path: (t, w) => `${base(t, w)}/events/${event(t, w).id}`,
    policy: readOnly(seesEvent),
    mutates: false,
  },
  {
    method: 'PATCH',
    url: '/v1/schools/:schoolId/events/:eventId',
    dims: ['res', 'event'],
    path: (t, w) => `${base(t, w)}/events/${event(t, w).id}`,
    body: async (t, w, h) => {
      const row = await h.db.kysely.selectFrom('events').select('version').where('id', '=', event(t, w).id).executeTakeFirstOrThrow();
      return { version: row.version, location: unique('Hall') };
    },
    policy: readThenWrite(seesEvent, editor, 200),
    mutates: true,
  },
  // ---- Classes, students, consent, roster ----
  { method: 'GET', url: '/v1/schools/:schoolId/classes', dims: [], path: (t, w) => `${base(t, w)}/classes`, policy: (c) => (staff(c.role) ? 200 : 404), mutates: false },
  {
    method: 'POST',
    url: '/v1/schools/:schoolId/classes',
    dims: [],
    path: (t, w) => `${base(t, w)}/classes`,
    body: () => ({ name: unique('Class') }),
    policy: writeOnly((r) => r === 'admin', 201),
    mutates: true,
  },
  { method: 'GET', url: '/v1/schools/:schoolId/students', dims: [], path: (t, w) => `${base(t, w)}/students`, policy: (c) => (reader(c.role) ? 200 : 404), mutates: false },
  {
    method: 'POST',
    url: '/v1/schools/:schoolId/students',
    dims: [],
    path: (t, w) => `${base(t, w)}/students`,
    body: () => ({ name: unique('New student') }),
    policy: writeOnly((r) => r === 'admin', 201),
    mutates: true,
  },
  {
    method: 'GET',
    url: '/v1/schools/:schoolId/students/:studentId',
    dims: ['res', 'family'],
    path: (t, w) => `${base(t, w)}/students/${child(t, w).id}`,
    policy: readOnly(seesPerson),
    mutates: false,
  },
  {
    method: 'PATCH',
    url: '/v1/schools/:schoolId/students/:studentId',
    dims: ['res', 'family'],
    path: (t, w) => `${base(t, w)}/students/${child(t, w).id}`,
    body: (t, w) => ({ name: child(t, w).name }),
    policy: readThenWrite(seesPerson, (r) => r === 'admin', 200),
    mutates: true,
  },
  {
    method: 'DELETE',
    url: '/v1/schools/:schoolId/students/:studentId',
    dims: ['res', 'family'],
    path: (t, w) => `${base(t, w)}/students/${family(t, w).eraseVictim.id}`,
    policy: readThenWrite(seesPerson, (r) => r === 'admin', 204),
    mutates: true,
  },
  {
    method: 'GET',
    url: '/v1/schools/:schoolId/students/:studentId/consent',
    dims: ['res', 'family'],
    path: (t, w) => `${base(t, w)}/students/${child(t, w).id}/consent`,
    policy: readOnly(seesPerson),
    mutates: false,
  },
  {
    method: 'GET',
    url: '/v1/schools/:schoolId/students/:studentId/consent/history',
    dims: ['res', 'family'],
    path: (t, w) => `${base(t, w)}/students/${child(t, w).id}/consent/history`,
    // The role is checked before the student is looked up: a 403 whatever the id.
    policy: (c) => (c.role !== 'admin' ? 403 : !c.own ? 404 : 200),
    mutates: false,
  },
  // Every student's consent at once: the admin's People screen. The role is checked first: a 403 for any other member.
  { method: 'GET', url: '/v1/schools/:schoolId/consents', dims: [], path: (t, w) => `${base(t, w)}/consents`, policy: (c) => (c.role === 'admin' ? 200 : 403), mutates: false },
  { method: 'GET', url: '/v1/schools/:schoolId/family/children', dims: [], path: (t, w) => `${base(t, w)}/family/children`, policy: (c) => (c.role === 'parent' ? 200 : 403), mutates: false },
  {
    method: 'PUT',
    url: '/v1/schools/:schoolId/students/:studentId/consent/:purpose',
    dims: ['res', 'family'],
    path: (t, w) => `${base(t, w)}/students/${child(t, w).id}/consent/publish`,
    body: () => ({ granted: true }),
    policy: readThenWrite(seesPerson, (r) => r === 'admin' || r === 'parent', 200),
    mutates: true,
  },
  {
    method: 'POST',
    url: '/v1/schools/:schoolId/roster',
    dims: [],
    path: (t, w) => `${base(t, w)}/roster`,
    body: () => ({ rows: [{ name: unique('Roster kid'), class: null, remoteRef: unique('ref') }] }),
    policy: writeOnly((r) => r === 'admin', 200),
    mutates: true,
  },
  // ---- Families ----
  { method: 'GET', url: '/v1/schools/:schoolId/families', dims: [], path: (t, w) => `${base(t, w)}/families`, policy: (c) => (reader(c.role) ? 200 : 404), mutates: false },
  {
    method: 'POST',
    url: '/v1/schools/:schoolId/families',
    dims: [],
    path: (t, w) => `${base(t, w)}/families`,
    body: () => ({ name: unique('New family') }),
    policy: writeOnly((r) => r === 'admin', 201),
    mutates: true,
  },
  {
    method: 'GET',
    url: '/v1/schools/:schoolId/families/:familyId',
    dims: ['res', 'family'],
    path: (t, w) => `${base(t, w)}/families/${family(t, w).id}`,
    policy: readOnly(seesPerson),
    mutates: false,
  },
  {
    method: 'POST',
    url: '/v1/schools/:schoolId/families/:familyId/members',
    dims: ['res', 'family'],
    path: (t, w) => `${base(t, w)}/families/${family(t, w).id}/members`,
    body: (t, w) => ({ userId: family(t, w).coParent.id }),
    policy: readThenWrite(seesPerson, (r) => r === 'admin', 200),
    mutates: true,
  },
  {
    method: 'DELETE',
    url: '/v1/schools/:schoolId/families/:familyId/members/:userId',
    dims: ['res', 'family'],
    path: (t, w) => `${base(t, w)}/families/${family(t, w).id}/members/${family(t, w).coParent.id}`,
    policy: readThenWrite(seesPerson, (r) => r === 'admin', 200),
    mutates: true,
  },
  {
    method: 'POST',
    url: '/v1/schools/:schoolId/families/:familyId/students',
    dims: ['res', 'family'],
    path: (t, w) => `${base(t, w)}/families/${family(t, w).id}/students`,
    body: (t, w) => ({ studentId: family(t, w).unlinkVictim.id }),
    policy: readThenWrite(seesPerson, (r) => r === 'admin', 200),
    mutates: true,
  },
  {
    method: 'DELETE',
    url: '/v1/schools/:schoolId/families/:familyId/students/:studentId',
    dims: ['res', 'family'],
    path: (t, w) => `${base(t, w)}/families/${family(t, w).id}/students/${family(t, w).unlinkVictim.id}`,
    policy: readThenWrite(seesPerson, (r) => r === 'admin', 200),
    mutates: true,
  },
  {
    method: 'POST',
    url: '/v1/schools/:schoolId/families/:familyId/access-code',
    dims: ['res', 'family'],
    path: (t, w) => `${base(t, w)}/families/${family(t, w).id}/access-code`,
    // Staff see the family (403 unless admin); parents and students get the family routes' 404.
    policy: readThenWrite((c) => c.own && staff(c.role), (r) => r === 'admin', 201),
    mutates: true,
  },
  {
    method: 'DELETE',
    url: '/v1/schools/:schoolId/families/:familyId/access-code',
    dims: ['res', 'family'],
    path: (t, w) => `${base(t, w)}/families/${family(t, w).id}/access-code`,
    policy: readThenWrite((c) => c.own && staff(c.role), (r) => r === 'admin', 204),
    mutates: true,
  },
  // ---- Change feed and device checkpoints (staff) ----
  { method: 'GET', url: '/v1/schools/:schoolId/changes', dims: [], path: (t, w) => `${base(t, w)}/changes?since=0&limit=1000`, policy: (c) => (staff(c.role) ? 200 : 404), mutates: false },
  {
    method: 'GET',
    url: '/v1/schools/:schoolId/devices/:deviceId/checkpoint',
    dims: ['res'],
    path: (t, w) => `${base(t, w)}/devices/${res(t, w).deviceId}/checkpoint`,
    policy: (c) => (staff(c.role) && c.own ? 200 : 404),
    mutates: false,
  },
  {
    method: 'PUT',
    url: '/v1/schools/:schoolId/devices/:deviceId/checkpoint',
    dims: [],
    path: (t, w) => `${base(t, w)}/devices/${w[t.path].deviceId}/checkpoint`,
    body: () => ({ seq: 0 }),
    // The README gives checkpoints to staff (teachers' desktops poll the feed too).
    policy: (c) => (staff(c.role) ? 200 : 404),
    mutates: true,
  },
  // ---- Quota and media ----
  {
    method: 'POST',
    url: '/v1/schools/:schoolId/quota/reservations',
    dims: ['res', 'event'],
    path: (t, w) => `${base(t, w)}/quota/reservations`,
    body: (t, w) => ({ eventId: event(t, w).id, bytes: 1000, objects: 2 }),
    // The role is checked before the event is looked up: a 403 whatever the id, so it tells nothing.
    policy: (c) => (!editor(c.role) ? 403 : !c.own ? 404 : 201),
    mutates: true,
  },
  {
    method: 'POST',
    url: '/v1/schools/:schoolId/quota/reservations/:reservationId/release',
    dims: ['res'],
    path: (t, w) => `${base(t, w)}/quota/reservations/${res(t, w).reservationId}/release`,
    body: () => ({}),
    policy: (c) => (!editor(c.role) ? 403 : !c.own ? 404 : 200),
    mutates: true,
  },
  { method: 'GET', url: '/v1/schools/:schoolId/quota', dims: [], path: (t, w) => `${base(t, w)}/quota`, policy: (c) => (c.role === 'admin' ? 200 : 403), mutates: false },
  {
    method: 'PUT',
    url: '/v1/schools/:schoolId/events/:eventId/manifest',
    dims: ['res', 'event'],
    path: (t, w) => `${base(t, w)}/events/${event(t, w).id}/manifest`,
    // The same manifest the world was published with: an allowed PUT changes nothing.
    body: (t, w) => manifestFor(res(t, w), t.event),
    policy: readThenWrite(seesEvent, editor, 200),
    mutates: true,
  },
  {
    method: 'GET',
    url: '/v1/schools/:schoolId/events/:eventId/media',
    dims: ['res', 'event'],
    path: (t, w) => `${base(t, w)}/events/${event(t, w).id}/media`,
    policy: readOnly(seesEvent),
    mutates: false,
  },
  {
    method: 'GET',
    url: '/v1/schools/:schoolId/events/:eventId/media/:assetId/:variant',
    dims: ['res', 'event'],
    path: (t, w) => `${base(t, w)}/events/${event(t, w).id}/media/${event(t, w).assetId}/thumb`,
    policy: readOnly(seesEvent),
    mutates: false,
  },
  // ---- Gallery analytics: a view is recorded where the media URL answers; the report is the admins' ----
  {
    method: 'POST',
    url: '/v1/schools/:schoolId/events/:eventId/media/:assetId/views',
    dims: ['res', 'event'],
    path: (t, w) => `${base(t, w)}/events/${event(t, w).id}/media/${event(t, w).assetId}/views`,
    policy: (c) => (seesEvent(c) ? 204 : 404),
    mutates: true,
  },
  {
    method: 'GET',
    url: '/v1/schools/:schoolId/analytics',
    dims: ['res', 'event'],
    path: (t, w) => `${base(t, w)}/analytics?eventId=${event(t, w).id}`,
    // The role is checked before the event is looked up, as for the quota: a 403 whatever the id.
    policy: (c) => (c.role !== 'admin' ? 403 : !c.own ? 404 : 200),
    mutates: false,
  },
  { method: 'GET', url: '/v1/schools/:schoolId/media/counts', dims: [], path: (t, w) => `${base(t, w)}/media/counts`, policy: () => 200, mutates: false },
  // ---- Favourites (a family's: staff and students, who have none, get 403 once the event is visible) ----
  {
    method: 'GET',
    url: '/v1/schools/:schoolId/events/:eventId/favourites',
    dims: ['res', 'event'],
    path: (t, w) => `${base(t, w)}/events/${event(t, w).id}/favourites`,
    policy: readThenWrite(seesEvent, (r) => r === 'parent', 200),
    mutates: false,
  },
  {
    method: 'PUT',
    url: '/v1/schools/:schoolId/events/:eventId/favourites/:assetId',
    dims: ['res', 'event'],
    path: (t, w) => `${base(t, w)}/events/${event(t, w).id}/favourites/${event(t, w).assetId}`,
    body: () => ({}),
    policy: readThenWrite(seesEvent, (r) => r === 'parent', 200),
    mutates: true,
  },
  {
    method: 'DELETE',
    url: '/v1/schools/:schoolId/events/:eventId/favourites/:assetId',
    dims: ['res', 'event'],
    path: (t, w) => `${base(t, w)}/events/${event(t, w).id}/favourites/${event(t, w).assetId}`,
    policy: readThenWrite(seesEvent, (r) => r === 'parent', 204),
    mutates: true,
  },
  // ---- Invitations (admins; any other role gets 403 before the invitation is looked up, so it tells nothing) ----
  { method: 'GET', url: '/v1/schools/:schoolId/invites', dims: [], path: (t, w) => `${base(t, w)}/invites`, policy: (c) => (c.role === 'admin' ? 200 : 403), mutates: false },
  {
    method: 'POST',
    url: '/v1/schools/:schoolId/invites',
    dims: [],
    path: (t, w) => `${base(t, w)}/invites`,
    body: () => ({ email: `${unique('invitee').replace(' ', '-')}@matrix.test`, role: 'teacher' }),
    policy: writeOnly((r) => r === 'admin', 201),
    mutates: true,
  },
  {
    method: 'POST',
    url: '/v1/schools/:schoolId/invites/:inviteId/resend',
    dims: ['res'],
    path: (t, w) => `${base(t, w)}/invites/${res(t, w).inviteIds.resend}/resend`,
    policy: (c) => (c.role !== 'admin' ? 403 : !c.own ? 404 : 200),
    mutates: true,
  },
  {
    method: 'DELETE',
    url: '/v1/schools/:schoolId/invites/:inviteId',
    dims: ['res'],
    path: (t, w) => `${base(t, w)}/invites/${res(t, w).inviteIds.revoke}`,
    policy: (c) => (c.role !== 'admin' ? 403 : !c.own ? 404 : 204),
    mutates: true,
  },
  // ---- Members: staff see the list (admins with e-mail), admins change and remove ----
  { method: 'GET', url: '/v1/schools/:schoolId/members', dims: [], path: (t, w) => `${base(t, w)}/members`, policy: (c) => (staff(c.role) ? 200 : 404), mutates: false },
  {
    method: 'PATCH',
    url: '/v1/schools/:schoolId/members/:userId',
    dims: ['res'],
    path: (t, w) => `${base(t, w)}/members/${res(t, w).memberTargets.roleChange.id}`,
    // The role it already has: an allowed PATCH changes nothing.
    body: () => ({ role: 'teacher' }),
    policy: readThenWrite((c) => c.own && staff(c.role), (r) => r === 'admin', 200),
    mutates: true,
  },
  {
    method: 'DELETE',
    url: '/v1/schools/:schoolId/members/:userId',
    dims: ['res'],
    path: (t, w) => `${base(t, w)}/members/${res(t, w).memberTargets.removal.id}`,
    policy: readThenWrite((c) => c.own && staff(c.role), (r) => r === 'admin', 204),
    mutates: true,
  },
  // ---- Audit log: the admins' ----
  { method: 'GET', url: '/v1/schools/:schoolId/audit', dims: [], path: (t, w) => `${base(t, w)}/audit?limit=20`, policy: (c) => (c.role === 'admin' ? 200 : 403), mutates: false },
  // ---- Notifications: every member has their own settings; admins set the school's sender ----
  { method: 'GET', url: '/v1/schools/:schoolId/me/notifications', dims: [], path: (t, w) => `${base(t, w)}/me/notifications`, policy: () => 200, mutates: false },
  {
    method: 'PUT',
    url: '/v1/schools/:schoolId/me/notifications',
    dims: [],
    path: (t, w) => `${base(t, w)}/me/notifications`,
    body: () => ({ email: true, sms: false, phone: null }),
    policy: () => 200,
    mutates: true,
  },
  { method: 'GET', url: '/v1/schools/:schoolId/notification-sender', dims: [], path: (t, w) => `${base(t, w)}/notification-sender`, policy: (c) => (c.role === 'admin' ? 200 : 403), mutates: false },
  {
    method: 'PUT',
    url: '/v1/schools/:schoolId/notification-sender',
    dims: [],
    path: (t, w) => `${base(t, w)}/notification-sender`,
    body: () => ({ displayName: null, replyTo: null }),
    policy: (c) => (c.role === 'admin' ? 200 : 403),
    mutates: true,
  },
  // Family erasure: last in the table, so it runs after every other allowed DELETE (it removes the family's parents and children).
  {
    method: 'DELETE',
    url: '/v1/schools/:schoolId/families/:familyId',
    dims: ['res', 'family'],
    path: (t, w) => `${base(t, w)}/families/${family(t, w).id}`,
    policy: readThenWrite(seesPerson, (r) => r === 'admin', 204),
    mutates: true,
  },
];

const ALL_TARGETS: Target[] = (['A', 'B'] as const).flatMap((path) =>
  (['A', 'B'] as const).flatMap((r) => ([1, 2] as const).flatMap((f) => EVENT_KINDS.map((e) => ({ path, res: r, family: f, event: e })))),
);

/** The targets that differ for a route (the others would repeat the same request). */
function targetsOf(spec: RouteSpec): Target[] {
  const seen = new Map<string, Target>();
  for (const t of ALL_TARGETS) {
    const key = [t.path, spec.dims.includes('res') ? t.res : '-', spec.dims.includes('family') ? t.family : '-', spec.dims.includes('event') ? t.event : '-'].join('/');
    if (!seen.has(key)) seen.set(key, spec.dims.includes('res') ? t : { ...t, res: t.path });
  }
  return [...seen.values()];
}

function expected(spec: RouteSpec, p: Principal, t: Target): number {
  if (p.kind === 'anonymous' || p.kind === 'expired' || p.kind === 'forged') return 401;
  if (p.kind === 'outsider' || p.school !== t.path || p.role === undefined) return 404;
  return spec.policy({ role: p.role, own: t.res === t.path, ownFamily: p.family === t.family, callerFamily: p.family, event: t.event });
}

/** Every id, name and e-mail of a school. */
function schoolStrings(s: School): string[] {
  const users = [
    ...Object.values(s.users),
    ...Object.values(s.memberTargets),
    ...[1, 2].flatMap((f) => [s.families[f as FamilyKey].parent, s.families[f as FamilyKey].coParent]),
  ];
  return [
    s.id,
    s.name,
    s.slug,
    s.classId,
    s.className,
    s.reservationId,
    s.deviceId,
    ...users.flatMap((u) => [u.id, u.email, u.name]),
    ...Object.values(s.inviteIds),
    ...[1, 2].map((n) => `${s.slug}-invitee-${n}@${s.slug}.test`),
    ...[1, 2].flatMap((f) => familyStrings(s.families[f as FamilyKey])),
    ...Object.values(s.events).flatMap((e) => [e.id, e.name, e.assetId]),
  ];
}

function familyStrings(f: Family): string[] {
  return [f.id, f.name, f.email, ...[f.parent, f.coParent].flatMap((u) => [u.id, u.email, u.name]), ...[...f.children, f.eraseVictim, f.unlinkVictim].flatMap((c) => [c.id, c.name])];
}

/** What `p` may never read in any body. */
function secretsOf(p: Principal, w: World): string[] {
  if (p.school === undefined) return [...schoolStrings(w.A), ...schoolStrings(w.B)];
  const mine = w[p.school];
  const other = w[p.school === 'A' ? 'B' : 'A'];
  const secrets = schoolStrings(other);
  const strings = (kind: EventKind) => [mine.events[kind].id, mine.events[kind].name, mine.events[kind].assetId];
  if (p.role === 'parent' && p.family !== undefined) {
    secrets.push(...familyStrings(mine.families[p.family === 1 ? 2 : 1]), ...strings('draft'), ...(p.family === TARGETED_FAMILY ? [] : strings('forFamily')));
  }
  if (p.role === 'student') secrets.push(...familyStrings(mine.families[1]), ...familyStrings(mine.families[2]), ...strings('draft'), ...strings('forFamily'), ...strings('forClass'));
  return secrets;
}

interface Cell {
  spec: RouteSpec;
  /** The spec's method, or HEAD for the twin Fastify adds to every GET. */
  method: Method;
  principal: Principal;
  target: Target;
  want: number;
}

let s3: S3Server;

beforeAll(async () => {
  s3 = await startS3Server();
}, 60_000);
afterAll(() => s3.close());

describe.each(TEST_DATABASES)('authorization matrix on $name', (target) => {
  let h: Harness;
  let app: FastifyInstance;
  const routes: string[] = [];
  let world: World;
  let principals: Principal[];

  const inject = (method: Method, url: string, token: string | undefined, body?: unknown): Promise<LightMyRequestResponse> =>
    injectAs(app, method, url, token, body);

  async function ok<T>(method: Method, url: string, token: string, body?: unknown): Promise<T> {
    const response = await inject(method, url, token, body);
    if (response.statusCode >= 300) throw new Error(`seeding ${method} ${url}: ${response.statusCode} ${response.body}`);
    return response.json<T>();
  }

  async function user(slug: string, label: string, schoolId: string, role: Role): Promise<User> {
    const email = `${slug}-${label}@${slug}.test`;
    const id = await h.createUser(email, [[schoolId, role]]);
    return { id, email, name: `${slug}-${label}`, token: await h.tokens.issue(id) };
  }

  async function seedSchool(key: SchoolKey, slug: string): Promise<School> {
    const id = await h.createSchool(slug);
    const users = {
      admin: await user(slug, 'admin', id, 'admin'),
      photographer: await user(slug, 'photographer', id, 'photographer'),
      teacher: await user(slug, 'teacher', id, 'teacher'),
      student: await user(slug, 'pupil', id, 'student'),
    };
    const admin = users.admin.token;
    const url = (p: string) => `/v1/schools/${id}${p}`;
    const className = `${slug}-class-3B`;
    const klass = await ok<{ id: string }>('POST', url('/classes'), admin, { name: className });
    const families = {} as Record<FamilyKey, Family>;
    for (const f of [1, 2] as const) {
      const name = `${slug}-family-${f}`;
      const email = `${slug}-household-${f}@${slug}.test`;
      const made = await ok<{ id: string }>('POST', url('/families'), admin, { name, email });
      const parent = await user(slug, `parent-${f}`, id, 'parent');
      const coParent = await user(slug, `coparent-${f}`, id, 'parent');
      const kid = async (label: string) => {
        const kidName = `${slug}-f${f}-${label}`;
        const s = await ok<{ id: string }>('POST', url('/students'), admin, { name: kidName, classId: klass.id, remoteRef: `${slug}-ref-${f}-${label}` });
        await ok('POST', url(`/families/${made.id}/students`), admin, { studentId: s.id });
        await ok('PUT', url(`/students/${s.id}/consent/publish`), admin, { granted: true });
        return { id: s.id, name: kidName };
      };
      const children = [await kid('kid-1'), await kid('kid-2')];
      const eraseVictim = await kid('erased');
      const unlinkVictim = await kid('unlinked');
      for (const u of [parent, coParent]) await ok('POST', url(`/families/${made.id}/members`), admin, { userId: u.id });
      families[f] = { id: made.id, name, email, parent, coParent, children, eraseVictim, unlinkVictim };
    }
    const events = {} as School['events'];
    for (const kind of EVENT_KINDS) {
      const name = `${slug}-${kind}-event`;
      const audience =
        kind === 'forFamily' ? { scope: 'some', familyIds: [families[TARGETED_FAMILY].id] } : kind === 'forClass' ? { scope: 'some', classIds: [klass.id] } : { scope: 'school' };
      const made = await ok<{ id: string }>('POST', url('/events'), admin, { name, startsOn: '2026-06-12', state: kind === 'draft' ? 'draft' : 'published', audience });
      events[kind] = { id: made.id, name, assetId: randomBytes(16).toString('hex') };
    }
    const deviceId = `desk-${slug}`;
    const memberTargets = { roleChange: await user(slug, 'role-changed', id, 'teacher'), removal: await user(slug, 'removed', id, 'photographer') };
    const invitation = async (n: number) => (await ok<{ id: string }>('POST', url('/invites'), admin, { email: `${slug}-invitee-${n}@${slug}.test`, role: 'teacher' })).id;
    const inviteIds = { resend: await invitation(1), revoke: await invitation(2) };
    const s: School = { key, id, slug, name: `School ${slug}`, users, classId: klass.id, className, families, events, reservationId: '', deviceId, inviteIds, memberTargets };
    const client = s3.client();
    for (const kind of EVENT_KINDS) {
      for (const file of ['thumb.webp', 'preview.jpg']) await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: objectKey(s, kind, file), Body: OBJECT_BODY }));
      await ok('PUT', url(`/events/${events[kind].id}/manifest`), admin, manifestFor(s, kind));
    }
    s.reservationId = (await ok<{ id: string }>('POST', url('/quota/reservations'), admin, { eventId: events.published.id, bytes: 1000, objects: 2 })).id;
    await ok('PUT', url(`/devices/${deviceId}/checkpoint`), admin, { seq: 0 });
    return s;
  }

  beforeAll(async () => {
    h = await startHarness(target);
    app = buildApp({
      db: h.db.kysely,
      tokens: h.tokens,
      refreshTtlSeconds: 3600,
      scrypt: TEST_SCRYPT,
      media: { store: new S3ObjectStore(s3.client(), s3.bucket), urlTtlSeconds: 60 },
      onRoute: (route) => {
        for (const method of [route.method].flat()) routes.push(`${method} ${route.url}`);
      },
    });
    await app.ready();
    world = { A: await seedSchool('A', 'alder'), B: await seedSchool('B', 'birch') };

    const outsider = await h.createUser('lonely-outsider@nowhere.test');
    const now = Math.floor(Date.now() / 1000);
    const expiredToken = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
      .setSubject(world.A.users.admin.id)
      .setIssuer(TEST_TOKENS.issuer)
      .setAudience(TEST_TOKENS.audience)
      .setIssuedAt(now - 3600)
      .setExpirationTime(now - 1800)
      .sign(h.keys.privateKey);
    // A well-formed token for school A's admin, signed with a key the service does not know.
    const forgedToken = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
      .setSubject(world.A.users.admin.id)
      .setIssuer(TEST_TOKENS.issuer)
      .setAudience(TEST_TOKENS.audience)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(keysFromPem(generatePem()).privateKey);

    principals = [
      { label: 'no token', kind: 'anonymous', token: undefined },
      { label: 'expired token', kind: 'expired', token: expiredToken },
      { label: 'forged token', kind: 'forged', token: forgedToken },
      { label: 'outsider', kind: 'outsider', token: await h.tokens.issue(outsider) },
    ];
    for (const s of [world.A, world.B]) {
      for (const role of ['admin', 'photographer', 'teacher', 'student'] as const) {
        principals.push({ label: `${s.key}:${role}`, kind: 'member', token: s.users[role].token, school: s.key, role });
      }
      for (const f of [1, 2] as const) principals.push({ label: `${s.key}:parent-${f}`, kind: 'member', token: s.families[f].parent.token, school: s.key, role: 'parent', family: f });
    }
  }, 120_000);
  afterAll(async () => {
    await app.close();
    await h.close();
  });

  it('classifies every route the app registers', () => {
    const registered = new Set(routes.filter((r) => !r.startsWith('HEAD ')));
    // Fastify adds a HEAD for every GET; those answer as the GET does.
    for (const head of routes.filter((r) => r.startsWith('HEAD '))) expect(registered, `${head} has no GET twin`).toContain(head.replace(/^HEAD /, 'GET '));
    const classified = new Set(ROUTES.map((r) => `${r.method} ${r.url}`));
    const unclassified = [...registered].filter((r) => !isPublic(r) && !classified.has(r));
    expect(unclassified, 'routes the matrix does not classify: add them to ROUTES (or to PUBLIC_ROUTES)').toEqual([]);
    const stale = [...classified].filter((r) => !registered.has(r));
    expect(stale, 'ROUTES names routes the app does not have').toEqual([]);
    expect(ROUTES.length).toBeGreaterThanOrEqual(30);
  });

  it('answers public routes without a token, never with a 500 or school data', async () => {
    const secrets = [...schoolStrings(world.A), ...schoolStrings(world.B)];
    const publicRoutes = [...new Set(routes.filter((r) => !r.startsWith('HEAD ') && isPublic(r)))];
    for (const route of publicRoutes) {
      const [method, url] = route.split(' ') as [Method, string];
      const concrete = url.replace(/:[A-Za-z]+/g, 'nope');
      const body = method === 'GET' ? undefined : route === 'POST /v1/auth/sign-in' ? { email: world.A.users.admin.email, password: 'wrong password' } : { refreshToken: 'bogus' };
      const response = await inject(method, concrete, undefined, body);
      expect(response.statusCode, `${route}: ${response.body}`).toBeLessThan(500);
      for (const secret of secrets) expect(response.body.includes(secret), `${route} leaks ${secret}`).toBe(false);
    }
  });

  it('gives every principal exactly what the policy allows, for every route and target', async () => {
    const started = Date.now();
    const cells: Cell[] = [];
    for (const spec of ROUTES) {
      for (const t of targetsOf(spec)) {
        for (const p of principals) {
          const want = expected(spec, p, t);
          cells.push({ spec, method: spec.method, principal: p, target: t, want });
          if (spec.method === 'GET') cells.push({ spec, method: 'HEAD', principal: p, target: t, want });
        }
      }
    }
    const failures: string[] = [];

    async function run(cell: Cell): Promise<void> {
      const { spec, method, principal: p, target: t, want } = cell;
      const url = spec.path(t, world);
      const body = spec.body === undefined ? undefined : await spec.body(t, world, h);
      const response = await inject(method, url, p.token, body);
      const where = `${method} ${spec.url} as ${p.label} on ${t.path}-path/${t.res}-ids/family-${t.family}/${t.event}`;
      if (response.statusCode !== want) failures.push(`${where}: ${response.statusCode} (want ${want}) ${response.body.slice(0, 200)}`);
      for (const secret of secretsOf(p, world)) {
        if (response.body.includes(secret)) failures.push(`${where}: body leaks "${secret}": ${response.body.slice(0, 200)}`);
      }
    }

    // Reads and every request that must be refused, in parallel; then the allowed writes one at a time
    // (they change versions and links), the unlinking ones last.
    const parallel = cells.filter((c) => !c.spec.mutates || c.want >= 400);
    const serial = cells.filter((c) => c.spec.mutates && c.want < 400).sort((a, b) => Number(a.spec.method === 'DELETE') - Number(b.spec.method === 'DELETE'));
    for (let i = 0; i < parallel.length; i += 64) await Promise.all(parallel.slice(i, i + 64).map(run));
    for (const cell of serial) await run(cell);

    const byStatus = new Map<number, number>();
    for (const c of cells) byStatus.set(c.want, (byStatus.get(c.want) ?? 0) + 1);
    // eslint-disable-next-line no-console -- the size of the matrix is the point of the report.
    console.info(
      `[authz matrix ${target.name}] ${ROUTES.length} routes (+ HEAD twins of the GETs) x ${principals.length} principals: ${cells.length} requests (${parallel.length} parallel, ${serial.length} serial) in ${Date.now() - started} ms; expected ${[...byStatus].map(([s, n]) => `${s}: ${n}`).join(', ')}`,
    );
    expect(failures).toEqual([]);
    // The matrix really exercised both sides of every rule.
    expect(byStatus.get(404) ?? 0).toBeGreaterThan(500);
    expect(byStatus.get(403) ?? 0).toBeGreaterThan(50);
    expect(byStatus.get(401) ?? 0).toBeGreaterThan(100);
  }, 120_000);
});
