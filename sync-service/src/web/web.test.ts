import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { ACCESS_COOKIE, REFRESH_COOKIE } from '../auth/web-session.ts';
import { MemoryStore } from '../ratelimit.ts';
import type { PublicFamily } from '../services/people.ts';
import type { ObjectStore } from '../services/storage.ts';
import { TEST_DATABASES } from '../test/databases.ts';
import { PASSWORD, send, startHarness, TEST_SCRYPT, type Harness } from '../test/harness.ts';
import { buildGallery } from './build.ts';
import { contentSecurityPolicy, mediaOrigin } from './headers.ts';

/** Headers a same-origin fetch from the gallery carries. */
const SAME_ORIGIN = { 'x-keepsake': '1', 'sec-fetch-site': 'same-origin' } as const;
const PARENT_PASSWORD = 'a long parent password';

/** The `name=value` pairs a browser would send back, from a response's Set-Cookie headers. */
function cookieJar(response: LightMyRequestResponse): string {
  return response.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
}

function expectStrictHeaders(response: LightMyRequestResponse, what: string): void {
  const h = response.headers;
  expect(h['content-security-policy'], what).toContain("default-src 'none'");
  expect(h['content-security-policy'], what).toContain("script-src 'self';");
  expect(h['content-security-policy'], what).toContain("style-src 'self';");
  expect(h['content-security-policy'], what).toContain("frame-ancestors 'none'");
  expect(String(h['content-security-policy']), what).not.toContain('unsafe-inline');
  expect(h['strict-transport-security'], what).toMatch(/^max-age=\d{7,}/);
  expect(h['x-content-type-options'], what).toBe('nosniff');
  expect(h['referrer-policy'], what).toBe('no-referrer');
  expect(h['cross-origin-opener-policy'], what).toBe('same-origin');
  expect(h['permissions-policy'], what).toBe('camera=(), microphone=(), geolocation=()');
}

