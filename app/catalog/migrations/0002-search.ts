import type { Database } from 'better-sqlite3';

/**
 * Full-text search as a cache of the catalog: a contentless FTS5 index plus a queue of assets whose
 * search document must be rebuilt. Triggers fill the queue, so no writer can forget the index; the
 * search repository drains it before answering. The index tables (`search_fts`, `search_docs`,
 * `search_terms`) belong to `search.repo.ts`, which drops and recreates them whenever its
 * `search_version` in `meta` differs, so their definition here is only the first one.
 */
export function up(db: Database): void {
  db.exec(`
    CREATE TABLE meta (
      key TEXT PRIMARY KEY,
      value TEXT NOT NULL
    ) WITHOUT ROWID;

    -- rowid is a time key (sort_time * 64 + slot), so FTS5 returns matches newest first by itself; facets holds
    -- tokens for the structured filters (e<event id>, t<tag id>, p<person id>, minority ratings, flags, kinds, statuses).
    CREATE VIRTUAL TABLE search_fts USING fts5 (
      event, title, description, tags, people, file_name, camera, facets,
      content = '',
      contentless_delete = 1,
      tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TABLE search_docs (
      doc_key INTEGER PRIMARY KEY,
      asset_id INTEGER NOT NULL UNIQUE
    );
    CREATE TABLE search_terms (term TEXT PRIMARY KEY) WITHOUT ROWID;

    CREATE TABLE search_dirty (asset_id INTEGER PRIMARY KEY);
    INSERT INTO search_dirty (asset_id) SELECT id FROM assets;

    CREATE TRIGGER search_asset_insert AFTER INSERT ON assets BEGIN
      INSERT OR IGNORE INTO search_dirty (asset_id) VALUES (new.id);
    END;
    CREATE TRIGGER search_asset_update
      AFTER UPDATE OF event_id, path, original_name, title, description, camera_make, camera_model, lens,
        sort_time, rating, flag, kind, status ON assets
    BEGIN
      INSERT OR IGNORE INTO search_dirty (asset_id) VALUES (new.id);
    END;
    CREATE TRIGGER search_asset_delete AFTER DELETE ON assets BEGIN
      INSERT OR IGNORE INTO search_dirty (asset_id) VALUES (old.id);
    END;
    CREATE TRIGGER search_asset_tag_insert AFTER INSERT ON asset_tags BEGIN
      INSERT OR IGNORE INTO search_dirty (asset_id) VALUES (new.asset_id);
    END;
    CREATE TRIGGER search_asset_tag_delete AFTER DELETE ON asset_tags BEGIN
      INSERT OR IGNORE INTO search_dirty (asset_id) VALUES (old.asset_id);
    END;
    CREATE TRIGGER search_asset_person_insert AFTER INSERT ON asset_people BEGIN
      INSERT OR IGNORE INTO search_dirty (asset_id) VALUES (new.asset_id);
    END;
    CREATE TRIGGER search_asset_person_delete AFTER DELETE ON asset_people BEGIN
      INSERT OR IGNORE INTO search_dirty (asset_id) VALUES (old.asset_id);
    END;
    CREATE TRIGGER search_tag_rename AFTER UPDATE OF name ON tags BEGIN
      INSERT OR IGNORE INTO search_dirty (asset_id) SELECT asset_id FROM asset_tags WHERE tag_id = new.id;
    END;
    CREATE TRIGGER search_person_rename AFTER UPDATE OF name ON people BEGIN
      INSERT OR IGNORE INTO search_dirty (asset_id) SELECT asset_id FROM asset_people WHERE person_id = new.id;
    END;
    CREATE TRIGGER search_event_rename AFTER UPDATE OF name ON events BEGIN
      INSERT OR IGNORE INTO search_dirty (asset_id) SELECT id FROM assets WHERE event_id = new.id;
    END;
  `);
}
