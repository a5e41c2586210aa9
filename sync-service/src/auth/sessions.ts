/**
 * Sign-in, refresh and sign-out. A session is an access JWT (minutes) plus a refresh token (days).
 * Refresh tokens are random, stored only as SHA-256 hashes, and rotate: each use marks the old token
 * used and returns a new one in the same family. A used token coming back means two parties hold it
 * (theft, or a client bug), so the whole family is revoked and the event is audited.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { recordAudit } from '../audit.ts';
import type { Database, Role } from '../db/schema.ts';
import { asService } from '../db/tenant-scope.ts';
import { ApiError } from '../errors.ts';
import { DEFAULT_SCRYPT, DummyHash, verifyPassword, type ScryptParams } from './passwords.ts';
import type { TokenService } from './tokens.ts';

/** The caller, as the desktop shows them. */
export interface PublicUser {
  id: string;
  email: string;
  name: string;
}

export interface PublicMembership {
  schoolId: string;
  schoolName: string;
  schoolSlug: string;
  role: Role;
}

/** What sign-in and refresh return. */
export interface Session {
  accessToken: string;
  /** Seconds until `accessToken` expires. */
  expiresIn: number;
  refreshToken: string;
  user: PublicUser;
  memberships: PublicMembership[];
}

/** Who is asking, for the audit trail. */
export interface RequestContext {
  ip: string;
}

const INVALID_CREDENTIALS = 'The email or password is not right.';
const INVALID_REFRESH = 'Your session has ended. Sign in again.';

/** SHA-256, base64url: enough for 256-bit random tokens (no salt or slow hash needed; nothing to guess). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** Emails compare case-insensitively: stored and looked up lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export class SessionService {
  private readonly dummy: DummyHash;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly tokens: TokenService,
    private readonly options: { refreshTtlSeconds: number; scrypt?: ScryptParams },
  ) {
    this.dummy = new DummyHash(options.scrypt ?? DEFAULT_SCRYPT);
  }

  /** Checks the password and opens a session; the same 401 for an unknown email and a wrong password. */
  async signIn(email: string, password: string, context: RequestContext): Promise<Session> {
    const normalized = normalizeEmail(email);
    const user = await this.db.selectFrom('users').selectAll().where('email', '=', normalized).executeTakeFirst();
    // Unknown email: still pay one scrypt, so the time taken does not tell which emails have accounts.
    const ok = user === undefined ? await this.dummy.burn(password) : await verifyPassword(password, user.password_hash);
    if (user === undefined || !ok) {
      await recordAudit(this.db, {
        action: 'auth.sign-in-failed',
        subject: `email:${normalized}`,
        actorUserId: user?.id ?? null,
        detail: { reason: user === undefined ? 'unknown-email' : 'wrong-password', ip: context.ip },
      });
      throw new ApiError('unauthorized', INVALID_CREDENTIALS);
    }
    const refreshToken = await this.insertRefreshToken(user.id, randomUUID());
    await recordAudit(this.db, { action: 'auth.sign-in', subject: `user:${user.id}`, actorUserId: user.id, detail: { ip: context.ip } });
    return this.session(user.id, refreshToken);
  }

  /**
   * Opens a session for a user whose identity another route has already proven (an access code just
   * redeemed, an OIDC exchange). Audited as `auth.sign-in` with the method.
   */
  async open(userId: string, context: RequestContext & { method: string }): Promise<Session> {
    const refreshToken = await this.insertRefreshToken(userId, randomUUID());
    await recordAudit(this.db, { action: 'auth.sign-in', subject: `user:${userId}`, actorUserId: userId, detail: { ip: context.ip, method: context.method } });
    return this.session(userId, refreshToken);
  }

  /** Trades a refresh token for a new session; see the module comment for reuse handling. */
  async refresh(refreshToken: string, context: RequestContext): Promise<Session> {
    const tokenHash = hashToken(refreshToken);
    const now = new Date().toISOString();
    // The outcome leaves the transaction as a value, not a throw, so a family revocation commits.
    const outcome = await this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
      if (row === undefined || row.revoked_at !== null || row.expires_at <= now) return { kind: 'invalid' } as const;
      // Claim the token in one conditional UPDATE: of two concurrent uses exactly one wins, the other is a reuse.
      const claimed = await trx
        .updateTable('refresh_tokens')
        .set({ used_at: now })
        .where('id', '=', row.id)
        .where('used_at', 'is', null)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (claimed.numUpdatedRows === 0n) {
        const revoked = await trx
          .updateTable('refresh_tokens')
          .set({ revoked_at: now })
          .where('family_id', '=', row.family_id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        await recordAudit(trx, {
          action: 'auth.refresh-reuse',
          subject: `user:${row.user_id}`,
          actorUserId: row.user_id,
          detail: { familyId: row.family_id, revokedTokens: Number(revoked.numUpdatedRows), ip: context.ip },
        });
        return { kind: 'reused' } as const;
      }
      const next = await this.insertRefreshToken(row.user_id, row.family_id, trx);
      return { kind: 'rotated', userId: row.user_id, refreshToken: next } as const;
    });
    if (outcome.kind !== 'rotated') throw new ApiError('unauthorized', INVALID_REFRESH);
    return this.session(outcome.userId, outcome.refreshToken);
  }

  /** Ends the session the token belongs to (its whole family). Idempotent: an unknown token is not an error. */
  async signOut(refreshToken: string, context: RequestContext): Promise<void> {
    const row = await this.db
      .selectFrom('refresh_tokens')
      .select(['family_id', 'user_id'])
      .where('token_hash', '=', hashToken(refreshToken))
      .executeTakeFirst();
    if (row === undefined) return;
    await this.db
      .updateTable('refresh_tokens')
      .set({ revoked_at: new Date().toISOString() })
      .where('family_id', '=', row.family_id)
      .where('revoked_at', 'is', null)
      .execute();
    await recordAudit(this.db, { action: 'auth.sign-out', subject: `user:${row.user_id}`, actorUserId: row.user_id, detail: { ip: context.ip } });
  }

  private async insertRefreshToken(userId: string, familyId: string, db: Kysely<Database> = this.db): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const now = new Date();
    await db
      .insertInto('refresh_tokens')
      .values({
        id: randomUUID(),
        family_id: familyId,
        user_id: userId,
        token_hash: hashToken(token),
        created_at: now.toISOString(),
        expires_at: new Date(now.getTime() + this.options.refreshTtlSeconds * 1000).toISOString(),
        used_at: null,
        revoked_at: null,
      })
      .execute();
    return token;
  }

  private async session(userId: string, refreshToken: string): Promise<Session> {
    const user = await this.db.selectFrom('users').select(['id', 'email', 'name']).where('id', '=', userId).executeTakeFirstOrThrow();
    // The user's memberships in every school: a lookup that crosses schools by nature.
    const memberships = await asService(() =>
      this.db
        .selectFrom('memberships')
        .innerJoin('schools', 'schools.id', 'memberships.school_id')
        .select(['schools.id as schoolId', 'schools.name as schoolName', 'schools.slug as schoolSlug', 'memberships.role as role'])
        .where('memberships.user_id', '=', userId)
        .orderBy('schools.name')
        .execute(),
    );
    return { accessToken: await this.tokens.issue(userId), expiresIn: this.tokens.accessTtlSeconds, refreshToken, user, memberships };
  }
}
