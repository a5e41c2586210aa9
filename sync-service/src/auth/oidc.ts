/**
 * Staff sign-in through the school's identity provider (OpenID Connect, authorization-code flow with
 * PKCE, state and nonce, via openid-client). It only ever signs in an *existing* staff member
 * (admin, photographer, teacher) of the school named at the start: it never creates an account and
 * never signs in parents or students.
 *
 * Flow (stateless instances: everything in between lives in the database, never in memory):
 * 1. `start` makes state, nonce and a PKCE verifier, stores them in `oidc_logins` (state hashed, 10
 *    minutes) and returns the provider URL to redirect to.
 * 2. `callback` claims the row by deleting it (single use: a replayed or forged callback finds no
 *    row), trades the code (openid-client checks state, PKCE, the ID token's signature, issuer,
 *    audience, expiry and nonce), requires `email_verified`, maps the subject (or, the first time, the
 *    verified e-mail) to a staff member, links the subject and returns a one-time code (60 s).
 * 3. `exchange` trades that code (and, when the desktop sent a challenge at the start, its verifier)
 *    for a session. The refresh token travels in a POST response body only, never in a URL.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import * as client from 'openid-client';
import { recordAudit } from '../audit.ts';
import type { Database, OidcLoginsTable } from '../db/schema.ts';
import { asService, withSchool } from '../db/tenant-scope.ts';
import { ApiError } from '../errors.ts';
import { STAFF_ROLES } from '../services/access.ts';
import { hashToken, normalizeEmail, type RequestContext } from './sessions.ts';

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** This service's callback, exactly as registered at the provider. */
  redirectUri: string;
  /** Allow an http:// issuer (tests against a loopback provider only). */
  allowInsecureRequests?: boolean;
}

const LOGIN_TTL_MS = 10 * 60 * 1000;
export const EXCHANGE_TTL_SECONDS = 60;

const NOT_CONFIGURED = 'Sign-in with an identity provider is not set up on this server.';
const FAILED = 'Sign-in with your identity provider did not work. Start again from the app.';
const NO_STAFF = 'No staff account of this school matches that sign-in. Ask the school’s admin.';
const UNVERIFIED = 'Your identity provider has not confirmed your email address.';
const BAD_EXCHANGE = 'That sign-in code is not valid or has expired. Sign in again.';

/** An http URL on the loopback interface (RFC 8252 §7.3): the only place the callback redirects to. */
export function isLoopbackUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname) && url.username === '' && url.password === '';
}

