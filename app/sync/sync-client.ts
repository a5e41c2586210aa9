import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { tempPathFor, writeFileAtomic } from '../fs/durable-files.ts';
import { AppError, ERROR_CODES, type ErrorCode } from '../shared/errors.ts';

/** What a desktop keeps between runs: the server and a refresh token (never the password). */
export interface StoredSession {
  serverUrl: string;
  refreshToken: string;
  email: string;
}

/**
 * Where the session is kept. The desktop keeps it in the OS keychain (Electron's safeStorage); the CLI in a
 * file only its user can read.
 */
export interface SessionStore {
  load(): Promise<StoredSession | null>;
  save(session: StoredSession): Promise<void>;
  clear(): Promise<void>;
}

/** A session file, mode 0600, written atomically (a crash never leaves half a token). */
export function fileSessionStore(file: string): SessionStore {
  return {
    async load() {
      const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return null;
        throw error;
      });
      if (text === null) return null;
      const parsed = JSON.parse(text) as Partial<StoredSession>;
      if (typeof parsed.serverUrl !== 'string' || typeof parsed.refreshToken !== 'string' || typeof parsed.email !== 'string') return null;
      return { serverUrl: parsed.serverUrl, refreshToken: parsed.refreshToken, email: parsed.email };
    },
    async save(session) {
      await mkdir(path.dirname(file), { recursive: true });
      // A temp file left by a crash keeps its old mode when reopened: start from none, so the token is never readable.
      await rm(tempPathFor(file), { force: true });
      await writeFileAtomic(file, `${JSON.stringify(session)}\n`, { mode: 0o600 });
      // The umask may have narrowed the mode further, never widened it; this states it whatever the umask.
      await chmod(file, 0o600);
    },
    async clear() {
      await rm(file, { force: true });
    },
  };
}

/** A membership as the server reports it at sign-in. */
export interface Membership {
  schoolId: string;
  role: 'admin' | 'photographer' | 'teacher' | 'parent' | 'student';
  [field: string]: unknown;
}

interface SessionResponse {
  accessToken: string;
  refreshToken: string;
  user: { id: string; email: string; name?: string };
  memberships: Membership[];
}

/**
 * The desktop's side of the sync service's HTTP API: signs in once, keeps the rotating refresh token in a
 * {@link SessionStore}, and sends requests with a short-lived access token, refreshed when it expires.
 * One refresh at a time: two refreshes with the same token would look like theft to the server, which
 * then revokes the session.
 */
export class SyncClient {
  private accessToken: string | null = null;
  private session: StoredSession | null = null;
  private refreshing: Promise<void> | null = null;
  private loaded = false;
  /** Who is signed in and where, from the last sign-in or refresh. */
  memberships: Membership[] = [];

  constructor(private readonly options: { store: SessionStore; fetch?: typeof fetch; timeoutMs?: number }) {}

  /** Signs in with email and password; the password is sent once and never kept. */
  async signIn(serverUrl: string, email: string, password: string): Promise<{ memberships: Membership[] }> {
    const base = normalizeUrl(serverUrl);
    const response = await this.send<SessionResponse>(base, 'POST', '/v1/auth/sign-in', { email, password }, null);
    await this.adopt(base, email, response);
    return { memberships: response.memberships };
  }

  /**
   * Signs in with the one-time code the school's identity provider sign-in handed to this desktop, and the PKCE
   * verifier of that sign-in: the service answers with a session, kept like a password sign-in's.
   */
  async signInWithCode(serverUrl: string, code: string, verifier: string): Promise<{ email: string; memberships: Membership[] }> {
    const base = normalizeUrl(serverUrl);
    const response = await this.send<SessionResponse>(base, 'POST', '/v1/auth/oidc/exchange', { code, verifier }, null);
    await this.adopt(base, response.user.email, response);
    return { email: response.user.email, memberships: response.memberships };
  }

