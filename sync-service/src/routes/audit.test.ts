import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditPage } from '../services/audit-log.ts';
import { TEST_DATABASES } from '../test/databases.ts';
import { send, startHarness, type Harness } from '../test/harness.ts';

describe.each(TEST_DATABASES)('the audit log on $name', (target) => {
  let h: Harness;
  let school: string;
  let otherSchool: string;
  const id = { admin: '', teacher: '', other: '' };
  const token = { admin: '', teacher: '', parent: '', otherAdmin: '' };
  let studentId = '';

  const audit = (query = '', as = token.admin, schoolId = school) => send(h, 'GET', `/v1/schools/${schoolId}/audit${query}`, as);
  async function page(query = ''): Promise<AuditPage> {
    const response = await audit(query);
    expect(response.statusCode, response.body).toBe(200);
    return response.json<AuditPage>();
  }

  beforeAll(async () => {
    h = await startHarness(target);
    school = await h.createSchool('greenfield');
    otherSchool = await h.createSchool('riverside');
    id.admin = await h.createUser('admin@g.test', [[school, 'admin']]);
    id.teacher = await h.createUser('teacher@g.test', [[school, 'teacher']]);
    id.other = await h.createUser('helper@g.test', [[school, 'teacher']]);
    token.admin = await h.tokens.issue(id.admin);
    token.teacher = await h.tokens.issue(id.teacher);
    token.parent = await h.tokens.issue(await h.createUser('parent@g.test', [[school, 'parent']]));
    const otherAdmin = await h.createUser('admin@r.test', [[otherSchool, 'admin']]);
    token.otherAdmin = await h.tokens.issue(otherAdmin);
    // Activity in both schools; Riverside's must never show in Greenfield's log.
    expect((await send(h, 'POST', `/v1/schools/${school}/classes`, token.admin, { name: 'Year 3' })).statusCode).toBe(201);
    expect((await send(h, 'POST', `/v1/schools/${otherSchool}/classes`, token.otherAdmin, { name: 'Riverside class' })).statusCode).toBe(201);
    const student = await send(h, 'POST', `/v1/schools/${school}/students`, token.admin, { name: 'Ana Lima' });
    studentId = student.json<{ id: string }>().id;
    await send(h, 'PUT', `/v1/schools/${school}/students/${studentId}/consent/publish`, token.admin, { granted: true });
    await send(h, 'PUT', `/v1/schools/${school}/students/${studentId}/consent/publish`, token.admin, { granted: false });
    expect((await send(h, 'PATCH', `/v1/schools/${school}/members/${id.other}`, token.admin, { role: 'photographer' })).statusCode).toBe(200);
    await h.signIn('admin@g.test');
  });
  afterAll(() => h.close());

  it('lists the school’s own entries newest first, with who did each', async () => {
    const { entries, nextCursor } = await page();
    expect(entries.map((e) => e.action)).toEqual(['role.change', 'consent.set', 'consent.set', 'student.create', 'class.create']);
    expect(nextCursor).toBeNull();
    expect(entries[0]).toEqual({
      id: expect.any(String),
      at: expect.any(String),
      action: 'role.change',
      subject: expect.stringContaining(id.other),
      actor: { userId: id.admin, name: 'admin', email: 'admin@g.test' },
      detail: { userId: id.other, before: 'teacher', after: 'photographer' },
    });
    expect(JSON.stringify(entries)).not.toContain('Riverside');
  });

  it('filters by action, actor and days', async () => {
    expect((await page('?action=role.change')).entries.map((e) => e.detail.after)).toEqual(['photographer']);
    expect((await page('?action=class.create,student.create')).entries.map((e) => e.action)).toEqual(['student.create', 'class.create']);
    expect((await page(`?actor=${id.teacher}`)).entries).toEqual([]);
    expect((await page(`?actor=${id.admin}`)).entries).toHaveLength(5);
    const today = new Date().toISOString().slice(0, 10);
    expect((await page(`?from=${today}&to=${today}`)).entries).toHaveLength(5);
    expect((await page('?to=2000-01-01')).entries).toEqual([]);
  });

  it('pages with a cursor, every entry once', async () => {
    const first = await page('?limit=2');
    expect(first.entries).toHaveLength(2);
    const second = await page(`?limit=2&cursor=${first.nextCursor}`);
    const third = await page(`?limit=2&cursor=${second.nextCursor}`);
    expect(third.nextCursor).toBeNull();
    const all = await page();
    expect([...first.entries, ...second.entries, ...third.entries].map((e) => e.id)).toEqual(all.entries.map((e) => e.id));
  });

  it('refuses bad filters with a sentence per field', async () => {
    const response = await audit('?from=2026-02-30&limit=0&cursor=nope');
    expect(response.statusCode).toBe(400);
    expect(response.json<{ message: string }>().message).toMatch(/from: is not a calendar date.*limit: must be from 1 to 200/);
    expect((await audit('?cursor=nope')).json<{ message: string }>().message).toMatch(/not a cursor this service gave out/);
  });

  it('is for admins only: other members get 403, another school’s admin 404', async () => {
    expect((await audit('', token.teacher)).statusCode).toBe(403);
    expect((await audit('', token.parent)).statusCode).toBe(403);
    expect((await audit('', token.otherAdmin)).statusCode).toBe(404);
    expect((await send(h, 'GET', `/v1/schools/${school}/audit`, undefined)).statusCode).toBe(401);
  });

  it('never hands out a detail field that names a credential', async () => {
    await h.db.kysely
      .insertInto('audit_log')
      .values({ id: randomUUID(), school_id: school, actor_user_id: null, action: 'test.secret', subject: 'x', detail: JSON.stringify({ refreshToken: 'r-1', passwordHash: 'p', code: 'c', kept: 1 }), at: new Date().toISOString() })
      .execute();
    const { entries } = await page('?action=test.secret');
    expect(entries).toEqual([{ id: expect.any(String), at: expect.any(String), action: 'test.secret', subject: 'x', actor: null, detail: { kept: 1 } }]);
  });

  it('gives a student’s consent history, newest first, to admins', async () => {
    const history = await send(h, 'GET', `/v1/schools/${school}/students/${studentId}/consent/history`, token.admin);
    expect(history.json()).toEqual({
      changes: [
        { at: expect.any(String), purpose: 'publish', before: true, after: false, via: 'api', role: 'admin', actor: { userId: id.admin, name: 'admin', email: 'admin@g.test' } },
        { at: expect.any(String), purpose: 'publish', before: null, after: true, via: 'api', role: 'admin', actor: { userId: id.admin, name: 'admin', email: 'admin@g.test' } },
      ],
    });
    expect((await send(h, 'GET', `/v1/schools/${school}/students/${studentId}/consent/history`, token.teacher)).statusCode).toBe(403);
    expect((await send(h, 'GET', `/v1/schools/${school}/students/${randomUUID()}/consent/history`, token.admin)).statusCode).toBe(404);
  });
});
