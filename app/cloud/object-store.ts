import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type LifecycleRule,
  type StorageClass as S3StorageClass,
} from '@aws-sdk/client-s3';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { AppError, type ErrorCode } from '../shared/errors.ts';
import type { CredentialsProvider } from './credentials.ts';
import type { CloudSettings } from './settings.ts';

/** Object metadata key of our own full-file hash (XXH3-128, hex), checked after every upload. */
export const HASH_METADATA = 'keepsake-xxh3';
/** Object tag that marks published originals, so a lifecycle rule can archive them. */
export const VARIANT_TAG = 'keepsake-variant';

/** How a failed store request should be treated. */
export type StoreFailure =
  /** The connection failed: the network is down or the store unreachable. Wait until it is back. */
  | 'offline'
  /** The store answered with a temporary error (5xx, SlowDown, a timeout): retry with backoff. */
  | 'retry'
  /** The multipart upload is gone (aborted, expired): start it again. */
  | 'no-such-upload'
  /** The store does not know the flexible checksum headers. */
  | 'checksum-unsupported'
  /** The bytes arrived damaged (BadDigest): send them again. */
  | 'bad-digest'
  | 'not-found'
  /** Wrong credentials, no access, a missing bucket, a refused request: retrying cannot help. */
  | 'permanent';

