import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import type { Catalog } from '../catalog/catalog.ts';
import type { PartRecord, UploadRecord } from '../catalog/cloud.repo.ts';
import { createContentHasher, readHashed } from '../ingest/content-hash.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { AppError, toAppError } from '../shared/errors.ts';
import type { AssetId, EventId } from '../shared/ids.ts';
import { isMd5Etag, StoreError, type ObjectStore, type RequestBody } from './object-store.ts';
import { MIN_PART_SIZE, partSizeFor, type CloudSettings } from './settings.ts';
import { Throttle, throttledBody } from './throttle.ts';

const MiB = 1024 * 1024;
// A file up to this size goes in one PutObject (and is read into memory once); larger ones go in parts.
const SINGLE_PUT_MAX = 64 * MiB;
const DEFAULT_PART_SIZE = 16 * MiB;
const PROGRESS_INTERVAL_MS = 250;
const RATE_WINDOW_MS = 5000;

/**
 * A file's identity for publishing: our hash (the dedup key and object metadata) and the MD5s S3 checks:
 * of the whole file when it goes in one request, else of each part (so no byte is hashed twice).
 */
export interface Fingerprint {
  hash: string;
  size: number;
  /** MD5 of the whole file, for a file sent in one PutObject; null for one sent in parts. */
  md5: string | null;
  /** For a file sent in parts: the part size and each part's MD5. */
  partSize: number | null;
  partMd5s: string[] | null;
}

/** The largest file sent in one PutObject for a preferred part size. */
export function singlePutLimit(preferredPartSize: number): number {
  return Math.min(SINGLE_PUT_MAX, Math.max(preferredPartSize, MIN_PART_SIZE));
}

/**
 * Reads a file once for its hash and the MD5s its upload will need (see {@link Fingerprint}).
 * `preferredPartSize` must be the uploader's (the default is the settings' default, 16 MiB).
 */
export async function fingerprintFile(file: string, options: { preferredPartSize?: number; signal?: AbortSignal } = {}): Promise<Fingerprint> {
  const preferred = options.preferredPartSize ?? DEFAULT_PART_SIZE;
  let expected: number;
  try {
    expected = (await stat(file)).size;
  } catch (error) {
    throw toAppError(error, file);
  }
  const whole = expected <= singlePutLimit(preferred);
  const partSize = whole ? null : partSizeFor(expected, preferred);
  const partMd5s: string[] = [];
  let md5 = createHash('md5');
  let inPart = 0;
  const { hash, size } = await readHashed(file, {
    ...(options.signal ? { signal: options.signal } : {}),
    onChunk: (chunk) => {
      if (partSize === null) {
        md5.update(chunk);
        return;
      }
      let offset = 0;
      while (offset < chunk.length) {
        const take = Math.min(chunk.length - offset, partSize - inPart);
        md5.update(chunk.subarray(offset, offset + take));
        offset += take;
        inPart += take;
        if (inPart === partSize) {
          partMd5s.push(md5.digest('hex'));
          md5 = createHash('md5');
          inPart = 0;
        }
      }
    },
  });
  if (size !== expected) throw new AppError('conflict', `${file} changed size while it was being read; it will be read again.`);
  if (partSize !== null && inPart > 0) partMd5s.push(md5.digest('hex'));
  return { hash, size, md5: partSize === null ? md5.digest('hex') : null, partSize, partMd5s: partSize === null ? null : partMd5s };
}

/** One file to put in the bucket. */
export interface UploadRequest {
  file: string;
  key: string;
  fingerprint: Fingerprint;
  contentType: string;
  /** For the catalog's record of the object. */
  assetId: AssetId | null;
  eventId: EventId | null;
  variant: string;
  storageClass?: string | undefined;
  contentDisposition?: string | undefined;
  tags?: Record<string, string> | undefined;
  signal?: AbortSignal | undefined;
  /** Checked before each part: true stops the upload with a `cancelled` error (the parts sent stay for a resume). */
  cancelled?: () => boolean;
}

