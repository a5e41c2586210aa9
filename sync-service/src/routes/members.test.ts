import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeedChange, FeedPage } from '../services/feed.ts';
import type { MemberSummary, PublicMember } from '../services/members.ts';
import type { PublicFamily } from '../services/people.ts';
import { TEST_DATABASES } from '../test/databases.ts';
import { send, startHarness, type Harness } from '../test/harness.ts';

describe.each(TEST_DATABASES)('members and roles on $name', (target) => {
  let h: Harness;
  let school: string;
  let otherSchool: string;
  const id = { admin: '', teacher: '', photographer: '', parent: '', student: '' };
  const token = { admin: '', teacher: '', photographer: '', parent: '', student: '', otherAdmin: '' };

  beforeAll(async () => {
    h = await startHarness(target);
    school = await h.createSchool('greenfield');
    otherSchool = await h.createSchool('riverside');
    for (const role of ['admin', 'teacher', 'photographer', 'parent', 'student'] as const) {
      id[role] = await h.createUser(`${role}@g.test`, [[school, role]]);
      token[role] = await h.tokens.issue(id[role]);
    }
    token.otherAdmin = await h.tokens.issue(await h.createUser('admin@r.test', [[otherSchool, 'admin']]));
  });
  afterAll(() => h.close());

  const members = (schoolId = school) => `/v1/schools/${schoolId}/members`;
  async function feed(): Promise<FeedChange[]> {
    const response = await send(h, 'GET', `/v1/schools/${school}/changes?since=0&limit=1000`, token.admin);
    expect(response.statusCode).toBe(200);
    return response.json<FeedPage>().changes.filter((c) => c.entity === 'membership');
  }
  async function member(email: string, role: 'admin' | 'teacher' | 'parent' | 'photographer', schools: string[] = [school]) {
    const userId = await h.createUser(email, schools.map((s): [string, typeof role] => [s, role]));
    return { userId, token: await h.tokens.issue(userId) };
  }

  it('shows admins every member with e-mail, staff a narrower view, parents and students nothing', async () => {
    const all = (await send(h, 'GET', members(), token.admin)).json<{ members: PublicMember[] }>().members;
    expect(all.find((m) => m.userId === id.parent)).toEqual({ userId: id.parent, name: 'parent', email: 'parent@g.test', role: 'parent', createdAt: expect.any(String) });
    expect(all.map((m) => m.role).sort()).toEqual(['admin', 'parent', 'photographer', 'student', 'teacher']);

    const narrow = (await send(h, 'GET', members(), token.teacher)).json<{ members: MemberSummary[] }>().members;
    expect(narrow).toHaveLength(all.length);
    expect(narrow.find((m) => m.userId === id.admin)).toEqual({ userId: id.admin, name: 'admin', role: 'admin' });
    expect(JSON.stringify(narrow)).not.toContain('@g.test');

    for (const who of [token.parent, token.student, token.otherAdmin]) {
      const response = await send(h, 'GET', members(), who);
      expect(response.statusCode).toBe(404);
    }
  });

  it('changes a role, and the change reaches the feed and the audit trail', async () => {
    const photographer = await member('snap@g.test', 'photographer');
    const response = await send(h, 'PATCH', `${members()}/${photographer.userId}`, token.admin, { role: 'teacher' });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({ userId: photographer.userId, name: 'snap', email: 'snap@g.test', role: 'teacher', createdAt: expect.any(String) });
    // The role is read on each request: the new teacher may no longer create events.
    expect((await send(h, 'POST', `/v1/schools/${school}/events`, photographer.token, { name: 'Sports Day', startsOn: '2026-06-12' })).statusCode).toBe(403);

    const change = (await feed()).find((c) => c.id === photographer.userId);
    expect(change).toMatchObject({ entity: 'membership', op: 'upsert', data: { userId: photographer.userId, name: 'snap', role: 'teacher' } });
    expect(JSON.stringify(change?.data)).not.toContain('snap@g.test');
    const audit = (await h.audit('role.change')).find((a) => a.subject === `user:${photographer.userId}`);
    expect(audit).toMatchObject({ school_id: school, actor_user_id: id.admin });
    expect(JSON.parse(audit?.detail ?? '{}')).toEqual({ userId: photographer.userId, before: 'photographer', after: 'teacher' });

    // The same role again changes nothing and records nothing.
    expect((await send(h, 'PATCH', `${members()}/${photographer.userId}`, token.admin, { role: 'teacher' })).statusCode).toBe(200);
    expect((await h.audit('role.change')).filter((a) => a.subject === `user:${photographer.userId}`)).toHaveLength(1);
  });

  it('keeps the last admin: demoting or removing them is a 409, with a second admin it is allowed', async () => {
    const solo = await h.createSchool('solo');
    const head = await member('head@solo.test', 'admin', [solo]);
    const demote = await send(h, 'PATCH', `${members(solo)}/${head.userId}`, head.token, { role: 'teacher' });
    expect(demote.statusCode).toBe(409);
    expect(demote.json()).toEqual({ code: 'conflict', message: "You are the school's last admin and cannot be given another role. Make someone else an admin first." });
    const remove = await send(h, 'DELETE', `${members(solo)}/${head.userId}`, head.token);
    expect(remove.statusCode).toBe(409);
    expect(remove.json<{ message: string }>().message).toBe("You are the school's last admin and cannot be removed. Make someone else an admin first.");

    const deputy = await member('deputy@solo.test', 'teacher', [solo]);
    expect((await send(h, 'PATCH', `${members(solo)}/${deputy.userId}`, head.token, { role: 'admin' })).statusCode).toBe(200);
    // Two admins demoting each other at once: exactly one succeeds, the school keeps an admin.
    const [a, b] = await Promise.all([
      send(h, 'PATCH', `${members(solo)}/${deputy.userId}`, head.token, { role: 'teacher' }),
      send(h, 'PATCH', `${members(solo)}/${head.userId}`, deputy.token, { role: 'teacher' }),
    ]);
    // The loser is refused as the last admin (409), or, when the winner committed first, as no admin any more (403).
    const [won, lost] = [a.statusCode, b.statusCode].sort();
    expect(won).toBe(200);
    expect([403, 409]).toContain(lost);
    const admins = (await send(h, 'GET', members(solo), a.statusCode === 200 ? head.token : deputy.token)).json<{ members: PublicMember[] }>().members.filter((m) => m.role === 'admin');
    expect(admins).toHaveLength(1);
  });

  it('removes access at once: the removed member gets 404, their family links go, sessions end with their last school', async () => {
    const family = (await send(h, 'POST', `/v1/schools/${school}/families`, token.admin, { name: 'Lima' })).json<PublicFamily>();
    const leaver = await member('leaver@g.test', 'parent');
    expect((await send(h, 'POST', `/v1/schools/${school}/families/${family.id}/members`, token.admin, { userId: leaver.userId })).statusCode).toBe(200);
    const session = await h.signIn('leaver@g.test');
    expect((await send(h, 'GET', `/v1/schools/${school}/events`, session.accessToken)).statusCode).toBe(200);

    expect((await send(h, 'DELETE', `${members()}/${leaver.userId}`, token.admin)).statusCode).toBe(204);
    // The access token is still valid, but the school is gone for it at once.
    const after = await send(h, 'GET', `/v1/schools/${school}/events`, session.accessToken);
    expect(after.statusCode).toBe(404);
    expect(after.json()).toEqual({ code: 'not-found', message: 'No such school, or you are not a member of it.' });
    expect((await send(h, 'GET', `/v1/schools/${school}/families/${family.id}`, token.admin)).json<PublicFamily>().memberUserIds).toEqual([]);
    // No school left: the refresh token is dead too.
    expect((await send(h, 'POST', '/v1/auth/refresh', undefined, { refreshToken: session.refreshToken })).statusCode).toBe(401);

    const changes = await feed();
    expect(changes.find((c) => c.id === leaver.userId)).toMatchObject({ op: 'delete', data: null });
    const audit = (await h.audit('member.remove')).find((a) => a.subject === `user:${leaver.userId}`);
    expect(JSON.parse(audit?.detail ?? '{}')).toEqual({ userId: leaver.userId, role: 'parent', familyLinksRemoved: 1, sessionsEnded: 1 });
    expect((await send(h, 'DELETE', `${members()}/${leaver.userId}`, token.admin)).statusCode).toBe(404);
  });

  it('takes a parent out of their families when their role changes: as a parent again they see and set nothing of the child', async () => {
    const school_ = `/v1/schools/${school}`;
    const family = (await send(h, 'POST', `${school_}/families`, token.admin, { name: 'Okafor' })).json<PublicFamily>();
    const child = (await send(h, 'POST', `${school_}/students`, token.admin, { name: 'Ada Okafor' })).json<{ id: string }>();
    expect((await send(h, 'POST', `${school_}/families/${family.id}/students`, token.admin, { studentId: child.id })).statusCode).toBe(200);
    const former = await member('former@g.test', 'parent');
    expect((await send(h, 'POST', `${school_}/families/${family.id}/members`, token.admin, { userId: former.userId })).statusCode).toBe(200);
    const event = (await send(h, 'POST', `${school_}/events`, token.admin, { name: 'Fair', startsOn: '2026-06-12' })).json<{ id: string }>();
    await h.db.kysely.insertInto('favourites').values({ school_id: school, event_id: event.id, asset_id: 'asset-1', family_id: family.id, created_by: former.userId, created_at: new Date().toISOString() }).execute();
    expect((await send(h, 'GET', `${school_}/family/children`, former.token)).json<{ children: Array<{ id: string }> }>().children.map((c) => c.id)).toEqual([child.id]);
    expect((await send(h, 'PUT', `${school_}/students/${child.id}/consent/publish`, former.token, { granted: true })).statusCode).toBe(200);
    const before = (await send(h, 'GET', `${school_}/changes?since=0&limit=1000`, token.admin)).json<FeedPage>().next;

    expect((await send(h, 'PATCH', `${members()}/${former.userId}`, token.admin, { role: 'teacher' })).statusCode).toBe(200);
    expect((await send(h, 'GET', `${school_}/families/${family.id}`, token.admin)).json<PublicFamily>().memberUserIds).toEqual([]);
    const audit = (await h.audit('role.change')).find((a) => a.subject === `user:${former.userId}`);
    expect(JSON.parse(audit?.detail ?? '{}')).toEqual({ userId: former.userId, before: 'parent', after: 'teacher', familyLinksRemoved: 1 });
    const changes = (await send(h, 'GET', `${school_}/changes?since=${before}&limit=1000`, token.admin)).json<FeedPage>().changes;
    expect(changes).toEqual(expect.arrayContaining([expect.objectContaining({ entity: 'family', id: family.id, op: 'upsert', data: expect.objectContaining({ memberUserIds: [] }) })]));
    // The family's favourites are the family's: they stay.
    expect(await h.db.kysely.selectFrom('favourites').select('asset_id').where('family_id', '=', family.id).execute()).toEqual([{ asset_id: 'asset-1' }]);
    expect((await send(h, 'PUT', `${school_}/students/${child.id}/consent/publish`, former.token, { granted: false })).statusCode).toBe(403);
    expect((await send(h, 'GET', `${school_}/family/children`, former.token)).statusCode).toBe(403);

    // Made a parent again, they are in no family until an admin links them.
    expect((await send(h, 'PATCH', `${members()}/${former.userId}`, token.admin, { role: 'parent' })).statusCode).toBe(200);
    expect((await send(h, 'GET', `${school_}/family/children`, former.token)).json()).toEqual({ children: [] });
    expect((await send(h, 'GET', `${school_}/families`, former.token)).json()).toEqual({ families: [] });
    for (const [method, path, body] of [
      ['GET', `/students/${child.id}`, undefined],
      ['GET', `/students/${child.id}/consent`, undefined],
      ['PUT', `/students/${child.id}/consent/publish`, { granted: false }],
      ['GET', `/families/${family.id}`, undefined],
    ] as const) {
      expect((await send(h, method, `${school_}${path}`, former.token, body)).statusCode, `${method} ${path}`).toBe(404);
    }
    expect((await send(h, 'GET', `${school_}/students/${child.id}/consent`, token.admin)).json()).toMatchObject({ publish: { granted: true } });
  });

  it('keeps the sessions of a member removed from one of two schools', async () => {
    const both = await member('both@g.test', 'teacher', [school, otherSchool]);
    const session = await h.signIn('both@g.test');
    expect((await send(h, 'DELETE', `${members()}/${both.userId}`, token.admin)).statusCode).toBe(204);
    expect((await send(h, 'GET', `/v1/schools/${school}/classes`, session.accessToken)).statusCode).toBe(404);
    expect((await send(h, 'GET', `/v1/schools/${otherSchool}/classes`, session.accessToken)).statusCode).toBe(200);
    const refreshed = await send(h, 'POST', '/v1/auth/refresh', undefined, { refreshToken: session.refreshToken });
    expect(refreshed.statusCode).toBe(200);
    expect(refreshed.json<{ memberships: Array<{ schoolId: string }> }>().memberships.map((m) => m.schoolId)).toEqual([otherSchool]);
  });

  it('lets only admins change roles and refuses extra fields and unknown roles', async () => {
    const target = `${members()}/${id.student}`;
    expect((await send(h, 'PATCH', target, token.teacher, { role: 'admin' })).json()).toEqual({ code: 'forbidden', message: 'Only admins can change roles.' });
    expect((await send(h, 'DELETE', target, token.photographer)).statusCode).toBe(403);
    expect((await send(h, 'PATCH', target, token.parent, { role: 'admin' })).statusCode).toBe(404);
    expect((await send(h, 'PATCH', `${members(otherSchool)}/${id.student}`, token.otherAdmin, { role: 'teacher' })).statusCode).toBe(404);
    expect((await send(h, 'PATCH', `${members()}/no-such-user`, token.admin, { role: 'teacher' })).statusCode).toBe(404);

    for (const body of [{ role: 'teacher', schoolId: otherSchool }, { role: 'teacher', userId: id.admin }, { role: 'owner' }, {}]) {
      const response = await send(h, 'PATCH', target, token.admin, body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json<{ code: string }>().code).toBe('invalid-input');
    }
    expect((await send(h, 'GET', members(), token.admin)).json<{ members: PublicMember[] }>().members.find((m) => m.userId === id.student)?.role).toBe('student');
  });
});
