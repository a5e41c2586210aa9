/**
 * Invitations: an admin invites someone by e-mail with a role (a parent into a named family of the
 * school); the e-mail carries a single-use link `${PUBLIC_URL}/invite#<token>`. The token sits in the
 * fragment, which browsers never send, so it reaches no server or proxy log; the accept page reads it
 * and posts it.
 *
 * Tokens: 32 random bytes (256 bits), base64url. Only their SHA-256 is stored (`invites.token_hash`,
 * unique, found by equality and compared again in constant time). A resend makes a new token and the
 * old one dies with its hash. Accepting claims the invite with one conditional UPDATE (`… where
 * token_hash = ? and accepted_at is null and revoked_at is null and expires_at > now`), so of two
 * accepts at once exactly one wins. The mail itself goes through the outbox, sealed (see
 * `mail/outbox.ts`), so the plain link is stored nowhere readable.
 */
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { recordAudit } from '../audit.ts';
import { DEFAULT_SCRYPT, hashPassword, type ScryptParams } from '../auth/passwords.ts';
import { hashToken, normalizeEmail, type RequestContext } from '../auth/sessions.ts';
import type { Database, InviteRow, OutboxState, Role } from '../db/schema.ts';
import { asService, withSchool } from '../db/tenant-scope.ts';
import { ApiError } from '../errors.ts';
import type { Outbox } from '../mail/outbox.ts';
import { renderInviteMail } from '../mail/templates.ts';
import { lockChangeFeed, recordChanges, type ChangeEntry } from './changes.ts';
import type { Caller } from './events.ts';

export const INVITE_STATUSES = ['pending', 'accepted', 'revoked', 'expired'] as const;
export type InviteStatus = (typeof INVITE_STATUSES)[number];

/** An invitation as admins see it (never its token). */
export interface PublicInvite {
  id: string;
  schoolId: string;
  email: string;
  role: Role;
  familyId: string | null;
  status: InviteStatus;
  invitedBy: string | null;
  /** How many times the link was sent (1 + resends). */
  sends: number;
  createdAt: string;
  sentAt: string;
  expiresAt: string;
  acceptedAt: string | null;
  acceptedBy: string | null;
  revokedAt: string | null;
  /** Where the latest mail is: `queued` (also while no mail server is configured), `sent`, `failed` (with why). */
  delivery: { state: OutboxState; error: string | null } | null;
}

/** What the accept page may show before the invitee decides: nothing beyond these three. */
export interface InviteSummary {
  schoolName: string;
  role: Role;
  email: string;
}

export interface NewInvite {
  email: string;
  role: Role;
  familyId: string | null;
}

export interface InviteSettings {
  /** The base of the link in the mail (`PUBLIC_URL`). */
  publicUrl: string;
  /** How long a link works; 7 days by default. */
  ttlSeconds?: number;
  scrypt?: ScryptParams;
  now?: () => Date;
}

/** An account to create on accept; absent when a signed-in user accepts. */
export interface NewAccount {
  name: string;
  password: string;
}

export const DEFAULT_INVITE_TTL_SECONDS = 7 * 24 * 3600;

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const NO_SUCH_INVITE = 'No such invitation in this school.';
const INVALID_LINK = 'This invitation link is not valid. It may have been replaced by a newer one; ask the school to send it again.';
const REVOKED_LINK = 'This invitation was withdrawn by the school.';
const EXPIRED_LINK = 'This invitation has expired. Ask the school to send a new one.';
const USED_LINK = 'This invitation has already been accepted. Sign in instead.';

function statusOf(row: Pick<InviteRow, 'accepted_at' | 'revoked_at' | 'expires_at'>, now: string): InviteStatus {
  if (row.accepted_at !== null) return 'accepted';
  if (row.revoked_at !== null) return 'revoked';
  return row.expires_at <= now ? 'expired' : 'pending';
}

