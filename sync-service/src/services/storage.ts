/**
 * The object store the desktops publish to, as the service needs it: does an object exist and how big
 * is it (to check a manifest before it counts), and a short-lived URL to read one object (for browsers).
 * The service never reads or writes the media bytes itself.
 */
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Config, S3Settings } from '../config.ts';

export interface ObjectStore {
  /** The object's size, or undefined when there is no such object. */
  head(key: string): Promise<{ size: number } | undefined>;
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
    // Plain HEAD and GET only; keeps S3-compatible stores that lack the new checksum headers working.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** The media settings for {@link buildApp} from the configured bucket. */
export function mediaSettingsFromConfig(s3: S3Settings, media: Config['media']): MediaSettings {
  return { store: new S3ObjectStore(s3Client(s3), s3.bucket), urlTtlSeconds: media.urlTtlSeconds, cdnBaseUrl: media.cdnBaseUrl };
}
