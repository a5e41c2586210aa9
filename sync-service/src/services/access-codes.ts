/**
 * Family access codes: how a parent with no account yet joins their family. An admin makes a code
 * (shown once), hands it over on paper, and the parent redeems it into a `parent` account of that
 * school, linked to that family. Single use; a new code replaces the old; an admin can revoke it.
 *
 * Storage. The code is 16 characters from a 32-letter alphabet with no look-alikes (no 0/O, 1/I):
 * 80 random bits, shown as `ABCD-EFGH-JKLM-NPQR`. Only `v1:` + HMAC-SHA-256(server secret, code) is
 * stored, in `families.access_code_hash` (unique). The code is random and long, so a keyed hash can
 * be deterministic: a redemption hashes what it is given and finds the family by equality, with no
 * plain text and no salt-per-row scan. Without the server secret a leaked table cannot even be
 * used to test guesses offline. The row found is compared again with `timingSafeEqual`, and the
 * claim is one conditional UPDATE (`… where access_code_hash = ?`) so two redemptions at once
 * cannot both win.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { recordAudit } from '../audit.ts';
import { hashPassword, DEFAULT_SCRYPT, type ScryptParams } from '../auth/passwords.ts';
import { normalizeEmail, type RequestContext } from '../auth/sessions.ts';
import type { Database } from '../db/schema.ts';
import { asService, withSchool } from '../db/tenant-scope.ts';
import { ApiError } from '../errors.ts';
import { STAFF_ROLES } from './access.ts';
import { lockChangeFeed, recordChanges } from './changes.ts';
import type { Caller } from './events.ts';

/** 32 symbols (5 bits each): digits 2–9 and A–Z without I and O. */
export const CODE_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
const CODE_LENGTH = 16;
const GROUP = 4;

/** The one message for an unknown, revoked, used or malformed code: which it was helps only a guesser. */
export const INVALID_CODE = 'That access code is not valid. Ask the school for a new one.';

/** A new random code, grouped for reading aloud (`ABCD-EFGH-JKLM-NPQR`). */
export function generateAccessCode(): string {
  // 256 is a multiple of 32, so `byte & 31` is uniform: 16 × 5 = 80 bits.
  const chars = [...randomBytes(CODE_LENGTH)].map((byte) => CODE_ALPHABET[byte & 31] ?? '');
  const groups: string[] = [];
  for (let i = 0; i < CODE_LENGTH; i += GROUP) groups.push(chars.slice(i, i + GROUP).join(''));
  return groups.join('-');
}

/** The canonical form (upper case, no dashes or spaces), or undefined when it cannot be a code. */
export function normalizeAccessCode(input: string): string | undefined {
  const code = input.toUpperCase().replace(/[\s-]/g, '');
  if (code.length !== CODE_LENGTH) return undefined;
  for (const ch of code) if (!CODE_ALPHABET.includes(ch)) return undefined;
  return code;
}

export class AccessCodeService {
  private readonly scrypt: ScryptParams;

  constructor(
    private readonly db: Kysely<Database>,
    /** The HMAC key (see the module comment); the same on every instance. */
    private readonly secret: Buffer,
    options: { scrypt?: ScryptParams } = {},
  ) {
    if (secret.length < 32) throw new Error('The access-code secret must be at least 32 bytes.');
    this.scrypt = options.scrypt ?? DEFAULT_SCRYPT;
  }

  /** What is stored for `code` (already normalized). */
  hash(code: string): string {
    return `v1:${createHmac('sha256', this.secret).update(`keepsake-access-code:${code}`).digest('base64url')}`;
  }

  /** Makes (or replaces) the family's code; the plain code is returned here and nowhere else. */
  async create(caller: Caller, familyId: string): Promise<{ familyId: string; code: string; createdAt: string }> {
    await this.requireAdminFamily(caller, familyId);
    const code = generateAccessCode();
    const now = new Date().toISOString();
    await this.db.transaction().execute(async (trx) => {
      await lockChangeFeed(trx, caller.schoolId);
      const before = await trx.selectFrom('families').select('access_code_hash').where('id', '=', familyId).executeTakeFirstOrThrow();
      await trx.updateTable('families').set({ access_code_hash: this.hash(normalizeAccessCode(code) ?? code), updated_at: now }).where('id', '=', familyId).execute();
      await recordAudit(trx, {
        action: 'family.code-created',
        subject: `family:${familyId}`,
        schoolId: caller.schoolId,
        actorUserId: caller.userId,
        detail: { replaced: before.access_code_hash !== null },
      });
      await recordChanges(trx, [{ schoolId: caller.schoolId, entity: 'family', entityId: familyId, op: 'upsert' }]);
    });
    return { familyId, code, createdAt: now };
  }

