import type { Database } from 'better-sqlite3';
import type { AssetId, EventId } from '../shared/ids.ts';

/** Lightroom-style publish state of an asset in its event. */
export type PublishState = 'new' | 'modified' | 'published' | 'deleted' | 'blocked';

export interface Publication {
  assetId: AssetId;
  eventId: EventId;
  state: PublishState;
  originals: boolean;
  reason: string | null;
  publishedAt: string | null;
}

/** An object we put in the bucket. */
export interface RemoteObject {
  key: string;
  assetId: AssetId | null;
  eventId: EventId | null;
  variant: string;
  hash: string;
  size: number;
  etag: string | null;
  storageClass: string | null;
  uploadedAt: string;
}

/** A multipart upload in flight. */
export interface UploadRecord {
  id: number;
  key: string;
  file: string;
  size: number;
  hash: string;
  uploadId: string;
  partSize: number;
  checksum: 'crc32' | 'md5';
  createdAt: string;
}

/** A part the store acknowledged. */
export interface PartRecord {
  partNumber: number;
  size: number;
  etag: string;
  md5: string;
  crc32: string | null;
}

const now = () => new Date().toISOString();

/** Publications, the objects in the bucket and the multipart uploads in flight. */
export class CloudRepo {
  constructor(private readonly db: Database) {}

  // --- publications ---------------------------------------------------------------------------

  getPublication(assetId: AssetId): Publication | undefined {
    const row = this.db.prepare('SELECT * FROM publications WHERE asset_id = ?').get(assetId) as PublicationRow | undefined;
    return row && toPublication(row);
  }

  publicationsOf(eventId: EventId): Publication[] {
    return (this.db.prepare('SELECT * FROM publications WHERE event_id = ? ORDER BY asset_id').all(eventId) as PublicationRow[]).map(toPublication);
  }

  /** Sets an asset's publish state (creating its row), with the reason when it is held back. */
  setPublication(assetId: AssetId, eventId: EventId, state: PublishState, fields: { originals?: boolean; reason?: string | null } = {}): void {
    const time = now();
    this.db
      .prepare(
        `INSERT INTO publications (asset_id, event_id, state, originals, reason, published_at, updated_at)
         VALUES (@assetId, @eventId, @state, @originals, @reason, CASE WHEN @state = 'published' THEN @time END, @time)
         ON CONFLICT (asset_id) DO UPDATE SET event_id = excluded.event_id, state = excluded.state,
           originals = coalesce(@originalsSet, publications.originals), reason = excluded.reason,
           published_at = CASE WHEN excluded.state = 'published' THEN @time ELSE publications.published_at END, updated_at = @time`,
      )
      .run({
        assetId,
        eventId,
        state,
        originals: fields.originals ? 1 : 0,
        originalsSet: fields.originals === undefined ? null : fields.originals ? 1 : 0,
        reason: fields.reason ?? null,
        time,
      });
  }

  /** Marks an asset published unless it was unpublished (or edited again) while it was being sent. */
  markPublished(assetId: AssetId, reason: string | null): boolean {
    const time = now();
    return (
      this.db
        .prepare(
          `UPDATE publications SET state = 'published', reason = @reason, published_at = @time, updated_at = @time
           WHERE asset_id = @assetId AND state IN ('new', 'modified')`,
        )
        .run({ assetId, reason, time }).changes === 1
    );
  }

  /** Who, tagged in an asset, has not granted consent to publish (consent is opt-in: no row is no). */
  withoutPublishConsent(assetId: AssetId): Array<{ name: string; classGroup: string | null; denied: boolean }> {
    return (
      this.db
        .prepare(
          `SELECT p.name, p.class_group AS classGroup, c.granted IS NOT NULL AS denied
           FROM asset_people ap JOIN people p ON p.id = ap.person_id
           LEFT JOIN consents c ON c.person_id = p.id AND c.purpose = 'publish'
           WHERE ap.asset_id = ? AND coalesce(c.granted, 0) = 0 ORDER BY p.name`,
        )
        .all(assetId) as Array<{ name: string; classGroup: string | null; denied: number }>
    ).map((row) => ({ ...row, denied: row.denied === 1 }));
  }

