import type { Database, Statement } from 'better-sqlite3';
import type { Asset, AssetFlag, AssetKind, AssetStatus, ColorLabel } from '../shared/domain.ts';
import type { AssetId, ContentHash, EventId } from '../shared/ids.ts';
import type { AssetPage, PageCursor } from '../shared/views.ts';
export type { AssetPage, PageCursor } from '../shared/views.ts';

/** What the importer knows about a new asset. */
export interface NewAsset {
  hash: ContentHash;
  eventId: EventId | null;
  path: string;
  originalName: string;
  size: number;
  mtimeMs: number;
  kind: AssetKind;
  mime: string;
  width?: number | null;
  height?: number | null;
  orientation?: number | null;
  durationSec?: number | null;
  capturedAt?: string | null;
  captureOffsetMin?: number | null;
  sortTime: number;
  cameraMake?: string | null;
  cameraModel?: string | null;
  lens?: string | null;
  gps?: { latitude: number; longitude: number; altitude?: number | null } | null;
  rating?: number;
  flag?: AssetFlag;
  title?: string | null;
  description?: string | null;
  status?: AssetStatus;
  error?: string | null;
}

/** Order of a listing by capture time. */
export type SortOrder = 'asc' | 'desc';

/** A row of `assets` as better-sqlite3 returns it; other repositories that select `assets.*` map it with {@link toAsset}. */
export interface AssetRow {
  id: number;
  hash: string;
  event_id: number | null;
  path: string;
  original_name: string;
  size: number;
  mtime_ms: number;
  kind: AssetKind;
  mime: string;
  width: number | null;
  height: number | null;
  orientation: number | null;
  duration_sec: number | null;
  captured_at: string | null;
  capture_offset_min: number | null;
  sort_time: number;
  camera_make: string | null;
  camera_model: string | null;
  lens: string | null;
  gps_lat: number | null;
  gps_lon: number | null;
  gps_alt: number | null;
  rating: number;
  flag: AssetFlag;
  color_label: ColorLabel | null;
  thumbhash: string | null;
  title: string | null;
  description: string | null;
  status: AssetStatus;
  error: string | null;
  imported_at: string;
  updated_at: string;
}

// Every column added to `assets` must also reach toAsset() and, if searchable, the search document.
/** The domain asset of an `assets` row. */
export function toAsset(row: AssetRow): Asset {
  return {
    id: row.id as AssetId,
    hash: row.hash as ContentHash,
    eventId: row.event_id as EventId | null,
    path: row.path,
    originalName: row.original_name,
    size: row.size,
    mtimeMs: row.mtime_ms,
    kind: row.kind,
    mime: row.mime,
    width: row.width,
    height: row.height,
    orientation: row.orientation,
    durationSec: row.duration_sec,
    capturedAt: row.captured_at,
    captureOffsetMin: row.capture_offset_min,
    sortTime: row.sort_time,
    cameraMake: row.camera_make,
    cameraModel: row.camera_model,
    lens: row.lens,
    gps: row.gps_lat === null || row.gps_lon === null ? null : { latitude: row.gps_lat, longitude: row.gps_lon, altitude: row.gps_alt },
    rating: row.rating,
    flag: row.flag,
    colorLabel: row.color_label,
    thumbhash: row.thumbhash,
    title: row.title,
    description: row.description,
    status: row.status,
    error: row.error,
    importedAt: row.imported_at,
    updatedAt: row.updated_at,
  };
}

/** The only place that reads and writes the `assets` table. */
export class AssetsRepo {
  private readonly insertStmt: Statement;
  private readonly byId: Statement;
  private readonly byHash: Statement;
  private readonly sizeExists: Statement;
  private readonly byPath: Statement;
  private readonly pages: Record<string, Statement>;
  private readonly countAll: Statement;
  private readonly statusStmt: Statement;
  private readonly locationStmt: Statement;
  private readonly idLists: Record<string, Statement> = {};
  private manyStmt: Statement | undefined;
  private coversStmt: Statement | undefined;