/** What became of an upload. */
export interface UploadResult {
  /** `unchanged`: the catalog knows the bucket has these bytes; `present`: the store had them (another desktop, a crash after completion). */
  outcome: 'uploaded' | 'unchanged' | 'present';
  key: string;
  bytesSent: number;
  /** Parts sent in this call (0 for a single PutObject), and parts found already on the store. */
  partsSent: number;
  partsResumed: number;
  /** How the bytes were verified. */
  verifiedBy: 'etag-md5' | 'multipart-etag' | 'parts' | 'read-back' | 'metadata';
}

/** Progress of the uploads in this process: per file and overall. */
export interface UploadProgress {
  files: Array<{ key: string; bytes: number; total: number }>;
  bytesSent: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
  /** Bytes per second over the last few seconds. */
  rate: number;
  etaSec: number | null;
  paused: boolean;
  offline: boolean;
}

export interface UploaderEvents {
  progress: [UploadProgress];
  offline: [StoreError];
  online: [];
  /** The store rejected flexible checksums; they are off from now on. */
  'checksums-off': [string];
}

export interface UploaderOptions {
  store: ObjectStore;
  catalog: Catalog;
  settings: Pick<CloudSettings, 'concurrency' | 'limitKbps' | 'partSizeMiB' | 'checksums'>;
  log?: Logger;
  /** Retries of a request failing with a temporary error (default 6), with exponential backoff and jitter from `backoffMs` (default 1 s). */
  maxRetries?: number;
  backoffMs?: number;
  /** First wait between reachability probes while offline (default 2 s, doubling to 30 s). */
  offlineProbeMs?: number;
  /** Asked before each request: another process may have paused the uploads. */
  isPaused?: () => boolean;
}

/**
 * Puts files in an S3-compatible bucket, verified and resumable. A file up to 64 MiB goes in one
 * PutObject; a larger one in parts of at least the configured size (raised so it fits in 10,000 parts).
 * Every part's acknowledgement is written to the catalog as it arrives, so after a crash the upload goes
 * on: ListParts is reconciled with the catalog and only the missing parts are sent. Every request carries
 * Content-MD5 (and CRC32 when the store takes it); every part's ETag is checked against its MD5, and the
 * finished object against its size, our hash in its metadata and its multipart ETag, or by reading it back.
 */
export class Uploader extends EventEmitter<UploaderEvents> {
  private readonly store: ObjectStore;
  private readonly catalog: Catalog;
  private readonly log: Logger;
  private readonly preferredPartSize: number;
  private checksums: boolean;
  private readonly maxRetries: number;
  private readonly backoffMs: number;
  private readonly offlineProbeMs: number;
  private readonly isPausedExternally: () => boolean;
  private readonly slots: Semaphore;
  // A part holds its bytes in memory from read to acknowledgement: this bounds them to concurrency × part size.
  private readonly partSlots: Semaphore;
  private readonly buffers = new BufferPool();
  readonly throttle: Throttle;
  private pausedHere = false;
  private offlineWait: Promise<void> | null = null;
  private readonly active = new Map<string, { bytes: number; total: number }>();
  private bytesSent = 0;
  // What crossed the network in this process: bytesSent without the parts a resumed upload found on the store.
  // The rate is measured on it, so a resume does not look like a burst of speed.
  private bytesMoved = 0;
  private bytesTotal = 0;
  private filesDone = 0;
  private filesTotal = 0;
  private readonly samples: Array<{ at: number; bytes: number }> = [];
  private lastEmit = 0;

  constructor(options: UploaderOptions) {
    super();
    this.store = options.store;
    this.catalog = options.catalog;
    this.log = options.log ?? createLogger('uploads');
    this.preferredPartSize = options.settings.partSizeMiB * MiB;
    this.checksums = options.settings.checksums === 'auto';
    this.maxRetries = options.maxRetries ?? 6;
    this.backoffMs = options.backoffMs ?? 1000;
    this.offlineProbeMs = options.offlineProbeMs ?? 2000;
    this.isPausedExternally = options.isPaused ?? (() => false);
    this.slots = new Semaphore(options.settings.concurrency);
    this.partSlots = new Semaphore(options.settings.concurrency);
    this.throttle = new Throttle(options.settings.limitKbps === null ? null : options.settings.limitKbps * 1000);
  }

