/**
 * The desktop's sign-in through the school's identity provider, against the real sync service (its own
 * process) and a real OpenID provider on loopback. The test plays the system browser: it opens the URL the
 * engine hands out, follows every redirect by hand, submits the provider's login form, and lands on the
 * desktop's loopback listener.
 */
import http from 'node:http';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../shared/errors.ts';
import { memorySessionStore, startIdentityProvider, startSyncService, type IdentityProvider, type SyncServiceProcess } from '../test/sync-service.ts';
import { ProviderSignIn } from './provider-sign-in.ts';
import { SyncClient } from './sync-client.ts';

let idp: IdentityProvider;
let service: SyncServiceProcess;
let plain: SyncServiceProcess;

beforeAll(async () => {
  idp = await startIdentityProvider({
    'idp-office': { email: 'Office@Greenfield.example', email_verified: true },
    'idp-stranger': { email: 'nobody@elsewhere.example', email_verified: true },
  });
  // Each sign-in here counts four times against the per-address sign-in budget (the start check, the start, the
  // callback, the exchange); this file signs in more often than a school's office would in a minute.
  const budget = { RATE_LIMIT_SIGN_IN_PER_IP: '1000' };
  [service, plain] = await Promise.all([startSyncService({ oidc: idp, env: budget }), startSyncService({ env: budget })]);
}, 120_000);

afterAll(async () => {
  await Promise.all([service?.stop(), plain?.stop()]);
  await idp?.close();
});

interface Visit {
  status: number;
  location: string | null;
  cookies: string[];
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One request as a browser makes it (the provider's certificate is trusted, as the user's browser would be told to). */
function visit(url: string, options: { method?: 'GET' | 'POST'; body?: string; cookie?: string } = {}): Promise<Visit> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const request = send(
      target,
      {
        method: options.method ?? 'GET',
        ...(target.protocol === 'https:' ? { ca: idp.ca } : {}),
        headers: {
          ...(options.cookie ? { cookie: options.cookie } : {}),
          ...(options.body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
        },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, location: response.headers.location ?? null, cookies: response.headers['set-cookie'] ?? [], headers: response.headers, text }),
        );
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

/**
 * Plays the browser from the URL the desktop opens up to the redirect to the desktop's loopback listener, logging
 * in at the provider as `login`: returns that loopback URL (not visited).
 */
async function browseToLoopback(startUrl: string, login: string): Promise<URL> {
  const jar = new Map<string, string>();
  let url = startUrl;
  let method: 'GET' | 'POST' = 'GET';
  let body: string | undefined;
  for (let hop = 0; hop < 20; hop += 1) {
    const response = await visit(url, { method, ...(body === undefined ? {} : { body }), cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') });
    for (const cookie of response.cookies) {
      const [pair = ''] = cookie.split(';');
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    if (response.location !== null) {
      const next = new URL(response.location, url);
      if (next.pathname === '/callback' && next.hostname === '127.0.0.1' && !next.href.startsWith(service.base)) return next;
      url = next.href;
      method = 'GET';
      body = undefined;
      continue;
    }
    if (response.status === 200 && response.text.includes('name="login"')) {
      method = 'POST';
      body = new URLSearchParams({ prompt: 'login', login, password: 'anything' }).toString();
      continue;
    }
    throw new Error(`unexpected page ${response.status} at ${url}: ${response.text.slice(0, 300)}`);
  }
  throw new Error('too many redirects');
}

/** The loopback listener's address, from the start URL's return address. */
function loopbackOf(startUrl: string): string {
  return new URL(new URL(startUrl).searchParams.get('returnTo') ?? '').origin;
}

/** Whether anything still answers at `origin`. */
async function listening(origin: string): Promise<boolean> {
  return visit(`${origin}/callback`).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') return false;
      throw error;
    },
  );
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: Error) => error,
  );
}

