import type { Database, Statement } from 'better-sqlite3';
import type { ImportItemState, ImportSession, ImportState } from '../shared/domain.ts';
import type { AssetId, ContentHash, EventId, ImportId } from '../shared/ids.ts';

/** One file of an import session as recorded in the catalog. */
export interface ImportItem {
  id: number;
  importId: ImportId;
  sourcePath: string;
  size: number;
  state: ImportItemState;
  hash: ContentHash | null;
  seq: number | null;
  destPath: string | null;
  assetId: AssetId | null;
  error: string | null;
}

interface SessionRow {
  id: number;
  source: string;
  event_id: number;
  rename_template: string;
  backup_dir: string | null;
  in_place: number;
  state: ImportState;
  started_at: string;
  finished_at: string | null;
  error: string | null;
}

interface ItemRow {
  id: number;
  import_id: number;
  source_path: string;
  size: number;
  state: ImportItemState;
  hash: string | null;
  seq: number | null;
  dest_path: string | null;
  asset_id: number | null;
  error: string | null;
}

function toSession(row: SessionRow): ImportSession {
  return {
    id: row.id as ImportId,
    source: row.source,
    eventId: row.event_id as EventId,
    renameTemplate: row.rename_template,
    backupDir: row.backup_dir,
    inPlace: row.in_place === 1,
    state: row.state,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    error: row.error,
  };
}

function toItem(row: ItemRow): ImportItem {
  return {
    id: row.id,
    importId: row.import_id as ImportId,
    sourcePath: row.source_path,
    size: row.size,
    state: row.state,
    hash: row.hash as ContentHash | null,
    seq: row.seq,
    destPath: row.dest_path,
    assetId: row.asset_id as AssetId | null,
    error: row.error,
  };
}

/** The only place that reads and writes `import_sessions` and `import_items`. */
export class ImportsRepo {
  private readonly itemUpdate: Statement;
  private readonly itemInsert: Statement;

  constructor(private readonly db: Database) {
    this.itemInsert = db.prepare(
      `INSERT OR IGNORE INTO import_items (import_id, source_path, size, state, updated_at)
       VALUES (@importId, @sourcePath, @size, 'pending', @now)`,
    );
    this.itemUpdate = db.prepare(
      `UPDATE import_items SET state = @state, hash = coalesce(@hash, hash), seq = coalesce(@seq, seq),
         dest_path = coalesce(@destPath, dest_path), asset_id = coalesce(@assetId, asset_id), error = @error, updated_at = @now
       WHERE id = @id`,
    );
  }

  /** Starts a session. */
  createSession(fields: {
    source: string;
    eventId: EventId;
    renameTemplate: string;
    backupDir: string | null;
    inPlace: boolean;
  }): ImportSession {
    const info = this.db
      .prepare(
        `INSERT INTO import_sessions (source, event_id, rename_template, backup_dir, in_place, state, started_at)
         VALUES (@source, @eventId, @renameTemplate, @backupDir, @inPlace, 'running', @now)`,
      )
      .run({ ...fields, inPlace: fields.inPlace ? 1 : 0, now: new Date().toISOString() });
    return this.getSession(Number(info.lastInsertRowid) as ImportId)!;
  }

  /** The session with this id, or undefined. */
  getSession(id: ImportId): ImportSession | undefined {
    const row = this.db.prepare('SELECT * FROM import_sessions WHERE id = @id').get({ id }) as SessionRow | undefined;
    return row && toSession(row);
  }

  /** The newest unfinished session of the same source into the same event: running it again resumes it. */
  findResumable(source: string, eventId: EventId): ImportSession | undefined {
    const row = this.db
      .prepare(
        `SELECT * FROM import_sessions WHERE source = @source AND event_id = @eventId AND state IN ('running', 'interrupted', 'cancelled')
         ORDER BY id DESC LIMIT 1`,
      )
      .get({ source, eventId }) as SessionRow | undefined;
    return row && toSession(row);
  }

  /** Sessions, newest first. */
  listSessions(limit = 20): ImportSession[] {
    return (this.db.prepare('SELECT * FROM import_sessions ORDER BY id DESC LIMIT @limit').all({ limit }) as SessionRow[]).map(toSession);
  }

  /** Sets a session's state; a final state records the finish time. */
  finishSession(id: ImportId, state: ImportState, error: string | null = null): void {
    this.db
      .prepare('UPDATE import_sessions SET state = @state, error = @error, finished_at = @finishedAt WHERE id = @id')
      .run({ id, state, error, finishedAt: state === 'running' ? null : new Date().toISOString() });
  }

  /** Records the files found in the source; files already recorded keep their state. */
  addItems(importId: ImportId, files: ReadonlyArray<{ sourcePath: string; size: number }>): void {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      for (const file of files) this.itemInsert.run({ importId, sourcePath: file.sourcePath, size: file.size, now });
    })();
  }

  /** Every item of a session, in source order. */
  items(importId: ImportId): ImportItem[] {
    return (
      this.db.prepare('SELECT * FROM import_items WHERE import_id = @importId ORDER BY source_path').all({ importId }) as ItemRow[]
    ).map(toItem);
  }

  /** Moves an item on; fields left undefined keep their value. */
  updateItem(
    id: number,
    change: { state: ImportItemState; hash?: ContentHash; seq?: number; destPath?: string; assetId?: AssetId; error?: string | null },
  ): void {
    this.itemUpdate.run({
      id,
      state: change.state,
      hash: change.hash ?? null,
      seq: change.seq ?? null,
      destPath: change.destPath ?? null,
      assetId: change.assetId ?? null,
      error: change.error ?? null,
      now: new Date().toISOString(),
    });
  }

  /** The highest sequence number handed out in a session (0 if none). */
  maxSeq(importId: ImportId): number {
    const row = this.db.prepare('SELECT max(seq) AS seq FROM import_items WHERE import_id = @importId').get({ importId }) as {
      seq: number | null;
    };
    return row.seq ?? 0;
  }

  /** Whether an item being copied, in any session, has reserved this destination. */
  isReserved(destPath: string): boolean {
    return this.db.prepare("SELECT 1 FROM import_items WHERE dest_path = @destPath AND state = 'copying'").get({ destPath }) !== undefined;
  }
}