  /** Stops starting requests (those in flight finish); {@link resume} goes on. */
  pause(): void {
    this.pausedHere = true;
    this.emitProgress(true);
  }

  resume(): void {
    this.pausedHere = false;
    this.emitProgress(true);
  }

  get paused(): boolean {
    return this.pausedHere || this.isPausedExternally();
  }

  /** Whether flexible checksums are still sent. */
  get checksumsOn(): boolean {
    return this.checksums;
  }

  /** Adds work to the overall totals so the ETA covers a whole publish run, not the current file. */
  expect(files: number, bytes: number): void {
    this.filesTotal += files;
    this.bytesTotal += bytes;
  }

  /** Takes planned work off the totals (a file that turned out not to need sending). */
  unexpect(files: number, bytes: number): void {
    this.filesTotal = Math.max(0, this.filesTotal - files);
    this.bytesTotal = Math.max(0, this.bytesTotal - bytes);
  }

  /** The fingerprint of a file as this uploader will send it (whole-file or per-part MD5s). */
  fingerprint(file: string, signal?: AbortSignal): Promise<Fingerprint> {
    return fingerprintFile(file, { preferredPartSize: this.preferredPartSize, ...(signal ? { signal } : {}) });
  }

  /** Uploads one file; see the class comment. Throws an AppError (`cancelled`, `network`, `unauthorized`, …) when it cannot. */
  async upload(request: UploadRequest): Promise<UploadResult> {
    const { key, fingerprint } = request;
    const known = this.catalog.cloud.getObject(key);
    if (known && known.hash === fingerprint.hash && known.size === fingerprint.size && !this.catalog.cloud.getUpload(key)) {
      return { outcome: 'unchanged', key, bytesSent: 0, partsSent: 0, partsResumed: 0, verifiedBy: 'metadata' };
    }
    if (!this.catalog.cloud.getUpload(key)) {
      const head = await this.retrying(`${key}`, (signal) => this.store.head(key, signal), request);
      if (head && head.hash === fingerprint.hash && head.size === fingerprint.size) {
        this.record(request, head.etag);
        return { outcome: 'present', key, bytesSent: 0, partsSent: 0, partsResumed: 0, verifiedBy: 'metadata' };
      }
    }
    this.active.set(key, { bytes: 0, total: fingerprint.size });
    try {
      const whole = fingerprint.size <= singlePutLimit(this.preferredPartSize);
      const md5 = fingerprint.md5 ?? (whole ? (await fingerprintFile(request.file, { preferredPartSize: this.preferredPartSize })).md5 : null);
      const result = whole && md5 !== null ? await this.putWhole(request, md5) : await this.putInParts(request);
      this.filesDone += 1;
      return result;
    } finally {
      this.active.delete(key);
      this.emitProgress(true);
    }
  }

  // --- single PutObject ---------------------------------------------------------------------------

  private async putWhole(request: UploadRequest, md5: string): Promise<UploadResult> {
    const { key, fingerprint } = request;
    const bytes = await readRange(request.file, 0, fingerprint.size);
    let sent = 0;
    const etag = await this.withChecksumFallback(async (useCrc) => {
      const out = await this.retrying(
        key,
        (signal) => {
          sent = 0;
          const body = this.bodyFor(bytes, md5, useCrc ? crc32Base64(bytes) : null, key, (n) => (sent += n), signal);
          return this.store.put(key, body, this.objectOptions(request, useCrc), signal);
        },
        request,
        () => this.unsend(key, sent),
      );
      return out.etag;
    });
    let verifiedBy: UploadResult['verifiedBy'] = 'etag-md5';
    if (isMd5Etag(etag)) {
      if (etag !== md5) {
        // Either the file changed after it was fingerprinted, or the bytes were damaged on the way.
        const changed = createHash('md5').update(bytes).digest('hex') !== md5;
        const error = await this.rejectStored(request, `the store's ETag ${etag} is not the MD5 ${md5} of the file`);
        throw changed ? changedWhileReading(request) : error;
      }
    } else {
      await this.readBack(request);
      verifiedBy = 'read-back';
    }
    this.record(request, etag);
    return { outcome: 'uploaded', key, bytesSent: fingerprint.size, partsSent: 0, partsResumed: 0, verifiedBy };
  }

