import type { Database } from 'better-sqlite3';

/** The first schema: library, events, assets, tags, people and consent, imports and jobs. */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE library (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      uuid TEXT NOT NULL,
      name TEXT NOT NULL,
      created_at TEXT NOT NULL
    );

    CREATE TABLE events (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      starts_on TEXT,
      ends_on TEXT,
      location TEXT,
      description TEXT,
      folder TEXT NOT NULL,
      remote_id TEXT,
      version INTEGER NOT NULL DEFAULT 1,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX events_name ON events (name COLLATE NOCASE);
    CREATE UNIQUE INDEX events_folder ON events (folder);
    CREATE UNIQUE INDEX events_remote_id ON events (remote_id) WHERE remote_id IS NOT NULL;

    CREATE TABLE assets (
      id INTEGER PRIMARY KEY,
      hash TEXT NOT NULL,
      event_id INTEGER REFERENCES events (id) ON DELETE SET NULL,
      path TEXT NOT NULL,
      original_name TEXT NOT NULL,
      size INTEGER NOT NULL,
      mtime_ms INTEGER NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('photo', 'raw', 'video')),
      mime TEXT NOT NULL,
      width INTEGER,
      height INTEGER,
      orientation INTEGER,
      duration_sec REAL,
      captured_at TEXT,
      capture_offset_min INTEGER,
      sort_time INTEGER NOT NULL,
      camera_make TEXT,
      camera_model TEXT,
      lens TEXT,
      gps_lat REAL,
      gps_lon REAL,
      gps_alt REAL,
      rating INTEGER NOT NULL DEFAULT 0 CHECK (rating BETWEEN 0 AND 5),
      flag TEXT NOT NULL DEFAULT 'none' CHECK (flag IN ('none', 'pick', 'reject')),
      color_label TEXT CHECK (color_label IN ('red', 'yellow', 'green', 'blue', 'purple')),
      title TEXT,
      description TEXT,
      status TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'unreadable', 'missing')),
      error TEXT,
      imported_at TEXT NOT NULL,
      updated_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX assets_hash ON assets (hash);
    CREATE INDEX assets_event_time ON assets (event_id, sort_time, id);
    CREATE INDEX assets_time ON assets (sort_time, id);
    CREATE INDEX assets_path ON assets (path);
    CREATE INDEX assets_size ON assets (size);

    CREATE TABLE sidecars (
      asset_id INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
      path TEXT NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('xmp', 'thm')),
      PRIMARY KEY (asset_id, kind)
    ) WITHOUT ROWID;

    CREATE TABLE tags (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL
    );
    CREATE UNIQUE INDEX tags_name ON tags (name COLLATE NOCASE);

    CREATE TABLE asset_tags (
      asset_id INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
      tag_id INTEGER NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
      PRIMARY KEY (asset_id, tag_id)
    ) WITHOUT ROWID;
    CREATE INDEX asset_tags_tag ON asset_tags (tag_id, asset_id);

    CREATE TABLE people (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      class_group TEXT,
      family_email TEXT,
      remote_id TEXT,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX people_name_class ON people (name COLLATE NOCASE, IFNULL(class_group, ''));
    CREATE UNIQUE INDEX people_remote_id ON people (remote_id) WHERE remote_id IS NOT NULL;

    -- A purpose with no row here is denied: consent is opt-in.
    CREATE TABLE consents (
      person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
      purpose TEXT NOT NULL CHECK (purpose IN ('publish', 'yearbook')),
      granted INTEGER NOT NULL CHECK (granted IN (0, 1)),
      set_by TEXT,
      set_at TEXT NOT NULL,
      PRIMARY KEY (person_id, purpose)
    ) WITHOUT ROWID;

    CREATE TABLE asset_people (
      asset_id INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
      person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
      PRIMARY KEY (asset_id, person_id)
    ) WITHOUT ROWID;
    CREATE INDEX asset_people_person ON asset_people (person_id, asset_id);

    CREATE TABLE import_sessions (
      id INTEGER PRIMARY KEY,
      source TEXT NOT NULL,
      event_id INTEGER NOT NULL REFERENCES events (id),
      rename_template TEXT NOT NULL,
      backup_dir TEXT,
      in_place INTEGER NOT NULL DEFAULT 0,
      state TEXT NOT NULL CHECK (state IN ('running', 'completed', 'cancelled', 'interrupted')),
      started_at TEXT NOT NULL,
      finished_at TEXT,
      error TEXT
    );
    CREATE INDEX import_sessions_resume ON import_sessions (source, event_id, state);

    CREATE TABLE import_items (
      id INTEGER PRIMARY KEY,
      import_id INTEGER NOT NULL REFERENCES import_sessions (id) ON DELETE CASCADE,
      source_path TEXT NOT NULL,
      size INTEGER NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('pending', 'copying', 'imported', 'duplicate', 'failed')),
      hash TEXT,
      seq INTEGER,
      dest_path TEXT,
      asset_id INTEGER REFERENCES assets (id) ON DELETE SET NULL,
      error TEXT,
      updated_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX import_items_source ON import_items (import_id, source_path);
    CREATE INDEX import_items_state ON import_items (import_id, state);
    CREATE INDEX import_items_dest ON import_items (dest_path) WHERE dest_path IS NOT NULL;

    CREATE TABLE jobs (
      id INTEGER PRIMARY KEY,
      kind TEXT NOT NULL,
      asset_id INTEGER REFERENCES assets (id) ON DELETE CASCADE,
      priority INTEGER NOT NULL DEFAULT 0,
      state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
      attempts INTEGER NOT NULL DEFAULT 0,
      next_run_at INTEGER NOT NULL DEFAULT 0,
      error TEXT,
      progress REAL NOT NULL DEFAULT 0,
      payload TEXT,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL
    );
    CREATE INDEX jobs_ready ON jobs (state, priority DESC, next_run_at, id);
    CREATE UNIQUE INDEX jobs_active ON jobs (kind, asset_id) WHERE state IN ('queued', 'running');
  `);
}
