// s3rver 3.7.1 is CommonJS and ships no types: this declares only the part app/test/s3-server.ts uses.
declare module 's3rver' {
  import type { IncomingMessage, Server, ServerResponse } from 'node:http';
  import type { Readable } from 'node:stream';

  namespace S3rver {
    /** Constructor options (s3rver's defaults apply to anything left out). */
    interface Options {
      address?: string;
      port?: number;
      silent?: boolean;
      directory?: string;
      resetOnClose?: boolean;
      allowMismatchedSignatures?: boolean;
      vhostBuckets?: boolean;
      configureBuckets?: Array<{ name: string; configs?: Array<string | Buffer> }>;
    }

    /** The slice of a Koa context the harness middleware touches. */
    interface Context {
      method: string;
      /** URL path as sent, still percent-encoded. */
      path: string;
      query: Record<string, string | string[] | undefined>;
      req: IncomingMessage;
      res: ServerResponse;
      status: number;
      type: string;
      body: unknown;
      set(field: string, value: string): void;
    }

    type Middleware = (ctx: Context, next: () => Promise<void>) => Promise<void>;

    /** An object as the store writes it (s3rver's S3Object). */
    interface StoreObject {
      bucket: string;
      key: string;
      content: Readable | Buffer;
      metadata: Record<string, unknown>;
    }

    /** An object as `listObjects` returns it (no content). */
    interface ListedObject {
      key: string;
      size: number;
      lastModifiedDate: Date;
      metadata: { etag?: string; [name: string]: unknown };
    }

    /** s3rver's FilesystemStore: the path helper, the listing, and the methods the harness makes atomic or safe side by side. */
    interface FilesystemStore {
      /** `<directory>/<bucket>/<key dirs>/<last key part>._S3rver_<resource>`. */
      getResourcePath(bucket: string, key: string | undefined, resource: string): string;
      /** Writes `<resource path>object`, `object.md5` and `metadata.json`. */
      putObject(object: StoreObject): Promise<{ size: number; md5: string }>;
      /** Writes `<bucket>/._S3rver_uploads/<uploadId>/<partNumber>` and `<partNumber>.md5`. */
      putPart(bucket: string, uploadId: string, partNumber: number | string, content: Readable): Promise<{ size: number; md5: string }>;
      /** Removes the object's files and its emptied folders. */
      deleteObject(bucket: string, key: string): Promise<void>;
      /** Keys after `startAfter` under `prefix`, in order, at most `maxKeys`; grouped by `delimiter` when given. */
      listObjects(
        bucket: string,
        options: { prefix?: string; delimiter?: string; startAfter?: string; maxKeys?: number },
      ): Promise<{ objects: ListedObject[]; commonPrefixes: string[]; isTruncated: boolean }>;
    }
  }

  /** A Koa application serving the S3 REST API over a FilesystemStore. */
  class S3rver {
    constructor(options?: S3rver.Options);
    /** Koa's middleware stack, composed when the server starts listening. */
    middleware: S3rver.Middleware[];
    store: S3rver.FilesystemStore;
    httpServer?: Server;
    run(): Promise<{ address: string; family: string; port: number }>;
    close(): Promise<void>;
  }

  export = S3rver;
}
