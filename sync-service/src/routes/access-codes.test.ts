import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../auth/sessions.ts';
import { normalizeAccessCode } from '../services/access-codes.ts';
import type { PublicFamily } from '../services/people.ts';
import { TEST_DATABASES } from '../test/databases.ts';
import { send, startHarness, type Harness } from '../test/harness.ts';

describe.each(TEST_DATABASES)('family access codes on $name', (target) => {
  let h: Harness;
  let school: string;
  let otherSchool: string;
  const token = { admin: '', teacher: '', otherAdmin: '' };

  beforeAll(async () => {
    h = await startHarness(target);
    school = await h.createSchool('greenfield');
    otherSchool = await h.createSchool('riverside');
    token.admin = await h.tokens.issue(await h.createUser('admin@g.test', [[school, 'admin']]));
    token.teacher = await h.tokens.issue(await h.createUser('teacher@g.test', [[school, 'teacher']]));
    token.otherAdmin = await h.tokens.issue(await h.createUser('admin@r.test', [[otherSchool, 'admin']]));
  });
  afterAll(() => h.close());

  const codeUrl = (familyId: string, schoolId = school) => `/v1/schools/${schoolId}/families/${familyId}/access-code`;
  async function family(): Promise<PublicFamily> {
    const response = await send(h, 'POST', `/v1/schools/${school}/families`, token.admin, { name: `Family ${Math.random()}` });
    expect(response.statusCode).toBe(201);
    return response.json<PublicFamily>();
  }
  async function makeCode(familyId: string): Promise<string> {
    const response = await send(h, 'POST', codeUrl(familyId), token.admin);
    expect(response.statusCode, response.body).toBe(201);
    return response.json<{ code: string }>().code;
  }
  const redeem = (code: string, email: string) =>
    send(h, 'POST', '/v1/auth/access-code', undefined, { code, email, name: 'Maria Lima', password: 'a long parent password' });

  it('makes a readable 80-bit code, stores only a keyed hash, and redeems it once into a parent session', async () => {
    const fam = await family();
    const code = await makeCode(fam.id);
    expect(code).toMatch(/^[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){3}$/);
    expect((await send(h, 'GET', `/v1/schools/${school}/families/${fam.id}`, token.admin)).json<PublicFamily>().hasAccessCode).toBe(true);

    // The plain code (with or without dashes) is nowhere in the table.
    const rows = await h.db.kysely.selectFrom('families').selectAll().execute();
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(code);
    expect(dump).not.toContain(normalizeAccessCode(code));
    expect(rows.find((r) => r.id === fam.id)?.access_code_hash).toMatch(/^v1:[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(await h.db.kysely.selectFrom('audit_log').selectAll().execute())).not.toContain(normalizeAccessCode(code));

    // Typed loosely: lower case and spaces instead of dashes still match.
    const response = await redeem(code.toLowerCase().replace(/-/g, ' '), 'Maria@Family.test');
    expect(response.statusCode, response.body).toBe(201);
    const session = response.json<Session>();
    expect(session.user.email).toBe('maria@family.test');
    expect(session.memberships).toEqual([expect.objectContaining({ schoolId: school, role: 'parent' })]);
    // The session works, and the new parent sees their own family.
    const mine = await send(h, 'GET', `/v1/schools/${school}/families/${fam.id}`, session.accessToken);
    expect(mine.statusCode).toBe(200);
    expect(mine.json<PublicFamily>()).toMatchObject({ hasAccessCode: false, memberUserIds: [session.user.id] });
    expect((await send(h, 'POST', '/v1/auth/refresh', undefined, { refreshToken: session.refreshToken })).statusCode).toBe(200);
    expect(await h.audit('family.code-redeemed')).toEqual([expect.objectContaining({ subject: `family:${fam.id}`, school_id: school, actor_user_id: session.user.id })]);

    // Single use: the same code again is the one 401.
    const again = await redeem(code, 'second@family.test');
    expect(again.statusCode).toBe(401);
    expect(again.json()).toEqual({ code: 'unauthorized', message: 'That access code is not valid. Ask the school for a new one.' });
    expect((await h.audit('family.code-failed')).at(-1)).toMatchObject({ detail: expect.stringContaining('unknown-code') });
  });

  it('refuses revoked, replaced, unknown and malformed codes with one message; a taken e-mail keeps the code', async () => {
    const fam = await family();
    const first = await makeCode(fam.id);
    const second = await makeCode(fam.id); // replaces the first
    expect(first).not.toBe(second);
    const messages = new Set<string>();
    for (const bad of [first, 'ZZZZ-ZZZZ-ZZZZ-ZZZZ', 'not a code', '0O1I-0O1I-0O1I-0O1I']) {
      const response = await redeem(bad, 'x@family.test');
      expect(response.statusCode, bad).toBe(401);
      messages.add(response.json<{ message: string }>().message);
    }
    expect(messages.size).toBe(1);

    // An existing account's e-mail: 409, and the code still works for a new address.
    expect((await redeem(second, 'teacher@g.test')).statusCode).toBe(409);
    expect((await send(h, 'DELETE', codeUrl(fam.id), token.admin)).statusCode).toBe(204);
    expect((await redeem(second, 'late@family.test')).statusCode).toBe(401);
    expect((await send(h, 'GET', `/v1/schools/${school}/families/${fam.id}`, token.admin)).json<PublicFamily>().hasAccessCode).toBe(false);
    expect((await h.audit('family.code-revoked')).length).toBeGreaterThanOrEqual(1);
    expect((await send(h, 'POST', '/v1/auth/access-code', undefined, { code: second, email: 'a@b.test', name: 'A', password: 'a long password', role: 'admin' })).statusCode).toBe(400);
  });

  it('lets only this school’s admins make or revoke a code: another school’s admin gets 404, a teacher 403', async () => {
    const fam = await family();
    expect((await send(h, 'POST', codeUrl(fam.id), token.otherAdmin)).statusCode).toBe(404);
    expect((await send(h, 'DELETE', codeUrl(fam.id), token.otherAdmin)).statusCode).toBe(404);
    // Their own school id in the path does not reach a family of another school either.
    expect((await send(h, 'POST', codeUrl(fam.id, otherSchool), token.otherAdmin)).statusCode).toBe(404);
    expect((await send(h, 'POST', codeUrl(fam.id), token.teacher)).statusCode).toBe(403);
    expect((await send(h, 'POST', codeUrl(fam.id), undefined)).statusCode).toBe(401);
    expect((await send(h, 'GET', `/v1/schools/${school}/families/${fam.id}`, token.admin)).json<PublicFamily>().hasAccessCode).toBe(false);
  });

  it('lets exactly one of two concurrent redemptions win', async () => {
    const fam = await family();
    const code = await makeCode(fam.id);
    const results = await Promise.all([redeem(code, 'one@race.test'), redeem(code, 'two@race.test')]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([201, 401]);
  });
});
