import type { AssetId, ContentHash, EventId, ImportId, JobId, PersonId } from './ids.ts';

/** What a file holds, as the engine treats it. */
export type AssetKind = 'photo' | 'raw' | 'video';
/** `unreadable`: the file is there but cannot be decoded; `missing`: the file is gone from its path. */
export type AssetStatus = 'ok' | 'unreadable' | 'missing';
/** Pick/reject flag from culling. */
export type AssetFlag = 'none' | 'pick' | 'reject';
/** Colour labels, as in Lightroom and Photo Mechanic. */
export const COLOR_LABELS = ['red', 'yellow', 'green', 'blue', 'purple'] as const;
/** One of {@link COLOR_LABELS}. */
export type ColorLabel = (typeof COLOR_LABELS)[number];
/** What a person may consent to. */
export const CONSENT_PURPOSES = ['publish', 'yearbook'] as const;
/** One of {@link CONSENT_PURPOSES}. */
export type ConsentPurpose = (typeof CONSENT_PURPOSES)[number];

/** A school event: sports day, a play, a field trip. */
export interface SchoolEvent {
  id: EventId;
  name: string;
  startsOn: string | null;
  endsOn: string | null;
  location: string | null;
  description: string | null;
  /** Folder of the event's files, relative to the library root. */
  folder: string;
  remoteId: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** An event with what the dashboard shows about it. */
export interface EventSummary extends SchoolEvent {
  assetCount: number;
  photoCount: number;
  videoCount: number;
  unreadableCount: number;
  missingCount: number;
  firstCapturedAt: string | null;
  lastCapturedAt: string | null;
}

/** GPS position; kept in the local catalog only and never published. */
export interface GeoPoint {
  latitude: number;
  longitude: number;
  altitude: number | null;
}

/** A photo or video in the library, identified by its content hash. */
export interface Asset {
  id: AssetId;
  hash: ContentHash;
  eventId: EventId | null;
  /** Relative to the library root when the file lives inside it, absolute otherwise. */
  path: string;
  /** The name the file had on the card or drive it came from. */
  originalName: string;
  size: number;
  mtimeMs: number;
  kind: AssetKind;
  mime: string;
  width: number | null;
  height: number | null;
  orientation: number | null;
  durationSec: number | null;
  /** ISO-8601; carries the UTC offset when the camera recorded one, otherwise local wall-clock time. */
  capturedAt: string | null;
  captureOffsetMin: number | null;
  /** Sort key in ms: capture time (local time read as UTC when the offset is unknown), else the file's mtime. */
  sortTime: number;
  cameraMake: string | null;
  cameraModel: string | null;
  lens: string | null;
  gps: GeoPoint | null;
  rating: number;
  flag: AssetFlag;
  colorLabel: ColorLabel | null;
  title: string | null;
  description: string | null;
  status: AssetStatus;
  error: string | null;
  /** A tiny placeholder of the picture (thumbhash, base64) painted before the thumbnail loads; null until made. */
  thumbhash: string | null;
  importedAt: string;
  updatedAt: string;
}

/** A student or staff member that media can be tagged with. */
export interface Person {
  id: PersonId;
  name: string;
  classGroup: string | null;
  familyEmail: string | null;
  remoteId: string | null;
  /** Purposes with consent granted; every other purpose is denied. */
  consent: Record<ConsentPurpose, boolean>;
}

/** State of an import session. */
export type ImportState = 'running' | 'completed' | 'cancelled' | 'interrupted';
/** State of one file of an import session. */
export type ImportItemState = 'pending' | 'copying' | 'imported' | 'duplicate' | 'failed';

/** One run of an import from a source into an event; re-running it resumes it. */
export interface ImportSession {
  id: ImportId;
  source: string;
  eventId: EventId;
  renameTemplate: string;
  backupDir: string | null;
  inPlace: boolean;
  state: ImportState;
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
}

/** State of a job in the persistent queue. */
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** A unit of background work that survives restarts. */
export interface Job {
  id: JobId;
  kind: string;
  assetId: AssetId | null;
  priority: number;
  state: JobState;
  attempts: number;
  nextRunAt: number;
  error: string | null;
  progress: number;
  payload: unknown;
}
