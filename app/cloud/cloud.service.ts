import type { LifecycleRule } from '@aws-sdk/client-s3';
import { EventEmitter } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { backupCatalog, defaultBackupDir, DEFAULT_BACKUPS_KEPT } from '../catalog/backups.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { UploadRecord } from '../catalog/cloud.repo.ts';
import { syncDirectory, tempPathFor } from '../fs/durable-files.ts';
import { createContentHasher } from '../ingest/content-hash.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import type { DerivativeService } from '../media/derivatives/derivative.service.ts';
import { AppError } from '../shared/errors.ts';
import { cliCredentials, type CredentialsProvider } from './credentials.ts';
import { ObjectStore, StoreError, VARIANT_TAG } from './object-store.ts';
import { Publisher, type GallerySink, type QuotaReserver } from './publisher.ts';
import { loadCloudSettings, requireCloudSettings, saveCloudSettings, type CloudSettings } from './settings.ts';
import { Uploader, type UploaderOptions, type UploadProgress } from './uploader.ts';

const PAUSED_KEY = 'uploads.paused';
/** Multipart uploads nobody here tracks are aborted once this old (the lifecycle rule's 7 days, by default). */
export const STALE_UPLOAD_MS = 7 * 24 * 3600 * 1000;

/** The connection to the bucket, built once the library has cloud settings. */
export interface CloudConnection {
  settings: CloudSettings;
  store: ObjectStore;
  uploader: Uploader;
}

/** Events of a {@link CloudService}: the uploads' progress, for the UI and the CLI. */
export interface CloudServiceEvents {
  progress: [UploadProgress];
  offline: [string];
  online: [];
}

/** What `keepsake uploads` shows. */
export interface UploadsStatus {
  configured: boolean;
  paused: boolean;
  queue: { queued: number; running: number; failed: number; done: number; cancelled: number };
  inFlight: Array<{ key: string; bytes: number; bytesDone: number; parts: number; partsDone: number; since: string }>;
  /** `id`: the failed job, for {@link CloudService.retryFailed}. */
  failures: Array<{ id: number; assetId: number | null; path: string | null; error: string | null }>;
  stored: { objects: number; bytes: number };
}

export interface CloudServiceOptions {
  catalog: Catalog;
  libraryRoot: string;
  derivatives: DerivativeService;
  credentials?: CredentialsProvider;
  quota?: QuotaReserver | null;
  gallery?: GallerySink | null;
  log?: Logger;
  /** Overrides of the stored settings for this process (the CLI's `--limit-kbps`). */
  overrides?: Partial<CloudSettings>;
  /** Passed to the uploader (tests shorten the backoff). */
  uploader?: Pick<UploaderOptions, 'maxRetries' | 'backoffMs' | 'offlineProbeMs'>;
}

/**
 * Everything of the engine that talks to the bucket: settings, the uploader, publishing, pause/resume/
 * cancel across processes, stale uploads, lifecycle rules and catalog backups.
 */
export class CloudService extends EventEmitter<CloudServiceEvents> {
  readonly publisher: Publisher;
  private readonly catalog: Catalog;
  private readonly libraryRoot: string;
  private credentials: CredentialsProvider;
  private readonly log: Logger;
  private readonly overrides: Partial<CloudSettings>;
  private readonly uploaderOptions: CloudServiceOptions['uploader'];
  private connectionValue: CloudConnection | null = null;
  private runner: { cancel(kind: string): void } | null = null;

  constructor(options: CloudServiceOptions) {
    super();
    this.catalog = options.catalog;
    this.libraryRoot = options.libraryRoot;
    this.credentials = options.credentials ?? cliCredentials(undefined);
    this.log = options.log ?? createLogger('cloud');
    this.overrides = { ...options.overrides };
    this.uploaderOptions = options.uploader;
    this.publisher = new Publisher({
      catalog: options.catalog,
      libraryRoot: options.libraryRoot,
      derivatives: options.derivatives,
      cloud: () => this.connection(),
      quota: options.quota ?? null,
      gallery: options.gallery ?? null,
      log: this.log.child('publish'),
    });
  }

