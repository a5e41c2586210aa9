/**
 * Staff sign-in with the school's identity provider, from the desktop, as RFC 8252 ("OAuth 2.0 for Native
 * Apps") describes it: the system browser does the sign-in, and comes back to a one-shot listener of this
 * machine's loopback interface.
 *
 * 1. `start` listens on 127.0.0.1 (a port the system picks), makes a PKCE verifier and its S256 challenge and a
 *    random `state` carried on the return address, checks the service will start the sign-in (not set up, no
 *    such school, provider unreachable: a clear error now, not a page of JSON in the browser) and returns the
 *    service's start URL for the browser to open.
 * 2. The service sends the browser to the provider, then back to `http://127.0.0.1:<port>/callback?state=…&code=…`.
 *    A request without the right state gets a short error page and the wait goes on (it is not this sign-in).
 * 3. With the right state, the code and the verifier are traded for a session, kept by the {@link SyncClient} like a
 *    password sign-in's, and the browser is told it can go back to the app.
 *
 * One sign-in at a time (a new start cancels the one before); it ends after {@link DEFAULT_TIMEOUT_MS}; the
 * listener is closed however it ends.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppError, toAppError } from '../shared/errors.ts';
import { normalizeUrl, refusal, safeJson, unreachable, type Membership, type SyncClient } from './sync-client.ts';

/** How long the browser has to come back. */
export const DEFAULT_TIMEOUT_MS = 5 * 60 * 1000;

/** Options of {@link ProviderSignIn}. */
export interface ProviderSignInOptions {
  /** How long the browser has to come back (default {@link DEFAULT_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Injected for tests; the start check uses it. */
  fetch?: typeof fetch;
}

/** A finished sign-in: who, where, and in which schools. */
export interface ProviderSignInResult {
  serverUrl: string;
  /** The school (its slug) the sign-in was started for. */
  school: string;
  email: string;
  memberships: Membership[];
}

interface Attempt {
  base: string;
  school: string;
  state: string;
  verifier: string;
  server: http.Server;
  timer: NodeJS.Timeout | null;
  /** A callback with the right state arrived: later ones are turned away. */
  claimed: boolean;
  settled: boolean;
  done: Promise<ProviderSignInResult>;
  resolve(result: ProviderSignInResult): void;
  reject(error: AppError): void;
}

const CANCELLED = 'Signing in with the school account was cancelled.';

/** Signs a desktop in through the school's identity provider in the system browser. */
export class ProviderSignIn {
  private attempt: Attempt | null = null;

  constructor(
    private readonly client: SyncClient,
    private readonly options: ProviderSignInOptions = {},
  ) {}

  /** Whether a sign-in is waiting for the browser. */
  get waiting(): boolean {
    return this.attempt !== null && !this.attempt.settled;
  }

