import { z } from 'zod';
import type { Asset, EventSummary, Person, SchoolEvent } from '../shared/domain.ts';
import { COLOR_LABELS, CONSENT_PURPOSES } from '../shared/domain.ts';
import type { ErrorCode } from '../shared/errors.ts';
import type { AssetPage, CameraCard, QueueProgress, RemovedVolume } from '../shared/views.ts';
import { PUBLISH_CALLS, PUBLISH_PUSH_EVENTS, type PublishOutputs, type PublishPushPayloads } from './publish-contract.ts';
import { ADMIN_CALLS, type AdminOutputs } from './admin-contract.ts';

// Every schema is strict (unknown keys are refused), every string and array bounded, every number an integer in a range:
// the renderer is untrusted input, and nothing reaches the engine before it passes one of these.

const MAX_ID = 2 ** 48;
/** A catalog row id (assets, events, people). */
export const idSchema = z.number().int().min(1).max(MAX_ID);
const text = (max: number) => z.string().max(max);
const name = z.string().trim().min(1).max(200);
const filePath = z.string().min(1).max(4096);
const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD');
const assetIds = z.array(idSchema).min(1).max(10_000);
const cursor = z.strictObject({ sortTime: z.number().int().min(-(2 ** 53) + 1).max(2 ** 53 - 1), id: idSchema }).nullable();
const pageInput = { limit: z.number().int().min(1).max(1000).default(200), after: cursor.default(null) };
const empty = z.strictObject({});

/** Input schemas of every call, by channel (`domain:verb`). */
export const CALLS = {
  'library:info': empty,
  'library:open': z.strictObject({ path: filePath, create: z.boolean().default(false) }),
  'library:recent': empty,
  'library:status': empty,
  'events:list': empty,
  'events:create': z.strictObject({
    name,
    startsOn: date.nullable().optional(),
    endsOn: date.nullable().optional(),
    location: text(500).nullable().optional(),
    description: text(10_000).nullable().optional(),
  }),
  'events:update': z.strictObject({
    id: idSchema,
    version: z.number().int().min(0).max(MAX_ID),
    name: name.optional(),
    startsOn: date.nullable().optional(),
    endsOn: date.nullable().optional(),
    location: text(500).nullable().optional(),
    description: text(10_000).nullable().optional(),
  }),
  'assets:eventPage': z.strictObject({ eventId: idSchema, order: z.enum(['asc', 'desc']).default('asc'), ...pageInput }),
  'assets:timelinePage': z.strictObject({ order: z.enum(['asc', 'desc']).default('desc'), ...pageInput }),
  'assets:get': z.strictObject({ id: idSchema }),
  'assets:positions': z.strictObject({ eventId: idSchema.optional(), order: z.enum(['asc', 'desc']).optional() }),
  'assets:getMany': z.strictObject({ ids: z.array(idSchema).min(1).max(500) }),
  'assets:setRating': z.strictObject({ ids: assetIds, rating: z.number().int().min(0).max(5) }),
  'assets:setFlag': z.strictObject({ ids: assetIds, flag: z.enum(['none', 'pick', 'reject']) }),
  'assets:setColorLabel': z.strictObject({ ids: assetIds, colorLabel: z.enum(COLOR_LABELS).nullable() }),
  'assets:setText': z.strictObject({ ids: assetIds, title: text(500).nullable().optional(), description: text(10_000).nullable().optional() }),
  'tags:add': z.strictObject({ ids: assetIds, tags: z.array(name).min(1).max(50) }),
  'tags:remove': z.strictObject({ ids: assetIds, tags: z.array(name).min(1).max(50) }),
  'people:list': empty,
  'people:tag': z.strictObject({ ids: assetIds, personId: idSchema }),
  'people:untag': z.strictObject({ ids: assetIds, personId: idSchema }),
  'people:importRoster': z.strictObject({ file: filePath }),
  'search:query': z.strictObject({ query: text(1000), ...pageInput }),
  'search:suggest': z.strictObject({ prefix: text(200), limit: z.number().int().min(1).max(100).default(10) }),
  'import:preview': z.strictObject({
    source: filePath,
    event: name,
    template: text(500).optional(),
    limit: z.number().int().min(1).max(500).default(50),
    // Names only, nothing hashed: for the live preview while a rename template is typed.
    quick: z.boolean().default(false),
  }),
  'import:start': z.strictObject({
    source: filePath,
    event: name,
    template: text(500).optional(),
    backupDir: filePath.optional(),
    tags: z.array(name).max(50).optional(),
  }),
  'import:cancel': z.strictObject({ importId: z.string().regex(/^[0-9a-f]{32}$/) }),
  'jobs:progress': empty,
  'assets:unreadable': z.strictObject({ limit: z.number().int().min(1).max(1000).default(200) }),
  'volumes:list': empty,
  // The school connection and publishing (publish-contract.ts).
  ...PUBLISH_CALLS,
  // The school admin's screens (admin-contract.ts).
  ...ADMIN_CALLS,
} as const;

/** A channel name. */
export type Method = keyof typeof CALLS;
/** The (parsed) input of a channel. */
export type Input<M extends Method> = z.output<(typeof CALLS)[M]>;
/** The input a caller writes (defaults optional). */
export type CallInput<M extends Method> = z.input<(typeof CALLS)[M]>;

