import { parseRoster } from '../ingest/roster.ts';
import { AppError } from '../shared/errors.ts';
import type {
  AdminAccess,
  AdminConsentPurpose,
  AdminEvent,
  AdminFamily,
  AdminInvite,
  AdminMember,
  AdminPeople,
  AdminStorage,
  AdminStudent,
  AuditEntryView,
  AuditPageView,
  ConsentAnswer,
  ConsentChangeView,
  EventAudienceView,
  FamilyAccessCode,
  RosterUpload,
  SchoolRoleName,
} from '../ipc/admin-contract.ts';
import type { LinkedSchool } from './school-link.ts';
import type { Membership, SyncClient } from './sync-client.ts';

/** Where the admin works: the linked school, found again on every call (signing in elsewhere changes it). */
export interface SchoolAdminOptions {
  client: SyncClient;
  linkedSchool(): LinkedSchool | null;
}

/** The fields of an event an admin sets. */
export interface EventChanges {
  name?: string;
  startsOn?: string;
  endsOn?: string | null;
  location?: string | null;
  description?: string | null;
  state?: AdminEvent['state'];
  audience?: EventAudienceView;
  galleryExpiresOn?: string | null;
}

/** The audit log's filters. */
export interface AuditFilters {
  actions?: string[];
  actor?: string;
  from?: string;
  to?: string;
  cursor?: string;
  limit: number;
}

interface ServiceStudent {
  id: string;
  name: string;
  classId: string | null;
  className: string | null;
  familyIds: string[];
}
interface ServiceFamily {
  id: string;
  name: string;
  email: string | null;
  memberUserIds: string[];
  studentIds: string[];
}
interface ServiceMember {
  userId: string;
  name: string;
  email: string;
  role: SchoolRoleName;
  createdAt: string;
}
interface ServiceInvite {
  id: string;
  email: string;
  role: SchoolRoleName;
  status: string;
  sends: number;
  sentAt: string;
  expiresAt: string;
  delivery: { state: string; error: string | null } | null;
}
type ServiceConsent = { studentId: string } & Record<AdminConsentPurpose, ConsentAnswer>;

/** The most consent records the service gives in one page (its `GET /consents` limit). */
const CONSENT_PAGE = 1000;
/** The most rows the service takes in one roster request. */
const ROSTER_BATCH = 5000;

/**
 * The school admin's side of the sync service: events, people and consent, invitations, members, storage
 * and analytics, and the audit log, through the signed-in {@link SyncClient}. The service decides who may
 * do what (a member who is not an admin gets its refusal, as an `AppError` with the service's sentence);
 * nothing here caches what the service says.
 */
export class SchoolAdmin {
  constructor(private readonly options: SchoolAdminOptions) {}

  /** The school this library is signed in to and the account's role there. */
  async access(): Promise<AdminAccess> {
    if (!(await this.options.client.signedIn())) return { school: null, role: null };
    const membership = await this.membership().catch(() => null);
    if (!membership) return { school: null, role: null };
    return { school: { id: membership.schoolId, name: String(membership.schoolName ?? membership.schoolSlug ?? membership.schoolId) }, role: membership.role };
  }

  /** Every event of the school, newest first. */
  async events(): Promise<AdminEvent[]> {
    const { events } = await this.get<{ events: AdminEvent[] }>('/events');
    return events.map(toEvent).sort((a, b) => b.startsOn.localeCompare(a.startsOn) || a.name.localeCompare(b.name));
  }

  /** Creates an event (a draft for the whole school unless told otherwise). */
  async createEvent(fields: EventChanges & { name: string; startsOn: string }): Promise<AdminEvent> {
    return toEvent(await this.send<AdminEvent>('POST', '/events', fields));
  }

  /** Changes an event read at `version`; a stale version is a `conflict` with the service's sentence. */
  async updateEvent(eventId: string, version: number, changes: EventChanges): Promise<AdminEvent> {
    return toEvent(await this.send<AdminEvent>('PATCH', `/events/${encodeURIComponent(eventId)}`, { version, ...changes }));
  }