  // --- multipart ----------------------------------------------------------------------------------

  private async putInParts(request: UploadRequest, restarts = 0): Promise<UploadResult> {
    const { key, fingerprint } = request;
    let record = this.catalog.cloud.getUpload(key);
    if (record && (record.hash !== fingerprint.hash || record.size !== fingerprint.size)) {
      // The file is not the one this upload was started for: its parts are worthless.
      await this.retrying(key, (signal) => this.store.abortMultipart(key, record!.uploadId, signal), request);
      this.catalog.cloud.deleteUpload(record.id);
      record = undefined;
    }
    let partsResumed = 0;
    if (record) {
      try {
        partsResumed = await this.reconcile(record, request);
      } catch (error) {
        if (!(error instanceof StoreError && error.failure === 'no-such-upload')) throw error;
        this.log.warn('multipart upload gone from the store; starting again', { key, uploadId: record.uploadId });
        this.catalog.cloud.deleteUpload(record.id);
        record = undefined;
      }
    }
    if (!record) record = await this.startUpload(request);

    const partCount = Math.ceil(fingerprint.size / record.partSize);
    const done = new Set(this.catalog.cloud.partsOf(record.id).map((p) => p.partNumber));
    const missing: number[] = [];
    for (let n = 1; n <= partCount; n += 1) if (!done.has(n)) missing.push(n);
    const progress = this.active.get(key)!;
    progress.bytes = this.catalog.cloud.partsOf(record.id).reduce((sum, p) => sum + p.size, 0);
    this.bytesSent += progress.bytes;

    const partsToSend = missing.length;
    try {
      await Promise.all(Array.from({ length: Math.min(missing.length, this.slots.size) }, () => this.partWorker(record, request, missing)));
      await this.complete(record, request);
    } catch (error) {
      if (error instanceof StoreError && error.failure === 'no-such-upload' && restarts < 2) {
        this.log.warn('multipart upload gone from the store; starting again', { key, uploadId: record.uploadId });
        this.catalog.cloud.deleteUpload(record.id);
        this.bytesSent -= progress.bytes;
        return this.putInParts(request, restarts + 1);
      }
      if (error instanceof StoreError && error.failure === 'checksum-unsupported' && restarts < 2) {
        // The store took CreateMultipartUpload with a checksum algorithm but refuses it on the parts.
        this.turnChecksumsOff(error.message);
        await this.retrying(key, (signal) => this.store.abortMultipart(key, record.uploadId, signal), request);
        this.catalog.cloud.deleteUpload(record.id);
        this.bytesSent -= progress.bytes;
        return this.putInParts(request, restarts + 1);
      }
      throw error;
    }
    const verifiedBy = await this.verifyComplete(record, request);
    this.catalog.cloud.finishUpload(record.id, this.objectRow(request, null));
    return { outcome: 'uploaded', key, bytesSent: fingerprint.size, partsSent: partsToSend, partsResumed, verifiedBy };
  }

  private async startUpload(request: UploadRequest): Promise<UploadRecord> {
    const { key, fingerprint } = request;
    const partSize = partSizeFor(fingerprint.size, this.preferredPartSize);
    return this.withChecksumFallback(async (useCrc) => {
      const uploadId = await this.retrying(key, (signal) => this.store.createMultipart(key, this.objectOptions(request, useCrc), signal), request);
      return this.catalog.cloud.createUpload({ key, file: request.file, size: fingerprint.size, hash: fingerprint.hash, uploadId, partSize, checksum: useCrc ? 'crc32' : 'md5' });
    });
  }

