import { z } from 'zod';

// The school admin's channels: the school's events, people and consent, invitations, members and roles,
// storage and analytics, and the audit log, all read from and written to the sync service (which refuses
// anyone who is not the school's admin). Spread into `CALLS` and `Outputs` of contract.ts.
// Invariant: no output here carries a token, an invitation link or a password. The one secret is a family's
// access code, returned once by `admin:familyAccessCode` to the window that asked, and kept nowhere.

const serviceId = z.string().trim().min(1).max(100);
const empty = z.strictObject({});
const day = z.iso.date({ error: 'a date as YYYY-MM-DD' });
const eventName = z.string().trim().min(1).max(200);
const ROLES = ['admin', 'photographer', 'teacher', 'parent', 'student'] as const;
const PURPOSES = ['publish', 'yearbook'] as const;
const EVENT_STATES = ['draft', 'published', 'archived'] as const;

/** Who an event is for: the whole school, or some classes and families. */
const audience = z.discriminatedUnion('scope', [
  z.strictObject({ scope: z.literal('school') }),
  z
    .strictObject({ scope: z.literal('some'), classIds: z.array(serviceId).max(500).default([]), familyIds: z.array(serviceId).max(500).default([]) })
    .refine((a) => a.classIds.length + a.familyIds.length > 0, 'name at least one class or family, or choose the whole school'),
]);

const eventFields = {
  name: eventName,
  startsOn: day,
  endsOn: day.nullable(),
  location: z.string().trim().max(200).nullable(),
  description: z.string().max(10_000).nullable(),
  state: z.enum(EVENT_STATES),
  audience,
  galleryExpiresOn: day.nullable(),
};

/** Input schemas of the admin channels. */
export const ADMIN_CALLS = {
  'admin:access': empty,
  'admin:events': empty,
  'admin:createEvent': z.strictObject({
    name: eventFields.name,
    startsOn: eventFields.startsOn,
    endsOn: eventFields.endsOn.optional(),
    location: eventFields.location.optional(),
    description: eventFields.description.optional(),
    state: eventFields.state.optional(),
    audience: eventFields.audience.optional(),
    galleryExpiresOn: eventFields.galleryExpiresOn.optional(),
  }),
  'admin:updateEvent': z.strictObject({
    eventId: serviceId,
    version: z.number().int().min(1).max(2 ** 48),
    name: eventFields.name.optional(),
    startsOn: eventFields.startsOn.optional(),
    endsOn: eventFields.endsOn.optional(),
    location: eventFields.location.optional(),
    description: eventFields.description.optional(),
    state: eventFields.state.optional(),
    audience: eventFields.audience.optional(),
    galleryExpiresOn: eventFields.galleryExpiresOn.optional(),
  }),
  'admin:people': empty,
  'admin:createClass': z.strictObject({ name: z.string().trim().min(1).max(100) }),
  'admin:setConsent': z.strictObject({ studentId: serviceId, purpose: z.enum(PURPOSES), granted: z.boolean() }),
  'admin:consentHistory': z.strictObject({ studentId: serviceId }),
  // The file's text as its lines, read by the window (no string or list of the contract is unbounded: 20,000
  // lines of up to 10,000 characters is far beyond any school's roster). Joined again, it is the file.
  'admin:importRoster': z.strictObject({ lines: z.array(z.string().max(10_000)).min(1).max(20_000) }),
  'admin:familyAccessCode': z.strictObject({ familyId: serviceId }),
  'admin:revokeFamilyAccessCode': z.strictObject({ familyId: serviceId }),
  'admin:invites': empty,
  // A parent's invitation names the family they join; no other role's does (the service checks it too).
  'admin:invite': z.strictObject({ email: z.string().trim().min(3).max(320), role: z.enum(ROLES), familyId: serviceId.optional() }),
  'admin:resendInvite': z.strictObject({ inviteId: serviceId }),
  'admin:revokeInvite': z.strictObject({ inviteId: serviceId }),
  'admin:members': empty,
  'admin:changeRole': z.strictObject({ userId: serviceId, role: z.enum(ROLES) }),
  'admin:removeMember': z.strictObject({ userId: serviceId }),
  'admin:storage': z.strictObject({ from: day.optional(), to: day.optional() }),
  'admin:audit': z.strictObject({
    actions: z.array(z.string().regex(/^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*$/, 'an action such as role.change')).max(20).optional(),
    actor: serviceId.optional(),
    from: day.optional(),
    to: day.optional(),
    cursor: z.string().max(500).optional(),
    limit: z.number().int().min(1).max(200).default(50),
  }),
} as const;

/** A member's role in a school. */
export type SchoolRoleName = (typeof ROLES)[number];
/** A consent purpose. */
export type AdminConsentPurpose = (typeof PURPOSES)[number];
/** Who an event is for. */
export type EventAudienceView = { scope: 'school' } | { scope: 'some'; classIds: string[]; familyIds: string[] };

