import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../shared/errors.ts';
import { memorySessionStore, startSyncService, type SyncServiceProcess } from '../test/sync-service.ts';
import { SchoolAdmin } from './school-admin.ts';
import { SyncClient } from './sync-client.ts';

// The school admin's client against the real sync service (its own process on SQLite) and a real SMTP
// server on loopback that receives the invitations, so a teacher's account is made the way a school makes it.


let service: SyncServiceProcess;
let admin: SchoolAdmin;
let adminClient: SyncClient;

/** Accepts the invitation mailed to `email` and signs the new account in. */
async function accountFromInvite(email: string, name = 'Tom Teacher'): Promise<SyncClient> {
  const text = (await service.mailTo(email)).text ?? '';
  const token = /\/invite#([A-Za-z0-9_-]{43})/.exec(text)?.[1];
  if (!token) throw new Error(`no invitation link in ${text}`);
  const accepted = await fetch(`${service.base}/v1/auth/invites/accept`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, name, password: 'teacher password 1' }),
  });
  if (!accepted.ok) throw new Error(`accept: ${accepted.status} ${await accepted.text()}`);
  const client = new SyncClient({ store: memorySessionStore() });
  await client.signIn(service.base, email, 'teacher password 1');
  return client;
}

beforeAll(async () => {
  service = await startSyncService({ mail: true });
  adminClient = new SyncClient({ store: memorySessionStore() });
  await adminClient.signIn(service.base, service.admin.email, service.admin.password);
  admin = new SchoolAdmin({ client: adminClient, linkedSchool: () => null });
}, 120_000);

afterAll(async () => {
  await service?.stop();
});

