import type { Database, Statement } from 'better-sqlite3';
import type { AssetId, TagId } from '../shared/ids.ts';

/** The only place that reads and writes `tags` and `asset_tags`. */
export class TagsRepo {
  private readonly findStmt: Statement;
  private readonly insertStmt: Statement;
  private readonly linkStmt: Statement;

  constructor(private readonly db: Database) {
    this.findStmt = db.prepare('SELECT id FROM tags WHERE name = @name COLLATE NOCASE');
    this.insertStmt = db.prepare('INSERT INTO tags (name) VALUES (@name)');
    this.linkStmt = db.prepare('INSERT OR IGNORE INTO asset_tags (asset_id, tag_id) VALUES (@assetId, @tagId)');
  }

  /** The id of the tag with this name (any case), creating it if needed. */
  ensure(name: string): TagId {
    const clean = name.trim();
    const found = this.findStmt.get({ name: clean }) as { id: number } | undefined;
    if (found) return found.id as TagId;
    return Number(this.insertStmt.run({ name: clean }).lastInsertRowid) as TagId;
  }

  /** Tags an asset with each name (created as needed; repeats ignored). */
  tagAsset(assetId: AssetId, names: readonly string[]): void {
    for (const name of names) {
      if (name.trim() === '') continue;
      this.linkStmt.run({ assetId, tagId: this.ensure(name) });
    }
  }

  /** Removes a tag from an asset. */
  untagAsset(assetId: AssetId, name: string): void {
    this.db
      .prepare('DELETE FROM asset_tags WHERE asset_id = @assetId AND tag_id = (SELECT id FROM tags WHERE name = @name COLLATE NOCASE)')
      .run({ assetId, name });
  }

  /** The names of an asset's tags, sorted. */
  forAsset(assetId: AssetId): string[] {
    const rows = this.db
      .prepare('SELECT t.name FROM asset_tags at JOIN tags t ON t.id = at.tag_id WHERE at.asset_id = @assetId ORDER BY t.name')
      .all({ assetId }) as Array<{ name: string }>;
    return rows.map((row) => row.name);
  }

  /** Every tag with how many assets carry it. */
  list(): Array<{ id: TagId; name: string; count: number }> {
    return this.db
      .prepare(
        'SELECT t.id, t.name, count(at.asset_id) AS count FROM tags t LEFT JOIN asset_tags at ON at.tag_id = t.id GROUP BY t.id ORDER BY t.name',
      )
      .all() as Array<{ id: TagId; name: string; count: number }>;
  }
}
