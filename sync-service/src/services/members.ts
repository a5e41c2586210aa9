/**
 * A school's members and their roles. Admins see everyone with their e-mail address, change roles and
 * remove access; photographers and teachers see the narrower view the change feed already gives them
 * (id, name, role: who changed what); parents and students are told there is nothing here (404), as
 * for the feed.
 *
 * Family links are a parent's only: a member whose role changes from parent to another one leaves
 * this school's families as a removed member does (audited in `role.change` as `familyLinksRemoved`);
 * made a parent again, they are linked anew by an admin, an invitation or an access code. The
 * families' favourites stay (they are the family's, whoever marked them), and so does the record of
 * invitations already accepted; a pending invitation cannot name a member (inviting one is a 409).
 *
 * Removing access: the membership goes, with the user's links to this school's families, and because
 * every school route reads the role from the database on each request, the user's next request to the
 * school is a 404 even with a still-valid access token. Refresh tokens belong to the user, not to a
 * school: a user who is still a member elsewhere keeps their sessions (ending them would sign them out
 * of the other schools too); a user left with no school loses every refresh token at once.
 *
 * The school always keeps an admin: demoting or removing the last one is a 409. The check runs under
 * the school's writer lock, so two admins demoting each other at once cannot both succeed.
 */
import type { Kysely, Transaction } from 'kysely';
import { recordAudit } from '../audit.ts';
import type { Database, Role } from '../db/schema.ts';
import { asService } from '../db/tenant-scope.ts';
import { ApiError } from '../errors.ts';
import { STAFF_ROLES } from './access.ts';
import { lockChangeFeed, recordChanges, type ChangeEntry } from './changes.ts';
import type { Caller } from './events.ts';

type Reader = Kysely<Database> | Transaction<Database>;

/** A member as staff and the change feed see them. */
export interface MemberSummary {
  userId: string;
  name: string;
  role: Role;
}

/** A member as admins see them. */
export interface PublicMember extends MemberSummary {
  email: string;
  /** When they joined the school. */
  createdAt: string;
}

const NO_SUCH_MEMBER = 'No such member in this school.';
const NOT_VISIBLE = 'No such resource in this school, or you cannot see it.';

/** The members among `ids`, as the change feed carries them (no e-mail: the feed goes to all staff). */
export async function loadMemberships(db: Reader, schoolId: string, ids: string[]): Promise<Map<string, MemberSummary>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select(['memberships.user_id', 'memberships.role', 'users.name'])
    .where('memberships.school_id', '=', schoolId)
    .where('memberships.user_id', 'in', ids)
    .execute();
  return new Map(rows.map((r) => [r.user_id, { userId: r.user_id, name: r.name, role: r.role }]));
}

function requireStaff(caller: Caller): void {
  if (!STAFF_ROLES.includes(caller.role)) throw new ApiError('not-found', NOT_VISIBLE);
}

function requireAdmin(caller: Caller, what: string): void {
  if (caller.role !== 'admin') throw new ApiError('forbidden', `Only admins can ${what}.`);
}

export class MemberService {
  constructor(private readonly db: Kysely<Database>) {}

  /** Admins: everyone with e-mail and join date; photographers and teachers: id, name and role. */
  async list(caller: Caller): Promise<PublicMember[] | MemberSummary[]> {
    requireStaff(caller);
    const rows = await this.members(this.db, caller.schoolId).orderBy('users.name').orderBy('users.id').execute();
    return caller.role === 'admin'
      ? rows.map((r) => ({ userId: r.user_id, name: r.name, email: r.email, role: r.role, createdAt: r.created_at }))
      : rows.map((r) => ({ userId: r.user_id, name: r.name, role: r.role }));
  }

  /** Gives a member another role (a repeat of the current one changes nothing). */
  async changeRole(caller: Caller, userId: string, role: Role): Promise<PublicMember> {
    requireStaff(caller);
    await this.member(this.db, caller.schoolId, userId);
    requireAdmin(caller, 'change roles');
    return this.db.transaction().execute(async (trx) => {
      await lockChangeFeed(trx, caller.schoolId);
      const current = await this.member(trx, caller.schoolId, userId);
      if (current.role === role) return current;
      if (current.role === 'admin') await this.keepAnAdmin(trx, caller, userId, 'demote');
      await trx.updateTable('memberships').set({ role }).where('user_id', '=', userId).where('school_id', '=', caller.schoolId).execute();
      // Only parents belong to families: a parent given another role leaves theirs here.
      const families = current.role === 'parent' ? await this.unlinkFamilies(trx, caller.schoolId, userId) : [];
      await recordAudit(trx, {
        action: 'role.change',
        subject: `user:${userId}`,
        schoolId: caller.schoolId,
        actorUserId: caller.userId,
        detail: { userId, before: current.role, after: role, ...(current.role === 'parent' ? { familyLinksRemoved: families.length } : {}) },
      });
      await recordChanges(trx, [
        { schoolId: caller.schoolId, entity: 'membership', entityId: userId, op: 'upsert' },
        ...families.map((id): ChangeEntry => ({ schoolId: caller.schoolId, entity: 'family', entityId: id, op: 'upsert' })),
      ]);
      return { ...current, role };
    });
  }