describe('the gallery build', () => {
  it('bundles each page into hashed files whose JavaScript stays under 100 KB gzipped, with no inline script or style', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keepsake-gallery-'));
    try {
      const built = await buildGallery(dir);
      expect(built.script).toMatch(/^assets\/main-[A-Z0-9]{8}\.js$/);
      expect(built.style).toMatch(/^assets\/styles-[A-Z0-9]{8}\.css$/);
      const js = built.assets.filter((a) => a.file.endsWith('.js'));
      const gzipped = js.reduce((sum, a) => sum + a.gzipBytes, 0);
      // eslint-disable-next-line no-console -- the budget's margin is worth seeing in the run.
      console.info(`[gallery] page JavaScript: ${js.reduce((s, a) => s + a.bytes, 0)} bytes, ${gzipped} gzipped (budget 102400)`);
      expect(gzipped).toBeGreaterThan(1000);
      expect(gzipped).toBeLessThan(100 * 1024);
      const shell = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
      expect(shell).toContain(`<script type="module" src="/${built.script}"></script>`);
      expect(shell).toContain(`<link rel="stylesheet" href="/${built.style}">`);
      // Every script has a src and there is no style element or attribute: the CSP forbids inline code.
      expect(shell.match(/<script(?![^>]*\bsrc=)[^>]*>/g)).toBeNull();
      expect(shell).not.toMatch(/<style|\sstyle=/);
      expect(fs.existsSync(path.join(dir, `${built.script}.gz`))).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the media origin in the policy', () => {
  const store = (url: string): ObjectStore => ({
    head: () => Promise.resolve(undefined),
    list: async function* () {
      yield [];
    },
    deleteMany: () => Promise.resolve({ failed: [] }),
    presignGet: () => Promise.resolve(url),
  });

  it('is the CDN when one is set, else the bucket a presigned URL points at', async () => {
    expect(await mediaOrigin(undefined)).toBeUndefined();
    expect(await mediaOrigin({ store: store('https://x.invalid/k'), urlTtlSeconds: 300, cdnBaseUrl: 'https://cdn.school.example/media' })).toBe('https://cdn.school.example');
    expect(await mediaOrigin({ store: store('https://photos.s3.eu-west-1.amazonaws.com/gallery/origin?X-Amz-Signature=1'), urlTtlSeconds: 300 })).toBe(
      'https://photos.s3.eu-west-1.amazonaws.com',
    );
    expect(contentSecurityPolicy(['http://127.0.0.1:9000'])).toContain("img-src 'self' data: blob: http://127.0.0.1:9000; media-src 'self' http://127.0.0.1:9000;");
  });
});

describe.each(TEST_DATABASES)('gallery sessions and headers on $name', (target) => {
  let h: Harness;
  let school: string;
  let adminToken: string;
  let parentCookies: string;

  async function familyCode(): Promise<{ family: PublicFamily; code: string }> {
    const family = (await send(h, 'POST', `/v1/schools/${school}/families`, adminToken, { name: `Family ${Math.random()}` })).json<PublicFamily>();
    const code = (await send(h, 'POST', `/v1/schools/${school}/families/${family.id}/access-code`, adminToken)).json<{ code: string }>().code;
    return { family, code };
  }

  const webSession = (body: unknown, headers: Record<string, string> = SAME_ORIGIN) =>
    h.app.inject({ method: 'POST', url: '/v1/web/session', headers, payload: body as Record<string, unknown> });

  beforeAll(async () => {
    h = await startHarness(target);
    school = await h.createSchool('greenfield');
    adminToken = await h.tokens.issue(await h.createUser('admin@g.test', [[school, 'admin']]));
    const { code } = await familyCode();
    const signedIn = await webSession({ accessCode: code, name: 'Maria Lima', email: 'maria@family.test', password: PARENT_PASSWORD });
    expect(signedIn.statusCode, signedIn.body).toBe(201);
    parentCookies = cookieJar(signedIn);
  });
  afterAll(() => h.close());

  it('turns an access code into a parent account whose tokens live only in HttpOnly, Secure, SameSite=Strict cookies', async () => {
    const { code } = await familyCode();
    const response = await webSession({ accessCode: code.toLowerCase(), name: 'Ana', email: 'ana@family.test', password: PARENT_PASSWORD });
    expect(response.statusCode).toBe(201);
    const body = response.json<Record<string, unknown>>();
    expect(body).toEqual({ user: expect.objectContaining({ email: 'ana@family.test' }), memberships: [expect.objectContaining({ schoolId: school, role: 'parent' })], expiresIn: 900 });
    expect(response.body).not.toMatch(/accessToken|refreshToken/);
    const access = response.cookies.find((c) => c.name === ACCESS_COOKIE);
    const refresh = response.cookies.find((c) => c.name === REFRESH_COOKIE);
    expect(access).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/', maxAge: 900 });
    expect(refresh).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/v1/web/session', maxAge: 3600 });
    expect(response.headers['cache-control']).toBe('no-store');
    // The code is spent: a second try is the same clear refusal as a wrong code.
    const again = await webSession({ accessCode: code, name: 'Ana', email: 'ana2@family.test', password: PARENT_PASSWORD });
    expect(again.statusCode).toBe(401);
    expect(again.json()).toEqual({ code: 'unauthorized', message: 'That access code is not valid. Ask the school for a new one.' });
  });

  it('signs in with an email and password, and refuses a wrong one with a sentence', async () => {
    const ok = await webSession({ email: 'maria@family.test', password: PARENT_PASSWORD });
    expect(ok.statusCode).toBe(200);
    expect(ok.cookies.map((c) => c.name).sort()).toEqual([ACCESS_COOKIE, REFRESH_COOKIE].sort());
    const wrong = await webSession({ email: 'maria@family.test', password: 'not the password' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ code: 'unauthorized', message: 'The email or password is not right.' });
    const bad = await webSession({ email: 'maria@family.test' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ message: string }>().message).toBe('Invalid request body: password: required');
  });

  it('accepts the access cookie in place of a bearer token only on same-origin requests that carry X-Keepsake', async () => {
    const url = `/v1/schools/${school}/events`;
    const withCookie = (headers: Record<string, string>) => h.app.inject({ method: 'GET', url, headers: { cookie: parentCookies, ...headers } });
    expect((await withCookie(SAME_ORIGIN)).statusCode).toBe(200);
    // Browsers that send no Sec-Fetch-Site: the Origin must be the service's own.
    expect((await withCookie({ 'x-keepsake': '1', origin: 'http://localhost:80', host: 'localhost:80' })).statusCode).toBe(200);
    expect((await withCookie({ 'x-keepsake': '1', origin: 'http://127.0.0.1:8787' })).statusCode).toBe(200);
    const forged: Array<Record<string, string>> = [
      {},
      { 'sec-fetch-site': 'same-origin' },
      { 'x-keepsake': '1', 'sec-fetch-site': 'cross-site' },
      { 'x-keepsake': '1', 'sec-fetch-site': 'same-site' },
      { 'x-keepsake': '1', origin: 'https://evil.example' },
      { 'x-keepsake': '1' },
    ];
    for (const headers of forged) {
      const refused = await withCookie(headers);
      expect(refused.statusCode, JSON.stringify(headers)).toBe(403);
      expect(refused.json()).toEqual({ code: 'forbidden', message: expect.stringContaining('did not come from the gallery itself') });
    }
    // No cookie at all is still the ordinary 401.
    expect((await h.app.inject({ method: 'GET', url, headers: SAME_ORIGIN })).statusCode).toBe(401);
  });

  it('refuses a cross-site POST that carries an admin cookie, and nothing is written', async () => {
    const admin = cookieJar(await webSession({ email: 'admin@g.test', password: PASSWORD }));
    const create = (headers: Record<string, string>) =>
      h.app.inject({
        method: 'POST',
        url: `/v1/schools/${school}/events`,
        headers: { cookie: admin, ...headers },
        payload: { name: 'Planted by another site', startsOn: '2026-06-01' },
      });
    // What a form on another site sends: the cookie (were SameSite ignored) and no custom header.
    const forged = await create({ 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' });
    expect(forged.statusCode).toBe(403);
    expect(await h.db.kysely.selectFrom('events').select('id').where('name', '=', 'Planted by another site').execute()).toEqual([]);
    const own = await create(SAME_ORIGIN);
    expect(own.statusCode, own.body).toBe(201);
    // Sign-in itself needs the proof, so another site cannot sign a browser in to an account of its choosing.
    expect((await webSession({ email: 'admin@g.test', password: PASSWORD }, { 'sec-fetch-site': 'cross-site' })).statusCode).toBe(403);
  });

  it('tells the gallery who is signed in, rotates the refresh cookie, and signs out', async () => {
    const me = await h.app.inject({ method: 'GET', url: '/v1/web/session', headers: { cookie: parentCookies, ...SAME_ORIGIN } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual({ user: expect.objectContaining({ email: 'maria@family.test' }), memberships: [expect.objectContaining({ role: 'parent' })], expiresIn: 900 });

    const start = await webSession({ email: 'maria@family.test', password: PARENT_PASSWORD });
    const refreshCookie = `${REFRESH_COOKIE}=${start.cookies.find((c) => c.name === REFRESH_COOKIE)?.value ?? ''}`;
    const refresh = (cookie: string) => h.app.inject({ method: 'POST', url: '/v1/web/session/refresh', headers: { cookie, ...SAME_ORIGIN } });
    const rotated = await refresh(refreshCookie);
    expect(rotated.statusCode).toBe(200);
    const next = rotated.cookies.find((c) => c.name === REFRESH_COOKIE)?.value;
    expect(next).toBeDefined();
    expect(`${REFRESH_COOKIE}=${next}`).not.toBe(refreshCookie);
    // The spent cookie coming back is a reuse: refused, cookies cleared, and the rotated one revoked too.
    const reused = await refresh(refreshCookie);
    expect(reused.statusCode).toBe(401);
    expect(reused.cookies.every((c) => c.value === '' && c.maxAge === 0)).toBe(true);
    expect((await refresh(`${REFRESH_COOKIE}=${next}`)).statusCode).toBe(401);
    expect((await refresh('')).json()).toEqual({ code: 'unauthorized', message: 'Your session has ended. Sign in again.' });

    const other = await webSession({ email: 'maria@family.test', password: PARENT_PASSWORD });
    const out = await h.app.inject({ method: 'DELETE', url: '/v1/web/session', headers: { cookie: cookieJar(other), ...SAME_ORIGIN } });
    expect(out.statusCode).toBe(204);
    expect(out.cookies.map((c) => [c.name, c.maxAge])).toEqual([
      [ACCESS_COOKIE, 0],
      [REFRESH_COOKIE, 0],
    ]);
    const afterOut = `${REFRESH_COOKIE}=${other.cookies.find((c) => c.name === REFRESH_COOKIE)?.value ?? ''}`;
    expect((await refresh(afterOut)).statusCode).toBe(401);
  });

  it('puts the strict headers on every kind of response: shell, asset, API, error, 404', async () => {
    const shell = await h.app.inject({ url: '/events/some-event?school=x' });
    expect(shell.statusCode).toBe(200);
    expect(shell.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(shell.headers['cache-control']).toBe('no-cache');
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(shell.body)?.[1] ?? '';
    const asset = await h.app.inject({ url: script, headers: { 'accept-encoding': 'gzip, br' } });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['content-encoding']).toBe('gzip');
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const plain = await h.app.inject({ url: script });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.length).toBeGreaterThan(asset.rawPayload.length);

    const responses: Array<[string, LightMyRequestResponse]> = [
      ['shell /', await h.app.inject({ url: '/' })],
      ['shell /sign-in', await h.app.inject({ url: '/sign-in' })],
      ['shell /family', await h.app.inject({ url: '/family' })],
      ['shell /invite', await h.app.inject({ url: '/invite' })],
      ['asset', asset],
      ['missing asset', await h.app.inject({ url: '/assets/main-OLD.js' })],
      ['traversal', await h.app.inject({ url: '/assets/..%2F..%2Fpackage.json' })],
      ['healthz', await h.app.inject({ url: '/healthz' })],
      ['api 200', await send(h, 'GET', `/v1/schools/${school}/events`, adminToken)],
      ['api 401', await send(h, 'GET', `/v1/schools/${school}/events`, undefined)],
      ['api 400', await webSession({ nonsense: true })],
      ['api 404', await h.app.inject({ url: '/v1/nowhere' })],
      ['session 201', await webSession({ email: 'maria@family.test', password: PARENT_PASSWORD })],
      ['bad json', await h.app.inject({ method: 'POST', url: '/v1/web/session', headers: { ...SAME_ORIGIN, 'content-type': 'application/json' }, payload: '{' })],
    ];
    for (const [what, response] of responses) expectStrictHeaders(response, what);
    for (const page of ['shell /family', 'shell /invite']) expect(responses.find(([w]) => w === page)?.[1].body, page).toContain('<div id="app"');
    expect(responses.find(([w]) => w === 'missing asset')?.[1].statusCode).toBe(404);
    expect(responses.find(([w]) => w === 'traversal')?.[1].statusCode).toBe(404);
  });

  it('validates the thumbhash a manifest carries', async () => {
    const event = (await send(h, 'POST', `/v1/schools/${school}/events`, adminToken, { name: 'Sports Day', startsOn: '2026-06-01' })).json<{ id: string }>();
    const asset = (thumbhash: unknown) => ({
      id: 'abc123',
      kind: 'photo',
      capturedAt: null,
      width: 4,
      height: 3,
      durationSec: null,
      rating: 0,
      title: null,
      description: null,
      tags: [],
      thumbhash,
      variants: { thumb: { key: 'schools/greenfield/events/e/abc123/thumb.webp', size: 5, hash: 'h' } },
    });
    for (const [bad, why] of [
      ['not base64!', 'must be base64'],
      ['AAAA', 'must be at least 8 characters'],
      ['A'.repeat(68), 'must be at most 64 characters'],
    ] as const) {
      const response = await send(h, 'PUT', `/v1/schools/${school}/events/${event.id}/manifest`, adminToken, { assets: [asset(bad)] });
      expect(response.statusCode).toBe(400);
      expect(response.json<{ message: string }>().message).toContain(`assets.0.thumbhash: ${why}`);
    }
  });
});

describe.each(TEST_DATABASES)('gallery sign-in limits on $name', (target) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(target);
    await h.createUser('maria@family.test');
  });
  afterAll(() => h.close());

  it('limits the gallery sign-in like /v1/auth/sign-in, per address and per account', async () => {
    const app = buildApp({
      db: h.db.kysely,
      tokens: h.tokens,
      refreshTtlSeconds: 3600,
      scrypt: TEST_SCRYPT,
      gallery: false,
      rateLimit: { store: new MemoryStore(), limits: { windowSeconds: 60, perIp: 0, perSchool: 0, signInPerIp: 3, signInPerAccount: 100, refreshPerIp: 2 } },
    });
    try {
      const attempt = () => app.inject({ method: 'POST', url: '/v1/web/session', headers: SAME_ORIGIN, payload: { email: 'maria@family.test', password: 'wrong' } });
      for (let i = 0; i < 3; i++) expect((await attempt()).statusCode).toBe(401);
      const limited = await attempt();
      expect(limited.statusCode).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.json()).toEqual({ code: 'forbidden', message: expect.stringMatching(/^Too many requests to sign in from this address; try again in \d+ s\.$/) });
      expectStrictHeaders(limited, '429');
      const refresh = () => app.inject({ method: 'POST', url: '/v1/web/session/refresh', headers: SAME_ORIGIN });
      expect((await refresh()).statusCode).toBe(401);
      expect((await refresh()).statusCode).toBe(401);
      expect((await refresh()).statusCode).toBe(429);
    } finally {
      await app.close();
    }
    const perAccount = buildApp({
      db: h.db.kysely,
      tokens: h.tokens,
      refreshTtlSeconds: 3600,
      scrypt: TEST_SCRYPT,
      gallery: false,
      rateLimit: { store: new MemoryStore(), limits: { windowSeconds: 60, perIp: 0, perSchool: 0, signInPerIp: 0, signInPerAccount: 2, refreshPerIp: 0 } },
    });
    try {
      const attempt = () => perAccount.inject({ method: 'POST', url: '/v1/web/session', headers: SAME_ORIGIN, payload: { email: 'Maria@Family.test', password: 'wrong' } });
      expect((await attempt()).statusCode).toBe(401);
      expect((await attempt()).statusCode).toBe(401);
      expect((await attempt()).json<{ message: string }>().message).toMatch(/^Too many requests to sign in to this account/);
    } finally {
      await perAccount.close();
    }
  });
});