/** `admin:access`: the school the library is signed in to and the account's role there (the tab shows for admins). */
export interface AdminAccess {
  school: { id: string; name: string } | null;
  role: SchoolRoleName | null;
}

/** One of the school's events as the admin screens list it. */
export interface AdminEvent {
  id: string;
  name: string;
  startsOn: string;
  endsOn: string | null;
  location: string | null;
  description: string | null;
  state: (typeof EVENT_STATES)[number];
  audience: EventAudienceView;
  galleryExpiresOn: string | null;
  expired: boolean;
  version: number;
  updatedAt: string;
}

/** One consent answer and who gave it. */
export interface ConsentAnswer {
  granted: boolean;
  setBy: string | null;
  setAt: string | null;
}

/** A student with their class, families and consent per purpose. */
export interface AdminStudent {
  id: string;
  name: string;
  classId: string | null;
  className: string | null;
  familyIds: string[];
  consent: Record<AdminConsentPurpose, ConsentAnswer> | null;
}

/** A family and the parents who can sign in for it. */
export interface AdminFamily {
  id: string;
  name: string;
  email: string | null;
  parents: Array<{ userId: string; name: string; email: string }>;
  studentIds: string[];
}

/** `admin:people`. */
export interface AdminPeople {
  classes: Array<{ id: string; name: string }>;
  students: AdminStudent[];
  families: AdminFamily[];
}

/** One change of a student's consent. */
export interface ConsentChangeView {
  at: string;
  purpose: string;
  before: boolean | null;
  after: boolean;
  via: string;
  by: string | null;
}

/** `admin:importRoster`: nothing is sent when a line is wrong; each wrong line says why. */
export interface RosterUpload {
  sent: boolean;
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  errors: Array<{ line: number; message: string }>;
  /** Lines that were sent but left alone: their name and class fit several students of the school. */
  ambiguous?: Array<{ line: number; message: string }>;
}

/** `admin:familyAccessCode`: a family's new access code, shown once (the service keeps only its hash). */
export interface FamilyAccessCode {
  familyId: string;
  /** `ABCD-EFGH-JKLM-NPQR`: one parent redeems it into their account. */
  code: string;
  createdAt: string;
  /** The gallery's sign-in page where the code is entered, or null when the account's service is not known. */
  signInUrl: string | null;
}

/** An invitation. */
export interface AdminInvite {
  id: string;
  email: string;
  role: SchoolRoleName;
  status: string;
  sends: number;
  sentAt: string;
  expiresAt: string;
  mail: string | null;
}

/** A member of the school. */
export interface AdminMember {
  userId: string;
  name: string;
  email: string;
  role: SchoolRoleName;
  createdAt: string;
  /** The signed-in account itself (its own role and access are changed by another admin). */
  you: boolean;
}

/** A ranked asset of the analytics. */
export interface RankedAssetView {
  eventId: string;
  eventName: string;
  assetId: string;
  views: number;
  downloads: number;
}

/** `admin:storage`: the quota, storage by event and variant, and the gallery's analytics. */
export interface AdminStorage {
  plan: { id: string; name: string };
  limitBytes: number;
  usedBytes: number;
  reservedBytes: number;
  byEvent: Array<{ eventId: string; name: string; usedBytes: number; reservedBytes: number; assets: number; byVariant: Array<{ variant: string; bytes: number; objects: number }> }>;
  byVariant: Array<{ variant: string; bytes: number; objects: number }>;
  mostViewed: RankedAssetView[];
  mostDownloaded: RankedAssetView[];
  families: { active: number; total: number; withAccount: number };
  range: { from: string | null; to: string | null };
}

/** One audit entry as the log table shows it. */
export interface AuditEntryView {
  id: string;
  at: string;
  action: string;
  subject: string;
  actor: { userId: string; name: string; email: string } | null;
  /** A sentence built from the entry's detail ("teacher → photographer"). */
  summary: string;
}

/** `admin:audit`. */
export interface AuditPageView {
  entries: AuditEntryView[];
  nextCursor: string | null;
}

/** Outputs of the admin channels. */
export interface AdminOutputs {
  'admin:access': AdminAccess;
  'admin:events': { events: AdminEvent[] };
  'admin:createEvent': AdminEvent;
  'admin:updateEvent': AdminEvent;
  'admin:people': AdminPeople;
  'admin:createClass': { id: string; name: string };
  'admin:setConsent': AdminStudent['consent'];
  'admin:consentHistory': { changes: ConsentChangeView[] };
  'admin:importRoster': RosterUpload;
  'admin:familyAccessCode': FamilyAccessCode;
  'admin:revokeFamilyAccessCode': { revoked: true };
  'admin:invites': { invites: AdminInvite[] };
  'admin:invite': AdminInvite;
  'admin:resendInvite': AdminInvite;
  'admin:revokeInvite': { revoked: true };
  'admin:members': { members: AdminMember[] };
  'admin:changeRole': AdminMember;
  'admin:removeMember': { removed: true };
  'admin:storage': AdminStorage;
  'admin:audit': AuditPageView;
}