  /** Ends the session on the server (best effort) and forgets it here. */
  async signOut(): Promise<void> {
    const session = await this.current();
    if (session) {
      await this.send(session.serverUrl, 'POST', '/v1/auth/sign-out', { refreshToken: session.refreshToken }, null).catch(() => undefined);
    }
    this.session = null;
    this.accessToken = null;
    await this.options.store.clear();
  }

  /** Where and as whom the stored session is signed in, without its token; null when signed out. */
  async account(): Promise<{ serverUrl: string; email: string } | null> {
    const session = await this.current();
    return session ? { serverUrl: session.serverUrl, email: session.email } : null;
  }

  /** Whether a session is stored (the user signed in on this machine before). */
  async signedIn(): Promise<boolean> {
    return (await this.current()) !== null;
  }

  /** A request with the access token; refreshed once and retried when the server says it expired. */
  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const session = await this.current();
    if (!session) throw new AppError('unauthorized', 'Not signed in to the sync service: run `keepsake sync sign-in`.');
    if (this.accessToken === null) await this.refresh();
    try {
      return await this.send<T>(session.serverUrl, method, path, body, this.accessToken);
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'unauthorized') || this.session === null) throw error;
      await this.refresh();
      return this.send<T>(this.session.serverUrl, method, path, body, this.accessToken);
    }
  }

  /** Trades the refresh token for a new pair, once however many callers ask at the same moment. */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const session = await this.current();
        if (!session) throw new AppError('unauthorized', 'Not signed in to the sync service.');
        const before = session.refreshToken;
        try {
          const response = await this.send<SessionResponse>(session.serverUrl, 'POST', '/v1/auth/refresh', { refreshToken: before }, null);
          await this.adopt(session.serverUrl, session.email, response);
        } catch (error) {
          // A refused refresh token is spent or revoked: the user must sign in again.
          if (error instanceof AppError && error.code === 'unauthorized') {
            this.session = null;
            this.accessToken = null;
            await this.options.store.clear();
            throw new AppError('unauthorized', 'The sync session has ended (signed out elsewhere, or expired): sign in again.');
          }
          throw error;
        }
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private async adopt(serverUrl: string, email: string, response: SessionResponse): Promise<void> {
    const session = { serverUrl, email, refreshToken: response.refreshToken };
    // Saved before the new access token is used: a crash now must not leave the spent token behind.
    await this.options.store.save(session);
    this.session = session;
    this.loaded = true;
    this.accessToken = response.accessToken;
    this.memberships = response.memberships;
  }

  private async current(): Promise<StoredSession | null> {
    if (!this.loaded) {
      this.session = await this.options.store.load();
      this.loaded = true;
    }
    return this.session;
  }

  private async send<T>(base: string, method: string, path: string, body: unknown, token: string | null): Promise<T> {
    const doFetch = this.options.fetch ?? fetch;
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      throw unreachable(base, error);
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    const data = text === '' ? null : (safeJson(text) as unknown);
    if (response.ok) return data as T;
    throw refusal(response.status, data);
  }
}

/** The error for a sync service that did not answer at all. */
export function unreachable(base: string, error: unknown): AppError {
  return new AppError('network', `The sync service at ${base} cannot be reached (${(error as Error).message}).`, { cause: error });
}

/** The error for a refusal of the sync service: its own code and message (`{ code, message }`) when it sent them. */
export function refusal(status: number, data: unknown): AppError {
  const problem = (data ?? {}) as { code?: string; message?: string };
  const code: ErrorCode = isErrorCode(problem.code) ? problem.code : status >= 500 ? 'internal' : 'invalid-input';
  return new AppError(code, problem.message ?? `The sync service answered ${status}.`);
}

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);
}

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** The service's base URL as requests are made to it (https, or http on this machine only; no trailing slash). */
export function normalizeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AppError('invalid-input', `"${url}" is not a URL (e.g. https://sync.school.example).`);
  }
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname))) {
    throw new AppError('invalid-input', `The sync service must be reached over https:// (plain http is only for this machine): ${url}`);
  }
  return parsed.origin + parsed.pathname.replace(/\/+$/, '');
}
