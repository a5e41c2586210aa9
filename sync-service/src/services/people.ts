/**
 * A school's students, classes, families and consent. Admins write; staff read; a parent reads (and
 * sets consent for) only the students of their own families. Every write runs in one transaction
 * with its audit entry and its change-feed rows.
 *
 * Privacy: audit entries name students by id only (never by name), because the trail outlives an
 * erasure; erasure ({@link PeopleService.eraseStudent}) leaves a tombstone with no personal field.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { eraseFamilyActivity } from '../analytics/activity.repo.ts';
import { recordAudit } from '../audit.ts';
import { CONSENT_PURPOSES, type ConsentPurpose, type Database, type FamilyRow } from '../db/schema.ts';
import { asService } from '../db/tenant-scope.ts';
import { ApiError } from '../errors.ts';
import { STAFF_ROLES } from './access.ts';
import { lockChangeFeed, recordChanges, type ChangeEntry } from './changes.ts';
import type { Caller } from './events.ts';

type Reader = Kysely<Database> | Transaction<Database>;

export interface PublicClass {
  id: string;
  schoolId: string;
  name: string;
  createdAt: string;
}

export interface PublicStudent {
  id: string;
  schoolId: string;
  name: string;
  classId: string | null;
  className: string | null;
  remoteRef: string | null;
  familyIds: string[];
  createdAt: string;
  updatedAt: string;
}

export interface PublicFamily {
  id: string;
  schoolId: string;
  name: string;
  email: string | null;
  hasAccessCode: boolean;
  memberUserIds: string[];
  studentIds: string[];
  createdAt: string;
  updatedAt: string;
}

export interface ConsentState {
  granted: boolean;
  /** User id of whoever set it; null when never set (denied by default). */
  setBy: string | null;
  setAt: string | null;
}

export type PublicConsent = { studentId: string } & Record<ConsentPurpose, ConsentState>;

/**
 * One of a parent's own children as the gallery shows it: the first name only (what a filter chip and
 * the family page need) and whether each purpose is granted.
 */
export interface FamilyChild {
  id: string;
  firstName: string;
  consent: Record<ConsentPurpose, boolean>;
}

export interface StudentFields {
  name: string;
  classId: string | null;
  remoteRef: string | null;
}

/** One roster line as the desktop's roster import has it. */
export interface RosterRow {
  name: string;
  class: string | null;
  remoteRef: string;
  familyEmail?: string | null | undefined;
  consent?: Partial<Record<ConsentPurpose, boolean>> | undefined;
}

export interface RosterResult {
  created: number;
  /** Rows that changed a student, matched ones included. */
  updated: number;
  unchanged: number;
  /** Rows with a new roster key that were matched to a student the school already had (see {@link PeopleService.importRoster}). */
  matched: number;
  /** Each row's roster key and the student it stands for; an ambiguous row is not here. */
  students: Array<{ remoteRef: string; id: string }>;
  /** Rows with a new key whose name and class fit several students: nothing was written for them. */
  ambiguous: Array<{ remoteRef: string; studentIds: string[] }>;
}

/** What an erasure hook is told. */
export interface ErasedStudent {
  schoolId: string;
  studentId: string;
  actorUserId: string;
}

/**
 * Runs inside the erasure's transaction, after the student's personal data is gone and before commit:
 * delete your own rows about the student with `trx` and enqueue slow work (remote objects); throwing
 * rolls the whole erasure back. Do no network I/O here: it would hold the school's feed lock.
 */
export type StudentErasedHook = (trx: Transaction<Database>, erased: ErasedStudent) => Promise<void>;

const NO_SUCH_STUDENT = 'No such student in this school.';
const NO_SUCH_FAMILY = 'No such family in this school.';
const NOT_VISIBLE = 'No such resource in this school, or you cannot see it.';

/** A name or class as roster matching compares it: case, accents' encoding and runs of spaces aside. */
function rosterKeyPart(text: string | null): string {
  return (text ?? '').normalize('NFC').trim().toLowerCase().replace(/\s+/g, ' ');
}

/** Who issued a roster key: what precedes its first colon (`csv`, a library's id), or the whole key. */
function rosterSource(remoteRef: string): string {
  const colon = remoteRef.indexOf(':');
  return colon < 0 ? remoteRef : remoteRef.slice(0, colon);
}

/** A student's name and class as one matching key. */
function rosterKey(name: string, className: string | null): string {
  return `${rosterKeyPart(name)}\u0000${rosterKeyPart(className)}`;
}

/** A live student as the roster import matches them. */
interface RosterStudent {
  id: string;
  name: string;
  classId: string | null;
  className: string | null;
  /** The key in `students.remote_ref`, or null. */
  primaryRef: string | null;
  /** Every key of the student: the primary one and those in `student_refs`. */
  refs: string[];
}

function isStaff(caller: Caller): boolean {
  return STAFF_ROLES.includes(caller.role);
}

/** Staff and parents read people; anyone else is told the resource is not there. */
function requireReader(caller: Caller): void {
  if (!isStaff(caller) && caller.role !== 'parent') throw new ApiError('not-found', NOT_VISIBLE);
}

function requireAdmin(caller: Caller, what: string): void {
  if (caller.role !== 'admin') throw new ApiError('forbidden', `Only admins can ${what}.`);
}

/** Unique-within-the-list, in first-seen order. */
function groupBy<K, V>(pairs: Array<[K, V]>): Map<K, V[]> {
  const map = new Map<K, V[]>();
  for (const [key, value] of pairs) {
    const list = map.get(key);
    if (list === undefined) map.set(key, [value]);
    else list.push(value);
  }
  return map;
}

