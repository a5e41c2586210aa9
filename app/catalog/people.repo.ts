import type { Database, Statement } from 'better-sqlite3';
import { CONSENT_PURPOSES, type ConsentPurpose, type Person } from '../shared/domain.ts';
import type { AssetId, PersonId } from '../shared/ids.ts';

/** Fields of a person from a roster or the UI. */
export interface PersonFields {
  name: string;
  classGroup?: string | null;
  familyEmail?: string | null;
  remoteId?: string | null;
}

interface PersonRow {
  id: number;
  name: string;
  class_group: string | null;
  family_email: string | null;
  remote_id: string | null;
  granted: string | null;
}

function toPerson(row: PersonRow): Person {
  const granted = new Set((row.granted ?? '').split(',').filter(Boolean));
  const consent = Object.fromEntries(CONSENT_PURPOSES.map((purpose) => [purpose, granted.has(purpose)])) as Record<
    ConsentPurpose,
    boolean
  >;
  return {
    id: row.id as PersonId,
    name: row.name,
    classGroup: row.class_group,
    familyEmail: row.family_email,
    remoteId: row.remote_id,
    consent,
  };
}

const SELECT_PERSON = `
  SELECT p.id, p.name, p.class_group, p.family_email, p.remote_id,
    (SELECT group_concat(c.purpose) FROM consents c WHERE c.person_id = p.id AND c.granted = 1) AS granted
  FROM people p`;

/** The only place that reads and writes `people`, `consents` and `asset_people`. */
export class PeopleRepo {
  private readonly byId: Statement;
  private readonly byNameClass: Statement;

  constructor(private readonly db: Database) {
    this.byId = db.prepare(`${SELECT_PERSON} WHERE p.id = @id`);
    this.byNameClass = db.prepare(
      `${SELECT_PERSON} WHERE p.name = @name COLLATE NOCASE AND IFNULL(p.class_group, '') = IFNULL(@classGroup, '')`,
    );
  }

  /** Adds a person, or updates the one with the same name and class; returns it and whether it was new. */
  upsert(fields: PersonFields): { person: Person; created: boolean } {
    const existing = this.byNameClass.get({ name: fields.name, classGroup: fields.classGroup ?? null }) as PersonRow | undefined;
    const now = new Date().toISOString();
    if (existing) {
      this.db
        .prepare(
          `UPDATE people SET family_email = coalesce(@familyEmail, family_email), remote_id = coalesce(@remoteId, remote_id),
             updated_at = @now WHERE id = @id`,
        )
        .run({ id: existing.id, familyEmail: fields.familyEmail ?? null, remoteId: fields.remoteId ?? null, now });
      return { person: this.get(existing.id as PersonId)!, created: false };
    }
    const info = this.db
      .prepare(
        `INSERT INTO people (name, class_group, family_email, remote_id, created_at, updated_at)
         VALUES (@name, @classGroup, @familyEmail, @remoteId, @now, @now)`,
      )
      .run({
        name: fields.name,
        classGroup: fields.classGroup ?? null,
        familyEmail: fields.familyEmail ?? null,
        remoteId: fields.remoteId ?? null,
        now,
      });
    return { person: this.get(Number(info.lastInsertRowid) as PersonId)!, created: true };
  }

  /** The person with this id, or undefined. */
  get(id: PersonId): Person | undefined {
    const row = this.byId.get({ id }) as PersonRow | undefined;
    return row && toPerson(row);
  }

  /** People whose name matches (any case), across classes. */
  findByName(name: string): Person[] {
    return (this.db.prepare(`${SELECT_PERSON} WHERE p.name = @name COLLATE NOCASE ORDER BY p.class_group`).all({ name }) as PersonRow[]).map(
      toPerson,
    );
  }

  /** Everyone, by class then name. */
  list(): Person[] {
    return (this.db.prepare(`${SELECT_PERSON} ORDER BY p.class_group, p.name`).all() as PersonRow[]).map(toPerson);
  }

  /** Records a consent decision for one purpose, with who made it. */
  setConsent(id: PersonId, purpose: ConsentPurpose, granted: boolean, setBy: string | null): void {
    this.db
      .prepare(
        `INSERT INTO consents (person_id, purpose, granted, set_by, set_at) VALUES (@id, @purpose, @granted, @setBy, @now)
         ON CONFLICT (person_id, purpose) DO UPDATE SET granted = excluded.granted, set_by = excluded.set_by, set_at = excluded.set_at`,
      )
      .run({ id, purpose, granted: granted ? 1 : 0, setBy, now: new Date().toISOString() });
  }

  /** Tags an asset with a person. */
  tagAsset(assetId: AssetId, personId: PersonId): void {
    this.db.prepare('INSERT OR IGNORE INTO asset_people (asset_id, person_id) VALUES (@assetId, @personId)').run({ assetId, personId });
  }

  /** Removes a person from an asset. */
  untagAsset(assetId: AssetId, personId: PersonId): void {
    this.db.prepare('DELETE FROM asset_people WHERE asset_id = @assetId AND person_id = @personId').run({ assetId, personId });
  }

  /** The people tagged in an asset. */
  forAsset(assetId: AssetId): Person[] {
    return (
      this.db
        .prepare(`${SELECT_PERSON} JOIN asset_people ap ON ap.person_id = p.id WHERE ap.asset_id = @assetId ORDER BY p.name`)
        .all({ assetId }) as PersonRow[]
    ).map(toPerson);
  }
}