  /** Ends a member's access to this school at once (see the module comment for sessions). */
  async remove(caller: Caller, userId: string): Promise<void> {
    requireStaff(caller);
    await this.member(this.db, caller.schoolId, userId);
    requireAdmin(caller, 'remove members');
    // Memberships in other schools: a lookup across schools, so outside the school's transaction.
    const elsewhere = await asService(() =>
      this.db.selectFrom('memberships').select('school_id').where('user_id', '=', userId).where('school_id', '!=', caller.schoolId).executeTakeFirst(),
    );
    await this.db.transaction().execute(async (trx) => {
      await lockChangeFeed(trx, caller.schoolId);
      const current = await this.member(trx, caller.schoolId, userId);
      if (current.role === 'admin') await this.keepAnAdmin(trx, caller, userId, 'remove');
      const families = await this.unlinkFamilies(trx, caller.schoolId, userId);
      const now = new Date().toISOString();
      await trx.deleteFrom('memberships').where('user_id', '=', userId).where('school_id', '=', caller.schoolId).execute();
      let sessionsEnded = 0;
      if (elsewhere === undefined) {
        const revoked = await trx.updateTable('refresh_tokens').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
        sessionsEnded = Number(revoked.numUpdatedRows);
      }
      await recordAudit(trx, {
        action: 'member.remove',
        subject: `user:${userId}`,
        schoolId: caller.schoolId,
        actorUserId: caller.userId,
        detail: { userId, role: current.role, familyLinksRemoved: families.length, sessionsEnded },
      });
      await recordChanges(trx, [
        { schoolId: caller.schoolId, entity: 'membership', entityId: userId, op: 'delete' },
        ...families.map((id): ChangeEntry => ({ schoolId: caller.schoolId, entity: 'family', entityId: id, op: 'upsert' })),
      ]);
    });
  }

  /**
   * Takes `userId` out of every family of this school and returns those families (touched, for the
   * feed). The families keep their favourites: they are the family's, not the parent's.
   */
  private async unlinkFamilies(trx: Transaction<Database>, schoolId: string, userId: string): Promise<string[]> {
    const families = (
      await trx
        .selectFrom('family_members')
        .innerJoin('families', 'families.id', 'family_members.family_id')
        .select('family_members.family_id')
        .where('family_members.user_id', '=', userId)
        .where('families.school_id', '=', schoolId)
        .execute()
    ).map((r) => r.family_id);
    if (families.length > 0) {
      await trx.deleteFrom('family_members').where('user_id', '=', userId).where('family_id', 'in', families).execute();
      await trx.updateTable('families').set({ updated_at: new Date().toISOString() }).where('id', 'in', families).execute();
    }
    return families;
  }

  /** 409 when `userId` is the school's only admin. */
  private async keepAnAdmin(trx: Transaction<Database>, caller: Caller, userId: string, verb: 'demote' | 'remove'): Promise<void> {
    const others = await trx
      .selectFrom('memberships')
      .select('user_id')
      .where('school_id', '=', caller.schoolId)
      .where('role', '=', 'admin')
      .where('user_id', '!=', userId)
      .executeTakeFirst();
    if (others !== undefined) return;
    const who = userId === caller.userId ? 'You are' : 'This member is';
    throw new ApiError('conflict', `${who} the school's last admin and cannot be ${verb === 'demote' ? 'given another role' : 'removed'}. Make someone else an admin first.`);
  }

  private members(db: Reader, schoolId: string) {
    return db
      .selectFrom('memberships')
      .innerJoin('users', 'users.id', 'memberships.user_id')
      .select(['memberships.user_id', 'memberships.role', 'memberships.created_at', 'users.name', 'users.email'])
      .where('memberships.school_id', '=', schoolId);
  }

  private async member(db: Reader, schoolId: string, userId: string): Promise<PublicMember> {
    const r = await this.members(db, schoolId).where('memberships.user_id', '=', userId).executeTakeFirst();
    if (r === undefined) throw new ApiError('not-found', NO_SUCH_MEMBER);
    return { userId: r.user_id, name: r.name, email: r.email, role: r.role, createdAt: r.created_at };
  }
}