// ---- Loaders shared with the change feed (batch, school-scoped) ----

export async function loadClasses(db: Reader, schoolId: string, ids: string[]): Promise<Map<string, PublicClass>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('classes').selectAll().where('school_id', '=', schoolId).where('id', 'in', ids).execute();
  return new Map(rows.map((r) => [r.id, { id: r.id, schoolId: r.school_id, name: r.name, createdAt: r.created_at }]));
}

/** Live students only: a tombstone is not in the map. */
export async function loadStudents(db: Reader, schoolId: string, ids: string[]): Promise<Map<string, PublicStudent>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('students')
    .leftJoin('classes', 'classes.id', 'students.class_id')
    .selectAll('students')
    .select('classes.name as class_name')
    .where('students.school_id', '=', schoolId)
    .where('students.id', 'in', ids)
    .where('students.deleted_at', 'is', null)
    .execute();
  const links = await db.selectFrom('family_students').select(['student_id', 'family_id']).where('student_id', 'in', ids).orderBy('family_id').execute();
  const families = groupBy(links.map((l) => [l.student_id, l.family_id]));
  return new Map(
    rows.map((r) => [
      r.id,
      {
        id: r.id,
        schoolId: r.school_id,
        name: r.name ?? '',
        classId: r.class_id,
        className: r.class_name,
        remoteRef: r.remote_ref,
        familyIds: families.get(r.id) ?? [],
        createdAt: r.created_at,
        updatedAt: r.updated_at,
      },
    ]),
  );
}

export async function loadFamilies(db: Reader, schoolId: string, ids: string[]): Promise<Map<string, PublicFamily>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('families').selectAll().where('school_id', '=', schoolId).where('id', 'in', ids).execute();
  const members = await db.selectFrom('family_members').select(['family_id', 'user_id']).where('family_id', 'in', ids).orderBy('user_id').execute();
  const students = await db
    .selectFrom('family_students')
    .innerJoin('students', 'students.id', 'family_students.student_id')
    .select(['family_students.family_id', 'family_students.student_id'])
    .where('family_students.family_id', 'in', ids)
    .orderBy('family_students.student_id')
    .execute();
  const memberMap = groupBy(members.map((m) => [m.family_id, m.user_id]));
  const studentMap = groupBy(students.map((s) => [s.family_id, s.student_id]));
  return new Map(rows.map((r) => [r.id, toPublicFamily(r, memberMap.get(r.id) ?? [], studentMap.get(r.id) ?? [])]));
}

