import type { PublishPanelPlan, StorageSettingsView, SyncStatus, UploadsView } from '../../../app/ipc/publish-contract.ts';

/** A signed-out connection, as the engine reports it. */
export const SIGNED_OUT: SyncStatus = { signedIn: false, serverUrl: null, email: null, roles: [], school: null, notice: null, lastPull: null, activity: [] };

/** A signed-in admin of one school, with one change from the feed. */
export const SIGNED_IN: SyncStatus = {
  signedIn: true,
  serverUrl: 'https://sync.greenfield.example',
  email: 'office@greenfield.example',
  roles: [{ school: 'Greenfield Primary', role: 'admin' }],
  school: { id: 's1', slug: 'greenfield', name: 'Greenfield Primary' },
  notice: null,
  lastPull: { at: '2026-05-14T10:00:00.000Z', events: 1, people: 2, consents: 1, erased: 0 },
  activity: [{ at: '2026-05-14T10:00:00.000Z', entity: 'consent', name: 'Ana Lima', change: 'consent to publish withdrawn', by: 'u-42' }],
};

/** No storage set up yet. */
export const NO_STORAGE: StorageSettingsView = { configured: false, settings: null, credentialsSource: 'none', credentialsKept: false, accessKeyHint: null, storageClasses: ['STANDARD', 'GLACIER'] };

/** The plan of an event with two new photos and one held back for consent. */
export const PLAN: PublishPanelPlan = {
  event: { id: 7, name: 'Sports Day' },
  configured: true,
  newCount: 2,
  modifiedCount: 0,
  removingCount: 0,
  unchangedCount: 0,
  rejectedCount: 0,
  blocked: [{ assetId: 3, name: 'IMG_0001.JPG', kind: 'consent', reason: 'tagged with Ana Lima (3B): consent to publish denied' }],
  estimatedBytes: 2_000_000,
  originals: { allowed: true, requested: false, why: null },
  quota: { limitBytes: 10_000_000, usedBytes: 3_000_000, reservedBytes: 0, afterBytes: 5_000_000 },
  overQuota: false,
  publishedCount: 0,
};

/** A queue sending one preview, with one failure. */
export const UPLOADING: UploadsView = {
  configured: true,
  paused: false,
  offline: false,
  limitKbps: null,
  overall: { assetsDone: 1, assetsTotal: 3, bytesSent: 1_048_576, bytesTotal: 3_145_728, rate: 524_288, etaSec: 4 },
  files: [{ key: 'schools/g/events/e/abc/preview.jpg', label: 'IMG_0002.JPG · preview', bytes: 262_144, total: 1_048_576 }],
  queue: { queued: 1, running: 1, failed: 1, done: 1, cancelled: 0 },
  failures: [{ id: 41, assetId: 9, name: 'IMG_0009.JPG', reason: 'The store refused the request (AccessDenied).' }],
  stored: { objects: 4, bytes: 1_048_576 },
};