  /** Queues the rewrite of an event's manifest, once: a manifest already queued will see every change. */
  queueManifest(eventId: EventId, delayMs = 250): void {
    const time = now();
    const payload = JSON.stringify({ eventId });
    this.db
      .prepare(
        `INSERT INTO jobs (kind, asset_id, priority, state, next_run_at, payload, created_at, updated_at)
         SELECT 'manifest', NULL, 1, 'queued', @runAt, @payload, @time, @time
         WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE kind = 'manifest' AND state = 'queued' AND payload = @payload)`,
      )
      .run({ runAt: Date.now() + delayMs, payload, time });
  }

  /** Publish jobs of an event's assets still queued or running. */
  pendingPublishJobs(eventId: EventId): number {
    return (
      this.db
        .prepare(
          `SELECT count(*) AS n FROM jobs j JOIN publications p ON p.asset_id = j.asset_id
           WHERE j.kind = 'publish' AND j.state IN ('queued', 'running') AND p.event_id = ?`,
        )
        .get(eventId) as { n: number }
    ).n;
  }

  /** The state of a job, for a handler that must notice a cancel from another process. */
  jobState(jobId: number): string | undefined {
    return (this.db.prepare('SELECT state FROM jobs WHERE id = ?').get(jobId) as { state: string } | undefined)?.state;
  }

  deletePublication(assetId: AssetId): void {
    this.db.prepare('DELETE FROM publications WHERE asset_id = ?').run(assetId);
  }

  /** Publish states of an event, counted. */
  publicationCounts(eventId: EventId): Record<PublishState, number> {
    const counts: Record<PublishState, number> = { new: 0, modified: 0, published: 0, deleted: 0, blocked: 0 };
    for (const row of this.db.prepare('SELECT state, count(*) AS n FROM publications WHERE event_id = ? GROUP BY state').all(eventId) as Array<{ state: PublishState; n: number }>) {
      counts[row.state] = row.n;
    }
    return counts;
  }

  // --- remote objects -------------------------------------------------------------------------

  getObject(key: string): RemoteObject | undefined {
    const row = this.db.prepare('SELECT * FROM remote_objects WHERE key = ?').get(key) as RemoteObjectRow | undefined;
    return row && toRemoteObject(row);
  }

  objectsOfAsset(assetId: AssetId): RemoteObject[] {
    return (this.db.prepare('SELECT * FROM remote_objects WHERE asset_id = ? ORDER BY key').all(assetId) as RemoteObjectRow[]).map(toRemoteObject);
  }

  objectsOfEvent(eventId: EventId): RemoteObject[] {
    return (this.db.prepare('SELECT * FROM remote_objects WHERE event_id = ? ORDER BY key').all(eventId) as RemoteObjectRow[]).map(toRemoteObject);
  }

  putObject(object: Omit<RemoteObject, 'uploadedAt'>): void {
    this.db
      .prepare(
        `INSERT INTO remote_objects (key, asset_id, event_id, variant, hash, size, etag, storage_class, uploaded_at)
         VALUES (@key, @assetId, @eventId, @variant, @hash, @size, @etag, @storageClass, @time)
         ON CONFLICT (key) DO UPDATE SET asset_id = excluded.asset_id, event_id = excluded.event_id, variant = excluded.variant,
           hash = excluded.hash, size = excluded.size, etag = excluded.etag, storage_class = excluded.storage_class, uploaded_at = excluded.uploaded_at`,
      )
      .run({ ...object, time: now() });
  }

  deleteObjects(keys: readonly string[]): void {
    const stmt = this.db.prepare('DELETE FROM remote_objects WHERE key = ?');
    this.db.transaction(() => keys.forEach((key) => stmt.run(key)))();
  }

  /** Bytes and objects in the bucket, as far as this library put them there. */
  storedTotals(): { objects: number; bytes: number } {
    return this.db.prepare('SELECT count(*) AS objects, coalesce(sum(size), 0) AS bytes FROM remote_objects').get() as { objects: number; bytes: number };
  }

  // --- multipart uploads ----------------------------------------------------------------------