function toPublicFamily(r: FamilyRow, memberUserIds: string[], studentIds: string[]): PublicFamily {
  return {
    id: r.id,
    schoolId: r.school_id,
    name: r.name,
    email: r.email,
    hasAccessCode: r.access_code_hash !== null,
    memberUserIds,
    studentIds,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Both purposes for each live student among `ids`; a purpose with no row is denied. */
export async function loadConsents(db: Reader, schoolId: string, ids: string[]): Promise<Map<string, PublicConsent>> {
  if (ids.length === 0) return new Map();
  const live = await db.selectFrom('students').select('id').where('school_id', '=', schoolId).where('id', 'in', ids).where('deleted_at', 'is', null).execute();
  const liveIds = live.map((s) => s.id);
  if (liveIds.length === 0) return new Map();
  const rows = await db.selectFrom('consents').selectAll().where('student_id', 'in', liveIds).execute();
  const result = new Map<string, PublicConsent>();
  for (const id of liveIds) {
    const denied: ConsentState = { granted: false, setBy: null, setAt: null };
    result.set(id, { studentId: id, publish: { ...denied }, yearbook: { ...denied } });
  }
  for (const row of rows) {
    const entry = result.get(row.student_id);
    if (entry !== undefined) entry[row.purpose] = { granted: row.granted === 1, setBy: row.set_by_user_id, setAt: row.set_at };
  }
  return result;
}

export class PeopleService {
  /**
   * Called, in order, inside every erasure's transaction (see {@link StudentErasedHook}). The media
   * service registers here to drop the student from published media and queue their objects' deletion.
   */
  readonly onStudentErased: StudentErasedHook[] = [];
  /**
   * Called after an erasure (of a student or a family) has committed, never inside it: how the object
   * deletion worker is told there is work (it would find it at its next poll anyway).
   */
  readonly afterErasure: Array<() => void> = [];

  constructor(private readonly db: Kysely<Database>) {}

  // ---- Classes ----

  async listClasses(caller: Caller): Promise<PublicClass[]> {
    if (!isStaff(caller)) throw new ApiError('not-found', NOT_VISIBLE);
    const rows = await this.db.selectFrom('classes').selectAll().where('school_id', '=', caller.schoolId).orderBy('name').orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, schoolId: r.school_id, name: r.name, createdAt: r.created_at }));
  }

  async createClass(caller: Caller, name: string): Promise<PublicClass> {
    requireAdmin(caller, 'create classes');
    return this.db.transaction().execute(async (trx) => {
      await lockChangeFeed(trx, caller.schoolId);
      const existing = await trx.selectFrom('classes').select('id').where('school_id', '=', caller.schoolId).where('name', '=', name).executeTakeFirst();
      if (existing !== undefined) throw new ApiError('conflict', `A class named "${name}" already exists in this school.`, { id: existing.id });
      const id = await this.insertClass(trx, caller, name);
      const created = (await loadClasses(trx, caller.schoolId, [id])).get(id);
      if (created === undefined) throw new Error('class vanished inside its own transaction');
      return created;
    });
  }

  private async insertClass(trx: Transaction<Database>, caller: Caller, name: string): Promise<string> {
    const id = randomUUID();
    await trx.insertInto('classes').values({ id, school_id: caller.schoolId, name, created_at: new Date().toISOString() }).execute();
    await recordAudit(trx, { action: 'class.create', subject: `class:${id}`, schoolId: caller.schoolId, actorUserId: caller.userId, detail: { name } });
    await recordChanges(trx, [{ schoolId: caller.schoolId, entity: 'class', entityId: id, op: 'upsert' }]);
    return id;
  }

  // ---- Students ----

  /** Staff: every live student; a parent: the students of their own families. */
  async listStudents(caller: Caller): Promise<PublicStudent[]> {
    requireReader(caller);
    let query = this.db.selectFrom('students').select('students.id').where('students.school_id', '=', caller.schoolId).where('students.deleted_at', 'is', null);
    if (!isStaff(caller)) query = query.where('students.id', 'in', this.ownStudentIds(this.db, caller));
    const ids = (await query.orderBy('students.name').orderBy('students.id').execute()).map((r) => r.id);
    const loaded = await loadStudents(this.db, caller.schoolId, ids);
    return ids.flatMap((id) => loaded.get(id) ?? []);
  }

  async getStudent(caller: Caller, studentId: string): Promise<PublicStudent> {
    await this.visibleStudent(this.db, caller, studentId);
    return this.loadStudent(this.db, caller.schoolId, studentId);
  }

  async createStudent(caller: Caller, fields: StudentFields): Promise<PublicStudent> {
    requireAdmin(caller, 'add students');
    return this.db.transaction().execute(async (trx) => {
      await lockChangeFeed(trx, caller.schoolId);
      await this.checkClass(trx, caller.schoolId, fields.classId);
      await this.checkRemoteRef(trx, caller.schoolId, fields.remoteRef, undefined);
      const now = new Date().toISOString();
      const id = randomUUID();
      await trx
        .insertInto('students')
        .values({ id, school_id: caller.schoolId, name: fields.name, class_id: fields.classId, remote_ref: fields.remoteRef, created_at: now, updated_at: now, deleted_at: null })
        .execute();
      await recordAudit(trx, { action: 'student.create', subject: `student:${id}`, schoolId: caller.schoolId, actorUserId: caller.userId, detail: { classId: fields.classId } });
      await recordChanges(trx, [{ schoolId: caller.schoolId, entity: 'student', entityId: id, op: 'upsert' }]);
      return this.loadStudent(trx, caller.schoolId, id);
    });
  }

  async updateStudent(caller: Caller, studentId: string, changes: Partial<StudentFields>): Promise<PublicStudent> {
    await this.visibleStudent(this.db, caller, studentId);
    requireAdmin(caller, 'change students');
    return this.db.transaction().execute(async (trx) => {
      await lockChangeFeed(trx, caller.schoolId);
      await this.visibleStudent(trx, caller, studentId);
      if (changes.classId !== undefined) await this.checkClass(trx, caller.schoolId, changes.classId);
      if (changes.remoteRef !== undefined) await this.checkRemoteRef(trx, caller.schoolId, changes.remoteRef, studentId);
      // A further key of this student that becomes its primary one is kept once, in `students`.
      if (changes.remoteRef != null) await trx.deleteFrom('student_refs').where('school_id', '=', caller.schoolId).where('remote_ref', '=', changes.remoteRef).execute();
      await trx
        .updateTable('students')
        .set({
          ...(changes.name === undefined ? {} : { name: changes.name }),
          ...(changes.classId === undefined ? {} : { class_id: changes.classId }),
          ...(changes.remoteRef === undefined ? {} : { remote_ref: changes.remoteRef }),
          updated_at: new Date().toISOString(),
        })
        .where('id', '=', studentId)
        .where('school_id', '=', caller.schoolId)
        .execute();
      await recordAudit(trx, {
        action: 'student.update',
        subject: `student:${studentId}`,
        schoolId: caller.schoolId,
        actorUserId: caller.userId,
        detail: { fields: Object.keys(changes).sort() },
      });
      await recordChanges(trx, [{ schoolId: caller.schoolId, entity: 'student', entityId: studentId, op: 'upsert' }]);
      return this.loadStudent(trx, caller.schoolId, studentId);
    });
  }

  /**
   * Erasure: the student's name, class, roster key, family links and consents go; a tombstone row
   * (id, school, timestamps, `deleted_at`) stays so the feed can tell desktops to delete the person.
   * Then every {@link onStudentErased} hook runs in the same transaction, and after the commit every
   * {@link afterErasure} callback.
   */
  async eraseStudent(caller: Caller, studentId: string): Promise<void> {
    await this.visibleStudent(this.db, caller, studentId);
    requireAdmin(caller, 'erase students');
    await this.db.transaction().execute(async (trx) => {
      await lockChangeFeed(trx, caller.schoolId);
      await this.visibleStudent(trx, caller, studentId);
      await this.eraseInTransaction(trx, caller, studentId, []);
    });
    this.erased();
  }

  /**
   * Family erasure, in one transaction: the family row goes (name, e-mail, access code); each of its
   * children is erased as {@link eraseStudent} does, except a child who is also in another family of
   * the school, who is only unlinked (the other family's child stays theirs); each parent account
   * loses its parent membership here unless it is in another family of the school, and an account
   * left with no membership anywhere is deleted (its sessions with it). Audited `family.erased`,
   * counts only; the feed says `delete` for the family, its erased children and removed memberships.
   */
  async eraseFamily(caller: Caller, familyId: string): Promise<void> {
    await this.visibleFamily(this.db, caller, familyId);
    requireAdmin(caller, 'erase families');
    await this.db.transaction().execute(async (trx) => {
      await lockChangeFeed(trx, caller.schoolId);
      await this.visibleFamily(trx, caller, familyId);
      const school = caller.schoolId;
      const children = (await trx.selectFrom('family_students').select('student_id').where('family_id', '=', familyId).execute()).map((r) => r.student_id);
      const shared = new Set(
        children.length === 0
          ? []
          : (await trx.selectFrom('family_students').select('student_id').where('student_id', 'in', children).where('family_id', '<>', familyId).execute()).map((r) => r.student_id),
      );
      const parents = (await trx.selectFrom('family_members').select('user_id').where('family_id', '=', familyId).execute()).map((r) => r.user_id);
      const changes: ChangeEntry[] = [{ schoolId: school, entity: 'family', entityId: familyId, op: 'delete' }];

      await trx.deleteFrom('family_students').where('family_id', '=', familyId).execute();
      await trx.deleteFrom('family_members').where('family_id', '=', familyId).execute();
      const activityRows = await eraseFamilyActivity(trx, school, familyId);
      await trx.deleteFrom('families').where('id', '=', familyId).where('school_id', '=', school).execute();
      let erased = 0;
      for (const studentId of children) {
        if (shared.has(studentId)) {
          changes.push({ schoolId: school, entity: 'student', entityId: studentId, op: 'upsert' });
          continue;
        }
        await this.eraseInTransaction(trx, caller, studentId, [familyId]);
        erased += 1;
      }

      // Parents in another family of this school keep their membership; staff keep theirs whatever it is.
      const stay = new Set(
        parents.length === 0
          ? []
          : (
              await trx
                .selectFrom('family_members')
                .innerJoin('families', 'families.id', 'family_members.family_id')
                .select('family_members.user_id')
                .where('family_members.user_id', 'in', parents)
                .where('families.school_id', '=', school)
                .execute()
            ).map((r) => r.user_id),
      );
      const leaving = parents.filter((id) => !stay.has(id));
      const removed =
        leaving.length === 0
          ? []
          : await trx.deleteFrom('memberships').where('school_id', '=', school).where('user_id', 'in', leaving).where('role', '=', 'parent').returning('user_id').execute();
      const removedIds = removed.map((r) => r.user_id);
      let accountsDeleted = 0;
      if (removedIds.length > 0) {
        // Memberships in any school: a lookup across schools (their other schools are invisible in this one's scope).
        const elsewhere = new Set(
          (await asService(() => trx.selectFrom('memberships').select('user_id').where('user_id', 'in', removedIds).execute())).map((r) => r.user_id),
        );
        const orphans = removedIds.filter((id) => !elsewhere.has(id));
        // Their refresh tokens, device checkpoints and OIDC links go with the account (foreign keys cascade).
        if (orphans.length > 0) accountsDeleted = Number((await trx.deleteFrom('users').where('id', 'in', orphans).executeTakeFirst()).numDeletedRows);
        for (const userId of removedIds) changes.push({ schoolId: school, entity: 'membership', entityId: userId, op: 'delete' });
      }

      await recordAudit(trx, {
        action: 'family.erased',
        subject: `family:${familyId}`,
        schoolId: school,
        actorUserId: caller.userId,
        detail: { studentsErased: erased, studentsKept: shared.size, membershipsRemoved: removedIds.length, accountsDeleted, activityRows },
      });
      await recordChanges(trx, changes);
    });
    this.erased();
  }

  /** One student's erasure inside `trx` (the caller holds the feed lock); `gone` are families being deleted with it. */
  private async eraseInTransaction(trx: Transaction<Database>, caller: Caller, studentId: string, gone: string[]): Promise<void> {
    const families = (await trx.selectFrom('family_students').select('family_id').where('student_id', '=', studentId).execute())
      .map((r) => r.family_id)
      .filter((id) => !gone.includes(id));
    const consents = await trx.deleteFrom('consents').where('student_id', '=', studentId).executeTakeFirst();
    await trx.deleteFrom('family_students').where('student_id', '=', studentId).execute();
    // A roster file's key is the child's name and class: personal data like the name itself.
    await trx.deleteFrom('student_refs').where('student_id', '=', studentId).where('school_id', '=', caller.schoolId).execute();
    const now = new Date().toISOString();
    await trx
      .updateTable('students')
      .set({ name: null, class_id: null, remote_ref: null, updated_at: now, deleted_at: now })
      .where('id', '=', studentId)
      .where('school_id', '=', caller.schoolId)
      .execute();
    if (families.length > 0) await trx.updateTable('families').set({ updated_at: now }).where('id', 'in', families).execute();
    await recordAudit(trx, {
      action: 'student.erased',
      subject: `student:${studentId}`,
      schoolId: caller.schoolId,
      actorUserId: caller.userId,
      detail: { consentsRemoved: Number(consents.numDeletedRows), familyLinksRemoved: families.length + gone.length },
    });
    await recordChanges(trx, [
      { schoolId: caller.schoolId, entity: 'student', entityId: studentId, op: 'delete' },
      { schoolId: caller.schoolId, entity: 'consent', entityId: studentId, op: 'delete' },
      ...families.map((id): ChangeEntry => ({ schoolId: caller.schoolId, entity: 'family', entityId: id, op: 'upsert' })),
    ]);
    for (const hook of this.onStudentErased) await hook(trx, { schoolId: caller.schoolId, studentId, actorUserId: caller.userId });
  }

  /** Runs the {@link afterErasure} callbacks; one that throws does not stop the others or fail the erasure. */
  private erased(): void {
    for (const callback of this.afterErasure) {
      try {
        callback();
      } catch {
        // The work it would start is queued in the database and picked up by the next poll.
      }
    }
  }

  // ---- Roster ----

  /**
   * Bulk upsert keyed by `remoteRef` (idempotent: importing the same roster twice changes nothing the
   * second time). Classes are found or created by name, families by e-mail; consent is set only for
   * the purposes a row names, and only when it differs.
   *
   * One child, one student: a photographer's library and the admin's roster file each name a child by
   * their own key. A row whose key the school does not know yet is matched to a live student of the
   * same name and class (compared by {@link rosterKeyPart}), leaving out students who already have
   * another key from the same source (the row's source calls them someone else). Exactly one such
   * student: the row's key becomes one more key of that student (`student_refs`), and the row updates
   * them. None: a new student. Several: the row is ambiguous and nothing is written for it; it comes
   * back in `ambiguous` with the candidates, for the admin to settle (rename one of them, or give one the key with a PATCH).
   */
  async importRoster(caller: Caller, rows: RosterRow[]): Promise<RosterResult> {
    requireAdmin(caller, 'import rosters');
    const refs = new Set<string>();
    for (const row of rows) {
      if (refs.has(row.remoteRef)) throw new ApiError('invalid-input', `The roster names remoteRef "${row.remoteRef}" more than once.`);
      refs.add(row.remoteRef);
    }
    const school = caller.schoolId;
    return this.db.transaction().execute(async (trx) => {
      await lockChangeFeed(trx, school);
      const now = new Date().toISOString();
      const changes: ChangeEntry[] = [];
      const result: RosterResult = { created: 0, updated: 0, unchanged: 0, matched: 0, students: [], ambiguous: [] };
      const createdIds: string[] = [];
      const updatedIds: string[] = [];
      const matchedIds: string[] = [];

      const classIds = new Map((await trx.selectFrom('classes').select(['id', 'name']).where('school_id', '=', school).execute()).map((c) => [c.name, c.id]));
      const familyIds = new Map(
        (await trx.selectFrom('families').select(['id', 'email']).where('school_id', '=', school).where('email', 'is not', null).execute()).map((f) => [f.email ?? '', f.id]),
      );
      const roster = await this.rosterStudents(trx, school);
      const resolveClass = async (name: string | null): Promise<string | null> => {
        if (name === null) return null;
        let classId = classIds.get(name);
        if (classId === undefined) {
          classId = await this.insertClass(trx, caller, name);
          classIds.set(name, classId);
        }
        return classId;
      };

      for (const row of rows) {
        let current = roster.byRef.get(row.remoteRef);
        let matched = false;
        if (current === undefined) {
          const source = rosterSource(row.remoteRef);
          const candidates = (roster.byKey.get(rosterKey(row.name, row.class)) ?? []).filter((s) => !s.refs.some((ref) => rosterSource(ref) === source));
          if (candidates.length > 1) {
            result.ambiguous.push({ remoteRef: row.remoteRef, studentIds: candidates.map((s) => s.id).sort() });
            continue;
          }
          current = candidates[0];
          if (current !== undefined) {
            await trx.insertInto('student_refs').values({ school_id: school, remote_ref: row.remoteRef, student_id: current.id, created_at: now }).execute();
            current.refs.push(row.remoteRef);
            roster.byRef.set(row.remoteRef, current);
            matched = true;
          }
        }
        let studentId: string;
        let touched = matched;
        const isNew = current === undefined;
        if (current === undefined) {
          const classId = await resolveClass(row.class);
          studentId = randomUUID();
          await trx
            .insertInto('students')
            .values({ id: studentId, school_id: school, name: row.name, class_id: classId, remote_ref: row.remoteRef, created_at: now, updated_at: now, deleted_at: null })
            .execute();
          roster.add({ id: studentId, name: row.name, classId, className: row.class, primaryRef: row.remoteRef, refs: [row.remoteRef] });
          createdIds.push(studentId);
          result.created += 1;
          touched = true;
        } else {
          studentId = current.id;
          // The source that first named the student keeps the exact spelling it sends; another source
          // changes it only when it names someone else (so two spellings of one name do not flap).
          const differs =
            current.primaryRef === row.remoteRef
              ? current.name !== row.name || current.className !== row.class
              : rosterKey(current.name, current.className) !== rosterKey(row.name, row.class);
          if (differs) {
            const classId = await resolveClass(row.class);
            await trx.updateTable('students').set({ name: row.name, class_id: classId, updated_at: now }).where('id', '=', studentId).execute();
            roster.move(current, row.name, classId, row.class);
            touched = true;
          } else if (matched) {
            await trx.updateTable('students').set({ updated_at: now }).where('id', '=', studentId).execute();
          }
        }

        const email = row.familyEmail?.toLowerCase() ?? null;
        if (email !== null) {
          let familyId = familyIds.get(email);
          if (familyId === undefined) {
            familyId = randomUUID();
            await trx.insertInto('families').values({ id: familyId, school_id: school, name: email, email, access_code_hash: null, created_at: now, updated_at: now }).execute();
            await recordAudit(trx, { action: 'family.create', subject: `family:${familyId}`, schoolId: school, actorUserId: caller.userId, detail: { via: 'roster' } });
            familyIds.set(email, familyId);
            changes.push({ schoolId: school, entity: 'family', entityId: familyId, op: 'upsert' });
          }
          const linked = await trx.selectFrom('family_students').select('family_id').where('family_id', '=', familyId).where('student_id', '=', studentId).executeTakeFirst();
          if (linked === undefined) {
            await trx.insertInto('family_students').values({ family_id: familyId, student_id: studentId }).execute();
            changes.push({ schoolId: school, entity: 'family', entityId: familyId, op: 'upsert' });
            touched = true;
          }
        }

        for (const purpose of CONSENT_PURPOSES) {
          const wanted = row.consent?.[purpose];
          if (wanted === undefined) continue;
          if (await this.writeConsent(trx, caller, studentId, purpose, wanted, 'roster')) touched = true;
        }

        if (touched) changes.push({ schoolId: school, entity: 'student', entityId: studentId, op: 'upsert' });
        if (matched) {
          result.matched += 1;
          matchedIds.push(studentId);
        }
        if (!isNew) {
          if (touched) {
            result.updated += 1;
            updatedIds.push(studentId);
          } else result.unchanged += 1;
        }
        result.students.push({ remoteRef: row.remoteRef, id: studentId });
      }

      await recordAudit(trx, {
        action: 'roster.import',
        subject: `school:${school}`,
        schoolId: school,
        actorUserId: caller.userId,
        // Ids and counts only: a roster key can hold a child's name.
        detail: { created: createdIds, updated: updatedIds, matched: matchedIds, unchanged: result.unchanged, ambiguous: result.ambiguous.length },
      });
      await recordChanges(trx, changes);
      return result;
    });
  }

  /** The school's live students with every roster key, by key and by name and class (see {@link importRoster}). */
  private async rosterStudents(trx: Transaction<Database>, school: string) {
    const rows = await trx
      .selectFrom('students')
      .leftJoin('classes', 'classes.id', 'students.class_id')
      .select(['students.id', 'students.name', 'students.class_id', 'students.remote_ref', 'classes.name as class_name'])
      .where('students.school_id', '=', school)
      .where('students.deleted_at', 'is', null)
      .execute();
    const aliases = groupBy((await trx.selectFrom('student_refs').select(['student_id', 'remote_ref']).where('school_id', '=', school).execute()).map((r) => [r.student_id, r.remote_ref]));
    const byRef = new Map<string, RosterStudent>();
    const byKey = new Map<string, RosterStudent[]>();
    const index = (student: RosterStudent) => {
      const key = rosterKey(student.name, student.className);
      const list = byKey.get(key);
      if (list === undefined) byKey.set(key, [student]);
      else list.push(student);
    };
    const add = (student: RosterStudent) => {
      for (const ref of student.refs) byRef.set(ref, student);
      index(student);
    };
    for (const r of rows) {
      add({
        id: r.id,
        name: r.name ?? '',
        classId: r.class_id,
        className: r.class_name,
        primaryRef: r.remote_ref,
        refs: [...(r.remote_ref === null ? [] : [r.remote_ref]), ...(aliases.get(r.id) ?? [])],
      });
    }
    const move = (student: RosterStudent, name: string, classId: string | null, className: string | null) => {
      const old = byKey.get(rosterKey(student.name, student.className));
      if (old !== undefined) old.splice(old.indexOf(student), 1);
      Object.assign(student, { name, classId, className });
      index(student);
    };
    return { byRef, byKey, add, move };
  }

  // ---- Families ----

  async listFamilies(caller: Caller): Promise<PublicFamily[]> {
    requireReader(caller);
    let query = this.db.selectFrom('families').select('id').where('school_id', '=', caller.schoolId);
    if (!isStaff(caller)) query = query.where('id', 'in', this.ownFamilyIds(this.db, caller.userId));
    const ids = (await query.orderBy('name').orderBy('id').execute()).map((r) => r.id);
    const loaded = await loadFamilies(this.db, caller.schoolId, ids);
    return ids.flatMap((id) => loaded.get(id) ?? []);
  }

  async getFamily(caller: Caller, familyId: string): Promise<PublicFamily> {
    await this.visibleFamily(this.db, caller, familyId);
    return this.loadFamily(this.db, caller.schoolId, familyId);
  }

  async createFamily(caller: Caller, fields: { name: string; email: string | null }): Promise<PublicFamily> {
    requireAdmin(caller, 'create families');
    const email = fields.email?.toLowerCase() ?? null;
    return this.db.transaction().execute(async (trx) => {
      await lockChangeFeed(trx, caller.schoolId);
      if (email !== null) {
        const twin = await trx.selectFrom('families').select('id').where('school_id', '=', caller.schoolId).where('email', '=', email).executeTakeFirst();
        if (twin !== undefined) throw new ApiError('conflict', 'A family with that e-mail already exists in this school.', { id: twin.id });
      }
      const now = new Date().toISOString();
      const id = randomUUID();
      await trx.insertInto('families').values({ id, school_id: caller.schoolId, name: fields.name, email, access_code_hash: null, created_at: now, updated_at: now }).execute();
      await recordAudit(trx, { action: 'family.create', subject: `family:${id}`, schoolId: caller.schoolId, actorUserId: caller.userId, detail: {} });
      await recordChanges(trx, [{ schoolId: caller.schoolId, entity: 'family', entityId: id, op: 'upsert' }]);
      return this.loadFamily(trx, caller.schoolId, id);
    });
  }

  /** Links (`add`) or unlinks a parent's account; the user must be a parent member of this school. */
  async setFamilyMember(caller: Caller, familyId: string, userId: string, add: boolean): Promise<PublicFamily> {
    await this.visibleFamily(this.db, caller, familyId);
    requireAdmin(caller, 'change families');
    return this.db.transaction().execute(async (trx) => {
      await lockChangeFeed(trx, caller.schoolId);
      await this.visibleFamily(trx, caller, familyId);
      if (add) {
        const parent = await trx.selectFrom('memberships').select('role').where('school_id', '=', caller.schoolId).where('user_id', '=', userId).executeTakeFirst();
        if (parent?.role !== 'parent') throw new ApiError('invalid-input', 'userId: no parent with that id in this school.');
        const linked = await trx.selectFrom('family_members').select('user_id').where('family_id', '=', familyId).where('user_id', '=', userId).executeTakeFirst();
        if (linked === undefined) await trx.insertInto('family_members').values({ family_id: familyId, user_id: userId }).execute();
      } else {
        const removed = await trx.deleteFrom('family_members').where('family_id', '=', familyId).where('user_id', '=', userId).executeTakeFirst();
        if (removed.numDeletedRows === 0n) throw new ApiError('not-found', 'That user is not a member of this family.');
      }
      await this.touchFamily(trx, caller, familyId, add ? 'family.member.add' : 'family.member.remove', { userId });
      return this.loadFamily(trx, caller.schoolId, familyId);
    });
  }

  /** Links or unlinks a student. */
  async setFamilyStudent(caller: Caller, familyId: string, studentId: string, add: boolean): Promise<PublicFamily> {
    await this.visibleFamily(this.db, caller, familyId);
    requireAdmin(caller, 'change families');
    return this.db.transaction().execute(async (trx) => {
      await lockChangeFeed(trx, caller.schoolId);
      await this.visibleFamily(trx, caller, familyId);
      if (add) {
        const student = await trx.selectFrom('students').select('id').where('school_id', '=', caller.schoolId).where('id', '=', studentId).where('deleted_at', 'is', null).executeTakeFirst();
        if (student === undefined) throw new ApiError('invalid-input', 'studentId: no such student in this school.');
        const linked = await trx.selectFrom('family_students').select('student_id').where('family_id', '=', familyId).where('student_id', '=', studentId).executeTakeFirst();
        if (linked === undefined) await trx.insertInto('family_students').values({ family_id: familyId, student_id: studentId }).execute();
      } else {
        const removed = await trx.deleteFrom('family_students').where('family_id', '=', familyId).where('student_id', '=', studentId).executeTakeFirst();
        if (removed.numDeletedRows === 0n) throw new ApiError('not-found', 'That student is not in this family.');
      }
      await this.touchFamily(trx, caller, familyId, add ? 'family.student.add' : 'family.student.remove', { studentId });
      await recordChanges(trx, [{ schoolId: caller.schoolId, entity: 'student', entityId: studentId, op: 'upsert' }]);
      return this.loadFamily(trx, caller.schoolId, familyId);
    });
  }

  private async touchFamily(trx: Transaction<Database>, caller: Caller, familyId: string, action: string, detail: Record<string, unknown>): Promise<void> {
    await trx.updateTable('families').set({ updated_at: new Date().toISOString() }).where('id', '=', familyId).execute();
    await recordAudit(trx, { action, subject: `family:${familyId}`, schoolId: caller.schoolId, actorUserId: caller.userId, detail });
    await recordChanges(trx, [{ schoolId: caller.schoolId, entity: 'family', entityId: familyId, op: 'upsert' }]);
  }

  // ---- Consent ----

  /**
   * The caller's own children (a parent's, across their families in this school), first names only,
   * with their consent: the gallery's filter chips and family page. Staff and students have no family
   * here (403).
   */
  async familyChildren(caller: Caller): Promise<FamilyChild[]> {
    if (caller.role !== 'parent') throw new ApiError('forbidden', 'Only parents have children in a family here.');
    const rows = await this.db
      .selectFrom('students')
      .select(['id', 'name'])
      .where('school_id', '=', caller.schoolId)
      .where('deleted_at', 'is', null)
      .where('id', 'in', this.ownStudentIds(this.db, caller))
      .orderBy('name')
      .orderBy('id')
      .execute();
    const consents = await loadConsents(this.db, caller.schoolId, rows.map((row) => row.id));
    return rows.map((row) => {
      const consent = consents.get(row.id);
      return {
        id: row.id,
        firstName: (row.name ?? '').trim().split(/\s+/)[0] ?? '',
        consent: { publish: consent?.publish.granted ?? false, yearbook: consent?.yearbook.granted ?? false },
      };
    });
  }

  /**
   * Admins: the consent of every live student, a page at a time in student-id order after `after`
   * (the admin's People screen reads a school's in one or a few requests, not one per student).
   * Anyone else is refused before anything is read (403).
   */
  async listConsents(caller: Caller, after: string | null, limit: number): Promise<{ consents: PublicConsent[]; next: string | null }> {
    requireAdmin(caller, 'list every student’s consent');
    let query = this.db.selectFrom('students').select('id').where('school_id', '=', caller.schoolId).where('deleted_at', 'is', null);
    if (after !== null) query = query.where('id', '>', after);
    const ids = (await query.orderBy('id').limit(limit + 1).execute()).map((r) => r.id);
    const page = ids.slice(0, limit);
    const loaded = await loadConsents(this.db, caller.schoolId, page);
    return { consents: page.flatMap((id) => loaded.get(id) ?? []), next: ids.length > limit ? (page.at(-1) ?? null) : null };
  }

  async getConsent(caller: Caller, studentId: string): Promise<PublicConsent> {
    await this.visibleStudent(this.db, caller, studentId);
    return this.loadConsent(this.db, caller.schoolId, studentId);
  }

  /** By an admin, or by a parent of the student (a parent of someone else's child gets a 404). */
  async setConsent(caller: Caller, studentId: string, purpose: ConsentPurpose, granted: boolean): Promise<PublicConsent> {
    await this.visibleStudent(this.db, caller, studentId);
    if (caller.role !== 'admin' && caller.role !== 'parent') throw new ApiError('forbidden', 'Only admins and the student’s parents can set consent.');
    return this.db.transaction().execute(async (trx) => {
      await lockChangeFeed(trx, caller.schoolId);
      await this.visibleStudent(trx, caller, studentId);
      await this.writeConsent(trx, caller, studentId, purpose, granted, 'api', true);
      return this.loadConsent(trx, caller.schoolId, studentId);
    });
  }

  /**
   * Sets one purpose, audits `consent.set` with before/after and records the feed row. Returns whether
   * it changed; unchanged, it writes nothing unless `always` (an explicit PUT is recorded even when
   * it repeats the current answer: who confirmed it and when matters).
   */
  private async writeConsent(
    trx: Transaction<Database>,
    caller: Caller,
    studentId: string,
    purpose: ConsentPurpose,
    granted: boolean,
    via: 'api' | 'roster',
    always = false,
  ): Promise<boolean> {
    const before = await trx.selectFrom('consents').select('granted').where('student_id', '=', studentId).where('purpose', '=', purpose).executeTakeFirst();
    const wasGranted = before?.granted === 1;
    const changed = before === undefined || wasGranted !== granted;
    if (!changed && !always) return false;
    const row = { student_id: studentId, purpose, granted: granted ? 1 : 0, set_by_user_id: caller.userId, set_at: new Date().toISOString() };
    await trx
      .insertInto('consents')
      .values(row)
      .onConflict((oc) => oc.columns(['student_id', 'purpose']).doUpdateSet({ granted: row.granted, set_by_user_id: row.set_by_user_id, set_at: row.set_at }))
      .execute();
    await recordAudit(trx, {
      action: 'consent.set',
      subject: `student:${studentId}`,
      schoolId: caller.schoolId,
      actorUserId: caller.userId,
      detail: { purpose, before: before === undefined ? null : wasGranted, after: granted, role: caller.role, via },
    });
    await recordChanges(trx, [{ schoolId: caller.schoolId, entity: 'consent', entityId: studentId, op: 'upsert' }]);
    return true;
  }

  // ---- Scoping helpers ----

  private ownFamilyIds(db: Reader, userId: string) {
    return db.selectFrom('family_members').select('family_members.family_id').where('family_members.user_id', '=', userId);
  }

  private ownStudentIds(db: Reader, caller: Caller) {
    return db
      .selectFrom('family_students')
      .innerJoin('family_members', 'family_members.family_id', 'family_students.family_id')
      .innerJoin('families', 'families.id', 'family_students.family_id')
      .select('family_students.student_id')
      .where('family_members.user_id', '=', caller.userId)
      .where('families.school_id', '=', caller.schoolId);
  }

  /** A live student of this school the caller may see, else 404 (the same answer for "not there"). */
  private async visibleStudent(db: Reader, caller: Caller, studentId: string): Promise<void> {
    requireReader(caller);
    let query = db.selectFrom('students').select('id').where('id', '=', studentId).where('school_id', '=', caller.schoolId).where('deleted_at', 'is', null);
    if (!isStaff(caller)) query = query.where('id', 'in', this.ownStudentIds(db, caller));
    if ((await query.executeTakeFirst()) === undefined) throw new ApiError('not-found', NO_SUCH_STUDENT);
  }

  private async visibleFamily(db: Reader, caller: Caller, familyId: string): Promise<void> {
    requireReader(caller);
    let query = db.selectFrom('families').select('id').where('id', '=', familyId).where('school_id', '=', caller.schoolId);
    if (!isStaff(caller)) query = query.where('id', 'in', this.ownFamilyIds(db, caller.userId));
    if ((await query.executeTakeFirst()) === undefined) throw new ApiError('not-found', NO_SUCH_FAMILY);
  }

  private async checkClass(db: Reader, schoolId: string, classId: string | null): Promise<void> {
    if (classId === null) return;
    const found = await db.selectFrom('classes').select('id').where('id', '=', classId).where('school_id', '=', schoolId).executeTakeFirst();
    if (found === undefined) throw new ApiError('invalid-input', 'classId: no such class in this school.');
  }

  private async checkRemoteRef(db: Reader, schoolId: string, remoteRef: string | null, self: string | undefined): Promise<void> {
    if (remoteRef === null) return;
    const twin =
      (await db.selectFrom('students').select('id').where('school_id', '=', schoolId).where('remote_ref', '=', remoteRef).executeTakeFirst()) ??
      (await db.selectFrom('student_refs').select('student_id as id').where('school_id', '=', schoolId).where('remote_ref', '=', remoteRef).executeTakeFirst());
    if (twin !== undefined && twin.id !== self) throw new ApiError('conflict', `Another student already has remoteRef "${remoteRef}".`, { id: twin.id });
  }

  private async loadStudent(db: Reader, schoolId: string, id: string): Promise<PublicStudent> {
    const student = (await loadStudents(db, schoolId, [id])).get(id);
    if (student === undefined) throw new ApiError('not-found', NO_SUCH_STUDENT);
    return student;
  }

  private async loadFamily(db: Reader, schoolId: string, id: string): Promise<PublicFamily> {
    const family = (await loadFamilies(db, schoolId, [id])).get(id);
    if (family === undefined) throw new ApiError('not-found', NO_SUCH_FAMILY);
    return family;
  }

  private async loadConsent(db: Reader, schoolId: string, id: string): Promise<PublicConsent> {
    const consent = (await loadConsents(db, schoolId, [id])).get(id);
    if (consent === undefined) throw new ApiError('not-found', NO_SUCH_STUDENT);
    return consent;
  }
}