  /**
   * Makes the catalog agree with the store: a part the catalog has but the store lost is sent again; a part
   * the store has but the catalog missed (a crash between the store's answer and our write) is kept when
   * its ETag is the MD5 of the file's bytes at that place. Returns how many parts are already there.
   */
  private async reconcile(record: UploadRecord, request: UploadRequest): Promise<number> {
    const listed = await this.retrying(request.key, (signal) => this.store.listParts(request.key, record.uploadId, signal), request);
    const onStore = new Map(listed.map((p) => [p.partNumber, p]));
    const recorded = new Map(this.catalog.cloud.partsOf(record.id).map((p) => [p.partNumber, p]));
    for (const [n, part] of recorded) {
      const there = onStore.get(n);
      if (!there || there.etag !== part.etag) this.catalog.cloud.removePart(record.id, n);
    }
    for (const [n, there] of onStore) {
      if (recorded.has(n)) continue;
      const offset = (n - 1) * record.partSize;
      const length = Math.min(record.partSize, record.size - offset);
      if (length <= 0 || there.size !== length) continue;
      const bytes = await readRange(request.file, offset, length);
      const md5 = createHash('md5').update(bytes).digest('hex');
      if (md5 === there.etag) {
        this.catalog.cloud.addPart(record.id, { partNumber: n, size: length, etag: there.etag, md5, crc32: record.checksum === 'crc32' ? crc32Base64(bytes) : null });
      }
    }
    return this.catalog.cloud.partsOf(record.id).length;
  }

  private async partWorker(record: UploadRecord, request: UploadRequest, queue: number[]): Promise<void> {
    for (;;) {
      const partNumber = queue.shift();
      if (partNumber === undefined) return;
      await this.sendPart(record, request, partNumber);
    }
  }

  private async sendPart(record: UploadRecord, request: UploadRequest, partNumber: number): Promise<void> {
    await this.whilePaused(request);
    const release = await this.partSlots.acquire(request.signal);
    try {
      await this.sendPartHoldingSlot(record, request, partNumber);
    } finally {
      release();
    }
  }

  private async sendPartHoldingSlot(record: UploadRecord, request: UploadRequest, partNumber: number): Promise<void> {
    const { key, fingerprint } = request;
    const offset = (partNumber - 1) * record.partSize;
    const length = Math.min(record.partSize, record.size - offset);
    const buffer = this.buffers.take(record.partSize);
    try {
      const bytes = await readRange(request.file, offset, length, buffer);
      const known = fingerprint.partSize === record.partSize ? fingerprint.partMd5s?.[partNumber - 1] : undefined;
      const md5 = known ?? createHash('md5').update(bytes).digest('hex');
      const crc = record.checksum === 'crc32' ? crc32Base64(bytes) : null;
      for (let attempt = 1; ; attempt += 1) {
        let sent = 0;
        const out = await this.retrying(
          `${key} part ${partNumber}`,
          (signal) => {
            sent = 0;
            const body = this.bodyFor(bytes, md5, crc, key, (n) => (sent += n), signal);
            return this.store.uploadPart(key, record.uploadId, partNumber, body, crc !== null, signal);
          },
          request,
          () => this.unsend(key, sent),
        );
        if (out.etag === null || !isMd5Etag(out.etag) || out.etag === md5) {
          this.catalog.cloud.addPart(record.id, { partNumber, size: length, etag: out.etag ?? md5, md5, crc32: crc });
          return;
        }
        this.unsend(key, sent);
        if (createHash('md5').update(bytes).digest('hex') !== md5) throw changedWhileReading(request);
        if (attempt >= 3) throw new StoreError('retry', 'network', `${key} part ${partNumber}: the store's ETag is not the MD5 of the bytes sent.`, undefined);
      }
    } finally {
      this.buffers.give(buffer);
    }
  }