describe(SchoolAdmin.name, () => {
  it('tells who is signed in where, as admin', async () => {
    expect(await admin.access()).toEqual({ school: { id: expect.any(String), name: 'Greenfield Primary' }, role: 'admin' });
  });

  it('creates an event for one class with an expiry date, then archives it; a stale version is a conflict', async () => {
    const { id: classId } = await admin.createClass('Year 3');
    const created = await admin.createEvent({ name: 'Sports Day', startsOn: '2026-05-14', audience: { scope: 'some', classIds: [classId], familyIds: [] }, galleryExpiresOn: '2026-09-01' });
    expect(created).toMatchObject({ name: 'Sports Day', state: 'draft', audience: { scope: 'some', classIds: [classId], familyIds: [] }, galleryExpiresOn: '2026-09-01', version: 1 });
    const archived = await admin.updateEvent(created.id, created.version, { state: 'archived' });
    expect(archived).toMatchObject({ state: 'archived', version: 2 });
    const stale = await admin.updateEvent(created.id, created.version, { name: 'Late' }).catch((error: unknown) => error);
    expect(stale).toBeInstanceOf(AppError);
    expect(stale).toMatchObject({ code: 'conflict' });
    expect((await admin.events()).map((e) => [e.name, e.state])).toEqual([['Sports Day', 'archived']]);
  });

  it('imports a roster CSV, reports wrong lines without sending anything, and matches the same file again', async () => {
    const wrong = await admin.importRoster('name,class,family email,publish\nAna Lima,Year 3,ana@home.test,yes\n,Year 3,,no\nBea Costa,Year 4,not-an-email,no\n');
    expect(wrong).toMatchObject({ sent: false, errors: [{ line: 3 }, { line: 4 }] });
    expect((await admin.people()).students).toEqual([]);
    const csv = 'name,class,family email,publish\nAna Lima,Year 3,ana@home.test,yes\nBea Costa,Year 4,bea@home.test,no\n';
    expect(await admin.importRoster(csv)).toEqual({ sent: true, rows: 2, created: 2, updated: 0, unchanged: 0, errors: [] });
    expect(await admin.importRoster(csv)).toMatchObject({ sent: true, created: 0, unchanged: 2 });
    const people = await admin.people();
    expect(people.classes.map((c) => c.name)).toEqual(['Year 3', 'Year 4']);
    expect(people.students.map((s) => [s.name, s.className, s.consent?.publish.granted])).toEqual([
      ['Ana Lima', 'Year 3', true],
      ['Bea Costa', 'Year 4', false],
    ]);
    expect(people.families).toHaveLength(2);
  });

  it('sets consent and reads its history, newest first, with who set it', async () => {
    const ana = (await admin.people()).students.find((s) => s.name === 'Ana Lima')!;
    expect((await admin.setConsent(ana.id, 'publish', false))?.publish.granted).toBe(false);
    const history = await admin.consentHistory(ana.id);
    expect(history.map((c) => [c.purpose, c.before, c.after, c.via])).toEqual([
      ['publish', true, false, 'api'],
      ['publish', null, true, 'roster'],
    ]);
    expect(history[0]?.by).toBeTruthy();
  });

  it('invites a teacher, resends and revokes; changes a role; a teacher is refused with the service’s sentence', async () => {
    const invite = await admin.invite('tom@greenfield.example', 'teacher');
    expect(invite).toMatchObject({ email: 'tom@greenfield.example', role: 'teacher', status: 'pending', sends: 1 });
    const teacher = await accountFromInvite('tom@greenfield.example');
    const spare = await admin.invite('spare@greenfield.example', 'photographer');
    expect((await admin.resendInvite(spare.id)).sends).toBe(2);
    await admin.revokeInvite(spare.id);
    expect((await admin.invites()).find((i) => i.id === spare.id)?.status).toBe('revoked');

    const members = await admin.members();
    expect(members.map((m) => [m.email, m.role, m.you])).toEqual([
      [service.admin.email, 'admin', true],
      ['tom@greenfield.example', 'teacher', false],
    ]);
    const tom = members[1]!;
    expect((await admin.changeRole(tom.userId, 'photographer')).role).toBe('photographer');
    await admin.changeRole(tom.userId, 'teacher');

    const asTeacher = new SchoolAdmin({ client: teacher, linkedSchool: () => null });
    expect(await asTeacher.access()).toMatchObject({ role: 'teacher' });
    const refused = await asTeacher.audit({ limit: 10 }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'forbidden', message: 'Only the school’s admins can read its audit log.' });
    await expect(asTeacher.invite('x@greenfield.example', 'admin')).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('invites a parent into a family; once accepted, the family lists them', async () => {
    await expect(admin.invite('lima.parent@home.test', 'parent')).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringContaining('a parent invitation names the family to join') });
    const family = (await admin.people()).families.find((f) => f.email === 'ana@home.test')!;
    await admin.invite('lima.parent@home.test', 'parent', family.id);
    await accountFromInvite('lima.parent@home.test', 'Lia Lima');
    expect((await admin.people()).families.find((f) => f.id === family.id)?.parents).toEqual([{ userId: expect.any(String), name: 'Lia Lima', email: 'lima.parent@home.test' }]);
  });

  it('reads the audit log filtered to role changes, in words', async () => {
    const page = await admin.audit({ actions: ['role.change'], limit: 50 });
    expect(page.entries.map((e) => e.summary)).toEqual(['Tom Teacher: photographer → teacher', 'Tom Teacher: teacher → photographer']);
    expect(page.entries[0]?.actor?.email).toBe(service.admin.email);
    const firstTwo = await admin.audit({ limit: 2 });
    const next = await admin.audit({ limit: 2, cursor: firstTwo.nextCursor! });
    expect(next.entries.map((e) => e.id)).not.toContain(firstTwo.entries[0]?.id);
  });

  it('reports storage against the quota and the analytics, as the service counts them', async () => {
    const storage = await admin.storage({});
    const quota = await adminClient.request<{ usedBytes: number; limitBytes: number }>('GET', `/v1/schools/${(await admin.access()).school!.id}/quota`);
    expect(storage).toMatchObject({ usedBytes: quota.usedBytes, limitBytes: quota.limitBytes, mostViewed: [], mostDownloaded: [], families: { active: 0, total: 2 } });
  });
});

/** Requests the service has answered under `/v1/schools/…`, by route pattern, from its own metrics. */
async function schoolRequests(): Promise<Map<string, number>> {
  const response = await fetch(`${service.base}/metrics`);
  expect(response.status).toBe(200);
  const counts = new Map<string, number>();
  for (const [, labels = '', count] of (await response.text()).matchAll(/^http_request_duration_seconds_count\{([^}]*)\} (\d+)$/gm)) {
    const route = /route="([^"]*)"/.exec(labels)?.[1] ?? '';
    if (route.startsWith('/v1/schools/')) counts.set(route, (counts.get(route) ?? 0) + Number(count));
  }
  return counts;
}