  /** Revokes the family's code; idempotent (no code is not an error). */
  async revoke(caller: Caller, familyId: string): Promise<void> {
    await this.requireAdminFamily(caller, familyId);
    await this.db.transaction().execute(async (trx) => {
      await lockChangeFeed(trx, caller.schoolId);
      const cleared = await trx
        .updateTable('families')
        .set({ access_code_hash: null, updated_at: new Date().toISOString() })
        .where('id', '=', familyId)
        .where('access_code_hash', 'is not', null)
        .executeTakeFirst();
      const had = cleared.numUpdatedRows > 0n;
      await recordAudit(trx, { action: 'family.code-revoked', subject: `family:${familyId}`, schoolId: caller.schoolId, actorUserId: caller.userId, detail: { hadCode: had } });
      if (had) await recordChanges(trx, [{ schoolId: caller.schoolId, entity: 'family', entityId: familyId, op: 'upsert' }]);
    });
  }

  /**
   * Redeems a code into a new parent account (member of the code's family and school) and returns its
   * id; the caller opens the session. An e-mail that already has an account is a 409 and leaves the
   * code unused: joining an existing account needs that account's consent (an admin links it).
   */
  async redeem(input: { code: string; email: string; name: string; password: string }, context: RequestContext): Promise<{ userId: string; schoolId: string; familyId: string }> {
    const email = normalizeEmail(input.email);
    const fail = async (reason: string, family?: { id: string; school_id: string }): Promise<never> => {
      await recordAudit(this.db, {
        action: 'family.code-failed',
        subject: family === undefined ? 'family:unknown' : `family:${family.id}`,
        schoolId: family?.school_id ?? null,
        detail: { reason, ip: context.ip },
      });
      throw reason === 'email-taken'
        ? new ApiError('conflict', 'An account with this email already exists. Sign in with it and ask the school to add it to your family.')
        : new ApiError('unauthorized', INVALID_CODE);
    };

    const code = normalizeAccessCode(input.code);
    if (code === undefined) return fail('malformed');
    const codeHash = this.hash(code);
    // The code names its family, in whichever school: the one lookup here that crosses schools.
    const family = await asService(() =>
      this.db.selectFrom('families').select(['id', 'school_id', 'access_code_hash']).where('access_code_hash', '=', codeHash).executeTakeFirst(),
    );
    // The index found it by equality; compare once more in constant time (belt and braces).
    if (family?.access_code_hash == null || !safeEqual(family.access_code_hash, codeHash)) return fail('unknown-code');
    // From here on everything is the family's school's business.
    return withSchool(family.school_id, () => this.join({ id: family.id, school_id: family.school_id }, codeHash, { ...input, email }, context, fail));
  }

  /** The rest of {@link redeem}, in the family's school: claim the code, create the parent, link them. */
  private async join(
    family: { id: string; school_id: string },
    codeHash: string,
    input: { email: string; name: string; password: string },
    context: RequestContext,
    fail: (reason: string, family?: { id: string; school_id: string }) => Promise<never>,
  ): Promise<{ userId: string; schoolId: string; familyId: string }> {
    const email = input.email;
    const taken = await this.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
    if (taken !== undefined) return fail('email-taken', family);

    const passwordHash = await hashPassword(input.password, this.scrypt);
    const userId = randomUUID();
    const now = new Date().toISOString();
    const claimed = await this.db.transaction().execute(async (trx) => {
      await lockChangeFeed(trx, family.school_id);
      // Single use: of two redemptions at once exactly one clears the hash.
      const claim = await trx
        .updateTable('families')
        .set({ access_code_hash: null, updated_at: now })
        .where('id', '=', family.id)
        .where('access_code_hash', '=', codeHash)
        .executeTakeFirst();
      if (claim.numUpdatedRows === 0n) return false;
      await trx.insertInto('users').values({ id: userId, email, password_hash: passwordHash, name: input.name, created_at: now }).execute();
      await trx.insertInto('memberships').values({ user_id: userId, school_id: family.school_id, role: 'parent', created_at: now }).execute();
      await trx.insertInto('family_members').values({ family_id: family.id, user_id: userId }).execute();
      await recordAudit(trx, {
        action: 'family.code-redeemed',
        subject: `family:${family.id}`,
        schoolId: family.school_id,
        actorUserId: userId,
        detail: { userId, ip: context.ip },
      });
      await recordChanges(trx, [
        { schoolId: family.school_id, entity: 'family', entityId: family.id, op: 'upsert' },
        { schoolId: family.school_id, entity: 'membership', entityId: userId, op: 'upsert' },
      ]);
      return true;
    }).catch(async (error: unknown) => {
      // Another request created the same e-mail between our check and our insert.
      if (await this.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst()) return 'email-taken' as const;
      throw error;
    });
    if (claimed === 'email-taken') return fail('email-taken', family);
    if (!claimed) return fail('used-concurrently', family);
    return { userId, schoolId: family.school_id, familyId: family.id };
  }

  /** Admins only; staff get 403 (they can see the family), anyone else 404 like the family routes. */
  private async requireAdminFamily(caller: Caller, familyId: string): Promise<void> {
    if (caller.role !== 'admin' && !STAFF_ROLES.includes(caller.role)) throw new ApiError('not-found', 'No such family in this school.');
    const found = await this.db.selectFrom('families').select('id').where('id', '=', familyId).where('school_id', '=', caller.schoolId).executeTakeFirst();
    if (found === undefined) throw new ApiError('not-found', 'No such family in this school.');
    if (caller.role !== 'admin') throw new ApiError('forbidden', 'Only admins can manage access codes.');
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