describe(ProviderSignIn.name, () => {
  it('signs in through the provider in the browser and keeps the session like a password sign-in', async () => {
    const store = memorySessionStore();
    const client = new SyncClient({ store });
    const signIn = new ProviderSignIn(client);
    const { url } = await signIn.start(`${service.base}/`, 'greenfield');
    const start = new URL(url);
    expect(`${start.origin}${start.pathname}`).toBe(`${service.base}/v1/auth/oidc/start`);
    expect(start.searchParams.get('school')).toBe('greenfield');
    expect(start.searchParams.get('challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const returnTo = new URL(start.searchParams.get('returnTo') ?? '');
    expect(returnTo.hostname).toBe('127.0.0.1');
    expect(returnTo.pathname).toBe('/callback');
    expect(returnTo.searchParams.get('state')?.length).toBeGreaterThanOrEqual(32);
    expect(signIn.waiting).toBe(true);

    const finished = signIn.finish();
    const back = await browseToLoopback(url, 'idp-office');
    expect(back.searchParams.get('state')).toBe(returnTo.searchParams.get('state'));
    const landing = await visit(back.href);
    expect(landing.status).toBe(200);
    expect(landing.headers['content-type']).toMatch(/^text\/html/);
    expect(landing.headers['cache-control']).toBe('no-store');
    expect(landing.text).toContain('Signed in to Keepsake');
    expect(landing.text).toContain('You can close this tab and go back to the app.');
    // Self-contained: nothing is loaded from anywhere.
    expect(landing.text).not.toMatch(/<script|<link|<img|src=|href=/i);

    const result = await finished;
    expect(result).toMatchObject({ serverUrl: service.base, school: 'greenfield', email: 'office@greenfield.example' });
    expect(result.memberships).toEqual([expect.objectContaining({ role: 'admin', schoolSlug: 'greenfield' })]);
    expect(store.value).toEqual({ serverUrl: service.base, email: 'office@greenfield.example', refreshToken: expect.any(String) });
    expect(await listening(returnTo.origin)).toBe(false);
    expect(signIn.waiting).toBe(false);

    // The kept session works from a fresh client, through a refresh of the stored token.
    const later = new SyncClient({ store });
    const schoolId = result.memberships[0]!.schoolId;
    expect(await later.request<{ events: unknown[] }>('GET', `/v1/schools/${schoolId}/events`)).toBeTruthy();
    expect(await later.account()).toEqual({ serverUrl: service.base, email: 'office@greenfield.example' });
  }, 60_000);

  it('turns away a return with the wrong state and keeps waiting for the right one', async () => {
    const store = memorySessionStore();
    const signIn = new ProviderSignIn(new SyncClient({ store }));
    const { url } = await signIn.start(service.base, 'greenfield');
    const finished = signIn.finish();
    const back = await browseToLoopback(url, 'idp-office');

    for (const state of [`${back.searchParams.get('state') ?? ''}x`, '', null]) {
      const wrong = new URL(back);
      if (state === null) wrong.searchParams.delete('state');
      else wrong.searchParams.set('state', state);
      const refused = await visit(wrong.href);
      expect(refused.status, String(state)).toBe(400);
      expect(refused.text).toContain('does not belong to the sign-in Keepsake is waiting for');
    }
    expect((await visit(`${back.origin}/elsewhere`)).status).toBe(404);
    expect(store.value).toBeNull();
    expect(signIn.waiting).toBe(true);

    expect((await visit(back.href)).text).toContain('Signed in to Keepsake');
    expect((await finished).email).toBe('office@greenfield.example');
  }, 60_000);

  it('fails clearly when the service refuses the code (a forged one), and closes the listener', async () => {
    const store = memorySessionStore();
    const signIn = new ProviderSignIn(new SyncClient({ store }));
    const { url } = await signIn.start(service.base, 'greenfield');
    const failed = rejection(signIn.finish());
    const back = await browseToLoopback(url, 'idp-office');
    back.searchParams.set('code', 'a-code-the-service-never-made');
    const page = await visit(back.href);
    expect(page.status).toBe(401);
    expect(page.text).toContain('That sign-in code is not valid or has expired.');
    const error = await failed;
    expect(isAppError(error, 'unauthorized')).toBe(true);
    expect(error.message).toMatch(/not valid or has expired/);
    expect(store.value).toBeNull();
    expect(await listening(back.origin)).toBe(false);
  }, 60_000);

  it('tells someone who is not staff why, in the browser and in the app, and stays signed out', async () => {
    const store = memorySessionStore();
    const signIn = new ProviderSignIn(new SyncClient({ store }));
    const { url } = await signIn.start(service.base, 'greenfield');
    const failed = rejection(signIn.finish());
    // The service refuses at its callback and sends the browser back to the desktop with the reason.
    const back = await browseToLoopback(url, 'idp-stranger');
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('code')).toBeNull();
    const page = await visit(back.href);
    expect(page.status).toBe(401);
    expect(page.text).toContain('No staff account of this school matches that sign-in');
    const error = await failed;
    expect(isAppError(error, 'unauthorized')).toBe(true);
    expect(error.message).toMatch(/No staff account of this school matches that sign-in/);
    expect(signIn.waiting).toBe(false);
    expect(store.value).toBeNull();
    expect(await listening(back.origin)).toBe(false);
  }, 60_000);

  it('ignores a refusal that does not carry this sign-in’s state', async () => {
    const store = memorySessionStore();
    const signIn = new ProviderSignIn(new SyncClient({ store }));
    const { url } = await signIn.start(service.base, 'greenfield');
    const cancelled = rejection(signIn.finish());
    const origin = loopbackOf(url);
    const forged = await visit(`${origin}/callback?state=not-this-one&error=access_denied&error_description=${encodeURIComponent('<b>Your account is locked</b>')}`);
    expect(forged.status).toBe(400);
    expect(forged.text).not.toContain('<b>');
    expect(signIn.waiting).toBe(true);
    signIn.cancel();
    expect(isAppError(await cancelled, 'cancelled')).toBe(true);
  }, 60_000);

  it('closes the port on cancel, and a new start cancels the one before', async () => {
    const signIn = new ProviderSignIn(new SyncClient({ store: memorySessionStore() }));
    const first = await signIn.start(service.base, 'greenfield');
    const waitingFirst = rejection(signIn.finish());
    expect(await listening(loopbackOf(first.url))).toBe(true);

    const second = await signIn.start(service.base, 'greenfield');
    expect(loopbackOf(second.url)).not.toBe(loopbackOf(first.url));
    const replaced = await waitingFirst;
    expect(isAppError(replaced, 'cancelled')).toBe(true);
    expect(await listening(loopbackOf(first.url))).toBe(false);
    expect(await listening(loopbackOf(second.url))).toBe(true);

    const waitingSecond = rejection(signIn.finish());
    signIn.cancel();
    expect((await waitingSecond).message).toBe('Signing in with the school account was cancelled.');
    expect(await listening(loopbackOf(second.url))).toBe(false);
    expect(signIn.waiting).toBe(false);
    expect((await rejection(signIn.finish())).message).toMatch(/No sign-in with a school account is under way/);
  }, 60_000);

  it('gives up when the browser does not come back in time', async () => {
    const signIn = new ProviderSignIn(new SyncClient({ store: memorySessionStore() }), { timeoutMs: 400 });
    const { url } = await signIn.start(service.base, 'greenfield');
    const error = await rejection(signIn.finish());
    expect(isAppError(error, 'cancelled')).toBe(true);
    expect(error.message).toMatch(/was not finished in time: start it again/);
    expect(await listening(loopbackOf(url))).toBe(false);
  }, 60_000);

  it('says so when the service has no identity provider, or no such school, before the browser opens', async () => {
    const signIn = new ProviderSignIn(new SyncClient({ store: memorySessionStore() }));
    const none = await rejection(signIn.start(plain.base, 'greenfield'));
    expect(isAppError(none, 'not-found')).toBe(true);
    expect(none.message).toMatch(/^Sign-in with an identity provider is not set up on this server\. Sign in with email and password/);
    expect(signIn.waiting).toBe(false);

    const unknown = await rejection(signIn.start(service.base, 'riverside'));
    expect(unknown.message).toBe(`There is no school "riverside" on ${service.base}: check the school's short name (as in its web address).`);
    const insecure = await rejection(signIn.start('http://sync.school.example', 'greenfield'));
    expect(isAppError(insecure, 'invalid-input')).toBe(true);
    expect(signIn.waiting).toBe(false);
  }, 60_000);
});