  /** Begins a sign-in for `school` (its slug) at the service: returns the URL the system browser must open. */
  async start(serverUrl: string, school: string): Promise<{ url: string }> {
    const base = normalizeUrl(serverUrl);
    this.cancel();
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const state = randomBytes(24).toString('base64url');
    const server = http.createServer();
    let resolve!: (result: ProviderSignInResult) => void;
    let reject!: (error: AppError) => void;
    const done = new Promise<ProviderSignInResult>((ok, fail) => {
      resolve = ok;
      reject = fail;
    });
    // Nobody may be waiting yet (or ever, after a cancel): the outcome is read by `finish`.
    done.catch(() => undefined);
    const attempt: Attempt = { base, school, state, verifier, server, timer: null, claimed: false, settled: false, done, resolve, reject };
    this.attempt = attempt;
    server.on('request', (request: http.IncomingMessage, response: http.ServerResponse) => void this.answer(attempt, request, response));
    try {
      await new Promise<void>((ready, fail) => {
        server.once('error', fail);
        server.listen(0, '127.0.0.1', () => {
          server.off('error', fail);
          ready();
        });
      });
    } catch (error) {
      const failure = new AppError('io', `Keepsake could not listen on this machine for the browser's return (${(error as Error).message}).`, { cause: error });
      this.settle(attempt, failure);
      throw failure;
    }
    const { port } = server.address() as AddressInfo;
    const returnTo = `http://127.0.0.1:${port}/callback?state=${state}`;
    const url = new URL(`${base}/v1/auth/oidc/start`);
    url.search = new URLSearchParams({ school, returnTo, challenge }).toString();
    try {
      await this.check(base, school, url);
    } catch (error) {
      const failure = toAppError(error);
      this.settle(attempt, failure);
      throw failure;
    }
    if (attempt.settled) throw new AppError('cancelled', CANCELLED);
    attempt.timer = setTimeout(() => {
      const minutes = Math.round((this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 60_000);
      const within = minutes >= 1 ? `within ${minutes} minute${minutes === 1 ? '' : 's'}` : 'in time';
      this.settle(attempt, new AppError('cancelled', `The sign-in in the browser was not finished ${within}: start it again.`));
    }, this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    attempt.timer.unref();
    return { url: url.href };
  }

  /** Waits for the browser to come back and the session to be kept; fails if it was cancelled or timed out. */
  async finish(): Promise<ProviderSignInResult> {
    const attempt = this.attempt;
    if (attempt === null) throw new AppError('invalid-input', 'No sign-in with a school account is under way: start it again.');
    try {
      return await attempt.done;
    } finally {
      if (this.attempt === attempt) this.attempt = null;
    }
  }

  /** Stops waiting for the browser (a waiting `finish` fails as cancelled); nothing when no sign-in is under way. */
  cancel(): void {
    const attempt = this.attempt;
    if (attempt === null) return;
    this.attempt = null;
    this.settle(attempt, new AppError('cancelled', CANCELLED));
  }

  /** Asks the service to start the sign-in as the browser will, so a refusal is an error here and not a page there. */
  private async check(base: string, school: string, url: URL): Promise<void> {
    const doFetch = this.options.fetch ?? fetch;
    let response: Response;
    try {
      response = await doFetch(url, { redirect: 'manual', signal: AbortSignal.timeout(30_000) });
    } catch (error) {
      throw unreachable(base, error);
    }
    const text = await response.text().catch(() => '');
    if (response.status >= 300 && response.status < 400 && response.headers.get('location') !== null) return;
    const error = refusal(response.status, text === '' ? null : safeJson(text));
    if (error.code === 'not-found' && /school/i.test(error.message) && !/set up/i.test(error.message)) {
      throw new AppError('not-found', `There is no school "${school}" on ${base}: check the school's short name (as in its web address).`);
    }
    throw error.code === 'not-found' ? new AppError('not-found', `${error.message} Sign in with email and password, or ask the school's admin.`) : error;
  }

  /** One request to the loopback listener. */
  private async answer(attempt: Attempt, request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (request.method !== 'GET' || url.pathname !== '/callback') {
      return page(response, 404, 'Nothing here', 'This address only takes Keepsake’s sign-in back from your browser.');
    }
    if (attempt.settled || attempt.claimed) {
      return page(response, 409, 'Already handled', 'This sign-in is over. Go back to Keepsake.');
    }
    const state = url.searchParams.get('state');
    const code = url.searchParams.get('code');
    if (state === null || !safeEqual(state, attempt.state)) {
      return page(response, 400, 'Not this sign-in', 'This link does not belong to the sign-in Keepsake is waiting for. Go back to Keepsake, and start again there if you need to.');
    }
    const refused = url.searchParams.get('error');
    if (refused !== null) {
      // The school's service turned this sign-in down (not staff, e-mail not confirmed…) and says why.
      const why = (url.searchParams.get('error_description') ?? '').slice(0, 300).trim() || 'The school’s service refused this sign-in.';
      const failure = new AppError('unauthorized', why);
      attempt.claimed = true;
      return page(response, 401, 'Not signed in', `${why} Go back to Keepsake.`, () => this.settle(attempt, failure));
    }
    if (code === null || code === '') {
      return page(response, 400, 'Not signed in', 'The sign-in came back without its code. Go back to Keepsake and start again.');
    }
    attempt.claimed = true;
    let result: ProviderSignInResult;
    try {
      const signed = await this.client.signInWithCode(attempt.base, code, attempt.verifier);
      result = { serverUrl: attempt.base, school: attempt.school, email: signed.email, memberships: signed.memberships };
    } catch (error) {
      const failure = toAppError(error);
      return page(response, 401, 'Not signed in', `${failure.message} Go back to Keepsake and start again.`, () => this.settle(attempt, failure));
    }
    return page(response, 200, 'Signed in to Keepsake', 'You can close this tab and go back to the app.', () => this.settle(attempt, result));
  }

  /** Ends an attempt once: its outcome, the timer and the listener (every connection with it). */
  private settle(attempt: Attempt, outcome: ProviderSignInResult | AppError): void {
    if (attempt.settled) return;
    attempt.settled = true;
    if (attempt.timer) clearTimeout(attempt.timer);
    attempt.server.close();
    attempt.server.closeAllConnections();
    if (outcome instanceof AppError) attempt.reject(outcome);
    else attempt.resolve(outcome);
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A small page that needs nothing from anywhere (no scripts, no fonts, no images); `then` runs once it is sent. */
function page(response: http.ServerResponse, status: number, title: string, text: string, then?: () => void): void {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;background:#1e1f22;color:#e8e8ea;display:grid;place-items:center;min-height:90vh;margin:0}main{max-width:32rem;padding:2rem}h1{font-size:1.4rem;margin:0 0 .5rem}</style>
</head><body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></main></body></html>
`;
  response.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    connection: 'close',
  });
  response.end(html, then);
}
