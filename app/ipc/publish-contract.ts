import { z } from 'zod';

// The channels of the school connection and publishing: sign-in to the sync service, storage settings,
// the publish panel and the upload queue. Spread into `CALLS`, `Outputs` and `PUSH_EVENTS` of contract.ts.
// Invariant: no output here carries a password, a refresh or access token, or a store's secret key.

const id = z.number().int().min(1).max(2 ** 48);
const empty = z.strictObject({});
const kbps = z.number().int().min(1).max(10_000_000);

/** Input schemas of the connection and publishing channels. */
export const PUBLISH_CALLS = {
  'sync:status': empty,
  'sync:signIn': z.strictObject({
    serverUrl: z.string().trim().min(1).max(2000),
    email: z.string().trim().min(3).max(320),
    password: z.string().min(1).max(1000),
    /** The school (its slug) when the account is staff of several. */
    school: z.string().trim().min(1).max(100).optional(),
  }),
  // Sign-in with the school's identity provider in the system browser: start (the engine listens on loopback for
  // the browser's return), finish (resolves once the browser came back), or cancel.
  'sync:providerStart': z.strictObject({
    serverUrl: z.string().trim().min(1).max(2000),
    /** The school's slug. */
    school: z.string().trim().min(1).max(100),
  }),
  'sync:providerFinish': empty,
  'sync:providerCancel': empty,
  'sync:signOut': empty,
  'sync:pull': empty,
  'cloud:settings': empty,
  // Types only here: the engine checks the values and answers a message per field (a form shows them).
  'cloud:configure': z.strictObject({
    endpoint: z.string().trim().max(2000).nullable().optional(),
    region: z.string().trim().max(100).optional(),
    bucket: z.string().trim().max(100).optional(),
    pathStyle: z.boolean().optional(),
    school: z.string().trim().max(100).optional(),
    allowOriginals: z.boolean().optional(),
    originalsStorageClass: z.string().max(40).optional(),
    concurrency: z.number().int().min(-1_000_000).max(1_000_000).optional(),
    partSizeMiB: z.number().int().min(-1_000_000).max(1_000_000).optional(),
    limitKbps: z.number().int().min(-1_000_000_000).max(1_000_000_000).nullable().optional(),
    checksums: z.enum(['auto', 'off']).optional(),
  }),
  'cloud:check': empty,
  // The store's access key, kept by the engine (the OS keychain in Electron); never sent back.
  'cloud:setCredentials': z.strictObject({ accessKeyId: z.string().trim().min(1).max(200), secretAccessKey: z.string().trim().min(1).max(400) }),
  'cloud:forgetCredentials': empty,
  'publish:plan': z.strictObject({ eventId: id, originals: z.boolean().default(false) }),
  'publish:start': z.strictObject({ eventId: id, originals: z.boolean().default(false) }),
  'publish:unpublish': z.strictObject({ eventId: id }),
  'uploads:status': empty,
  'uploads:pause': empty,
  'uploads:resume': empty,
  'uploads:cancel': empty,
  // No ids: every failed upload. Ids that are not of a failed upload are ignored (the answer says how many went).
  'uploads:retry': z.strictObject({ ids: z.array(id).min(1).max(1000).optional() }),
  'uploads:setLimit': z.strictObject({ kbps: kbps.nullable() }),
} as const;

/** A role of the signed-in account in a school. */
export interface SchoolRole {
  school: string;
  role: string;
}

/** One change brought by the school's change feed, for the activity list. */
export interface SyncActivity {
  at: string;
  entity: 'event' | 'student' | 'consent';
  name: string;
  change: string;
  by: string | null;
}

/** The connection to the sync service as settings and the status bar show it. */
export interface SyncStatus {
  signedIn: boolean;
  serverUrl: string | null;
  email: string | null;
  roles: SchoolRole[];
  /** The school this library publishes for. */
  school: { id: string; slug: string; name: string } | null;
  /** A problem reaching the service (the session is kept), or a mismatch the user should fix. */
  notice: string | null;
  lastPull: { at: string; events: number; people: number; consents: number; erased: number } | null;
  /** Newest first, at most 50. */
  activity: SyncActivity[];
}

/** `sync:providerStart`: the service's start URL for the system browser (it carries no secret, only a PKCE challenge). */
export interface ProviderSignInStart {
  url: string;
  /** True when the host already opened it in the system browser (Electron); else the page opens it itself. */
  opened: boolean;
}