  constructor(private readonly db: Database) {
    this.insertStmt = db.prepare(`
      INSERT INTO assets (hash, event_id, path, original_name, size, mtime_ms, kind, mime, width, height, orientation,
        duration_sec, captured_at, capture_offset_min, sort_time, camera_make, camera_model, lens, gps_lat, gps_lon, gps_alt,
        rating, flag, title, description, status, error, imported_at, updated_at)
      VALUES (@hash, @eventId, @path, @originalName, @size, @mtimeMs, @kind, @mime, @width, @height, @orientation,
        @durationSec, @capturedAt, @captureOffsetMin, @sortTime, @cameraMake, @cameraModel, @lens, @gpsLat, @gpsLon, @gpsAlt,
        @rating, @flag, @title, @description, @status, @error, @now, @now)`);
    this.byId = db.prepare('SELECT * FROM assets WHERE id = @id');
    this.byHash = db.prepare('SELECT * FROM assets WHERE hash = @hash');
    this.sizeExists = db.prepare('SELECT 1 FROM assets WHERE size = @size LIMIT 1');
    this.byPath = db.prepare('SELECT * FROM assets WHERE path = @path');
    const page = (where: string, order: SortOrder): Statement => {
      const cmp = order === 'desc' ? '<' : '>';
      const dir = order === 'desc' ? 'DESC' : 'ASC';
      // The first page uses a sentinel cursor rather than `@after IS NULL OR …`: an OR hides the row-value bound
      // from the planner, which then walks the index from its end to the cursor (40 ms deep into 1M assets).
      return db.prepare(`
        SELECT * FROM assets
        WHERE ${where} AND (sort_time, id) ${cmp} (@afterTime, @afterId)
        ORDER BY sort_time ${dir}, id ${dir}
        LIMIT @limit`);
    };
    this.pages = {
      'event:asc': page('event_id = @eventId', 'asc'),
      'event:desc': page('event_id = @eventId', 'desc'),
      'all:asc': page('1', 'asc'),
      'all:desc': page('1', 'desc'),
    };
    this.countAll = db.prepare('SELECT count(*) AS n FROM assets');
    this.statusStmt = db.prepare('UPDATE assets SET status = @status, error = @error, updated_at = @now WHERE id = @id');
    this.locationStmt = db.prepare(
      "UPDATE assets SET path = @path, mtime_ms = @mtimeMs, status = 'ok', error = NULL, updated_at = @now WHERE id = @id",
    );
  }

  /** Adds an asset; the content hash must not be in the catalog yet. */
  insert(asset: NewAsset): Asset {
    const info = this.insertStmt.run({
      hash: asset.hash,
      eventId: asset.eventId,
      path: asset.path,
      originalName: asset.originalName,
      size: asset.size,
      mtimeMs: Math.round(asset.mtimeMs),
      kind: asset.kind,
      mime: asset.mime,
      width: asset.width ?? null,
      height: asset.height ?? null,
      orientation: asset.orientation ?? null,
      durationSec: asset.durationSec ?? null,
      capturedAt: asset.capturedAt ?? null,
      captureOffsetMin: asset.captureOffsetMin ?? null,
      sortTime: Math.round(asset.sortTime),
      cameraMake: asset.cameraMake ?? null,
      cameraModel: asset.cameraModel ?? null,
      lens: asset.lens ?? null,
      gpsLat: asset.gps?.latitude ?? null,
      gpsLon: asset.gps?.longitude ?? null,
      gpsAlt: asset.gps?.altitude ?? null,
      rating: asset.rating ?? 0,
      flag: asset.flag ?? 'none',
      title: asset.title ?? null,
      description: asset.description ?? null,
      status: asset.status ?? 'ok',
      error: asset.error ?? null,
      now: new Date().toISOString(),
    });
    return this.get(Number(info.lastInsertRowid) as AssetId)!;
  }

  /** The asset with this id, or undefined. */
  get(id: AssetId): Asset | undefined {
    const row = this.byId.get({ id }) as AssetRow | undefined;
    return row && toAsset(row);
  }

  /** The asset with this content, or undefined. */
  getByHash(hash: ContentHash): Asset | undefined {
    const row = this.byHash.get({ hash }) as AssetRow | undefined;
    return row && toAsset(row);
  }

  /** Assets recorded at this path (normally zero or one). */
  getByPath(filePath: string): Asset[] {
    return (this.byPath.all({ path: filePath }) as AssetRow[]).map(toAsset);
  }

  /** Whether any asset has exactly this size: if none, a file of this size cannot be a duplicate. */
  hasSize(size: number): boolean {
    return this.sizeExists.get({ size }) !== undefined;
  }

  /** A page of one event's assets by capture time, through the (event_id, sort_time, id) index. */
  listEventPage(eventId: EventId, options: { limit: number; after?: PageCursor | null; order?: SortOrder }): AssetPage {
    return this.page(`event:${options.order ?? 'asc'}`, { eventId }, options);
  }

  /** A page of the whole library by capture time, through the (sort_time, id) index. */
  listTimelinePage(options: { limit: number; after?: PageCursor | null; order?: SortOrder }): AssetPage {
    return this.page(`all:${options.order ?? 'desc'}`, {}, options);
  }