/** An event as the dashboard shows it. */
export interface EventCard extends EventSummary {
  unpublishedCount: number;
  /** The asset whose thumbnail stands for the event (picked, best rated, readable), or null while it is empty. */
  coverAssetId: number | null;
}

/** Every asset id of a grid's source in display order: the grid's true height and random access, without the assets. */
export interface AssetPositions {
  ids: number[];
}

/** One asset for the loupe and the metadata panel. */
export interface AssetDetail {
  asset: Asset;
  tags: string[];
  people: Person[];
  /** Variants the media endpoint serves now (made or not: missing ones are made on demand). */
  variants: string[];
}

/** A library opened on this computer before, most recent first. */
export interface RecentLibrary {
  path: string;
  name: string;
  openedAt: string;
  /** False when the folder is gone (a disconnected drive): it stays listed, greyed out. */
  available: boolean;
}

/** The outcome of a batch edit. */
export interface BatchResult {
  updated: number;
}

/** What each call returns. */
export interface Outputs extends PublishOutputs, AdminOutputs {
  'library:info': { root: string; name: string; readOnly: boolean; damage: string | null };
  'library:open': { root: string; name: string; readOnly: boolean; damage: string | null };
  'library:recent': { libraries: RecentLibrary[]; suggested: string };
  'library:status': { assets: number; unreadable: number; missing: number; events: number; people: number; jobs: Record<string, Record<string, number>> };
  'events:list': EventCard[];
  'events:create': SchoolEvent;
  'events:update': SchoolEvent;
  'assets:eventPage': AssetPage;
  'assets:timelinePage': AssetPage;
  'assets:get': AssetDetail;
  'assets:positions': AssetPositions;
  'assets:getMany': Asset[];
  'assets:setRating': BatchResult;
  'assets:setFlag': BatchResult;
  'assets:setColorLabel': BatchResult;
  'assets:setText': BatchResult;
  'tags:add': BatchResult;
  'tags:remove': BatchResult;
  'people:list': Person[];
  'people:tag': BatchResult;
  'people:untag': BatchResult;
  'people:importRoster': { created: number; updated: number; errors: Array<{ line: number; message: string }> };
  'search:query': AssetPage;
  'search:suggest': { tags: string[]; people: string[]; events: string[] };
  /** `duplicates` is null in a quick preview: they are found when the import runs. */
  'import:preview': { event: string; names: Array<{ source: string; destination: string }>; duplicates: number | null; failed: Array<{ source: string; reason: string }>; total: number };
  'import:start': { importId: string };
  'import:cancel': { cancelled: boolean };
  'jobs:progress': QueueProgress;
  'assets:unreadable': Array<{ id: number; path: string; originalName: string; reason: string | null }>;
  'volumes:list': CameraCard[];
}

/** Payload schemas of engine → UI push events. */
export const PUSH_EVENTS = {
  'import:progress': z.strictObject({
    importId: z.string(),
    phase: z.enum(['scanning', 'copying', 'done']),
    filesDone: z.number().int().min(0),
    filesTotal: z.number().int().min(0),
    bytesDone: z.number().int().min(0),
    bytesTotal: z.number().int().min(0),
    bytesPerSec: z.number().min(0),
    etaSec: z.number().min(0).nullable(),
    current: z.string().nullable(),
    errors: z.array(z.strictObject({ source: z.string(), reason: z.string() })),
  }),
  'import:finished': z.strictObject({
    importId: z.string(),
    state: z.string(),
    imported: z.number().int(),
    duplicates: z.number().int(),
    failed: z.array(z.strictObject({ source: z.string(), reason: z.string() })),
    error: z.strictObject({ code: z.string(), message: z.string(), hint: z.string().optional() }).nullable(),
  }),
  'jobs:progress': z.strictObject({ paused: z.boolean(), kinds: z.array(z.record(z.string(), z.unknown())) }),
  'asset:thumbReady': z.strictObject({ assetId: idSchema }),
  'volume:inserted': z.strictObject({ path: z.string(), label: z.string(), mediaCount: z.number().int(), bytes: z.number().int(), partial: z.boolean() }),
  'volume:removed': z.strictObject({ path: z.string(), label: z.string() }),
  ...PUBLISH_PUSH_EVENTS,
} as const;

/** A push event's name. */
export type PushEventName = keyof typeof PUSH_EVENTS;
/** Payloads of push events. */
export interface PushPayloads extends PublishPushPayloads {
  'import:progress': z.output<(typeof PUSH_EVENTS)['import:progress']>;
  'import:finished': z.output<(typeof PUSH_EVENTS)['import:finished']>;
  'jobs:progress': QueueProgress;
  'asset:thumbReady': { assetId: number };
  'volume:inserted': CameraCard;
  'volume:removed': RemovedVolume;
}
/** One push event as it crosses the boundary. */
export type PushEvent = { [K in PushEventName]: { event: K; payload: PushPayloads[K] } }[PushEventName];

/** The only error shape that crosses the boundary. */
export interface IpcError {
  code: ErrorCode | 'unknown-method';
  message: string;
  hint?: string;
}

/** What every call resolves to. */
export type Result<T = unknown> = { ok: true; value: T } | { ok: false; error: IpcError };

/** Consent purposes a person may have, for the UI's legend. */
export const PURPOSES = CONSENT_PURPOSES;

/** True when `method` is a channel of the contract. */
export function isMethod(method: string): method is Method {
  return Object.prototype.hasOwnProperty.call(CALLS, method);
}