  private async complete(record: UploadRecord, request: UploadRequest): Promise<void> {
    const parts = this.catalog.cloud.partsOf(record.id);
    try {
      await this.retrying(`${request.key}`, (signal) => this.store.completeMultipart(request.key, record.uploadId, parts, signal), request);
    } catch (error) {
      if (!(error instanceof StoreError && error.failure === 'no-such-upload')) throw error;
      // Completed before a crash that came before our record of it? Then the object is there, whole.
      const head = await this.retrying(request.key, (signal) => this.store.head(request.key, signal), request);
      if (!(head && head.hash === request.fingerprint.hash && head.size === request.fingerprint.size)) throw error;
    }
  }

  private async verifyComplete(record: UploadRecord, request: UploadRequest): Promise<UploadResult['verifiedBy']> {
    const head = await this.retrying(request.key, (signal) => this.store.head(request.key, signal), request);
    if (!head) throw await this.rejectStored(request, 'the completed object is not on the store');
    if (head.size !== request.fingerprint.size) throw await this.rejectStored(request, `the store holds ${head.size} bytes, not ${request.fingerprint.size}`);
    if (head.hash !== request.fingerprint.hash) throw await this.rejectStored(request, 'the object lost its hash metadata');
    const parts = this.catalog.cloud.partsOf(record.id);
    if (head.etag === multipartEtag(parts)) return 'multipart-etag';
    // A store whose object ETag is not S3's (s3rver gives the whole file's MD5): every part's ETag was the
    // MD5 the store computed over the bytes it kept, and the size and part list are right.
    if (parts.every((p) => p.etag === p.md5)) return 'parts';
    // Not an ETag we can check (encrypted with KMS, or a store with its own scheme): read it back.
    await this.readBack(request);
    return 'read-back';
  }

  private async readBack(request: UploadRequest): Promise<void> {
    const hasher = await createContentHasher();
    let size = 0;
    await this.retrying(
      request.key,
      async (signal) => {
        hasher.init();
        size = 0;
        const { body } = await this.store.get(request.key, signal);
        for await (const chunk of body) {
          hasher.update(chunk as Buffer);
          size += (chunk as Buffer).length;
        }
      },
      request,
    );
    if (size !== request.fingerprint.size || hasher.digest('hex') !== request.fingerprint.hash) {
      throw await this.rejectStored(request, 'the bytes read back are not the bytes sent');
    }
  }

  /** The store holds something other than what we sent: delete it and fail the upload (it will be retried). */
  private async rejectStored(request: UploadRequest, why: string): Promise<StoreError> {
    this.log.error('upload failed verification', { key: request.key, why });
    await this.store.delete([request.key]).catch(() => undefined);
    const record = this.catalog.cloud.getUpload(request.key);
    if (record) this.catalog.cloud.deleteUpload(record.id);
    return new StoreError('retry', 'network', `${request.key}: ${why}; it was removed from the store and will be sent again.`, undefined);
  }

  // --- requests -----------------------------------------------------------------------------------

  /**
   * Runs one store request in a request slot: waits while paused, retries temporary failures with
   * exponential backoff and jitter, and waits out a lost network without spending retries.
   */
  private async retrying<T>(what: string, run: (signal: AbortSignal | undefined) => Promise<T>, request: UploadRequest, onFailedAttempt?: () => void): Promise<T> {
    let failures = 0;
    for (;;) {
      await this.whilePaused(request);
      const signal = request.signal;
      const release = await this.slots.acquire(signal);
      if (this.paused) {
        // Paused while it waited for a slot (other requests ahead of it): it waits again, without the slot.
        release();
        continue;
      }
      let outcome: { ok: true; value: T } | { ok: false; error: unknown };
      try {
        outcome = { ok: true, value: await run(signal) };
      } catch (error) {
        outcome = { ok: false, error };
      } finally {
        release();
      }
      if (outcome.ok) return outcome.value;
      onFailedAttempt?.();
      const error = outcome.error;
      if (signal?.aborted) throw new AppError('cancelled', `${what}: cancelled.`);
      if (!(error instanceof StoreError)) throw toAppError(error, what);
      if (error.failure === 'offline') {
        // One dropped connection is not a lost network: if the store answers at once, retry as usual.
        if (this.offlineWait || !(await this.reachable())) {
          await this.waitOnline(error, signal);
          continue;
        }
      }
      if (error.failure === 'retry' || error.failure === 'bad-digest' || error.failure === 'offline') {
        failures += 1;
        if (failures > this.maxRetries) throw error;
        const delay = this.backoffMs * 2 ** (failures - 1) * (0.5 + Math.random());
        this.log.warn('store request failed; retrying', { what, error: error.message, attempt: failures, delayMs: Math.round(delay) });
        await sleep(delay, undefined, signal ? { signal } : undefined).catch(() => undefined);
        continue;
      }
      throw error;
    }
  }