  getUpload(key: string): UploadRecord | undefined {
    const row = this.db.prepare('SELECT * FROM uploads WHERE key = ?').get(key) as UploadRow | undefined;
    return row && toUpload(row);
  }

  listUploads(): Array<UploadRecord & { partsDone: number; bytesDone: number }> {
    const rows = this.db
      .prepare(
        `SELECT u.*, count(p.part_number) AS parts_done, coalesce(sum(p.size), 0) AS bytes_done
         FROM uploads u LEFT JOIN upload_parts p ON p.upload = u.id GROUP BY u.id ORDER BY u.id`,
      )
      .all() as Array<UploadRow & { parts_done: number; bytes_done: number }>;
    return rows.map((row) => ({ ...toUpload(row), partsDone: row.parts_done, bytesDone: row.bytes_done }));
  }

  createUpload(upload: Omit<UploadRecord, 'id' | 'createdAt'>): UploadRecord {
    const time = now();
    const row = this.db
      .prepare(
        `INSERT INTO uploads (key, file, size, hash, upload_id, part_size, checksum, created_at, updated_at)
         VALUES (@key, @file, @size, @hash, @uploadId, @partSize, @checksum, @time, @time) RETURNING *`,
      )
      .get({ ...upload, time }) as UploadRow;
    return toUpload(row);
  }

  deleteUpload(id: number): void {
    this.db.prepare('DELETE FROM uploads WHERE id = ?').run(id);
  }

  partsOf(id: number): PartRecord[] {
    return this.db
      .prepare('SELECT part_number AS partNumber, size, etag, md5, crc32 FROM upload_parts WHERE upload = ? ORDER BY part_number')
      .all(id) as PartRecord[];
  }

  /** Records a part the store acknowledged: one statement, so it is there whole or not at all. */
  addPart(id: number, part: PartRecord): void {
    this.db
      .prepare('INSERT OR REPLACE INTO upload_parts (upload, part_number, size, etag, md5, crc32) VALUES (@id, @partNumber, @size, @etag, @md5, @crc32)')
      .run({ id, ...part });
  }

  removePart(id: number, partNumber: number): void {
    this.db.prepare('DELETE FROM upload_parts WHERE upload = ? AND part_number = ?').run(id, partNumber);
  }

  /** The upload is complete: its object is recorded and its parts forgotten, in one transaction. */
  finishUpload(id: number, object: Omit<RemoteObject, 'uploadedAt'>): void {
    this.db.transaction(() => {
      this.deleteUpload(id);
      this.putObject(object);
    })();
  }
}

interface PublicationRow {
  asset_id: number;
  event_id: number;
  state: PublishState;
  originals: number;
  reason: string | null;
  published_at: string | null;
}

function toPublication(row: PublicationRow): Publication {
  return {
    assetId: row.asset_id as AssetId,
    eventId: row.event_id as EventId,
    state: row.state,
    originals: row.originals === 1,
    reason: row.reason,
    publishedAt: row.published_at,
  };
}

interface RemoteObjectRow {
  key: string;
  asset_id: number | null;
  event_id: number | null;
  variant: string;
  hash: string;
  size: number;
  etag: string | null;
  storage_class: string | null;
  uploaded_at: string;
}

function toRemoteObject(row: RemoteObjectRow): RemoteObject {
  return {
    key: row.key,
    assetId: row.asset_id as AssetId | null,
    eventId: row.event_id as EventId | null,
    variant: row.variant,
    hash: row.hash,
    size: row.size,
    etag: row.etag,
    storageClass: row.storage_class,
    uploadedAt: row.uploaded_at,
  };
}

interface UploadRow {
  id: number;
  key: string;
  file: string;
  size: number;
  hash: string;
  upload_id: string;
  part_size: number;
  checksum: 'crc32' | 'md5';
  created_at: string;
}

function toUpload(row: UploadRow): UploadRecord {
  return {
    id: row.id,
    key: row.key,
    file: row.file,
    size: row.size,
    hash: row.hash,
    uploadId: row.upload_id,
    partSize: row.part_size,
    checksum: row.checksum,
    createdAt: row.created_at,
  };
}