/** A failed store request, classified, with a message for people. */
export class StoreError extends AppError {
  constructor(
    readonly failure: StoreFailure,
    code: ErrorCode,
    message: string,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN', 'ECONNABORTED', 'UND_ERR_SOCKET']);
const AUTH_CODES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired', 'AuthorizationHeaderMalformed']);
const RETRY_CODES = new Set(['SlowDown', 'InternalError', 'ServiceUnavailable', 'RequestTimeout', 'RequestTimeTooSkewed', 'Throttling', 'ThrottlingException', 'TooManyRequests', 'OperationAborted']);

interface SdkErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

/** Classifies an error thrown by the SDK (or by the network under it). */
export function classifyStoreError(error: unknown, what: string, sentChecksums = false): StoreError {
  if (error instanceof StoreError) return error;
  const e = (error ?? {}) as SdkErrorShape;
  const status = e.$metadata?.httpStatusCode;
  const name = e.Code ?? e.name ?? '';
  const netCode = e.code ?? (e.cause as SdkErrorShape | undefined)?.code ?? '';
  const message = e.message ?? String(error);
  if (error instanceof Error && error.name === 'AbortError') return new StoreError('permanent', 'cancelled', `${what}: cancelled.`, status, { cause: error });
  if (NETWORK_CODES.has(netCode) || /socket hang up|ECONNRESET|ECONNREFUSED|EPIPE|network|other side closed/i.test(message) && status === undefined) {
    return new StoreError('offline', 'network', `${what}: the store cannot be reached (${netCode || message}).`, status, { cause: error });
  }
  if (name === 'TimeoutError' || name === 'RequestTimeout' || /timed? ?out/i.test(message) && status === undefined) {
    return new StoreError('retry', 'network', `${what}: the store did not answer in time.`, status, { cause: error });
  }
  if (name === 'NoSuchUpload') return new StoreError('no-such-upload', 'not-found', `${what}: the multipart upload no longer exists on the store.`, status, { cause: error });
  if (name === 'BadDigest' || name === 'XAmzContentChecksumMismatch' || name === 'InvalidDigest' && !sentChecksums) {
    return new StoreError('bad-digest', 'network', `${what}: the store received damaged bytes (${name}); sending again.`, status, { cause: error });
  }
  if (sentChecksums && (status === 400 || status === 501) && ['InvalidRequest', 'InvalidArgument', 'NotImplemented', 'InvalidDigest', 'BadRequest'].includes(name)) {
    return new StoreError('checksum-unsupported', 'invalid-input', `${what}: the store rejects flexible checksum headers (${name}: ${message}).`, status, { cause: error });
  }
  if (AUTH_CODES.has(name) || status === 401 || status === 403) {
    return new StoreError('permanent', 'unauthorized', `${what}: the store refused the credentials (${name || status}). Check the access key and secret.`, status, { cause: error });
  }
  if (name === 'NoSuchBucket') return new StoreError('permanent', 'invalid-input', `${what}: the bucket does not exist.`, status, { cause: error });
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return new StoreError('not-found', 'not-found', `${what}: not found on the store.`, status, { cause: error });
  if (name === 'EntityTooLarge' || name === 'QuotaExceeded' || name === 'StorageQuotaExceeded') {
    return new StoreError('permanent', 'quota-exceeded', `${what}: the store refused it (${name}).`, status, { cause: error });
  }
  if (RETRY_CODES.has(name) || (status !== undefined && status >= 500) || status === 429) {
    return new StoreError('retry', 'network', `${what}: the store had a temporary error (${name || status}).`, status, { cause: error });
  }
  return new StoreError('permanent', 'invalid-input', `${what}: the store refused the request (${name || status}: ${message}).`, status, { cause: error });
}

/** What HeadObject tells about an object. */
export interface ObjectHead {
  size: number;
  etag: string | null;
  hash: string | null;
  storageClass: string | null;
}

/** A part as the store lists it. */
export interface ListedPart {
  partNumber: number;
  etag: string;
  size: number;
}

/** The body of one request: a stream of known length. */
export interface RequestBody {
  body: Readable | Buffer;
  length: number;
  md5Base64: string;
  crc32Base64: string | null;
}

/** Options for a new object. */
export interface ObjectOptions {
  contentType: string;
  hash: string;
  storageClass?: string | undefined;
  contentDisposition?: string | undefined;
  tags?: Record<string, string> | undefined;
  /** Send `x-amz-checksum-crc32` with the object (or its parts). */
  crc32: boolean;
}

/**
 * The S3 operations Keepsake uses, over @aws-sdk/client-s3, against any S3-compatible store. Every call
 * takes the caller's abort signal; every failure is a classified {@link StoreError}. The SDK's own retries
 * are off: the uploader retries with its own backoff so it can count, resume and go offline.
 */
export class ObjectStore {
  readonly client: S3Client;
  readonly bucket: string;

  constructor(settings: Pick<CloudSettings, 'endpoint' | 'region' | 'bucket' | 'pathStyle' | 'concurrency' | 'requestTimeoutSec'>, credentials: CredentialsProvider) {
    this.bucket = settings.bucket;
    const agentOptions = { keepAlive: true, maxSockets: settings.concurrency + 4 };
    this.client = new S3Client({
      region: settings.region,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      forcePathStyle: settings.pathStyle,
      credentials: () => credentials.credentials(),
      maxAttempts: 1,
      // Checksums are computed here, per part, from the bytes read; the SDK's aws-chunked streaming
      // checksums break some stores (s3rver stores the chunk framing inside the object).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: 10_000,
        requestTimeout: settings.requestTimeoutSec * 1000,
        // Without it the SDK only warns about a stalled request and waits on.
        throwOnRequestTimeout: true,
        httpAgent: new http.Agent(agentOptions),
        httpsAgent: new https.Agent(agentOptions),
      },
    });
  }

  /** Checks that the bucket is there and the credentials work. */
  async check(signal?: AbortSignal): Promise<void> {
    await this.call(`Bucket ${this.bucket}`, () => this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: signal }));
  }

  async head(key: string, signal?: AbortSignal): Promise<ObjectHead | null> {
    try {
      const out = await this.call(key, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal }));
      return { size: out.ContentLength ?? -1, etag: unquote(out.ETag), hash: out.Metadata?.[HASH_METADATA] ?? null, storageClass: out.StorageClass ?? null };
    } catch (error) {
      if (error instanceof StoreError && error.failure === 'not-found') return null;
      throw error;
    }
  }

  async put(key: string, body: RequestBody, options: ObjectOptions, signal?: AbortSignal): Promise<{ etag: string | null }> {
    const out = await this.call(
      key,
      () =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Body: body.body,
            ContentLength: body.length,
            ContentMD5: body.md5Base64,
            ...(options.crc32 && body.crc32Base64 ? { ChecksumCRC32: body.crc32Base64 } : {}),
            ...objectFields(options),
          }),
          { abortSignal: signal },
        ),
      options.crc32,
    );
    return { etag: unquote(out.ETag) };
  }

  async createMultipart(key: string, options: ObjectOptions, signal?: AbortSignal): Promise<string> {
    const out = await this.call(
      key,
      () =>
        this.client.send(
          new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ...(options.crc32 ? { ChecksumAlgorithm: 'CRC32' } : {}), ...objectFields(options) }),
          { abortSignal: signal },
        ),
      options.crc32,
    );
    if (!out.UploadId) throw new StoreError('retry', 'network', `${key}: the store started a multipart upload without an id.`, undefined);
    return out.UploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: RequestBody, crc32: boolean, signal?: AbortSignal): Promise<{ etag: string | null }> {
    const out = await this.call(
      `${key} part ${partNumber}`,
      () =>
        this.client.send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: body.body,
            ContentLength: body.length,
            ContentMD5: body.md5Base64,
            ...(crc32 && body.crc32Base64 ? { ChecksumCRC32: body.crc32Base64 } : {}),
          }),
          { abortSignal: signal },
        ),
      crc32,
    );
    return { etag: unquote(out.ETag) };
  }

  /** Every part the store holds for an upload, following ListParts' pages (of `pageSize`, default the store's 1,000). */
  async listParts(key: string, uploadId: string, signal?: AbortSignal, pageSize?: number): Promise<ListedPart[]> {
    const parts: ListedPart[] = [];
    let marker: string | undefined;
    for (;;) {
      const out = await this.call(`${key} (listing its parts)`, () =>
        this.client.send(
          new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, ...(pageSize ? { MaxParts: pageSize } : {}), ...(marker ? { PartNumberMarker: marker } : {}) }),
          { abortSignal: signal },
        ),
      );
      for (const part of out.Parts ?? []) {
        if (part.PartNumber !== undefined && part.ETag) parts.push({ partNumber: part.PartNumber, etag: unquote(part.ETag)!, size: part.Size ?? -1 });
      }
      if (!out.IsTruncated || !out.NextPartNumberMarker) return parts;
      marker = String(out.NextPartNumberMarker);
    }
  }

  async completeMultipart(
    key: string,
    uploadId: string,
    parts: ReadonlyArray<{ partNumber: number; etag: string; crc32: string | null }>,
    signal?: AbortSignal,
  ): Promise<{ etag: string | null }> {
    const out = await this.call(`${key} (completing it)`, () =>
      this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: {
            Parts: [...parts]
              .sort((a, b) => a.partNumber - b.partNumber)
              .map((p) => ({ PartNumber: p.partNumber, ETag: `"${p.etag}"`, ...(p.crc32 ? { ChecksumCRC32: p.crc32 } : {}) })),
          },
        }),
        { abortSignal: signal },
      ),
    );
    return { etag: unquote(out.ETag) };
  }

  async abortMultipart(key: string, uploadId: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.call(`${key} (aborting its upload)`, () =>
        this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }), { abortSignal: signal }),
      );
    } catch (error) {
      if (error instanceof StoreError && (error.failure === 'no-such-upload' || error.failure === 'not-found')) return;
      throw error;
    }
  }

  /** Multipart uploads open under a prefix, following the pages. */
  async listMultipartUploads(prefix: string, signal?: AbortSignal): Promise<Array<{ key: string; uploadId: string; initiated: Date | null }>> {
    const uploads: Array<{ key: string; uploadId: string; initiated: Date | null }> = [];
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      const out = await this.call(`Open uploads under ${prefix}`, () =>
        this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix, ...(keyMarker ? { KeyMarker: keyMarker } : {}), ...(idMarker ? { UploadIdMarker: idMarker } : {}) }),
          { abortSignal: signal },
        ),
      );
      for (const upload of out.Uploads ?? []) {
        if (upload.Key && upload.UploadId) uploads.push({ key: upload.Key, uploadId: upload.UploadId, initiated: upload.Initiated ?? null });
      }
      if (!out.IsTruncated) return uploads;
      keyMarker = out.NextKeyMarker;
      idMarker = out.NextUploadIdMarker;
      if (!keyMarker && !idMarker) return uploads;
    }
  }

  /** Objects under a prefix, following the pages. */
  async list(prefix: string, signal?: AbortSignal): Promise<Array<{ key: string; size: number; lastModified: Date | null }>> {
    const objects: Array<{ key: string; size: number; lastModified: Date | null }> = [];
    let token: string | undefined;
    for (;;) {
      const out = await this.call(`Objects under ${prefix}`, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }), { abortSignal: signal }),
      );
      for (const object of out.Contents ?? []) if (object.Key) objects.push({ key: object.Key, size: object.Size ?? 0, lastModified: object.LastModified ?? null });
      if (!out.IsTruncated || !out.NextContinuationToken) return objects;
      token = out.NextContinuationToken;
    }
  }

  /** Deletes objects, 1,000 per request; a key already gone counts as deleted. */
  async delete(keys: readonly string[], signal?: AbortSignal): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const out = await this.call(`Deleting ${batch.length} objects`, () =>
        this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }), { abortSignal: signal }),
      );
      const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) throw new StoreError('retry', 'network', `${failed.length} objects could not be deleted (${failed[0]!.Key}: ${failed[0]!.Code}).`, undefined);
    }
  }

  /** An object's bytes as a stream. */
  async get(key: string, signal?: AbortSignal): Promise<{ body: Readable; size: number; hash: string | null }> {
    const out = await this.call(key, () => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal }));
    return { body: out.Body as Readable, size: out.ContentLength ?? -1, hash: out.Metadata?.[HASH_METADATA] ?? null };
  }

  async putLifecycle(rules: LifecycleRule[], signal?: AbortSignal): Promise<void> {
    await this.call(`Lifecycle rules of ${this.bucket}`, () =>
      this.client.send(new PutBucketLifecycleConfigurationCommand({ Bucket: this.bucket, LifecycleConfiguration: { Rules: rules } }), { abortSignal: signal }),
    );
  }

  close(): void {
    this.client.destroy();
  }

  private async call<T>(what: string, run: () => Promise<T>, sentChecksums = false): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw classifyStoreError(error, what, sentChecksums);
    }
  }
}

function objectFields(options: ObjectOptions) {
  const tags = options.tags && Object.keys(options.tags).length > 0 ? new URLSearchParams(options.tags).toString() : undefined;
  return {
    ContentType: options.contentType,
    Metadata: { [HASH_METADATA]: options.hash },
    ...(options.storageClass && options.storageClass !== 'STANDARD' ? { StorageClass: options.storageClass as S3StorageClass } : {}),
    ...(options.contentDisposition ? { ContentDisposition: options.contentDisposition } : {}),
    ...(tags ? { Tagging: tags } : {}),
  };
}

function unquote(etag: string | undefined): string | null {
  if (!etag) return null;
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}

/** True when an ETag looks like the hex MD5 of the bytes (single-part objects and parts, without SSE-KMS). */
export function isMd5Etag(etag: string | null): etag is string {
  return etag !== null && /^[0-9a-f]{32}$/i.test(etag);
}