  private async whilePaused(request: UploadRequest): Promise<void> {
    for (;;) {
      if (request.cancelled?.()) throw new AppError('cancelled', `${request.key}: the upload was cancelled.`);
      request.signal?.throwIfAborted();
      if (!this.paused) return;
      this.emitProgress();
      await sleep(500, undefined, request.signal ? { signal: request.signal } : undefined).catch(() => undefined);
    }
  }

  private async reachable(): Promise<boolean> {
    try {
      await this.store.check();
      return true;
    } catch (probe) {
      return !(probe instanceof StoreError && (probe.failure === 'offline' || probe.failure === 'retry'));
    }
  }

  /** One probe loop for every request that found the network gone; resolves when the store answers again. */
  private waitOnline(error: StoreError, signal: AbortSignal | undefined): Promise<void> {
    if (!this.offlineWait) {
      this.log.warn('store unreachable; waiting for the network', { error: error.message });
      this.emit('offline', error);
      this.emitProgress(true);
      this.offlineWait = (async () => {
        let delay = this.offlineProbeMs;
        for (;;) {
          await sleep(delay);
          try {
            await this.store.check();
            break;
          } catch (probe) {
            if (!(probe instanceof StoreError && probe.failure === 'offline') && !(probe instanceof StoreError && probe.failure === 'retry')) break;
          }
          delay = Math.min(30_000, delay * 2);
        }
        this.offlineWait = null;
        this.log.info('store reachable again');
        this.emit('online');
        this.emitProgress(true);
      })();
    }
    const wait = this.offlineWait;
    if (!signal) return wait;
    return Promise.race([wait, new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(new AppError('cancelled', 'cancelled')), { once: true }))]);
  }

  private async withChecksumFallback<T>(run: (useCrc: boolean) => Promise<T>): Promise<T> {
    const useCrc = this.checksums;
    try {
      return await run(useCrc);
    } catch (error) {
      if (!(useCrc && error instanceof StoreError && error.failure === 'checksum-unsupported')) throw error;
      this.turnChecksumsOff(error.message);
      return run(false);
    }
  }

  private turnChecksumsOff(why: string): void {
    if (!this.checksums) return;
    this.checksums = false;
    this.log.warn('store rejects flexible checksums; using Content-MD5 and ETag checks only', { why });
    this.emit('checksums-off', why);
  }

  private bodyFor(bytes: Buffer, md5Hex: string, crc: string | null, key: string, onSent: (n: number) => void, signal: AbortSignal | undefined): RequestBody {
    return {
      body: throttledBody(
        bytes,
        this.throttle,
        (n) => {
          onSent(n);
          this.sent(key, n);
        },
        signal,
      ),
      length: bytes.length,
      md5Base64: Buffer.from(md5Hex, 'hex').toString('base64'),
      crc32Base64: crc,
    };
  }

  private objectOptions(request: UploadRequest, useCrc: boolean) {
    return {
      contentType: request.contentType,
      hash: request.fingerprint.hash,
      storageClass: request.storageClass,
      contentDisposition: request.contentDisposition,
      tags: request.tags,
      crc32: useCrc,
    };
  }

  private objectRow(request: UploadRequest, etag: string | null) {
    return {
      key: request.key,
      assetId: request.assetId,
      eventId: request.eventId,
      variant: request.variant,
      hash: request.fingerprint.hash,
      size: request.fingerprint.size,
      etag,
      storageClass: request.storageClass ?? null,
    };
  }

  private record(request: UploadRequest, etag: string | null): void {
    this.catalog.cloud.putObject(this.objectRow(request, etag));
  }

  // --- progress -----------------------------------------------------------------------------------

  private sent(key: string, n: number): void {
    const file = this.active.get(key);
    if (file) file.bytes += n;
    this.bytesSent += n;
    this.bytesMoved += n;
    this.samples.push({ at: performance.now(), bytes: this.bytesMoved });
    this.emitProgress();
  }

  private unsend(key: string, n: number): void {
    const file = this.active.get(key);
    if (file) file.bytes -= n;
    this.bytesSent -= n;
    this.bytesMoved -= n;
  }

  /** A snapshot of the uploads of this process. */
  progress(): UploadProgress {
    const now = performance.now();
    while (this.samples.length > 2 && this.samples[0]!.at < now - RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const rate = first && last && last.at > first.at ? ((last.bytes - first.bytes) / (last.at - first.at)) * 1000 : 0;
    const left = Math.max(0, this.bytesTotal - this.bytesSent);
    return {
      files: [...this.active].map(([key, f]) => ({ key, bytes: f.bytes, total: f.total })),
      bytesSent: this.bytesSent,
      bytesTotal: Math.max(this.bytesTotal, this.bytesSent),
      filesDone: this.filesDone,
      filesTotal: Math.max(this.filesTotal, this.filesDone),
      rate,
      etaSec: rate > 0 ? left / rate : null,
      paused: this.paused,
      offline: this.offlineWait !== null,
    };
  }

  private emitProgress(force = false): void {
    const now = performance.now();
    if (!force && now - this.lastEmit < PROGRESS_INTERVAL_MS) return;
    this.lastEmit = now;
    this.emit('progress', this.progress());
  }
}

