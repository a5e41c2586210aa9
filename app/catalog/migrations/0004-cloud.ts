import type { Database } from 'better-sqlite3';

const NOW = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;

/**
 * Publishing to an S3-compatible store.
 *
 * - `publications`: what of each event is published, Lightroom-style: an asset is `new` (to send),
 *   `modified` (sent, changed since), `published`, `deleted` (its remote objects are to be removed) or
 *   `blocked` (held back, with the reason: a person without publish consent, a missing file).
 * - `remote_objects`: every object we put in the bucket, with the hash of the bytes sent, so the same
 *   bytes are never sent twice and an unpublish knows what to delete. It outlives its asset on purpose.
 * - `uploads` / `upload_parts`: multipart uploads in flight. A part's row is written when the store has
 *   acknowledged it, so after a crash only the missing parts are sent again.
 *
 * Triggers keep the publish state honest whoever writes: an edit of what a gallery shows (rating, flag,
 * title, caption, time, tags), a re-made derivative or a change of consent marks a published asset
 * `modified` and queues its re-publish.
 */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE publications (
      asset_id INTEGER PRIMARY KEY REFERENCES assets (id) ON DELETE CASCADE,
      event_id INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
      state TEXT NOT NULL CHECK (state IN ('new', 'modified', 'published', 'deleted', 'blocked')),
      originals INTEGER NOT NULL DEFAULT 0 CHECK (originals IN (0, 1)),
      reason TEXT,
      published_at TEXT,
      updated_at TEXT NOT NULL
    );
    CREATE INDEX publications_event ON publications (event_id, state);

    CREATE TABLE remote_objects (
      key TEXT PRIMARY KEY,
      asset_id INTEGER,
      event_id INTEGER,
      variant TEXT NOT NULL,
      hash TEXT NOT NULL,
      size INTEGER NOT NULL,
      etag TEXT,
      storage_class TEXT,
      uploaded_at TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX remote_objects_asset ON remote_objects (asset_id);
    CREATE INDEX remote_objects_event ON remote_objects (event_id);

    CREATE TABLE uploads (
      id INTEGER PRIMARY KEY,
      key TEXT NOT NULL,
      file TEXT NOT NULL,
      size INTEGER NOT NULL,
      hash TEXT NOT NULL,
      upload_id TEXT NOT NULL,
      part_size INTEGER NOT NULL,
      checksum TEXT NOT NULL CHECK (checksum IN ('crc32', 'md5')),
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX uploads_key ON uploads (key);

    CREATE TABLE upload_parts (
      upload INTEGER NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
      part_number INTEGER NOT NULL,
      size INTEGER NOT NULL,
      etag TEXT NOT NULL,
      md5 TEXT NOT NULL,
      crc32 TEXT,
      PRIMARY KEY (upload, part_number)
    ) WITHOUT ROWID;

    CREATE TRIGGER publications_modified AFTER UPDATE OF state ON publications
      WHEN new.state = 'modified' AND old.state <> 'modified' BEGIN
      INSERT OR IGNORE INTO jobs (kind, asset_id, priority, state, next_run_at, created_at, updated_at)
        VALUES ('publish', new.asset_id, 5, 'queued', 0, ${NOW}, ${NOW});
    END;

    CREATE TRIGGER assets_publish_edit AFTER UPDATE OF rating, flag, color_label, title, description, captured_at, sort_time, thumbhash
      ON assets BEGIN
      UPDATE publications SET state = 'modified', updated_at = ${NOW} WHERE asset_id = new.id AND state = 'published';
    END;
    CREATE TRIGGER asset_tags_publish_insert AFTER INSERT ON asset_tags BEGIN
      UPDATE publications SET state = 'modified', updated_at = ${NOW} WHERE asset_id = new.asset_id AND state = 'published';
    END;
    CREATE TRIGGER asset_tags_publish_delete AFTER DELETE ON asset_tags BEGIN
      UPDATE publications SET state = 'modified', updated_at = ${NOW} WHERE asset_id = old.asset_id AND state = 'published';
    END;
    -- Tagging a person may withdraw an asset (no consent); untagging may release a blocked one.
    CREATE TRIGGER asset_people_publish_insert AFTER INSERT ON asset_people BEGIN
      UPDATE publications SET state = 'modified', updated_at = ${NOW} WHERE asset_id = new.asset_id AND state = 'published';
    END;
    CREATE TRIGGER consents_publish_change AFTER UPDATE ON consents WHEN new.purpose = 'publish' BEGIN
      UPDATE publications SET state = 'modified', updated_at = ${NOW}
        WHERE state = 'published' AND asset_id IN (SELECT asset_id FROM asset_people WHERE person_id = new.person_id);
    END;
    CREATE TRIGGER consents_publish_delete AFTER DELETE ON consents WHEN old.purpose = 'publish' BEGIN
      UPDATE publications SET state = 'modified', updated_at = ${NOW}
        WHERE state = 'published' AND asset_id IN (SELECT asset_id FROM asset_people WHERE person_id = old.person_id);
    END;
    -- A derivative made again (the thumbnail job re-ran, the proxy was rebuilt) may have new bytes.
    CREATE TRIGGER jobs_derivative_done_publish AFTER UPDATE OF state ON jobs
      WHEN new.state = 'done' AND old.state <> 'done' AND new.kind IN ('thumbs', 'proxy') AND new.asset_id IS NOT NULL BEGIN
      UPDATE publications SET state = 'modified', updated_at = ${NOW} WHERE asset_id = new.asset_id AND state = 'published';
    END;
  `);
}