/** The storage settings a form edits (the access key is set apart, and never read back). */
export interface StorageSettings {
  endpoint: string | null;
  region: string;
  bucket: string;
  pathStyle: boolean;
  school: string;
  allowOriginals: boolean;
  originalsStorageClass: string;
  concurrency: number;
  partSizeMiB: number;
  limitKbps: number | null;
  checksums: 'auto' | 'off';
}

/** `cloud:settings`. */
export interface StorageSettingsView {
  configured: boolean;
  settings: StorageSettings | null;
  /** Where the access key comes from ("environment", "the system keychain"); never the key. */
  credentialsSource: string;
  /** Whether a key entered here is kept (else the environment's, if any, is used). */
  credentialsKept: boolean;
  /** The last four characters of the kept access key id, to tell keys apart. */
  accessKeyHint: string | null;
  storageClasses: string[];
}

/** `cloud:configure`: saved, or a message per field and nothing saved. */
export interface ConfigureResult {
  saved: boolean;
  settings: StorageSettings | null;
  errors: Partial<Record<keyof StorageSettings, string>>;
}

/** Why an asset is held back: consent, a file that cannot be read, or one that is gone. */
export type BlockKind = 'consent' | 'unreadable' | 'missing';

/** The school's storage before and after a publish. */
export interface QuotaView {
  limitBytes: number;
  usedBytes: number;
  reservedBytes: number;
  /** used + reserved + this publish's estimate. */
  afterBytes: number;
}

/** `publish:plan`: what publishing an event would do now; nothing is queued or reserved. */
export interface PublishPanelPlan {
  event: { id: number; name: string };
  /** False until the library has storage settings; the rest is then empty. */
  configured: boolean;
  newCount: number;
  modifiedCount: number;
  removingCount: number;
  unchangedCount: number;
  rejectedCount: number;
  blocked: Array<{ assetId: number; name: string; kind: BlockKind; reason: string }>;
  estimatedBytes: number;
  originals: { allowed: boolean; requested: boolean; why: string | null };
  /** Null when the library is not signed in to a school's sync service. */
  quota: QuotaView | null;
  overQuota: boolean;
  /** Published now (per the catalog). */
  publishedCount: number;
}

/** `publish:start`. */
export interface PublishStarted {
  queued: number;
  removing: number;
  held: number;
  reservedBytes: number | null;
}

/** One file being sent. */
export interface UploadingFile {
  key: string;
  /** The photo's name and the variant ("IMG_0001.JPG · preview"); never shown elsewhere than this desktop. */
  label: string;
  bytes: number;
  total: number;
}

/** The upload queue: `uploads:status` and the `uploads:progress` push event. */
export interface UploadsView {
  configured: boolean;
  paused: boolean;
  offline: boolean;
  limitKbps: number | null;
  /** Assets of the current publish run, and bytes of this process's uploads. */
  overall: { assetsDone: number; assetsTotal: number; bytesSent: number; bytesTotal: number; rate: number; etaSec: number | null };
  files: UploadingFile[];
  queue: { queued: number; running: number; failed: number; done: number; cancelled: number };
  /** Newest first, at most 20; `id` names one for `uploads:retry`. */
  failures: Array<{ id: number; assetId: number | null; name: string; reason: string }>;
  stored: { objects: number; bytes: number };
}

/** Outputs of the connection and publishing channels. */
export interface PublishOutputs {
  'sync:status': SyncStatus;
  'sync:signIn': SyncStatus;
  'sync:providerStart': ProviderSignInStart;
  'sync:providerFinish': SyncStatus;
  'sync:providerCancel': SyncStatus;
  'sync:signOut': SyncStatus;
  'sync:pull': SyncStatus;
  'cloud:settings': StorageSettingsView;
  'cloud:configure': ConfigureResult;
  'cloud:check': { ok: true; message: string };
  'cloud:setCredentials': StorageSettingsView;
  'cloud:forgetCredentials': StorageSettingsView;
  'publish:plan': PublishPanelPlan;
  'publish:start': PublishStarted;
  'publish:unpublish': { removing: number };
  'uploads:status': UploadsView;
  'uploads:pause': UploadsView;
  'uploads:resume': UploadsView;
  'uploads:cancel': UploadsView;
  'uploads:retry': UploadsView & { retried: number };
  'uploads:setLimit': UploadsView;
}

/** Push events of publishing: the queue's snapshot, at most four a second while bytes move. */
export const PUBLISH_PUSH_EVENTS = {
  'uploads:progress': z.record(z.string(), z.unknown()),
} as const;

/** Payloads of the publishing push events. */
export interface PublishPushPayloads {
  'uploads:progress': UploadsView;
}