describe('a roster file line that fits several students', () => {
  it('is reported by its line and changes none of them', async () => {
    const schoolId = (await admin.access()).school!.id;
    // Two children of one name and class, told apart by the library that sent them.
    await adminClient.request('POST', `/v1/schools/${schoolId}/roster`, {
      rows: [1, 2].map((n) => ({ name: 'Eva Marsh', class: 'Year 5', remoteRef: `lib-z:${n}` })),
    });
    const upload = await admin.importRoster('name,class,family email,publish\nOla Marsh,Year 5,,no\nEva Marsh,Year 5,,yes\n');
    expect(upload).toEqual({
      sent: true, rows: 2, created: 1, updated: 0, unchanged: 0, errors: [],
      ambiguous: [{ line: 3, message: '2 students of the school have this name and class, so this line was applied to none of them.' }],
    });
    const evas = (await admin.people()).students.filter((s) => s.name === 'Eva Marsh');
    expect(evas.map((s) => s.consent?.publish.granted)).toEqual([false, false]);
  });
});

describe('the People screen of a school with hundreds of students', () => {
  it('reads every student’s consent in a bounded number of requests, not one per student', async () => {
    const lines = Array.from({ length: 320 }, (_, i) => `Pupil ${String(i).padStart(3, '0')},Year ${1 + (i % 6)},,${i % 3 === 0 ? 'yes' : 'no'}`);
    expect(await admin.importRoster(`name,class,family email,publish\n${lines.join('\n')}\n`)).toMatchObject({ sent: true, created: 320, errors: [] });

    const before = await schoolRequests();
    const people = await admin.people();
    const after = await schoolRequests();
    const delta = (route: string) => (after.get(route) ?? 0) - (before.get(route) ?? 0);
    const total = [...after.keys()].reduce((sum, route) => sum + delta(route), 0);

    const pupils = people.students.filter((s) => s.name.startsWith('Pupil '));
    expect(pupils).toHaveLength(320);
    expect(pupils.filter((s) => s.consent?.publish.granted).map((s) => s.name)).toEqual(lines.filter((_, i) => i % 3 === 0).map((line) => line.split(',')[0]));
    expect(pupils.every((s) => s.consent !== null && s.consent.publish.setBy !== null)).toBe(true);
    expect(delta('/v1/schools/:schoolId/students/:studentId/consent')).toBe(0);
    expect(delta('/v1/schools/:schoolId/consents')).toBe(1);
    // Classes, students, families, members and the consent page.
    expect(total).toBeLessThanOrEqual(5);
  });
});

describe('a family access code', () => {
  /** Redeems `code` as a new parent, as the gallery's sign-in page does; the service's status. */
  const redeem = async (code: string, email: string): Promise<number> =>
    (
      await fetch(`${service.base}/v1/auth/access-code`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code, email, name: 'Bo Costa', password: 'parent password 1' }),
      })
    ).status;

  it('lets one parent in; a newer code replaces it, and a revoked one lets nobody in', async () => {
    const family = (await admin.people()).families.find((f) => f.email === 'bea@home.test')!;
    const first = await admin.familyAccessCode(family.id);
    expect(first).toEqual({ familyId: family.id, code: expect.stringMatching(/^[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){3}$/), createdAt: expect.any(String), signInUrl: `${service.base}/sign-in` });
    const second = await admin.familyAccessCode(family.id);
    expect(second.code).not.toBe(first.code);
    expect(await redeem(first.code, 'bo.costa@home.test')).toBe(401);
    expect(await redeem(second.code, 'bo.costa@home.test')).toBe(201);
    expect((await admin.people()).families.find((f) => f.id === family.id)?.parents).toEqual([{ userId: expect.any(String), name: 'Bo Costa', email: 'bo.costa@home.test' }]);
    // Single use: the parent's code is spent.
    expect(await redeem(second.code, 'bo.again@home.test')).toBe(401);

    const third = await admin.familyAccessCode(family.id);
    await admin.revokeFamilyAccessCode(family.id);
    expect(await redeem(third.code, 'cy.costa@home.test')).toBe(401);
    // Revoking again is no error.
    await admin.revokeFamilyAccessCode(family.id);
    const log = await admin.audit({ actions: ['family.code-created', 'family.code-revoked'], limit: 10 });
    expect(log.entries.map((e) => e.summary)).toEqual(['no access code to revoke', 'access code revoked', 'new access code', 'new access code (the old one stopped working)', 'new access code']);
    expect(JSON.stringify(log)).not.toContain(third.code);
  });

  it('is refused for a family of no school of this account, with the service’s sentence', async () => {
    await expect(admin.familyAccessCode('no-such-family')).rejects.toMatchObject({ code: 'not-found' });
  });
});
