import { randomUUID } from 'node:crypto';
import type { Database } from 'better-sqlite3';

/** The library's identity, stored in its own catalog. */
export interface LibraryInfo {
  uuid: string;
  name: string;
  createdAt: string;
}

/** The only place that reads and writes `library` and `meta`. */
export class LibraryRepo {
  constructor(private readonly db: Database) {}

  /** The library's identity, created on first use. */
  ensure(name: string): LibraryInfo {
    const found = this.get();
    if (found) return found;
    this.db
      .prepare('INSERT INTO library (id, uuid, name, created_at) VALUES (1, @uuid, @name, @now)')
      .run({ uuid: randomUUID(), name, now: new Date().toISOString() });
    return this.get()!;
  }

  /** The library's identity, if it was ever set. */
  get(): LibraryInfo | undefined {
    return this.db.prepare('SELECT uuid, name, created_at AS createdAt FROM library WHERE id = 1').get() as LibraryInfo | undefined;
  }

  /** A value from the key/value `meta` table. */
  getMeta(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = @key').get({ key }) as { value: string } | undefined;
    return row?.value;
  }

  /** Sets a value in the key/value `meta` table. */
  setMeta(key: string, value: string): void {
    this.db
      .prepare('INSERT INTO meta (key, value) VALUES (@key, @value) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
      .run({ key, value });
  }
}