  /** The job runner of this process, so a cancel here stops its uploads at once (others notice through their leases). */
  attachRunner(runner: { cancel(kind: string): void }): void {
    this.runner = runner;
  }

  /** Whether the library has cloud settings. */
  get configured(): boolean {
    return loadCloudSettings(this.catalog.library) !== null;
  }

  /** The settings in force: the stored ones with this process's overrides. */
  settings(): CloudSettings {
    return { ...requireCloudSettings(this.catalog.library), ...this.overrides };
  }

  /** Changes the stored settings; the next connection uses them. */
  configure(changes: Partial<CloudSettings>): CloudSettings {
    const saved = saveCloudSettings(this.catalog.library, changes);
    this.closeConnection();
    return saved;
  }

  /** Publishes through the school's sync service from now on (after a sign-in), or the bucket alone (null). */
  attachSchool(school: (QuotaReserver & GallerySink) | null): void {
    this.publisher.link(school);
  }

  /**
   * Sets the bandwidth limit (KB/s, null for none) and applies it to the uploads in flight at once: the
   * connection is kept, so no request is cut. A limit this process was started with (`--limit-kbps`) yields.
   */
  setLimit(kbps: number | null): CloudSettings {
    const saved = saveCloudSettings(this.catalog.library, { limitKbps: kbps });
    delete this.overrides.limitKbps;
    this.connectionValue?.uploader.throttle.setRate(kbps === null ? null : kbps * 1000);
    return saved;
  }

  /**
   * Queues again the uploads that failed for good or were cancelled; with `ids` (of {@link UploadsStatus}'
   * failures), only those that failed for good: other ids are ignored. Returns how many.
   */
  retryFailed(ids?: readonly number[]): number {
    return (['publish', 'manifest'] as const).reduce((n, kind) => n + this.catalog.jobs.retryFailed(kind, ids ?? null), 0);
  }

  /** The provider of the store's access key in force. */
  get credentialsProvider(): CredentialsProvider {
    return this.credentials;
  }

  /** Takes the store's access key from `provider` from now on (a key entered in the desktop's settings). */
  useCredentials(provider: CredentialsProvider): void {
    this.credentials = provider;
    this.closeConnection();
  }

  /** Where the store's access key comes from, for the settings screen (never the key itself). */
  get credentialsSource(): string {
    return this.credentials.source;
  }

  /** The store and uploader, built on first use. */
  connection(): CloudConnection {
    if (this.connectionValue) return this.connectionValue;
    const settings = this.settings();
    const store = new ObjectStore(settings, this.credentials);
    const uploader = new Uploader({
      store,
      catalog: this.catalog,
      settings,
      log: this.log.child('uploads'),
      isPaused: () => this.catalog.library.getMeta(PAUSED_KEY) === '1',
      ...this.uploaderOptions,
    });
    uploader.on('progress', (progress) => this.emit('progress', progress));
    uploader.on('offline', (error) => this.emit('offline', error.message));
    uploader.on('online', () => this.emit('online'));
    uploader.on('checksums-off', () => {
      // Remembered, so the next run does not ask the store again.
      if (!this.overrides.checksums) saveCloudSettings(this.catalog.library, { checksums: 'off' });
    });
    this.connectionValue = { settings, store, uploader };
    return this.connectionValue;
  }

  /** Checks that the bucket is reachable with these credentials; a clear error otherwise. */
  async check(signal?: AbortSignal): Promise<void> {
    await this.connection().store.check(signal);
  }

  /** Pauses the uploads of every engine on this library (they finish the request in flight). */
  pause(): void {
    this.catalog.library.setMeta(PAUSED_KEY, '1');
  }

  resume(): void {
    this.catalog.library.setMeta(PAUSED_KEY, '0');
  }

  get paused(): boolean {
    return this.catalog.library.getMeta(PAUSED_KEY) === '1';
  }

