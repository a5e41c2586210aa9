/**
 * The object store the desktops publish to, as the service needs it: which objects exist and how big
 * they are (to check a manifest before it counts), a short-lived URL to read one object (for browsers),
 * and deleting objects (when a student's media are erased). The service never reads or writes the
 * media bytes itself.
 */
import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Config, S3Settings } from '../config.ts';

/** One object as a listing shows it. */
export interface StoredObject {
  key: string;
  size: number;
}

/** Keys DeleteObjects could not delete, with the store's reason (a key already gone counts as deleted). */
export interface DeleteOutcome {
  failed: Array<{ key: string; reason: string }>;
}

/** Most keys one DeleteObjects request takes (S3's limit). */
export const DELETE_BATCH = 1000;

export interface ObjectStore {
  /** The object's size, or undefined when there is no such object. */
  head(key: string): Promise<{ size: number } | undefined>;
  /**
   * The objects whose keys start with `prefix`, in key order, one page (one request, at most 1,000
   * objects) at a time: stop iterating and no further page is asked for.
   */
  list(prefix: string): AsyncIterable<StoredObject[]>;
  /** Deletes at most {@link DELETE_BATCH} objects in one request; throws when the request itself fails. */
  deleteMany(keys: readonly string[]): Promise<DeleteOutcome>;
  /** A presigned GET of exactly this one object, valid for `expiresIn` seconds. */
  presignGet(key: string, options: { expiresIn: number; contentDisposition: string }): Promise<string>;
}

/** What the media routes need: the store, and how URLs are handed out. */
export interface MediaSettings {
  store: ObjectStore;
  urlTtlSeconds: number;
  /** When set, URLs are `cdnBaseUrl/key` (the CDN does its own access control) instead of presigned. */
  cdnBaseUrl?: string | undefined;
}

export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async head(key: string): Promise<{ size: number } | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: head.ContentLength ?? 0 };
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (error as Error).name === 'NotFound' || (error as Error).name === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  /**
   * ListObjects (version 1), paged by Marker = the last key of the previous page. Every S3-compatible
   * store answers it (S3, MinIO, R2, GCS); version 2's continuation tokens are where they differ: s3rver
   * 3.7 makes them with DES, which Node's OpenSSL 3 refuses, so any truncated V2 listing fails there.
   */
  async *list(prefix: string): AsyncIterable<StoredObject[]> {
    let marker: string | undefined;
    for (;;) {
      const page = await this.client.send(new ListObjectsCommand({ Bucket: this.bucket, Prefix: prefix, MaxKeys: 1000, ...(marker === undefined ? {} : { Marker: marker }) }));
      const objects = (page.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [{ key: object.Key, size: object.Size ?? 0 }]));
      yield objects;
      const last = page.NextMarker ?? objects[objects.length - 1]?.key;
      if (page.IsTruncated !== true || last === undefined || last === marker) return;
      marker = last;
    }
  }

  async deleteMany(keys: readonly string[]): Promise<DeleteOutcome> {
    if (keys.length === 0) return { failed: [] };
    if (keys.length > DELETE_BATCH) throw new Error(`deleteMany takes at most ${DELETE_BATCH} keys a request, not ${keys.length}.`);
    const out = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
    const failed = (out.Errors ?? [])
      .filter((error) => error.Code !== 'NoSuchKey')
      .map((error) => ({ key: error.Key ?? '', reason: `${error.Code ?? 'Error'}: ${error.Message ?? 'the store gave no reason'}` }));
    return { failed };
  }

  presignGet(key: string, options: { expiresIn: number; contentDisposition: string }): Promise<string> {
    const command = new GetObjectCommand({ Bucket: this.bucket, Key: key, ResponseContentDisposition: options.contentDisposition });
    return getSignedUrl(this.client, command, { expiresIn: options.expiresIn });
  }
}

/** An S3 client for the configured bucket. */
export function s3Client(s3: S3Settings): S3Client {
  return new S3Client({
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    ...(s3.endpoint === undefined ? {} : { endpoint: s3.endpoint }),
    ...(s3.credentials === undefined ? {} : { credentials: s3.credentials }),
    // No optional checksums (DeleteObjects still sends the one it requires); keeps S3-compatible stores that lack the new checksum headers working.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** The media settings for {@link buildApp} from the configured bucket. */
export function mediaSettingsFromConfig(s3: S3Settings, media: Config['media']): MediaSettings {
  return { store: new S3ObjectStore(s3Client(s3), s3.bucket), urlTtlSeconds: media.urlTtlSeconds, cdnBaseUrl: media.cdnBaseUrl };
}