/** S3's multipart ETag: the MD5 of the parts' binary MD5s, then `-` and the number of parts. */
export function multipartEtag(parts: readonly Pick<PartRecord, 'partNumber' | 'md5'>[]): string {
  const md5 = createHash('md5');
  for (const part of [...parts].sort((a, b) => a.partNumber - b.partNumber)) md5.update(Buffer.from(part.md5, 'hex'));
  return `${md5.digest('hex')}-${parts.length}`;
}

function crc32Base64(bytes: Buffer): string {
  const value = crc32(bytes);
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out.toString('base64');
}

async function readRange(file: string, offset: number, length: number, into?: Buffer): Promise<Buffer> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw toAppError(error, file);
  }
  try {
    const bytes = into ? into.subarray(0, length) : Buffer.allocUnsafe(length);
    let read = 0;
    while (read < length) {
      const { bytesRead } = await handle.read(bytes, read, length - read, offset + read);
      if (bytesRead === 0) throw new AppError('conflict', `${file} became shorter while it was being published.`);
      read += bytesRead;
    }
    return bytes;
  } catch (error) {
    throw toAppError(error, file);
  } finally {
    await handle.close();
  }
}

function changedWhileReading(request: UploadRequest): AppError {
  return new AppError('conflict', `${request.file} changed while it was being published; it will be read again.`);
}

/** Part buffers reused from part to part (allocating 16 MiB per part costs garbage collection and memory). */
class BufferPool {
  private free: Buffer[] = [];

  take(size: number): Buffer {
    const i = this.free.findIndex((b) => b.length === size);
    if (i >= 0) return this.free.splice(i, 1)[0]!;
    return Buffer.allocUnsafeSlow(size);
  }

  give(buffer: Buffer): void {
    if (this.free.length < 8) this.free.push(buffer);
  }
}

/** Counts requests in flight; acquire waits for a free slot in order. */
class Semaphore {
  private used = 0;
  private readonly waiters: Array<() => void> = [];
  constructor(readonly size: number) {}

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.used >= this.size) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const i = this.waiters.indexOf(go);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new AppError('cancelled', 'cancelled'));
        };
        const go = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        this.waiters.push(go);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    } else {
      this.used += 1;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.used -= 1;
    };
  }
}