  /**
   * Cancels every queued and running upload: their jobs are cancelled (an engine running one notices at its
   * next part, or when its lease is renewed), and the multipart uploads in flight are aborted on the store.
   * Publish states stay `new`/`modified`, so the next publish sends them.
   */
  async cancel(signal?: AbortSignal): Promise<{ jobs: number; aborted: number }> {
    const before = this.catalog.jobs.countsByKind();
    const jobs = (['publish', 'manifest'] as const).reduce((n, kind) => n + (before[kind]?.queued ?? 0) + (before[kind]?.running ?? 0), 0);
    for (const kind of ['publish', 'manifest']) {
      if (this.runner) this.runner.cancel(kind);
      else this.catalog.jobs.cancel(kind);
    }
    let aborted = 0;
    for (const upload of this.catalog.cloud.listUploads()) {
      await this.abortTracked(upload, signal);
      aborted += 1;
    }
    return { jobs, aborted };
  }

  /**
   * Aborts the bucket's multipart uploads under the school's prefix that no engine here tracks and that
   * are older than `olderThanMs` (a crash between starting an upload and recording it leaves such orphans;
   * they cost storage until aborted).
   */
  async abortStaleUploads(options: { olderThanMs?: number; now?: number; signal?: AbortSignal } = {}): Promise<number> {
    const { store, settings } = this.connection();
    const tracked = new Set(this.catalog.cloud.listUploads().map((u) => u.uploadId));
    const cutoff = (options.now ?? Date.now()) - (options.olderThanMs ?? STALE_UPLOAD_MS);
    let aborted = 0;
    for (const upload of await store.listMultipartUploads(`schools/${settings.school}/`, options.signal)) {
      if (tracked.has(upload.uploadId)) continue;
      if (upload.initiated && upload.initiated.getTime() > cutoff) continue;
      await store.abortMultipart(upload.key, upload.uploadId, options.signal);
      this.log.info('aborted a stale multipart upload', { key: upload.key, uploadId: upload.uploadId, initiated: upload.initiated?.toISOString() });
      aborted += 1;
    }
    return aborted;
  }

  /** The uploads' state from the catalog, for any process (the CLI's `uploads`, the desktop's queue). */
  status(): UploadsStatus {
    const configured = this.configured;
    const counts = this.catalog.jobs.countsByKind();
    const queue = { queued: 0, running: 0, failed: 0, done: 0, cancelled: 0 };
    for (const kind of ['publish', 'manifest']) {
      const c = counts[kind];
      if (!c) continue;
      for (const state of Object.keys(queue) as Array<keyof typeof queue>) queue[state] += c[state];
    }
    return {
      configured,
      paused: this.paused,
      queue,
      inFlight: this.catalog.cloud.listUploads().map((u) => ({
        key: u.key,
        bytes: u.size,
        bytesDone: u.bytesDone,
        parts: Math.ceil(u.size / u.partSize),
        partsDone: u.partsDone,
        since: u.createdAt,
      })),
      failures: this.catalog.jobs
        .listFailed({ limit: 20 })
        .filter((f) => f.kind === 'publish' || f.kind === 'manifest')
        .map((f) => ({ id: f.id, assetId: f.assetId, path: f.path, error: f.error })),
      stored: this.catalog.cloud.storedTotals(),
    };
  }

  /**
   * Lifecycle rules for the school's prefix: originals (tagged at upload) move to `archiveClass` after
   * `archiveAfterDays`, and incomplete multipart uploads are aborted after 7 days. Replaces the bucket's
   * lifecycle configuration. A store without lifecycle support gets a clear `unsupported` error.
   */
  async applyLifecycle(options: { archiveAfterDays: number; archiveClass?: string; signal?: AbortSignal }): Promise<LifecycleRule[]> {
    const { store, settings } = this.connection();
    const rules = lifecycleRules(settings.school, options.archiveAfterDays, options.archiveClass ?? 'GLACIER');
    try {
      await store.putLifecycle(rules, options.signal);
    } catch (error) {
      if (error instanceof StoreError && (error.status === 501 || /NotImplemented/.test(error.message))) {
        throw new AppError('unsupported-media', `This store does not support lifecycle rules (${error.message}). Set them in the store's own console, or skip them.`);
      }
      throw error;
    }
    return rules;
  }

  // --- catalog backups ----------------------------------------------------------------------------

  /** Prefix of this library's catalog backups in the bucket. */
  backupPrefix(): string {
    const { settings } = this.connection();
    const uuid = this.catalog.library.get()?.uuid ?? 'library';
    return `schools/${settings.school}/backups/${uuid}/`;
  }

