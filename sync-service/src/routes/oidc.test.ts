/**
 * OIDC staff sign-in against a real provider (oidc-provider 9) on loopback: the app under test does
 * discovery, the code exchange and ID-token checks over HTTP; the test plays the browser, following
 * redirects by hand and submitting the provider's login form.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import type { OidcSettings } from '../auth/oidc.ts';
import type { Session } from '../auth/sessions.ts';
import { TEST_DATABASES } from '../test/databases.ts';
import { TEST_OIDC_CLIENT, testIdentityProvider } from '../test/identity-provider.ts';
import { send, startHarness, TEST_SCRYPT, type Harness } from '../test/harness.ts';

const REDIRECT = 'https://sync.test/v1/auth/oidc/callback';
const CLIENT = TEST_OIDC_CLIENT;

/** Accounts at the provider: id → claims. */
const ACCOUNTS: Record<string, { email: string; email_verified: boolean }> = {
  'idp-teacher': { email: 'Teacher@G.test', email_verified: true },
  'idp-admin': { email: 'admin@g.test', email_verified: true },
  'idp-unverified': { email: 'photo@g.test', email_verified: false },
  'idp-parent': { email: 'parent@g.test', email_verified: true },
  'idp-student': { email: 'pupil@g.test', email_verified: true },
  'idp-stranger': { email: 'nobody@elsewhere.test', email_verified: true },
  'idp-other-school': { email: 'admin@r.test', email_verified: true },
};

let server: http.Server;
let issuer: string;

