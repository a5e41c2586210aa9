import type { Database, Statement } from 'better-sqlite3';
import type { EventSummary, SchoolEvent } from '../shared/domain.ts';
import { AppError } from '../shared/errors.ts';
import type { EventId } from '../shared/ids.ts';

/** Fields a user sets on an event. */
export interface EventFields {
  name: string;
  startsOn?: string | null;
  endsOn?: string | null;
  location?: string | null;
  description?: string | null;
  folder: string;
  remoteId?: string | null;
}

interface EventRow {
  id: number;
  name: string;
  starts_on: string | null;
  ends_on: string | null;
  location: string | null;
  description: string | null;
  folder: string;
  remote_id: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

function toEvent(row: EventRow): SchoolEvent {
  return {
    id: row.id as EventId,
    name: row.name,
    startsOn: row.starts_on,
    endsOn: row.ends_on,
    location: row.location,
    description: row.description,
    folder: row.folder,
    remoteId: row.remote_id,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The only place that reads and writes the `events` table. */
export class EventsRepo {
  private readonly byId: Statement;
  private readonly byName: Statement;

  constructor(private readonly db: Database) {
    this.byId = db.prepare('SELECT * FROM events WHERE id = @id');
    this.byName = db.prepare('SELECT * FROM events WHERE name = @name COLLATE NOCASE');
  }

  /** Creates an event; names are unique regardless of case. */
  create(fields: EventFields): SchoolEvent {
    const now = new Date().toISOString();
    try {
      const info = this.db
        .prepare(
          `INSERT INTO events (name, starts_on, ends_on, location, description, folder, remote_id, created_at, updated_at)
           VALUES (@name, @startsOn, @endsOn, @location, @description, @folder, @remoteId, @now, @now)`,
        )
        .run({
          name: fields.name,
          startsOn: fields.startsOn ?? null,
          endsOn: fields.endsOn ?? null,
          location: fields.location ?? null,
          description: fields.description ?? null,
          folder: fields.folder,
          remoteId: fields.remoteId ?? null,
          now,
        });
      return this.get(Number(info.lastInsertRowid) as EventId)!;
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new AppError('conflict', `An event named "${fields.name}" (or using the folder "${fields.folder}") already exists.`);
      }
      throw error;
    }
  }

  /** Updates an event if `version` is still current (optimistic concurrency); returns the new state. */
  update(id: EventId, version: number, fields: Partial<EventFields>): SchoolEvent {
    const current = this.get(id);
    if (!current) throw new AppError('not-found', `There is no event ${id}.`);
    if (current.version !== version) {
      throw new AppError('conflict', `"${current.name}" was changed elsewhere (now version ${current.version}); reload it and try again.`);
    }
    const next = { ...current, ...fields };
    this.db
      .prepare(
        `UPDATE events SET name = @name, starts_on = @startsOn, ends_on = @endsOn, location = @location,
           description = @description, folder = @folder, remote_id = @remoteId, version = version + 1, updated_at = @now
         WHERE id = @id AND version = @version`,
      )
      .run({
        id,
        version,
        name: next.name,
        startsOn: next.startsOn ?? null,
        endsOn: next.endsOn ?? null,
        location: next.location ?? null,
        description: next.description ?? null,
        folder: next.folder,
        remoteId: next.remoteId ?? null,
        now: new Date().toISOString(),
      });
    return this.get(id)!;
  }

  /** The event with this id, or undefined. */
  get(id: EventId): SchoolEvent | undefined {
    const row = this.byId.get({ id }) as EventRow | undefined;
    return row && toEvent(row);
  }

  /** The event with this name (any case), or undefined. */
  findByName(name: string): SchoolEvent | undefined {
    const row = this.byName.get({ name }) as EventRow | undefined;
    return row && toEvent(row);
  }

  /** Every event, oldest first, without counts (cheap at any library size; {@link listSummaries} scans the assets). */
  list(): SchoolEvent[] {
    return (this.db.prepare('SELECT * FROM events ORDER BY id').all() as EventRow[]).map(toEvent);
  }

  /** Whether a folder is already used by an event. */
  folderTaken(folder: string): boolean {
    return this.db.prepare('SELECT 1 FROM events WHERE folder = @folder').get({ folder }) !== undefined;
  }

  /** Every event with its counts, newest first. */
  listSummaries(): EventSummary[] {
    const rows = this.db
      .prepare(
        `SELECT e.*,
           count(a.id) AS asset_count,
           count(a.id) FILTER (WHERE a.kind IN ('photo', 'raw')) AS photo_count,
           count(a.id) FILTER (WHERE a.kind = 'video') AS video_count,
           count(a.id) FILTER (WHERE a.status = 'unreadable') AS unreadable_count,
           count(a.id) FILTER (WHERE a.status = 'missing') AS missing_count,
           min(a.captured_at) AS first_captured_at,
           max(a.captured_at) AS last_captured_at
         FROM events e LEFT JOIN assets a ON a.event_id = e.id
         GROUP BY e.id
         ORDER BY coalesce(e.starts_on, min(a.captured_at), e.created_at) DESC, e.id DESC`,
      )
      .all() as Array<
      EventRow & {
        asset_count: number;
        photo_count: number;
        video_count: number;
        unreadable_count: number;
        missing_count: number;
        first_captured_at: string | null;
        last_captured_at: string | null;
      }
    >;
    return rows.map((row) => ({
      ...toEvent(row),
      assetCount: row.asset_count,
      photoCount: row.photo_count,
      videoCount: row.video_count,
      unreadableCount: row.unreadable_count,
      missingCount: row.missing_count,
      firstCapturedAt: row.first_captured_at,
      lastCapturedAt: row.last_captured_at,
    }));
  }
}