  /**
   * Takes an online backup of the catalog (SQLite's backup API), uploads it verified, and keeps the last
   * `keep` backups in the bucket (older ones are deleted).
   */
  async backupToCloud(options: { keep?: number; signal?: AbortSignal; now?: Date } = {}): Promise<{ key: string; bytes: number; deleted: string[] }> {
    const { store, uploader } = this.connection();
    const local = await backupCatalog(this.catalog, defaultBackupDir(this.libraryRoot), { ...(options.now ? { now: options.now } : {}) });
    const key = `${this.backupPrefix()}${path.basename(local.file)}`;
    const fingerprint = await uploader.fingerprint(local.file, options.signal);
    await uploader.upload({ file: local.file, key, fingerprint, contentType: 'application/vnd.sqlite3', assetId: null, eventId: null, variant: 'catalog-backup', signal: options.signal });
    const keep = options.keep ?? DEFAULT_BACKUPS_KEPT;
    const all = (await store.list(this.backupPrefix(), options.signal)).map((o) => o.key).sort().reverse();
    const deleted = all.slice(keep);
    if (deleted.length > 0) {
      await store.delete(deleted, options.signal);
      this.catalog.cloud.deleteObjects(deleted);
    }
    return { key, bytes: fingerprint.size, deleted };
  }

  /** This library's catalog backups in the bucket, newest first. */
  async listCloudBackups(signal?: AbortSignal): Promise<Array<{ key: string; size: number }>> {
    const { store } = this.connection();
    return (await store.list(this.backupPrefix(), signal)).map((o) => ({ key: o.key, size: o.size })).sort((a, b) => b.key.localeCompare(a.key));
  }

  /**
   * Downloads a backup (the newest unless `key` is given) into `dir`, checking its bytes against the hash
   * it was uploaded with. Returns the local file, ready for {@link restoreCatalog}.
   */
  async downloadBackup(dir: string, options: { key?: string; signal?: AbortSignal } = {}): Promise<string> {
    const { store } = this.connection();
    const key = options.key ?? (await this.listCloudBackups(options.signal))[0]?.key;
    if (!key) throw new AppError('not-found', `No catalog backup of this library in the bucket (under ${this.backupPrefix()}).`);
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, path.basename(key));
    const temp = tempPathFor(file);
    const { body, hash } = await store.get(key, options.signal);
    const hasher = await createContentHasher();
    try {
      await pipeline(
        body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hasher.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(temp, { flush: true }),
        options.signal ? { signal: options.signal } : {},
      );
      if (hash === null || hasher.digest('hex') !== hash) {
        throw new AppError('corrupt-media', `The backup ${key} in the bucket does not match the hash it was uploaded with; it was not restored.`);
      }
      await rename(temp, file);
      await syncDirectory(dir);
      return file;
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  close(): void {
    this.closeConnection();
  }

  private async abortTracked(upload: UploadRecord, signal?: AbortSignal): Promise<void> {
    const { store } = this.connection();
    await store.abortMultipart(upload.key, upload.uploadId, signal);
    this.catalog.cloud.deleteUpload(upload.id);
  }

  private closeConnection(): void {
    this.connectionValue?.store.close();
    this.connectionValue = null;
  }
}

/** The lifecycle rules {@link CloudService.applyLifecycle} puts on the bucket. */
export function lifecycleRules(school: string, archiveAfterDays: number, archiveClass: string): LifecycleRule[] {
  if (!Number.isInteger(archiveAfterDays) || archiveAfterDays < 1) throw new AppError('invalid-input', 'Archive originals after a whole number of days, at least 1.');
  const prefix = `schools/${school}/`;
  return [
    {
      ID: 'keepsake-archive-originals',
      Status: 'Enabled',
      Filter: { And: { Prefix: prefix, Tags: [{ Key: VARIANT_TAG, Value: 'original' }] } },
      Transitions: [{ Days: archiveAfterDays, StorageClass: archiveClass as never }],
    },
    {
      ID: 'keepsake-abort-incomplete-uploads',
      Status: 'Enabled',
      Filter: { Prefix: prefix },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
    },
  ];
}