  /** Classes, students with their consent, and families with their parents. */
  async people(): Promise<AdminPeople> {
    const [{ classes }, { students }, { families }, { members }] = await Promise.all([
      this.get<{ classes: Array<{ id: string; name: string }> }>('/classes'),
      this.get<{ students: ServiceStudent[] }>('/students'),
      this.get<{ families: ServiceFamily[] }>('/families'),
      this.get<{ members: ServiceMember[] }>('/members'),
    ]);
    const consents = await this.consents();
    const byUser = new Map(members.map((member) => [member.userId, member]));
    return {
      classes: classes.map((c) => ({ id: c.id, name: c.name })).sort((a, b) => a.name.localeCompare(b.name)),
      students: students
        .map((student): AdminStudent => ({
          id: student.id,
          name: student.name,
          classId: student.classId,
          className: student.className,
          familyIds: student.familyIds,
          consent: consentOf(consents.get(student.id)),
        }))
        .sort((a, b) => a.name.localeCompare(b.name)),
      families: families
        .map((family): AdminFamily => ({
          id: family.id,
          name: family.name,
          email: family.email,
          parents: family.memberUserIds.flatMap((userId) => {
            const member = byUser.get(userId);
            return member ? [{ userId, name: member.name, email: member.email }] : [];
          }),
          studentIds: family.studentIds,
        }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    };
  }

  /** Every student's consent by student id, a page of the school's at a time (one request for most schools). */
  private async consents(): Promise<Map<string, ServiceConsent>> {
    const byStudent = new Map<string, ServiceConsent>();
    let after: string | null = null;
    do {
      const query = new URLSearchParams({ limit: String(CONSENT_PAGE), ...(after === null ? {} : { after }) });
      const page: { consents: ServiceConsent[]; next: string | null } = await this.get(`/consents?${query.toString()}`);
      for (const consent of page.consents) byStudent.set(consent.studentId, consent);
      after = page.next;
    } while (after !== null);
    return byStudent;
  }

  /** Adds a class. */
  async createClass(name: string): Promise<{ id: string; name: string }> {
    const created = await this.send<{ id: string; name: string }>('POST', '/classes', { name });
    return { id: created.id, name: created.name };
  }

  /** Grants or withdraws one purpose of a student's consent. */
  async setConsent(studentId: string, purpose: AdminConsentPurpose, granted: boolean): Promise<AdminStudent['consent']> {
    return consentOf(await this.send<ServiceConsent>('PUT', `/students/${encodeURIComponent(studentId)}/consent/${purpose}`, { granted }));
  }

  /** Every change of a student's consent, newest first. */
  async consentHistory(studentId: string): Promise<ConsentChangeView[]> {
    const { changes } = await this.get<{ changes: Array<Omit<ConsentChangeView, 'by'> & { actor: { name: string; email: string } | null }> }>(
      `/students/${encodeURIComponent(studentId)}/consent/history`,
    );
    return changes.map(({ actor, ...change }) => ({ at: change.at, purpose: change.purpose, before: change.before, after: change.after, via: change.via, by: actor ? actor.name || actor.email : null }));
  }

  /**
   * Sends a roster CSV to the school. Every line is checked first and nothing is sent while one is wrong,
   * so a fixed file can simply be imported again; a line the service refuses is reported by its line too.
   * Students are matched by name and class: importing the same file twice changes nothing.
   */
  async importRoster(csv: string): Promise<RosterUpload> {
    const parsed = parseRoster(csv);
    const errors = parsed.flatMap((row) => (row.ok ? [] : [{ line: row.line, message: row.message }]));
    const entries = parsed.flatMap((row) => (row.ok ? [row] : []));
    const seen = new Map<string, number>();
    for (const entry of entries) {
      const ref = rosterRef(entry.name, entry.classGroup);
      const first = seen.get(ref);
      if (first !== undefined) errors.push({ line: entry.line, message: `${entry.name} is already on line ${first} with the same class.` });
      else seen.set(ref, entry.line);
    }
    const empty = { sent: false, rows: entries.length, created: 0, updated: 0, unchanged: 0 };
    if (errors.length > 0) return { ...empty, errors: errors.sort((a, b) => a.line - b.line) };
    if (entries.length === 0) return { ...empty, errors: [{ line: 1, message: 'The file has no students under its header line.' }] };
    const total = { created: 0, updated: 0, unchanged: 0 };
    const ambiguous: Array<{ line: number; message: string }> = [];
    for (let i = 0; i < entries.length; i += ROSTER_BATCH) {
      const batch = entries.slice(i, i + ROSTER_BATCH);
      const rows = batch.map((entry) => ({
        name: entry.name,
        class: entry.classGroup,
        remoteRef: rosterRef(entry.name, entry.classGroup),
        familyEmail: entry.familyEmail,
        ...(Object.keys(entry.consent).length > 0 ? { consent: entry.consent } : {}),
      }));
      try {
        const result = await this.send<{ created: number; updated: number; unchanged: number; ambiguous?: Array<{ remoteRef: string; studentIds: string[] }> }>(
          'POST',
          '/roster',
          { rows },
        );
        total.created += result.created;
        total.updated += result.updated;
        total.unchanged += result.unchanged;
        const lines = new Map(rows.map((row, n) => [row.remoteRef, batch[n]?.line ?? 0]));
        for (const row of result.ambiguous ?? []) {
          ambiguous.push({ line: lines.get(row.remoteRef) ?? 0, message: `${row.studentIds.length} students of the school have this name and class, so this line was applied to none of them.` });
        }
      } catch (error) {
        // The service names a bad row by its index ("rows.3.familyEmail: …"): point at the file's line instead.
        const line = error instanceof AppError ? /rows\.(\d+)/.exec(error.message) : null;
        const entry = line ? batch[Number(line[1])] : undefined;
        if (!entry || !(error instanceof AppError)) throw error;
        return { ...empty, ...total, sent: i > 0, errors: [{ line: entry.line, message: error.message.replace(/rows\.\d+\.?/, '') }], ...(ambiguous.length > 0 ? { ambiguous } : {}) };
      }
    }
    return { sent: true, rows: entries.length, ...total, errors: [], ...(ambiguous.length > 0 ? { ambiguous } : {}) };
  }

  /**
   * Makes a new access code for a family, replacing any code it had (that one stops working). The code is
   * the family's secret: it is returned to the caller this once and kept nowhere, here or on the service.
   */
  async familyAccessCode(familyId: string): Promise<FamilyAccessCode> {
    const made = await this.send<{ familyId: string; code: string; createdAt: string }>('POST', `/families/${encodeURIComponent(familyId)}/access-code`, {});
    const account = await this.options.client.account();
    return { familyId: made.familyId, code: made.code, createdAt: made.createdAt, signInUrl: account ? `${account.serverUrl}/sign-in` : null };
  }

  /** Revokes a family's access code (a family without one is left as it is). */
  async revokeFamilyAccessCode(familyId: string): Promise<void> {
    await this.send('DELETE', `/families/${encodeURIComponent(familyId)}/access-code`);
  }

  /** The school's invitations, pending first. */
  async invites(): Promise<AdminInvite[]> {
    const { invites } = await this.get<{ invites: ServiceInvite[] }>('/invites');
    return invites.map(toInvite).sort((a, b) => Number(b.status === 'pending') - Number(a.status === 'pending') || b.sentAt.localeCompare(a.sentAt));
  }

  /** Invites someone by e-mail with a role (a parent into a family); the service mails the link. */
  async invite(email: string, role: SchoolRoleName, familyId?: string): Promise<AdminInvite> {
    return toInvite(await this.send<ServiceInvite>('POST', '/invites', { email, role, ...(familyId !== undefined ? { familyId } : {}) }));
  }

  /** Sends an invitation again with a new link. */
  async resendInvite(inviteId: string): Promise<AdminInvite> {
    return toInvite(await this.send<ServiceInvite>('POST', `/invites/${encodeURIComponent(inviteId)}/resend`, {}));
  }

  /** Withdraws an invitation: its link stops working. */
  async revokeInvite(inviteId: string): Promise<void> {
    await this.send('DELETE', `/invites/${encodeURIComponent(inviteId)}`);
  }

  /** The school's members, admins first. */
  async members(): Promise<AdminMember[]> {
    const { members } = await this.get<{ members: ServiceMember[] }>('/members');
    const me = (await this.options.client.account())?.email.toLowerCase();
    return members.map((member) => toMember(member, me)).sort((a, b) => roleRank(a.role) - roleRank(b.role) || a.name.localeCompare(b.name));
  }

  /** Changes a member's role (the service keeps at least one admin). */
  async changeRole(userId: string, role: SchoolRoleName): Promise<AdminMember> {
    const changed = await this.send<ServiceMember>('PATCH', `/members/${encodeURIComponent(userId)}`, { role });
    return toMember(changed, (await this.options.client.account())?.email.toLowerCase());
  }

  /** Removes a member's access to the school. */
  async removeMember(userId: string): Promise<void> {
    await this.send('DELETE', `/members/${encodeURIComponent(userId)}`);
  }

  /** Storage against the quota by event and variant, with the gallery's analytics over the days given. */
  async storage(range: { from?: string; to?: string }): Promise<AdminStorage> {
    const query = new URLSearchParams({ ...(range.from ? { from: range.from } : {}), ...(range.to ? { to: range.to } : {}) }).toString();
    const report = await this.get<{
      range: AdminStorage['range'];
      mostViewed: AdminStorage['mostViewed'];
      mostDownloaded: AdminStorage['mostDownloaded'];
      families: AdminStorage['families'];
      storage: Omit<AdminStorage, 'mostViewed' | 'mostDownloaded' | 'families' | 'range'> & { freeBytes: number };
    }>(`/analytics${query ? `?${query}` : ''}`);
    const { storage } = report;
    return {
      plan: storage.plan,
      limitBytes: storage.limitBytes,
      usedBytes: storage.usedBytes,
      reservedBytes: storage.reservedBytes,
      byEvent: storage.byEvent,
      byVariant: storage.byVariant,
      mostViewed: report.mostViewed,
      mostDownloaded: report.mostDownloaded,
      families: report.families,
      range: report.range,
    };
  }

  /** A page of the audit log, newest first. */
  async audit(filters: AuditFilters): Promise<AuditPageView> {
    const query = new URLSearchParams({ limit: String(filters.limit) });
    if (filters.actions && filters.actions.length > 0) query.set('action', filters.actions.join(','));
    if (filters.actor) query.set('actor', filters.actor);
    if (filters.from) query.set('from', filters.from);
    if (filters.to) query.set('to', filters.to);
    if (filters.cursor) query.set('cursor', filters.cursor);
    const page = await this.get<{ entries: Array<Omit<AuditEntryView, 'summary'> & { detail: Record<string, unknown> }>; nextCursor: string | null }>(`/audit?${query.toString()}`);
    // Entries about a member name them by id; the member list turns the id into the name the admin knows.
    const needsNames = page.entries.some((entry) => typeof entry.detail.userId === 'string');
    const names = needsNames ? new Map((await this.get<{ members: ServiceMember[] }>('/members')).members.map((m) => [m.userId, m.name || m.email])) : new Map<string, string>();
    return { entries: page.entries.map(({ detail, ...entry }) => ({ ...entry, summary: summarize(entry.action, detail, names) })), nextCursor: page.nextCursor };
  }

  private async membership(): Promise<Membership> {
    const { client } = this.options;
    // Roles are known after a sign-in or a refresh; a desktop started with a kept session has neither yet.
    if (client.memberships.length === 0 && (await client.signedIn())) await client.refresh();
    const linked = this.options.linkedSchool();
    const chosen = linked ? client.memberships.find((m) => m.schoolId === linked.id) : client.memberships.find((m) => m.role === 'admin') ?? client.memberships[0];
    if (!chosen) throw new AppError('forbidden', 'This account is not a member of a school: the admin screens are for the school’s admins.');
    return chosen;
  }

  private async base(): Promise<string> {
    if (!(await this.options.client.signedIn())) throw new AppError('unauthorized', 'Sign in to the school’s sync service first (Settings → School).');
    return `/v1/schools/${encodeURIComponent((await this.membership()).schoolId)}`;
  }

  private async get<T>(path: string): Promise<T> {
    return this.options.client.request<T>('GET', `${await this.base()}${path}`);
  }

  private async send<T = void>(method: 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    return this.options.client.request<T>(method, `${await this.base()}${path}`, body);
  }
}

/** The roster key of a line of an admin's CSV: its name and class, so the same file matches the same students. */
function rosterRef(name: string, classGroup: string | null): string {
  return `csv:${name.trim().toLowerCase().replace(/\s+/g, ' ')}|${(classGroup ?? '').trim().toLowerCase()}`.slice(0, 200);
}

function toEvent(event: AdminEvent): AdminEvent {
  return {
    id: event.id,
    name: event.name,
    startsOn: event.startsOn,
    endsOn: event.endsOn,
    location: event.location,
    description: event.description,
    state: event.state,
    audience: event.audience ?? { scope: 'school' },
    galleryExpiresOn: event.galleryExpiresOn,
    expired: event.expired,
    version: event.version,
    updatedAt: event.updatedAt,
  };
}

function consentOf(consent: ServiceConsent | undefined): AdminStudent['consent'] {
  if (!consent) return null;
  const answer = (a: ConsentAnswer | undefined): ConsentAnswer => ({ granted: a?.granted === true, setBy: a?.setBy ?? null, setAt: a?.setAt ?? null });
  return { publish: answer(consent.publish), yearbook: answer(consent.yearbook) };
}

function toInvite(invite: ServiceInvite): AdminInvite {
  const mail = invite.delivery ? (invite.delivery.error ? `${invite.delivery.state}: ${invite.delivery.error}` : invite.delivery.state) : null;
  return { id: invite.id, email: invite.email, role: invite.role, status: invite.status, sends: invite.sends, sentAt: invite.sentAt, expiresAt: invite.expiresAt, mail };
}

function toMember(member: ServiceMember, me: string | undefined): AdminMember {
  return { userId: member.userId, name: member.name, email: member.email, role: member.role, createdAt: member.createdAt, you: me !== undefined && member.email.toLowerCase() === me };
}

const ROLE_ORDER: readonly SchoolRoleName[] = ['admin', 'photographer', 'teacher', 'parent', 'student'];
function roleRank(role: SchoolRoleName): number {
  return ROLE_ORDER.indexOf(role);
}

/** A line for the log table from an entry's detail: the fields people look for, in words. */
function summarize(action: string, detail: Record<string, unknown>, names: ReadonlyMap<string, string>): string {
  const text = (value: unknown): string => (value === null || value === undefined ? '—' : typeof value === 'object' ? JSON.stringify(value) : String(value));
  // A member no longer in the school is named as such rather than by an id nobody recognises.
  const member = typeof detail.userId === 'string' ? (names.get(detail.userId) ?? 'a former member') : 'a member';
  switch (action) {
    case 'role.change':
      return `${member}: ${text(detail.before)} → ${text(detail.after)}`;
    case 'member.remove':
      return `${member} (${text(detail.role)}) removed`;
    case 'consent.set':
      return `${text(detail.purpose)}: ${detail.after === true ? 'granted' : 'withdrawn'}${detail.via === 'roster' ? ' (roster)' : ''}`;
    case 'invite.create':
      return `${text(detail.email)} as ${text(detail.role)}`;
    case 'invite.resend':
    case 'invite.revoke':
      return text(detail.email);
    case 'event.create':
      return `${text(detail.name)} (${text(detail.state)})`;
    case 'family.code-created':
      return detail.replaced === true ? 'new access code (the old one stopped working)' : 'new access code';
    case 'family.code-revoked':
      return detail.hadCode === true ? 'access code revoked' : 'no access code to revoke';
    case 'roster.import':
      return `${Array.isArray(detail.created) ? detail.created.length : 0} created, ${Array.isArray(detail.updated) ? detail.updated.length : 0} updated`;
    default: {
      const parts = Object.entries(detail).map(([key, value]) => `${key}: ${Array.isArray(value) ? value.length : text(value)}`);
      return parts.join(', ').slice(0, 200);
    }
  }
}