beforeAll(async () => {
  server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = testIdentityProvider(issuer, REDIRECT, ACCOUNTS);
  server.on('request', provider.callback());
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Plays the browser from the provider's authorization URL to our callback: returns the callback URL. */
async function browse(authorizationUrl: string, login: string): Promise<URL> {
  const jar = new Map<string, string>();
  let url = authorizationUrl;
  let method: 'GET' | 'POST' = 'GET';
  let body: string | undefined;
  for (let hop = 0; hop < 15; hop += 1) {
    const response = await fetch(url, {
      method,
      redirect: 'manual',
      headers: {
        cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
      },
      ...(body === undefined ? {} : { body }),
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const location = response.headers.get('location');
    if (location !== null) {
      const next = new URL(location, url);
      if (next.href.startsWith(REDIRECT)) return next;
      url = next.href;
      method = 'GET';
      body = undefined;
      continue;
    }
    const html = await response.text();
    if (response.status === 200 && html.includes('name="login"')) {
      // The dev login form posts back to the interaction URL.
      method = 'POST';
      body = new URLSearchParams({ prompt: 'login', login, password: 'anything' }).toString();
      continue;
    }
    throw new Error(`unexpected provider page ${response.status} at ${url}: ${html.slice(0, 300)}`);
  }
  throw new Error('too many redirects');
}

describe.each(TEST_DATABASES)('OIDC staff sign-in on $name', (target) => {
  let h: Harness;
  let app: FastifyInstance;
  let school: string;
  let teacherId: string;

  beforeAll(async () => {
    h = await startHarness(target);
    school = await h.createSchool('greenfield');
    const other = await h.createSchool('riverside');
    teacherId = await h.createUser('teacher@g.test', [[school, 'teacher']]);
    await h.createUser('admin@g.test', [[school, 'admin']]);
    await h.createUser('photo@g.test', [[school, 'photographer']]);
    await h.createUser('parent@g.test', [[school, 'parent']]);
    await h.createUser('pupil@g.test', [[school, 'student']]);
    await h.createUser('admin@r.test', [[other, 'admin']]);
    const oidc: OidcSettings = { issuer, clientId: CLIENT.id, clientSecret: CLIENT.secret, redirectUri: REDIRECT, allowInsecureRequests: true };
    app = buildApp({ db: h.db.kysely, tokens: h.tokens, refreshTtlSeconds: 3600, scrypt: TEST_SCRYPT, oidc });
  });
  afterAll(async () => {
    await app.close();
    await h.close();
  });

  async function start(query = 'school=greenfield'): Promise<string> {
    const response = await app.inject({ method: 'GET', url: `/v1/auth/oidc/start?${query}` });
    expect(response.statusCode, response.body).toBe(302);
    const location = String(response.headers.location);
    expect(location.startsWith(`${issuer}/`)).toBe(true);
    const params = new URL(location).searchParams;
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('state')).toBeTruthy();
    expect(params.get('nonce')).toBeTruthy();
    return location;
  }
  const callback = (url: URL) => app.inject({ method: 'GET', url: `${url.pathname}${url.search}` });
  const exchange = (body: Record<string, unknown>) => app.inject({ method: 'POST', url: '/v1/auth/oidc/exchange', payload: body });

  it('signs a staff member in end to end: provider login, callback, one-time code, working session', async () => {
    const back = await browse(await start(), 'idp-teacher');
    const response = await callback(back);
    expect(response.statusCode, response.body).toBe(200);
    const { code, expiresIn } = response.json<{ code: string; expiresIn: number }>();
    expect(expiresIn).toBe(60);
    expect(response.body).not.toContain('refreshToken');

    const session = await exchange({ code });
    expect(session.statusCode, session.body).toBe(200);
    const s = session.json<Session>();
    expect(s.user).toMatchObject({ id: teacherId, email: 'teacher@g.test' });
    expect(s.memberships).toEqual([expect.objectContaining({ schoolId: school, role: 'teacher' })]);
    expect((await send(h, 'GET', `/v1/schools/${school}/events`, s.accessToken)).statusCode).toBe(200);
    expect((await send(h, 'POST', '/v1/auth/refresh', undefined, { refreshToken: s.refreshToken })).statusCode).toBe(200);

    // The subject is linked; the exchange code works once.
    expect(await h.db.kysely.selectFrom('oidc_identities').selectAll().where('user_id', '=', teacherId).execute()).toEqual([
      expect.objectContaining({ issuer, subject: 'idp-teacher' }),
    ]);
    expect((await exchange({ code })).statusCode).toBe(401);
    expect(await h.audit('auth.oidc-sign-in')).toContainEqual(expect.objectContaining({ actor_user_id: teacherId, school_id: school }));
    // Nothing needed between the steps is kept once they are done.
    expect(await h.db.kysely.selectFrom('oidc_exchange_codes').selectAll().execute()).toEqual([]);
  });

  it('refuses an unknown e-mail, an unverified one, a parent, a student and another school’s admin', async () => {
    for (const [login, reason] of [
      ['idp-stranger', 'unknown-email'],
      ['idp-unverified', 'email-unverified'],
      ['idp-parent', 'not-staff'],
      ['idp-student', 'not-staff'],
      ['idp-other-school', 'not-staff'],
    ] as const) {
      const response = await callback(await browse(await start(), login));
      expect(response.statusCode, `${login}: ${response.body}`).toBe(401);
      expect(response.json()).toMatchObject({ code: 'unauthorized' });
      expect((await h.audit('auth.oidc-failed')).at(-1)?.detail, login).toContain(reason);
    }
    expect(await h.db.kysely.selectFrom('oidc_identities').select('subject').where('subject', 'in', ['idp-parent', 'idp-stranger']).execute()).toEqual([]);
    // No account was made for the stranger.
    expect(await h.db.kysely.selectFrom('users').select('id').where('email', '=', 'nobody@elsewhere.test').execute()).toEqual([]);
  });

  it('refuses a tampered state and a replayed callback', async () => {
    const back = await browse(await start(), 'idp-admin');
    const tampered = new URL(back);
    tampered.searchParams.set('state', `${back.searchParams.get('state') ?? ''}x`);
    expect((await callback(tampered)).statusCode).toBe(401);
    // The genuine callback still works once …
    expect((await callback(back)).statusCode).toBe(200);
    // … and not twice.
    const replay = await callback(back);
    expect(replay.statusCode).toBe(401);
    expect((await h.audit('auth.oidc-failed')).at(-1)?.detail).toContain('unknown-state');
  });

  it('hands a desktop its code on a loopback redirect, bound to the desktop’s verifier', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const returnTo = 'http://127.0.0.1:53682/done';
    const back = await browse(await start(`school=greenfield&returnTo=${encodeURIComponent(returnTo)}&challenge=${challenge}`), 'idp-admin');
    const response = await callback(back);
    expect(response.statusCode, response.body).toBe(302);
    const location = new URL(String(response.headers.location));
    expect(`${location.origin}${location.pathname}`).toBe(returnTo);
    const code = location.searchParams.get('code') ?? '';
    expect(location.search).not.toContain('refresh');
    expect((await exchange({ code, verifier: randomBytes(32).toString('base64url') })).statusCode).toBe(401);

    // A wrong verifier spent the code: start again and present the right one.
    const again = await callback(await browse(await start(`school=greenfield&returnTo=${encodeURIComponent(returnTo)}&challenge=${challenge}`), 'idp-admin'));
    const good = new URL(String(again.headers.location)).searchParams.get('code') ?? '';
    expect((await exchange({ code: good, verifier })).statusCode).toBe(200);

    for (const bad of ['returnTo=https%3A%2F%2Fevil.test%2F', 'returnTo=http%3A%2F%2Fevil.test%2F', 'school=nope', 'school=greenfield&extra=1']) {
      const query = bad.startsWith('school=') ? bad : `school=greenfield&${bad}`;
      const response = await app.inject({ method: 'GET', url: `/v1/auth/oidc/start?${query}` });
      expect(response.statusCode, bad).toBeGreaterThanOrEqual(400);
      expect(response.statusCode, bad).toBeLessThan(500);
    }
  });

  it('sends a refusal back to the desktop that started the sign-in, and never to an address it did not name', async () => {
    const returnTo = 'http://127.0.0.1:53682/callback?state=desktop-state';
    const response = await callback(await browse(await start(`school=greenfield&returnTo=${encodeURIComponent(returnTo)}`), 'idp-parent'));
    expect(response.statusCode, response.body).toBe(302);
    const location = new URL(String(response.headers.location));
    expect(`${location.origin}${location.pathname}`).toBe('http://127.0.0.1:53682/callback');
    // The desktop's own state survives, so it knows the answer is for its sign-in.
    expect(location.searchParams.get('state')).toBe('desktop-state');
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('error_description')).toMatch(/No staff account of this school/);
    expect(location.searchParams.get('code')).toBeNull();
    expect((await h.audit('auth.oidc-failed')).at(-1)?.detail).toContain('not-staff');

    // A forged state names no sign-in, hence no address: a plain 401, no redirect.
    const forged = await callback(new URL(`https://sync.test/v1/auth/oidc/callback?state=forged&code=x`));
    expect(forged.statusCode).toBe(401);
    expect(forged.headers.location).toBeUndefined();
  });

  it('answers 404 on every OIDC route when OIDC is not configured', async () => {
    for (const [method, url] of [
      ['GET', '/v1/auth/oidc/start?school=greenfield'],
      ['GET', '/v1/auth/oidc/callback?code=x&state=y'],
      ['POST', '/v1/auth/oidc/exchange'],
    ] as const) {
      const response = await h.app.inject({ method, url, ...(method === 'POST' ? { payload: { code: 'x' } } : {}) });
      expect(response.statusCode, url).toBe(404);
      expect(response.json()).toMatchObject({ code: 'not-found' });
    }
  });
});
