import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import type { Session } from '../auth/sessions.ts';
import { SmtpMailer } from '../mail/mailer.ts';
import { Outbox, OutboxWorker } from '../mail/outbox.ts';
import { startSmtpServer, type TestSmtpServer } from '../mail/smtp-test-server.ts';
import { MemoryStore } from '../ratelimit.ts';
import type { PublicInvite } from '../services/invites.ts';
import type { PublicFamily, PublicStudent } from '../services/people.ts';
import { TEST_DATABASES } from '../test/databases.ts';
import { TEST_SCRYPT, startHarness, type Harness } from '../test/harness.ts';

const PUBLIC_URL = 'https://keepsake.greenfield.test';
const FROM = 'keepsake@greenfield.test';
/** A school name with markup in it: the HTML mail must show it, not run it. */
const SCHOOL_NAME = 'St Mary\'s <b>"Primary"</b> & Nursery';
const NEW_PASSWORD = 'a long invited password';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

describe.each(TEST_DATABASES)('invitations on $name', (target) => {
  let h: Harness;
  let app: FastifyInstance;
  let smtp: TestSmtpServer;
  let mailer: SmtpMailer;
  let worker: OutboxWorker;
  let school: string;
  let otherSchool: string;
  const token = { admin: '', teacher: '', parent: '', otherAdmin: '' };

  beforeAll(async () => {
    h = await startHarness(target);
    smtp = await startSmtpServer();
    mailer = new SmtpMailer(smtp.url);
    const outbox = new Outbox(randomBytes(32));
    app = buildApp({ db: h.db.kysely, tokens: h.tokens, refreshTtlSeconds: 3600, scrypt: TEST_SCRYPT, publicUrl: `${PUBLIC_URL}/`, outbox });
    worker = new OutboxWorker(h.db.kysely, outbox, { mailer, fromAddress: FROM });
    school = await h.createSchool('greenfield');
    await h.db.kysely.updateTable('schools').set({ name: SCHOOL_NAME }).where('id', '=', school).execute();
    otherSchool = await h.createSchool('riverside');
    const adminId = await h.createUser('admin@g.test', [[school, 'admin']]);
    await h.db.kysely.updateTable('users').set({ name: 'Ms <Head>' }).where('id', '=', adminId).execute();
    token.admin = await h.tokens.issue(adminId);
    token.teacher = await h.tokens.issue(await h.createUser('teacher@g.test', [[school, 'teacher']]));
    token.parent = await h.tokens.issue(await h.createUser('parent@g.test', [[school, 'parent']]));
    token.otherAdmin = await h.tokens.issue(await h.createUser('admin@r.test', [[otherSchool, 'admin']]));
  });
  afterAll(async () => {
    await app.close();
    await mailer.close();
    await smtp.stop();
    await h.close();
  });

  const send = (method: Method, url: string, bearer: string | undefined, body?: unknown): Promise<LightMyRequestResponse> =>
    app.inject({ method, url, headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }, ...(body === undefined ? {} : { payload: body as Record<string, unknown> }) });
  const invitesUrl = (schoolId = school) => `/v1/schools/${schoolId}/invites`;

  async function invite(body: Record<string, unknown>): Promise<PublicInvite> {
    const response = await send('POST', invitesUrl(), token.admin, body);
    expect(response.statusCode, response.body).toBe(201);
    return response.json<PublicInvite>();
  }
  /** Runs the outbox once and returns the mail that arrived for `to`. */
  async function deliveredTo(to: string): Promise<ParsedMail> {
    const before = smtp.received.length;
    expect((await worker.runOnce()).sent).toBeGreaterThanOrEqual(1);
    const mails = await smtp.waitFor(before + 1);
    const mail = mails.slice(before).findLast((m) => m.to !== undefined && JSON.stringify(m.to).includes(to));
    if (mail === undefined) throw new Error(`no mail for ${to}`);
    return mail;
  }
  function linkToken(mail: ParsedMail): string {
    const match = /https:\/\/keepsake\.greenfield\.test\/invite#([A-Za-z0-9_-]{43})(?:\s|$)/.exec(mail.text ?? '');
    if (match?.[1] === undefined) throw new Error(`no invitation link in: ${mail.text}`);
    return match[1];
  }
  const accept = (body: Record<string, unknown>, bearer?: string) => send('POST', '/v1/auth/invites/accept', bearer, body);
  const inspect = (t: string) => send('POST', '/v1/auth/invites/inspect', undefined, { token: t });
  const listed = async (id: string) => (await send('GET', invitesUrl(), token.admin)).json<{ invites: PublicInvite[] }>().invites.find((i) => i.id === id);

  it('mails a link with the school as sender; the link works once and makes the account', async () => {
    const made = await invite({ email: 'New.Teacher@G.test', role: 'teacher' });
    expect(made).toMatchObject({ email: 'new.teacher@g.test', role: 'teacher', familyId: null, status: 'pending', sends: 1, delivery: { state: 'queued', error: null } });
    expect(new Date(made.expiresAt).getTime() - new Date(made.createdAt).getTime()).toBe(7 * 24 * 3600 * 1000);

    const mail = await deliveredTo('new.teacher@g.test');
    expect(mail.from?.value).toEqual([{ name: SCHOOL_NAME, address: FROM }]);
    expect(mail.subject).toBe(`You're invited to ${SCHOOL_NAME} on Keepsake`);
    expect(mail.text).toContain(`Ms <Head> has invited you to join ${SCHOOL_NAME} on Keepsake as a teacher.`);
    // Typed text is escaped in the HTML body: the school's and the inviter's markup is shown, never parsed.
    expect(mail.html).toContain('St Mary&#39;s &lt;b&gt;&quot;Primary&quot;&lt;/b&gt; &amp; Nursery');
    expect(mail.html).toContain('Ms &lt;Head&gt;');
    expect(mail.html).not.toContain('<b>"Primary"</b>');
    const link = linkToken(mail);
    expect(mail.html).toContain(`href="${PUBLIC_URL}/invite#${link}"`);
    expect((await listed(made.id))?.delivery).toEqual({ state: 'sent', error: null });

    expect((await inspect(link)).json()).toEqual({ schoolName: SCHOOL_NAME, role: 'teacher', email: 'new.teacher@g.test' });

    const accepted = await accept({ token: link, name: 'Nia Teacher', password: NEW_PASSWORD });
    expect(accepted.statusCode, accepted.body).toBe(201);
    const session = accepted.json<Session>();
    expect(session.user).toMatchObject({ email: 'new.teacher@g.test', name: 'Nia Teacher' });
    expect(session.memberships).toEqual([{ schoolId: school, schoolName: SCHOOL_NAME, schoolSlug: 'greenfield', role: 'teacher' }]);
    expect((await send('GET', `/v1/schools/${school}/classes`, session.accessToken)).statusCode).toBe(200);
    expect((await h.signIn('new.teacher@g.test', NEW_PASSWORD)).user.id).toBe(session.user.id);
    expect(await listed(made.id)).toMatchObject({ status: 'accepted', acceptedBy: session.user.id });

    // Single use: the same link again is refused, for accepting and for inspecting.
    const again = await accept({ token: link, name: 'Someone Else', password: NEW_PASSWORD });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toEqual({ code: 'conflict', message: 'This invitation has already been accepted. Sign in instead.' });
    expect((await inspect(link)).statusCode).toBe(409);

    expect(await h.audit('invite.create')).toContainEqual(expect.objectContaining({ subject: `invite:${made.id}`, school_id: school }));
    expect(await h.audit('invite.accept')).toContainEqual(expect.objectContaining({ subject: `invite:${made.id}`, actor_user_id: session.user.id }));
    // The token is stored nowhere: not in the invitation, not in the outbox, not in the audit trail.
    for (const table of ['invites', 'outbox', 'audit_log'] as const) {
      expect(JSON.stringify(await h.db.kysely.selectFrom(table).selectAll().execute())).not.toContain(link);
    }
  });

  it('lets exactly one of two simultaneous accepts win', async () => {
    await invite({ email: 'racer@g.test', role: 'photographer' });
    const link = linkToken(await deliveredTo('racer@g.test'));
    const responses = await Promise.all([
      accept({ token: link, name: 'Racer One', password: NEW_PASSWORD }),
      accept({ token: link, name: 'Racer Two', password: NEW_PASSWORD }),
    ]);
    expect(responses.map((r) => r.statusCode).sort()).toEqual([201, 409]);
    // The loser lost the claim on the invitation itself (not merely the race for the e-mail address).
    expect(responses.find((r) => r.statusCode === 409)?.json()).toEqual({ code: 'conflict', message: 'This invitation has already been accepted. Sign in instead.' });
    const users = await h.db.kysely.selectFrom('users').select('name').where('email', '=', 'racer@g.test').execute();
    expect(users).toHaveLength(1);
  });

  it('resend makes a new link and kills the old one; a mail not yet sent is replaced, not sent too', async () => {
    const made = await invite({ email: 'resent@g.test', role: 'teacher' });
    const first = linkToken(await deliveredTo('resent@g.test'));
    const resent = await send('POST', `${invitesUrl()}/${made.id}/resend`, token.admin);
    expect(resent.statusCode, resent.body).toBe(200);
    expect(resent.json<PublicInvite>()).toMatchObject({ status: 'pending', sends: 2 });
    // A second resend before the outbox runs: only the newest mail goes out.
    expect((await send('POST', `${invitesUrl()}/${made.id}/resend`, token.admin)).json<PublicInvite>().sends).toBe(3);
    const before = smtp.received.length;
    const latest = linkToken(await deliveredTo('resent@g.test'));
    expect(smtp.received.length).toBe(before + 1);
    const states = await h.db.kysely.selectFrom('outbox').select(['idempotency_key', 'state']).where('idempotency_key', 'like', `invite:${made.id}:%`).orderBy('idempotency_key').execute();
    expect(states).toEqual([
      { idempotency_key: `invite:${made.id}:1`, state: 'sent' },
      { idempotency_key: `invite:${made.id}:2`, state: 'cancelled' },
      { idempotency_key: `invite:${made.id}:3`, state: 'sent' },
    ]);

    const old = await accept({ token: first, name: 'Old Link', password: NEW_PASSWORD });
    expect(old.statusCode).toBe(401);
    expect(old.json<{ message: string }>().message).toBe('This invitation link is not valid. It may have been replaced by a newer one; ask the school to send it again.');
    expect((await accept({ token: latest, name: 'New Link', password: NEW_PASSWORD })).statusCode).toBe(201);
    expect(await h.audit('invite.resend')).toHaveLength(2);
  });

  it('revoke kills the link; revoking again is fine; a revoked invitation cannot be resent', async () => {
    const made = await invite({ email: 'revoked@g.test', role: 'student' });
    const link = linkToken(await deliveredTo('revoked@g.test'));
    expect((await send('DELETE', `${invitesUrl()}/${made.id}`, token.admin)).statusCode).toBe(204);
    expect((await send('DELETE', `${invitesUrl()}/${made.id}`, token.admin)).statusCode).toBe(204);
    expect(await listed(made.id)).toMatchObject({ status: 'revoked' });
    const refused = await accept({ token: link, name: 'Too Late', password: NEW_PASSWORD });
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toEqual({ code: 'unauthorized', message: 'This invitation was withdrawn by the school.' });
    expect((await send('POST', `${invitesUrl()}/${made.id}/resend`, token.admin)).statusCode).toBe(409);
    expect(await h.audit('invite.revoke')).toHaveLength(1);
    // Revoking drops a mail still waiting: nothing with a dead link goes out.
    const unsent = await invite({ email: 'never-mailed@g.test', role: 'teacher' });
    expect((await send('DELETE', `${invitesUrl()}/${unsent.id}`, token.admin)).statusCode).toBe(204);
    expect(await worker.runOnce()).toEqual({ sent: 0, retried: 0, failed: 0 });
    expect(await listed(unsent.id)).toMatchObject({ status: 'revoked', delivery: { state: 'cancelled', error: null } });
  });

  it('refuses an expired link until the invitation is resent', async () => {
    const made = await invite({ email: 'late@g.test', role: 'teacher' });
    const link = linkToken(await deliveredTo('late@g.test'));
    await h.db.kysely.updateTable('invites').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', made.id).execute();
    expect(await listed(made.id)).toMatchObject({ status: 'expired' });
    const expired = await accept({ token: link, name: 'Late Comer', password: NEW_PASSWORD });
    expect(expired.statusCode).toBe(401);
    expect(expired.json<{ message: string }>().message).toBe('This invitation has expired. Ask the school to send a new one.');
    expect((await inspect(link)).statusCode).toBe(401);
    // A new invitation for the same address is allowed once the old one has expired, and so is a resend.
    expect((await send('POST', `${invitesUrl()}/${made.id}/resend`, token.admin)).json<PublicInvite>().status).toBe('pending');
    const fresh = linkToken(await deliveredTo('late@g.test'));
    expect((await accept({ token: fresh, name: 'Late Comer', password: NEW_PASSWORD })).statusCode).toBe(201);
  });

  it('makes an accepted parent a member of the named family, who then sees its children', async () => {
    const family = (await send('POST', `/v1/schools/${school}/families`, token.admin, { name: 'Lima <family>' })).json<PublicFamily>();
    const child = (await send('POST', `/v1/schools/${school}/students`, token.admin, { name: 'Ana Lima' })).json<PublicStudent>();
    const stranger = (await send('POST', `/v1/schools/${school}/students`, token.admin, { name: 'Not Their Child' })).json<PublicStudent>();
    expect((await send('POST', `/v1/schools/${school}/families/${family.id}/students`, token.admin, { studentId: child.id })).statusCode).toBe(200);

    // A parent invitation needs a family of this school; other roles take none.
    const otherFamily = (await send('POST', `/v1/schools/${otherSchool}/families`, token.otherAdmin, { name: 'Elsewhere' })).json<PublicFamily>();
    for (const [body, message] of [
      [{ email: 'p@g.test', role: 'parent' }, 'Invalid request body: familyId: a parent invitation names the family to join.'],
      [{ email: 'p@g.test', role: 'parent', familyId: otherFamily.id }, 'Invalid request body: familyId: no such family in this school.'],
      [{ email: 'p@g.test', role: 'teacher', familyId: family.id }, 'Invalid request body: familyId: only parent invitations name a family.'],
    ] as const) {
      const response = await send('POST', invitesUrl(), token.admin, body);
      expect(response.statusCode).toBe(400);
      expect(response.json<{ message: string }>().message.replace(/^(?!Invalid request body: )/, 'Invalid request body: ')).toBe(message);
    }

    await invite({ email: 'maria@family.test', role: 'parent', familyId: family.id });
    const mail = await deliveredTo('maria@family.test');
    expect(mail.text).toContain('as a parent in the Lima <family> family.');
    expect(mail.html).toContain('the Lima &lt;family&gt; family');
    const session = (await accept({ token: linkToken(mail), name: 'Maria Lima', password: NEW_PASSWORD })).json<Session>();
    const students = await send('GET', `/v1/schools/${school}/students`, session.accessToken);
    expect(students.json<{ students: PublicStudent[] }>().students.map((s) => s.id)).toEqual([child.id]);
    expect((await send('GET', `/v1/schools/${school}/students/${stranger.id}`, session.accessToken)).statusCode).toBe(404);
    const mine = await send('GET', `/v1/schools/${school}/families/${family.id}`, session.accessToken);
    expect(mine.json<PublicFamily>().memberUserIds).toEqual([session.user.id]);
  });

  it('adds the school to an existing account when its owner accepts signed in', async () => {
    const existing = await h.createUser('moving@r.test', [[otherSchool, 'teacher']]);
    await invite({ email: 'Moving@R.test', role: 'photographer' });
    const link = linkToken(await deliveredTo('moving@r.test'));

    const anonymous = await accept({ token: link, name: 'Twin', password: NEW_PASSWORD });
    expect(anonymous.statusCode).toBe(409);
    expect(anonymous.json<{ message: string }>().message).toBe('An account for moving@r.test already exists. Sign in with it, then open the invitation link again.');
    const someoneElse = await accept({ token: link }, token.teacher);
    expect(someoneElse.statusCode).toBe(403);
    expect(someoneElse.json<{ message: string }>().message).toBe('This invitation was sent to moving@r.test. Sign in with that address to accept it.');
    const own = await h.tokens.issue(existing);
    expect((await accept({ token: link, password: NEW_PASSWORD }, own)).statusCode).toBe(400);

    const joined = await accept({ token: link }, own);
    expect(joined.statusCode, joined.body).toBe(200);
    expect(joined.json<Session>().memberships.map((m) => [m.schoolId, m.role]).sort()).toEqual([[otherSchool, 'teacher'], [school, 'photographer']].sort());
    // The password did not change.
    expect((await h.signIn('moving@r.test')).user.id).toBe(existing);
  });

  it('refuses duplicates, non-admins, other schools, bad tokens and extra fields', async () => {
    const first = await invite({ email: 'twice@g.test', role: 'teacher' });
    const twice = await send('POST', invitesUrl(), token.admin, { email: 'TWICE@g.test', role: 'admin' });
    expect(twice.statusCode).toBe(409);
    expect(twice.json()).toEqual({ code: 'conflict', message: 'twice@g.test already has a pending invitation; resend it instead.', id: first.id });
    const member = await send('POST', invitesUrl(), token.admin, { email: 'teacher@g.test', role: 'admin' });
    expect(member.statusCode).toBe(409);
    expect(member.json<{ message: string }>().message).toBe('teacher@g.test is already a member of this school; change their role instead.');

    for (const bearer of [token.teacher, token.parent]) {
      const response = await send('POST', invitesUrl(), bearer, { email: 'x@g.test', role: 'teacher' });
      expect(response.statusCode).toBe(403);
      expect(response.json()).toEqual({ code: 'forbidden', message: 'Only admins can manage invitations.' });
      expect((await send('GET', invitesUrl(), bearer)).statusCode).toBe(403);
    }
    expect((await send('GET', invitesUrl(), token.otherAdmin)).statusCode).toBe(404);
    expect((await send('POST', `${invitesUrl(otherSchool)}/${first.id}/resend`, token.otherAdmin)).statusCode).toBe(404);
    expect((await send('DELETE', `${invitesUrl(otherSchool)}/${first.id}`, token.otherAdmin)).statusCode).toBe(404);

    // Mass assignment: a school, a status or a token in a body is refused, not ignored.
    expect((await send('POST', invitesUrl(), token.admin, { email: 'y@g.test', role: 'teacher', schoolId: otherSchool })).statusCode).toBe(400);
    expect((await send('POST', invitesUrl(), token.admin, { email: 'y@g.test', role: 'owner' })).json<{ message: string }>().message).toBe(
      'Invalid request body: role: must be one of admin, photographer, teacher, parent, student',
    );
    expect((await accept({ token: 'x'.repeat(43), name: 'N', password: NEW_PASSWORD, role: 'admin' })).statusCode).toBe(400);
    expect((await send('GET', `${invitesUrl()}?status=lost`, token.admin)).statusCode).toBe(400);
    const pending = (await send('GET', `${invitesUrl()}?status=pending`, token.admin)).json<{ invites: PublicInvite[] }>().invites;
    expect(pending.length).toBeGreaterThan(0);
    expect(pending.every((i) => i.status === 'pending')).toBe(true);

    for (const bad of ['not-a-token', 'A'.repeat(43)]) {
      const response = await accept({ token: bad, name: 'Guess', password: NEW_PASSWORD });
      expect(response.statusCode).toBe(401);
      expect(response.json<{ code: string }>().code).toBe('unauthorized');
      expect((await inspect(bad)).statusCode).toBe(401);
    }
    expect((await accept({ token: 'A'.repeat(43) })).statusCode).toBe(400);
    expect((await h.audit('invite.accept-failed')).some((a) => a.subject === 'invite:unknown')).toBe(true);
  });

  it('limits accept and inspect per address like sign-in', async () => {
    const limited = buildApp({
      db: h.db.kysely,
      tokens: h.tokens,
      refreshTtlSeconds: 3600,
      scrypt: TEST_SCRYPT,
      rateLimit: { store: new MemoryStore(), limits: { windowSeconds: 60, perIp: 0, perSchool: 0, signInPerIp: 3, signInPerAccount: 0, refreshPerIp: 0 } },
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const url = i % 2 === 0 ? '/v1/auth/invites/inspect' : '/v1/auth/invites/accept';
        const response = await limited.inject({ method: 'POST', url, payload: { token: 'B'.repeat(43), name: 'N', password: NEW_PASSWORD } });
        statuses.push(response.statusCode);
      }
      expect(statuses.slice(0, 3).every((s) => s === 400 || s === 401)).toBe(true);
      expect(statuses.slice(3)).toEqual([429, 429]);
    } finally {
      await limited.close();
    }
  });
});