  private page(key: string, params: Record<string, unknown>, options: { limit: number; after?: PageCursor | null }): AssetPage {
    const limit = Math.max(1, Math.min(1000, Math.floor(options.limit)));
    const after = options.after ?? null;
    const rows = this.pages[key]!.all(this.pageParams(key, params, after, limit)) as AssetRow[];
    const items = rows.slice(0, limit).map(toAsset);
    const last = items.at(-1);
    return { items, next: rows.length > limit && last ? { sortTime: last.sortTime, id: last.id } : null };
  }

  /** The query plan of a page listing (EXPLAIN QUERY PLAN details), for tests and diagnosis. */
  explainPage(listing: 'event' | 'all', order: SortOrder, after: PageCursor | null): string[] {
    const key = `${listing}:${order}`;
    const params = this.pageParams(key, listing === 'event' ? { eventId: 1 } : {}, after, 100);
    const rows = this.db.prepare(`EXPLAIN QUERY PLAN ${this.pages[key]!.source}`).all(params) as Array<{ detail: string }>;
    return rows.map((row) => row.detail);
  }

  private pageParams(key: string, params: Record<string, unknown>, after: PageCursor | null, limit: number): Record<string, unknown> {
    const edge = key.endsWith(':desc') ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
    return { ...params, afterTime: after?.sortTime ?? edge, afterId: after?.id ?? edge, limit: limit + 1 };
  }

  /**
   * Every asset id of an event (or of the whole library) in page order: what the grid needs to size its scroll
   * area and jump anywhere without loading whole assets. Served from the covering (event_id, sort_time, id) and
   * (sort_time, id) indexes, a few bytes per asset.
   */
  listIds(scope: { eventId?: EventId | null; order?: SortOrder }): AssetId[] {
    const eventId = scope.eventId ?? null;
    const order = scope.order ?? (eventId === null ? 'desc' : 'asc');
    const key = `${eventId === null ? 'all' : 'event'}:${order}`;
    this.idLists[key] ??= this.db
      .prepare(
        `SELECT id FROM assets ${eventId === null ? '' : 'WHERE event_id = @eventId'}
         ORDER BY sort_time ${order === 'desc' ? 'DESC' : 'ASC'}, id ${order === 'desc' ? 'DESC' : 'ASC'}`,
      )
      .pluck();
    return this.idLists[key].all(eventId === null ? {} : { eventId }) as AssetId[];
  }

  /** The assets with these ids, in the order asked; ids not in the catalog are left out. */
  getMany(ids: readonly AssetId[]): Asset[] {
    if (ids.length === 0) return [];
    this.manyStmt ??= this.db.prepare('SELECT * FROM assets WHERE id IN (SELECT value FROM json_each(@ids))');
    const byId = new Map((this.manyStmt.all({ ids: JSON.stringify(ids) }) as AssetRow[]).map((row) => [row.id, row]));
    return ids.flatMap((id) => {
      const row = byId.get(id);
      return row ? [toAsset(row)] : [];
    });
  }

  /**
   * The cover of each event that has assets: its best readable picture (picked first, then highest rated,
   * photos before videos, then the earliest), so the dashboard shows what the photographer chose.
   */
  eventCovers(): Map<EventId, AssetId> {
    this.coversStmt ??= this.db.prepare(
      `SELECT e.id AS eventId,
         (SELECT a.id FROM assets a WHERE a.event_id = e.id AND a.status = 'ok'
          ORDER BY a.flag = 'pick' DESC, a.flag = 'reject', a.rating DESC, a.kind = 'video', a.sort_time, a.id LIMIT 1) AS assetId
       FROM events e`,
    );
    const rows = this.coversStmt.all() as Array<{ eventId: EventId; assetId: AssetId | null }>;
    return new Map(rows.flatMap((row) => (row.assetId === null ? [] : [[row.eventId, row.assetId] as const])));
  }

  /** Number of assets in the library. */
  count(): number {
    return (this.countAll.get() as { n: number }).n;
  }

  /** Counts by status, for `keepsake status`. */
  countByStatus(): Record<AssetStatus, number> {
    const rows = this.db.prepare('SELECT status, count(*) AS n FROM assets GROUP BY status').all() as Array<{
      status: AssetStatus;
      n: number;
    }>;
    const result: Record<AssetStatus, number> = { ok: 0, unreadable: 0, missing: 0 };
    for (const row of rows) result[row.status] = row.n;
    return result;
  }