function sha256url(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * A callback's outcome: a one-time code, or — for a sign-in a desktop started with `returnTo` — a refusal to send
 * back to it (RFC 6749 §4.1.2.1 style), so the app can say why instead of waiting in vain.
 */
export type CallbackResult =
  | { code: string; expiresIn: number; returnTo: string | null }
  | { refused: string; returnTo: string };

export class OidcService {
  private configuration: Promise<client.Configuration> | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly settings: OidcSettings | undefined,
  ) {}

  get enabled(): boolean {
    return this.settings !== undefined;
  }

  /** The settings; a 404 when OIDC is not configured (every OIDC route starts here). */
  requireSettings(): OidcSettings {
    if (this.settings === undefined) throw new ApiError('not-found', NOT_CONFIGURED);
    return this.settings;
  }

  /** The provider's metadata, discovered once per process; a failed discovery is retried next time. */
  private config(): Promise<client.Configuration> {
    const s = this.requireSettings();
    this.configuration ??= client
      .discovery(new URL(s.issuer), s.clientId, { redirect_uris: [s.redirectUri] }, client.ClientSecretPost(s.clientSecret), {
        ...(s.allowInsecureRequests === true ? { execute: [client.allowInsecureRequests] } : {}),
      })
      .catch((error: unknown) => {
        this.configuration = undefined;
        throw error;
      });
    return this.configuration;
  }

  /** Step 1: the URL to send the browser to. */
  async start(input: { school: string; returnTo?: string | undefined; challenge?: string | undefined }, context: RequestContext): Promise<URL> {
    const s = this.requireSettings();
    const school = await this.db.selectFrom('schools').select('id').where('slug', '=', input.school).executeTakeFirst();
    if (school === undefined) throw new ApiError('not-found', 'No such school.');
    return withSchool(school.id, () => this.begin(s, school, input, context));
  }

  /** The rest of {@link start}, in the school's scope. */
  private async begin(
    s: OidcSettings,
    school: { id: string },
    input: { returnTo?: string | undefined; challenge?: string | undefined },
    context: RequestContext,
  ): Promise<URL> {
    if (input.returnTo !== undefined && !isLoopbackUrl(input.returnTo)) {
      throw new ApiError('invalid-input', 'Invalid query: returnTo: must be an http://127.0.0.1, http://[::1] or http://localhost URL.');
    }
    let config: client.Configuration;
    try {
      config = await this.config();
    } catch (error) {
      await recordAudit(this.db, {
        action: 'auth.oidc-failed',
        subject: `school:${school.id}`,
        schoolId: school.id,
        detail: { reason: 'discovery', error: error instanceof Error ? error.message.slice(0, 200) : 'unknown', ip: context.ip },
      });
      throw new ApiError('internal', 'The identity provider cannot be reached. Try again later.', undefined, 502);
    }
    const state = client.randomState();
    const nonce = client.randomNonce();
    const verifier = client.randomPKCECodeVerifier();
    const now = Date.now();
    // Opportunistic clean-up of abandoned sign-ins; cheap with the expiry index.
    const nowIso = new Date(now).toISOString();
    // Every school's abandoned ones: the clean-up crosses schools.
    await asService(async () => {
      await this.db.deleteFrom('oidc_logins').where('expires_at', '<', nowIso).execute();
      await this.db.deleteFrom('oidc_exchange_codes').where('expires_at', '<', nowIso).execute();
    });
    await this.db
      .insertInto('oidc_logins')
      .values({
        state_hash: hashToken(state),
        school_id: school.id,
        nonce,
        code_verifier: verifier,
        return_to: input.returnTo ?? null,
        client_challenge: input.challenge ?? null,
        created_at: nowIso,
        expires_at: new Date(now + LOGIN_TTL_MS).toISOString(),
      })
      .execute();
    return client.buildAuthorizationUrl(config, {
      redirect_uri: s.redirectUri,
      scope: 'openid email',
      response_type: 'code',
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
  }

  /** Step 2: `query` is the callback's raw query string (without `?`). */
  async callback(query: string, context: RequestContext): Promise<CallbackResult> {
    const s = this.requireSettings();
    const params = new URLSearchParams(query);
    const state = params.get('state');
    const fail = async (reason: string, schoolId: string | null, message = FAILED, extra: Record<string, unknown> = {}): Promise<never> => {
      await recordAudit(this.db, {
        action: 'auth.oidc-failed',
        subject: schoolId === null ? 'oidc:unknown' : `school:${schoolId}`,
        schoolId,
        detail: { reason, ip: context.ip, ...extra },
      });
      throw new ApiError('unauthorized', message);
    };
    if (state === null || state.length > 200) return fail('no-state', null);

    // Claim the started sign-in: deleting it makes the state single use across all instances. The state
    // names its school, whichever it is: the one lookup of the callback that crosses schools.
    const row = await asService(async () => {
      const found = await this.db.selectFrom('oidc_logins').selectAll().where('state_hash', '=', hashToken(state)).executeTakeFirst();
      if (found === undefined) return undefined;
      const deleted = await this.db.deleteFrom('oidc_logins').where('state_hash', '=', found.state_hash).executeTakeFirst();
      return deleted.numDeletedRows === 0n ? undefined : found;
    });
    if (row === undefined) return fail('unknown-state', null);
    try {
      return await withSchool(row.school_id, () => this.complete(s, row, state, params, query, fail, context));
    } catch (error) {
      // Only a sign-in whose state was ours and claimed goes back, and only to the loopback address it named.
      if (row.return_to !== null && error instanceof ApiError && error.status === 401) return { refused: error.message, returnTo: row.return_to };
      throw error;
    }
  }

  /** The rest of {@link callback}, in the sign-in's school: check the provider's answer and pick the staff member. */
  private async complete(
    s: OidcSettings,
    row: Selectable<OidcLoginsTable>,
    state: string,
    params: URLSearchParams,
    query: string,
    fail: (reason: string, schoolId: string | null, message?: string, extra?: Record<string, unknown>) => Promise<never>,
    context: RequestContext,
  ): Promise<CallbackResult> {
    if (row.expires_at <= new Date().toISOString()) return fail('expired', row.school_id);
    if (params.has('error')) return fail('provider-error', row.school_id, FAILED, { error: params.get('error')?.slice(0, 100) });

    let claims: client.IDToken | undefined;
    let userInfo: client.UserInfoResponse | undefined;
    try {
      const config = await this.config();
      // The URL the provider redirected to, rebuilt from our configured callback: never from Host.
      const current = new URL(s.redirectUri);
      current.search = query;
      const tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: row.code_verifier,
        expectedState: state,
        expectedNonce: row.nonce,
        idTokenExpected: true,
      });
      claims = tokens.claims();
      if (claims !== undefined && typeof claims.email !== 'string') {
        // Providers that keep the ID token small put the e-mail in userinfo (openid-client checks `sub`).
        userInfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
      }
    } catch (error) {
      return fail('token-exchange', row.school_id, FAILED, { error: error instanceof Error ? error.message.slice(0, 200) : 'unknown' });
    }
    if (claims === undefined) return fail('no-id-token', row.school_id);
    const source = userInfo ?? claims;
    const email = typeof source.email === 'string' ? normalizeEmail(source.email) : undefined;
    const issuer = claims.iss;
    const subject = claims.sub;
    if (email === undefined) return fail('no-email', row.school_id, NO_STAFF, { sub: subject });
    if (source.email_verified !== true) return fail('email-unverified', row.school_id, UNVERIFIED, { sub: subject });

    // The linked subject wins over the e-mail (addresses change; `sub` does not).
    const linked = await this.db.selectFrom('oidc_identities').select('user_id').where('issuer', '=', issuer).where('subject', '=', subject).executeTakeFirst();
    const byEmail = await this.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
    const userId = linked?.user_id ?? byEmail?.id;
    if (userId === undefined) return fail('unknown-email', row.school_id, NO_STAFF, { sub: subject });
    const membership = await this.db.selectFrom('memberships').select('role').where('user_id', '=', userId).where('school_id', '=', row.school_id).executeTakeFirst();
    if (membership === undefined || !STAFF_ROLES.includes(membership.role)) {
      return fail('not-staff', row.school_id, NO_STAFF, { sub: subject, userId, role: membership?.role ?? null });
    }
    const now = new Date().toISOString();
    if (linked === undefined) {
      // First sign-in: link, unless this account is already linked to another subject of this issuer.
      const other = await this.db.selectFrom('oidc_identities').select('subject').where('issuer', '=', issuer).where('user_id', '=', userId).executeTakeFirst();
      if (other !== undefined) return fail('linked-to-other-subject', row.school_id, NO_STAFF, { sub: subject, userId });
      await this.db.insertInto('oidc_identities').values({ issuer, subject, user_id: userId, created_at: now, last_sign_in_at: now }).execute();
    } else {
      await this.db.updateTable('oidc_identities').set({ last_sign_in_at: now }).where('issuer', '=', issuer).where('subject', '=', subject).execute();
    }

    const code = randomBytes(32).toString('base64url');
    await this.db
      .insertInto('oidc_exchange_codes')
      .values({
        code_hash: hashToken(code),
        user_id: userId,
        school_id: row.school_id,
        client_challenge: row.client_challenge,
        created_at: now,
        expires_at: new Date(Date.now() + EXCHANGE_TTL_SECONDS * 1000).toISOString(),
      })
      .execute();
    await recordAudit(this.db, {
      action: 'auth.oidc-sign-in',
      subject: `user:${userId}`,
      schoolId: row.school_id,
      actorUserId: userId,
      detail: { issuer, sub: subject, linked: linked === undefined ? 'now' : 'before', ip: context.ip },
    });
    return { code, expiresIn: EXCHANGE_TTL_SECONDS, returnTo: row.return_to };
  }

  /** Step 3: the user id the one-time code stands for (claimed, so it works once). */
  async exchange(code: string, verifier: string | undefined, context: RequestContext): Promise<string> {
    this.requireSettings();
    const codeHash = hashToken(code);
    // The code names its sign-in, in whichever school: found (and claimed) across schools.
    const { row, deleted } = await asService(async () => {
      const found = await this.db.selectFrom('oidc_exchange_codes').selectAll().where('code_hash', '=', codeHash).executeTakeFirst();
      const gone = found === undefined ? 0n : (await this.db.deleteFrom('oidc_exchange_codes').where('code_hash', '=', codeHash).executeTakeFirst()).numDeletedRows;
      return { row: found, deleted: gone };
    });
    const reason =
      row === undefined || deleted === 0n
        ? 'unknown-code'
        : row.expires_at <= new Date().toISOString()
          ? 'expired'
          : row.client_challenge !== null && (verifier === undefined || !safeEqual(sha256url(verifier), row.client_challenge))
            ? 'verifier-mismatch'
            : undefined;
    if (reason !== undefined || row === undefined) {
      const audit = (work: () => Promise<void>) => (row === undefined ? work() : withSchool(row.school_id, work));
      await audit(() => recordAudit(this.db, {
        action: 'auth.oidc-failed',
        subject: row === undefined ? 'oidc:unknown' : `user:${row.user_id}`,
        schoolId: row?.school_id ?? null,
        detail: { reason: reason ?? 'unknown-code', step: 'exchange', ip: context.ip },
      }));
      throw new ApiError('unauthorized', BAD_EXCHANGE);
    }
    return row.user_id;
  }
}
