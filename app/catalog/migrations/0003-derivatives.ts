import type { Database } from 'better-sqlite3';

/**
 * The media pipeline: each asset's placeholder (a thumbhash, base64) in its row so a grid paints before any
 * file loads, and its derivative jobs queued by trigger, so no writer of assets (import, add in place, the
 * folder watcher) can forget them and the job is committed with the asset or not at all. Jobs get an owner
 * and a lease, so several engine processes can share the queue and a crashed one's jobs are taken back.
 */
export function up(db: Database): void {
  db.exec(`
    ALTER TABLE assets ADD COLUMN thumbhash TEXT;

    ALTER TABLE jobs ADD COLUMN owner TEXT;
    ALTER TABLE jobs ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN finished_at INTEGER;
    CREATE INDEX jobs_kind_state ON jobs (kind, state);

    -- 'thumbs' makes what the grid needs (thumbnail, preview, placeholder; a video's poster), 'proxy' a video's
    -- 720p proxy: slower, so it waits behind every thumbnail.
    CREATE TRIGGER jobs_asset_insert AFTER INSERT ON assets BEGIN
      INSERT OR IGNORE INTO jobs (kind, asset_id, priority, state, created_at, updated_at)
        VALUES ('thumbs', new.id, 10, 'queued', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
      INSERT OR IGNORE INTO jobs (kind, asset_id, priority, state, created_at, updated_at)
        SELECT 'proxy', new.id, 0, 'queued', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        WHERE new.kind = 'video';
    END;

    INSERT OR IGNORE INTO jobs (kind, asset_id, priority, state, created_at, updated_at)
      SELECT 'thumbs', id, 10, 'queued', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM assets;
    INSERT OR IGNORE INTO jobs (kind, asset_id, priority, state, created_at, updated_at)
      SELECT 'proxy', id, 0, 'queued', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM assets WHERE kind = 'video';
  `);
}
