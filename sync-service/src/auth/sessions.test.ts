import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DATABASES } from '../test/databases.ts';
import { PASSWORD, startHarness, type Harness } from '../test/harness.ts';
import type { Session } from './sessions.ts';
import { hashToken } from './sessions.ts';

describe.each(TEST_DATABASES)('auth on $name', (target) => {
  let h: Harness;
  let schoolId: string;
  let userId: string;
  beforeAll(async () => {
    h = await startHarness(target);
    schoolId = await h.createSchool('greenfield');
    userId = await h.createUser('ada@school.test', [[schoolId, 'photographer']]);
  });
  afterAll(() => h.close());

  const post = (url: string, body: unknown) => h.call('POST', url, undefined, body);

  it('signs in with the right password, case-insensitively on the email', async () => {
    const response = await post('/v1/auth/sign-in', { email: '  ADA@School.test ', password: PASSWORD });
    expect(response.statusCode).toBe(200);
    const session = response.json<Session>();
    expect(session.user).toEqual({ id: userId, email: 'ada@school.test', name: 'ada' });
    expect(session.memberships).toEqual([{ schoolId, schoolName: 'School greenfield', schoolSlug: 'greenfield', role: 'photographer' }]);
    expect(session.refreshToken).toMatch(/^[\w-]{43}$/);
    expect(await h.tokens.verify(session.accessToken)).toBe(userId);
    // Only the hash is stored.
    const rows = await h.db.kysely.selectFrom('refresh_tokens').select('token_hash').where('user_id', '=', userId).execute();
    expect(rows.map((r) => r.token_hash)).toContain(hashToken(session.refreshToken));
    expect(rows.map((r) => r.token_hash)).not.toContain(session.refreshToken);
    const audited = await h.audit('auth.sign-in');
    expect(audited.at(-1)).toMatchObject({ actor_user_id: userId, subject: `user:${userId}` });
  });

  it('answers a wrong password and an unknown email with the same 401, and audits both', async () => {
    const wrong = await post('/v1/auth/sign-in', { email: 'ada@school.test', password: 'nope' });
    const unknown = await post('/v1/auth/sign-in', { email: 'nobody@school.test', password: 'nope' });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json()).toEqual(unknown.json());
    expect(wrong.json()).toEqual({ code: 'unauthorized', message: expect.any(String) });
    const failed = await h.audit('auth.sign-in-failed');
    expect(failed.map((r) => [r.subject, JSON.parse(r.detail).reason])).toEqual([
      ['email:ada@school.test', 'wrong-password'],
      ['email:nobody@school.test', 'unknown-email'],
    ]);
  });

  it('pays for a scrypt on an unknown email too (timing does not reveal accounts)', async () => {
    // A separate app at a cost where scrypt dominates a request (~16 MiB, tens of ms), so a skipped
    // hash on the unknown-email path would show as a several-fold difference.
    const slow = await startHarness(target, { scrypt: { N: 2 ** 14, r: 8, p: 1 } });
    try {
      await slow.createUser('ada@school.test');
      const time = async (email: string) => {
        const samples: number[] = [];
        for (let i = 0; i < 5; i++) {
          const start = performance.now();
          const response = await slow.call('POST', '/v1/auth/sign-in', undefined, { email, password: 'nope' });
          samples.push(performance.now() - start);
          expect(response.statusCode).toBe(401);
        }
        return samples.sort((a, b) => a - b)[2] ?? 0;
      };
      await time('warm-up@school.test');
      const known = await time('ada@school.test');
      const unknown = await time('ghost@school.test');
      expect(unknown).toBeGreaterThan(known * 0.5);
      expect(unknown).toBeLessThan(known * 2);
    } finally {
      await slow.close();
    }
  });

  it('rotates refresh tokens: each use returns a new one and the old one stops working', async () => {
    const first = await h.signIn('ada@school.test');
    const second = await post('/v1/auth/refresh', { refreshToken: first.refreshToken });
    expect(second.statusCode).toBe(200);
    const next = second.json<Session>();
    expect(next.refreshToken).not.toBe(first.refreshToken);
    expect(await h.tokens.verify(next.accessToken)).toBe(userId);
    const third = await post('/v1/auth/refresh', { refreshToken: next.refreshToken });
    expect(third.statusCode).toBe(200);
  });

  it('revokes the whole family when a used refresh token comes back, and audits it', async () => {
    const stolen = (await h.signIn('ada@school.test')).refreshToken;
    const legit = (await post('/v1/auth/refresh', { refreshToken: stolen })).json<Session>().refreshToken;
    const newest = (await post('/v1/auth/refresh', { refreshToken: legit })).json<Session>().refreshToken;
    const replay = await post('/v1/auth/refresh', { refreshToken: stolen });
    expect(replay.statusCode).toBe(401);
    expect(replay.json()).toEqual({ code: 'unauthorized', message: expect.any(String) });
    // The newest token of the family is dead too: the thief and the user both have to sign in again.
    expect((await post('/v1/auth/refresh', { refreshToken: newest })).statusCode).toBe(401);
    const reuse = await h.audit('auth.refresh-reuse');
    expect(reuse).toHaveLength(1);
    expect(reuse[0]).toMatchObject({ actor_user_id: userId });
    expect(JSON.parse(reuse[0]?.detail ?? '{}')).toMatchObject({ revokedTokens: 3 }); // the whole chain, used ones included
    // Other sessions of the same user are untouched.
    const other = await h.signIn('ada@school.test');
    expect((await post('/v1/auth/refresh', { refreshToken: other.refreshToken })).statusCode).toBe(200);
  });

  it('refuses unknown and expired refresh tokens', async () => {
    expect((await post('/v1/auth/refresh', { refreshToken: 'made-up' })).statusCode).toBe(401);
    const session = await h.signIn('ada@school.test');
    await h.db.kysely
      .updateTable('refresh_tokens')
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('token_hash', '=', hashToken(session.refreshToken))
      .execute();
    expect((await post('/v1/auth/refresh', { refreshToken: session.refreshToken })).statusCode).toBe(401);
  });

  it('signs out: the refresh token stops working; signing out twice is fine', async () => {
    const session = await h.signIn('ada@school.test');
    expect((await post('/v1/auth/sign-out', { refreshToken: session.refreshToken })).statusCode).toBe(204);
    expect((await post('/v1/auth/sign-out', { refreshToken: session.refreshToken })).statusCode).toBe(204);
    expect((await post('/v1/auth/refresh', { refreshToken: session.refreshToken })).statusCode).toBe(401);
  });

  it('validates bodies strictly', async () => {
    const missing = await post('/v1/auth/sign-in', { email: 'ada@school.test' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toEqual({ code: 'invalid-input', message: expect.stringContaining('password') });
    const extra = await post('/v1/auth/sign-in', { email: 'ada@school.test', password: PASSWORD, role: 'admin' });
    expect(extra.statusCode).toBe(400);
    expect(extra.json<{ message: string }>().message).toContain('role');
  });
});