  /** Stores what the media pipeline learnt: the placeholder, and the pixel size where metadata had none. */
  setDerived(id: AssetId, derived: { thumbhash: string; width: number | null; height: number | null }): void {
    this.db
      .prepare(
        `UPDATE assets SET thumbhash = @thumbhash, width = coalesce(width, @width), height = coalesce(height, @height),
           status = CASE WHEN status = 'unreadable' THEN 'ok' ELSE status END,
           error = CASE WHEN status = 'unreadable' THEN NULL ELSE error END, updated_at = @now
         WHERE id = @id`,
      )
      .run({ id, ...derived, now: new Date().toISOString() });
  }

  /** Marks an asset unreadable or missing (with the reason), or ok again. Catalog data is never deleted for this. */
  setStatus(id: AssetId, status: AssetStatus, error: string | null = null): void {
    this.statusStmt.run({ id, status, error, now: new Date().toISOString() });
  }

  /** Records that an asset's file now lives at another path (a move or rename recognised by hash). */
  relocate(id: AssetId, filePath: string, mtimeMs: number): void {
    this.locationStmt.run({ id, path: filePath, mtimeMs: Math.round(mtimeMs), now: new Date().toISOString() });
  }

  /** Culling: rating 0–5, pick/reject and colour label. */
  setCulling(id: AssetId, change: { rating?: number; flag?: AssetFlag; colorLabel?: ColorLabel | null }): void {
    this.db
      .prepare(
        `UPDATE assets SET
           rating = CASE WHEN @setRating THEN @rating ELSE rating END,
           flag = CASE WHEN @setFlag THEN @flag ELSE flag END,
           color_label = CASE WHEN @setLabel THEN @colorLabel ELSE color_label END,
           updated_at = @now
         WHERE id = @id`,
      )
      .run({
        id,
        setRating: change.rating === undefined ? 0 : 1,
        rating: change.rating ?? 0,
        setFlag: change.flag === undefined ? 0 : 1,
        flag: change.flag ?? 'none',
        setLabel: change.colorLabel === undefined ? 0 : 1,
        colorLabel: change.colorLabel ?? null,
        now: new Date().toISOString(),
      });
  }

  /** Title and description. */
  setText(id: AssetId, change: { title?: string | null; description?: string | null }): void {
    this.db
      .prepare(
        `UPDATE assets SET
           title = CASE WHEN @setTitle THEN @title ELSE title END,
           description = CASE WHEN @setDescription THEN @description ELSE description END,
           updated_at = @now
         WHERE id = @id`,
      )
      .run({
        id,
        setTitle: change.title === undefined ? 0 : 1,
        title: change.title ?? null,
        setDescription: change.description === undefined ? 0 : 1,
        description: change.description ?? null,
        now: new Date().toISOString(),
      });
  }

  /** Records a sidecar file (XMP, THM) that travels with the asset. */
  addSidecar(id: AssetId, filePath: string, kind: 'xmp' | 'thm'): void {
    this.db
      .prepare('INSERT OR REPLACE INTO sidecars (asset_id, path, kind) VALUES (@id, @path, @kind)')
      .run({ id, path: filePath, kind });
  }

  /** The sidecars of an asset. */
  sidecars(id: AssetId): Array<{ path: string; kind: 'xmp' | 'thm' }> {
    return this.db.prepare('SELECT path, kind FROM sidecars WHERE asset_id = @id ORDER BY kind').all({ id }) as Array<{
      path: string;
      kind: 'xmp' | 'thm';
    }>;
  }

  /**
   * A page of where each asset of an event should be, with its size, mtime and status: what checking a folder
   * against the catalog needs (a few columns, not whole assets), through the (event_id, sort_time, id) index.
   */
  fileStates(eventId: EventId, options: { limit: number; after?: PageCursor | null }): { items: AssetFileState[]; next: PageCursor | null } {
    const limit = Math.max(1, Math.min(10_000, Math.floor(options.limit)));
    const rows = this.db
      .prepare(
        `SELECT id, path, size, mtime_ms AS mtimeMs, status, sort_time AS sortTime FROM assets
         WHERE event_id = @eventId AND (sort_time, id) > (@afterTime, @afterId)
         ORDER BY sort_time, id LIMIT @limit`,
      )
      .all({ eventId, afterTime: options.after?.sortTime ?? Number.MIN_SAFE_INTEGER, afterId: options.after?.id ?? Number.MIN_SAFE_INTEGER, limit: limit + 1 }) as Array<
      AssetFileState & { sortTime: number }
    >;
    const items = rows.slice(0, limit).map(({ sortTime: _sortTime, ...state }) => state);
    const last = rows[limit - 1];
    return { items, next: rows.length > limit && last ? { sortTime: last.sortTime, id: last.id } : null };
  }
}

/** See {@link AssetsRepo.fileStates}. */
export interface AssetFileState {
  id: AssetId;
  path: string;
  size: number;
  mtimeMs: number;
  status: AssetStatus;
}