function requireAdmin(caller: Caller): void {
  if (caller.role !== 'admin') throw new ApiError('forbidden', 'Only admins can manage invitations.');
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The mail key of an invite's `sends`-th mail; every mail of one invite shares the prefix. */
function mailKey(inviteId: string, sends: number): string {
  return `invite:${inviteId}:${sends}`;
}

export class InviteService {
  private readonly ttlMs: number;
  private readonly scrypt: ScryptParams;
  private readonly now: () => Date;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly outbox: Outbox,
    private readonly settings: InviteSettings,
  ) {
    this.ttlMs = (settings.ttlSeconds ?? DEFAULT_INVITE_TTL_SECONDS) * 1000;
    this.scrypt = settings.scrypt ?? DEFAULT_SCRYPT;
    this.now = settings.now ?? (() => new Date());
  }

  /** The school's invitations, newest first; `status` narrows the list. */
  async list(caller: Caller, status?: InviteStatus): Promise<PublicInvite[]> {
    requireAdmin(caller);
    const rows = await this.db.selectFrom('invites').select('id').where('school_id', '=', caller.schoolId).orderBy('created_at', 'desc').orderBy('id').execute();
    const invites = await this.load(this.db, caller.schoolId, rows.map((r) => r.id));
    return status === undefined ? invites : invites.filter((i) => i.status === status);
  }

  /** Invites `email` as `role`; 409 when they are already a member or already have a pending invitation. */
  async create(caller: Caller, input: NewInvite): Promise<PublicInvite> {
    requireAdmin(caller);
    const email = normalizeEmail(input.email);
    if ((input.role === 'parent') !== (input.familyId !== null)) {
      throw new ApiError('invalid-input', input.role === 'parent' ? 'familyId: a parent invitation names the family to join.' : 'familyId: only parent invitations name a family.');
    }
    const id = randomUUID();
    await this.db.transaction().execute(async (trx) => {
      // Serialises the school's writers (PostgreSQL), so two admins cannot invite one address twice at once.
      await lockChangeFeed(trx, caller.schoolId);
      if (input.familyId !== null) {
        const family = await trx.selectFrom('families').select('id').where('id', '=', input.familyId).where('school_id', '=', caller.schoolId).executeTakeFirst();
        if (family === undefined) throw new ApiError('invalid-input', 'familyId: no such family in this school.');
      }
      const member = await trx
        .selectFrom('memberships')
        .innerJoin('users', 'users.id', 'memberships.user_id')
        .select('users.id')
        .where('memberships.school_id', '=', caller.schoolId)
        .where('users.email', '=', email)
        .executeTakeFirst();
      if (member !== undefined) throw new ApiError('conflict', `${email} is already a member of this school; change their role instead.`, { userId: member.id });
      const started = this.now();
      const at = started.toISOString();
      const pending = await trx
        .selectFrom('invites')
        .select('id')
        .where('school_id', '=', caller.schoolId)
        .where('email', '=', email)
        .where('accepted_at', 'is', null)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', at)
        .executeTakeFirst();
      if (pending !== undefined) throw new ApiError('conflict', `${email} already has a pending invitation; resend it instead.`, { id: pending.id });

      const token = randomBytes(32).toString('base64url');
      const expiresAt = new Date(started.getTime() + this.ttlMs);
      await trx
        .insertInto('invites')
        .values({
          id,
          school_id: caller.schoolId,
          email,
          role: input.role,
          family_id: input.familyId,
          token_hash: hashToken(token),
          invited_by: caller.userId,
          sends: 1,
          mail_key: mailKey(id, 1),
          created_at: at,
          sent_at: at,
          expires_at: expiresAt.toISOString(),
          accepted_at: null,
          accepted_by: null,
          revoked_at: null,
        })
        .execute();
      await this.queueMail(trx, caller, { id, email, role: input.role, familyId: input.familyId, sends: 1 }, token, expiresAt);
      await recordAudit(trx, {
        action: 'invite.create',
        subject: `invite:${id}`,
        schoolId: caller.schoolId,
        actorUserId: caller.userId,
        detail: { email, role: input.role, familyId: input.familyId },
      });
    });
    this.outbox.notify();
    return this.loadOne(this.db, caller.schoolId, id);
  }

  /** A new link (the old one stops working) with a fresh expiry; for pending and expired invitations. */
  async resend(caller: Caller, inviteId: string): Promise<PublicInvite> {
    requireAdmin(caller);
    await this.db.transaction().execute(async (trx) => {
      await lockChangeFeed(trx, caller.schoolId);
      const row = await this.row(trx, caller.schoolId, inviteId);
      const status = statusOf(row, this.now().toISOString());
      if (status === 'accepted') throw new ApiError('conflict', 'This invitation has already been accepted; there is nothing to resend.');
      if (status === 'revoked') throw new ApiError('conflict', 'This invitation was withdrawn; send a new invitation instead.');
      const token = randomBytes(32).toString('base64url');
      const at = this.now();
      const expiresAt = new Date(at.getTime() + this.ttlMs);
      const sends = row.sends + 1;
      // The older mails still waiting carry a dead link: drop them.
      await this.outbox.cancelQueued(trx, `invite:${inviteId}:`);
      await trx
        .updateTable('invites')
        .set({ token_hash: hashToken(token), sends, mail_key: mailKey(inviteId, sends), sent_at: at.toISOString(), expires_at: expiresAt.toISOString() })
        .where('id', '=', inviteId)
        .execute();
      await this.queueMail(trx, caller, { id: inviteId, email: row.email, role: row.role, familyId: row.family_id, sends }, token, expiresAt);
      await recordAudit(trx, { action: 'invite.resend', subject: `invite:${inviteId}`, schoolId: caller.schoolId, actorUserId: caller.userId, detail: { email: row.email, sends } });
    });
    this.outbox.notify();
    return this.loadOne(this.db, caller.schoolId, inviteId);
  }

  /** Withdraws an invitation: its link stops working and its unsent mail is dropped. Idempotent; 409 once accepted. */
  async revoke(caller: Caller, inviteId: string): Promise<void> {
    requireAdmin(caller);
    await this.db.transaction().execute(async (trx) => {
      await lockChangeFeed(trx, caller.schoolId);
      const row = await this.row(trx, caller.schoolId, inviteId);
      if (row.accepted_at !== null) throw new ApiError('conflict', 'This invitation has already been accepted; remove the member instead.');
      if (row.revoked_at !== null) return;
      await trx.updateTable('invites').set({ revoked_at: this.now().toISOString() }).where('id', '=', inviteId).where('revoked_at', 'is', null).execute();
      const dropped = await this.outbox.cancelQueued(trx, `invite:${inviteId}:`);
      await recordAudit(trx, { action: 'invite.revoke', subject: `invite:${inviteId}`, schoolId: caller.schoolId, actorUserId: caller.userId, detail: { email: row.email, unsentMailDropped: dropped } });
    });
  }

  /** The school, role and address an unused, live link is for; the same refusals as {@link accept}. */
  async inspect(token: string): Promise<InviteSummary> {
    const row = await this.usable(token);
    const school = await this.db.selectFrom('schools').select('name').where('id', '=', row.school_id).executeTakeFirstOrThrow();
    return { schoolName: school.name, role: row.role, email: row.email };
  }

  /**
   * Accepts an invitation. With `signedInUserId` (a valid bearer token) the invitation's address must be
   * that user's, and the membership is added to their account; otherwise `account` creates a new one with
   * the invitation's address. Returns the user to open a session for.
   */
  async accept(
    token: string,
    who: { signedInUserId: string } | { account: NewAccount },
    context: RequestContext,
  ): Promise<{ userId: string; schoolId: string; createdAccount: boolean }> {
    const invite = await this.usable(token, context);
    // From here on everything is the invitation's school's business.
    return withSchool(invite.school_id, () => this.join(invite, who, context));
  }

  /** The rest of {@link accept}, in the invitation's school. */
  private async join(
    invite: InviteRow,
    who: { signedInUserId: string } | { account: NewAccount },
    context: RequestContext,
  ): Promise<{ userId: string; schoolId: string; createdAccount: boolean }> {
    const fail = async (reason: string, error: ApiError): Promise<never> => {
      await recordAudit(this.db, { action: 'invite.accept-failed', subject: `invite:${invite.id}`, schoolId: invite.school_id, detail: { reason, ip: context.ip } });
      throw error;
    };

    let userId: string;
    let newAccount: { name: string; passwordHash: string } | undefined;
    if ('signedInUserId' in who) {
      const user = await this.db.selectFrom('users').select(['id', 'email']).where('id', '=', who.signedInUserId).executeTakeFirst();
      if (user === undefined) throw new ApiError('unauthorized', 'Your session is not valid or has expired. Sign in again.');
      if (user.email !== invite.email) {
        return fail('other-account', new ApiError('forbidden', `This invitation was sent to ${invite.email}. Sign in with that address to accept it.`));
      }
      userId = user.id;
    } else {
      const taken = await this.db.selectFrom('users').select('id').where('email', '=', invite.email).executeTakeFirst();
      if (taken !== undefined) {
        // The account may be the one a simultaneous accept of this very link just made: say so, if it is.
        const now = await this.db.selectFrom('invites').select('accepted_at').where('id', '=', invite.id).executeTakeFirst();
        if (now?.accepted_at != null) return fail('used-concurrently', new ApiError('conflict', USED_LINK));
        return fail('email-taken', new ApiError('conflict', `An account for ${invite.email} already exists. Sign in with it, then open the invitation link again.`));
      }
      userId = randomUUID();
      newAccount = { name: who.account.name, passwordHash: await hashPassword(who.account.password, this.scrypt) };
    }

    const at = this.now().toISOString();
    const outcome = await this.db
      .transaction()
      .execute(async (trx) => {
        await lockChangeFeed(trx, invite.school_id);
        const already = await trx.selectFrom('memberships').select('role').where('user_id', '=', userId).where('school_id', '=', invite.school_id).executeTakeFirst();
        if (already !== undefined) return 'member' as const;
        // Single use: of two accepts at once exactly one updates the row.
        const claim = await trx
          .updateTable('invites')
          .set({ accepted_at: at, accepted_by: userId })
          .where('id', '=', invite.id)
          .where('token_hash', '=', invite.token_hash)
          .where('accepted_at', 'is', null)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', at)
          .executeTakeFirst();
        if (claim.numUpdatedRows === 0n) return 'lost' as const;
        if (newAccount !== undefined) {
          await trx.insertInto('users').values({ id: userId, email: invite.email, password_hash: newAccount.passwordHash, name: newAccount.name, created_at: at }).execute();
        }
        await trx.insertInto('memberships').values({ user_id: userId, school_id: invite.school_id, role: invite.role, created_at: at }).execute();
        const changes: ChangeEntry[] = [{ schoolId: invite.school_id, entity: 'membership', entityId: userId, op: 'upsert' }];
        if (invite.family_id !== null) {
          await trx.insertInto('family_members').values({ family_id: invite.family_id, user_id: userId }).execute();
          await trx.updateTable('families').set({ updated_at: at }).where('id', '=', invite.family_id).execute();
          changes.push({ schoolId: invite.school_id, entity: 'family', entityId: invite.family_id, op: 'upsert' });
        }
        await recordAudit(trx, {
          action: 'invite.accept',
          subject: `invite:${invite.id}`,
          schoolId: invite.school_id,
          actorUserId: userId,
          detail: { userId, role: invite.role, familyId: invite.family_id, newAccount: newAccount !== undefined, ip: context.ip },
        });
        await recordChanges(trx, changes);
        return 'accepted' as const;
      })
      .catch(async (error: unknown) => {
        // A concurrent request made the same account or membership between our checks and our insert.
        if (newAccount !== undefined && (await this.db.selectFrom('users').select('id').where('email', '=', invite.email).executeTakeFirst())) return 'email-taken' as const;
        if (await this.db.selectFrom('memberships').select('role').where('user_id', '=', userId).where('school_id', '=', invite.school_id).executeTakeFirst()) return 'member' as const;
        throw error;
      });
    if (outcome === 'member') return fail('already-member', new ApiError('conflict', 'You are already a member of this school.'));
    if (outcome === 'email-taken') return fail('email-taken', new ApiError('conflict', `An account for ${invite.email} already exists. Sign in with it, then open the invitation link again.`));
    if (outcome === 'lost') return fail('used-concurrently', new ApiError('conflict', USED_LINK));
    return { userId, schoolId: invite.school_id, createdAccount: newAccount !== undefined };
  }

  /** The invitation a token opens, if it can still be accepted; the refusal a person can act on otherwise. */
  private async usable(token: string, context?: RequestContext): Promise<InviteRow> {
    const tokenHash = TOKEN_PATTERN.test(token) ? hashToken(token) : undefined;
    // The token names its invitation, in whichever school: the one lookup here that crosses schools.
    const row = tokenHash === undefined ? undefined : await asService(() => this.db.selectFrom('invites').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst());
    // The index found it by equality; compare once more in constant time (belt and braces).
    const status = row === undefined || tokenHash === undefined || !safeEqual(row.token_hash, tokenHash) ? undefined : statusOf(row, this.now().toISOString());
    if (row !== undefined && status === 'pending') return row;
    if (context !== undefined) {
      const entry = {
        action: 'invite.accept-failed',
        subject: row === undefined ? 'invite:unknown' : `invite:${row.id}`,
        schoolId: row?.school_id ?? null,
        detail: { reason: status ?? 'unknown-token', ip: context.ip },
      };
      await (row === undefined ? recordAudit(this.db, entry) : withSchool(row.school_id, () => recordAudit(this.db, entry)));
    }
    if (status === 'accepted') throw new ApiError('conflict', USED_LINK);
    if (status === 'revoked') throw new ApiError('unauthorized', REVOKED_LINK);
    if (status === 'expired') throw new ApiError('unauthorized', EXPIRED_LINK);
    throw new ApiError('unauthorized', INVALID_LINK);
  }

  private async queueMail(
    trx: Transaction<Database>,
    caller: Caller,
    invite: { id: string; email: string; role: Role; familyId: string | null; sends: number },
    token: string,
    expiresAt: Date,
  ): Promise<void> {
    const school = await trx.selectFrom('schools').select('name').where('id', '=', caller.schoolId).executeTakeFirstOrThrow();
    const inviter = await trx.selectFrom('users').select('name').where('id', '=', caller.userId).executeTakeFirst();
    const family = invite.familyId === null ? undefined : await trx.selectFrom('families').select('name').where('id', '=', invite.familyId).executeTakeFirst();
    const mail = renderInviteMail({
      schoolName: school.name,
      role: invite.role,
      inviterName: inviter?.name ?? school.name,
      familyName: family?.name ?? null,
      link: `${this.settings.publicUrl.replace(/\/+$/, '')}/invite#${token}`,
      expiresAt,
    });
    await this.outbox.enqueue(trx, {
      schoolId: caller.schoolId,
      idempotencyKey: mailKey(invite.id, invite.sends),
      to: invite.email,
      fromName: school.name,
      ...mail,
    });
  }

  private async row(db: Kysely<Database>, schoolId: string, inviteId: string): Promise<InviteRow> {
    const row = await db.selectFrom('invites').selectAll().where('id', '=', inviteId).where('school_id', '=', schoolId).executeTakeFirst();
    if (row === undefined) throw new ApiError('not-found', NO_SUCH_INVITE);
    return row;
  }

  private async loadOne(db: Kysely<Database>, schoolId: string, id: string): Promise<PublicInvite> {
    const [invite] = await this.load(db, schoolId, [id]);
    if (invite === undefined) throw new ApiError('not-found', NO_SUCH_INVITE);
    return invite;
  }

  private async load(db: Kysely<Database>, schoolId: string, ids: string[]): Promise<PublicInvite[]> {
    if (ids.length === 0) return [];
    const rows = await db
      .selectFrom('invites')
      .leftJoin('outbox', 'outbox.idempotency_key', 'invites.mail_key')
      .selectAll('invites')
      .select(['outbox.state as mail_state', 'outbox.last_error as mail_error'])
      .where('invites.school_id', '=', schoolId)
      .where('invites.id', 'in', ids)
      .execute();
    const byId = new Map(rows.map((r) => [r.id, r]));
    const now = this.now().toISOString();
    return ids.flatMap((id) => {
      const r = byId.get(id);
      if (r === undefined) return [];
      return [
        {
          id: r.id,
          schoolId: r.school_id,
          email: r.email,
          role: r.role,
          familyId: r.family_id,
          status: statusOf(r, now),
          invitedBy: r.invited_by,
          sends: r.sends,
          createdAt: r.created_at,
          sentAt: r.sent_at,
          expiresAt: r.expires_at,
          acceptedAt: r.accepted_at,
          acceptedBy: r.accepted_by,
          revokedAt: r.revoked_at,
          delivery: r.mail_state === null ? null : { state: r.mail_state, error: r.mail_error },
        },
      ];
    });
  }
}
