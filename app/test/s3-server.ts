// A real S3-compatible server for the tests: s3rver on 127.0.0.1, on a random port, over a fresh temp folder.
//
// s3rver 3.7.1 lacks three operations the product needs — ListParts, AbortMultipartUpload and
// ListMultipartUploads — so the harness adds them, reading and writing s3rver's own upload store. It also
// answers UploadPart and CompleteMultipartUpload for an unknown upload id with NoSuchUpload (s3rver would
// create the upload folder on the fly, or fail with InternalError), and makes s3rver write objects and parts
// under a staging name, renamed into place once the body is complete: s3rver writes straight to the final
// file, so a request cut off mid-body would leave a truncated object that S3 never shows. Everything else
// is s3rver's.

import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import S3rver from 's3rver';
import { onTestFinished } from 'vitest';

/** What the harness calls an S3 request, from its method, path and query. */
export type S3Op =
  | 'PutObject'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'ListParts'
  | 'ListMultipartUploads'
  | 'HeadObject'
  | 'GetObject'
  | 'DeleteObject'
  | 'DeleteObjects'
  | 'ListObjects'
  | 'HeadBucket'
  | 'Other';

/** A request as {@link classifyS3Request} sees it (path-style URLs: `/bucket/key`). */
export interface S3RequestInfo {
  method: string;
  /** URL path without the query, still percent-encoded. */
  path: string;
  /** Query parameters; flags such as `?uploads` have the value ''. */
  query: Record<string, string>;
  op: S3Op;
  /** For UploadPart. */
  partNumber?: number;
  bucket?: string;
  /** Decoded object key. */
  key?: string;
}

/** One request the S3 server received, recorded before it was handled. */
export type RecordedRequest = S3RequestInfo;

/** A running {@link startS3Server}. */
export interface S3Server {
  /** `http://127.0.0.1:PORT`. */
  endpoint: string;
  port: number;
  /** Created at start. */
  bucket: string;
  /** s3rver's store folder (one subfolder per bucket); removed by close(), with the staging folder beside it. */
  directory: string;
  /** Every request received, oldest first. */
  requests: RecordedRequest[];
  /** An S3 client for this server (path style, s3rver's S3RVER/S3RVER account); `overrides` e.g. a proxy's endpoint. */
  client: (overrides?: S3ClientConfig) => S3Client;
  /** Destroys the clients made by client(), stops the server and removes the folder; safe to call twice. */
  close: () => Promise<void>;
}

/** Options for {@link startS3Server}. */
export interface S3ServerOptions {
  /** Default 'keepsake-test'. */
  bucket?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** A folder kept after close (trying Keepsake by hand); default a fresh temp folder, removed by close(). */
  root?: string;
}

/** Starts s3rver on 127.0.0.1 (port 0) over a fresh temp folder and creates the bucket. */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const bucket = options.bucket ?? 'keepsake-test';
  const kept = options.root !== undefined;
  const root = options.root ?? (await mkdtemp(join(tmpdir(), 'keepsake-s3-')));
  const directory = join(root, 'store');
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const requests: RecordedRequest[] = [];
  // Koa composes its stack when the server starts listening, so this runs first for every request.
  server.middleware.unshift(harnessMiddleware(server, requests));
  writeAtomically(server.store);
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const clients: S3Client[] = [];
  let closed: Promise<void> | undefined;
  return {
    endpoint,
    port,
    bucket,
    directory,
    requests,
    client: (overrides = {}) => {
      const client = new S3Client({
        endpoint,
        forcePathStyle: true,
        region: 'us-east-1',
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        ...overrides,
      });
      clients.push(client);
      return client;
    },
    close: () => {
      closed ??= (async () => {
        for (const client of clients) client.destroy();
        const stopped = server.close();
        // close() waits for open keep-alive and stuck connections; end them so it returns.
        server.httpServer?.closeAllConnections();
        await stopped;
        if (!kept) await rm(root, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}

/** A {@link startS3Server} closed when the current test finishes; call it inside a test. */
export async function useS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const server = await startS3Server(options);
  onTestFinished(server.close);
  return server;
}

const LIST_OBJECTS_PARAMS = new Set(['list-type', 'prefix', 'delimiter', 'marker', 'max-keys', 'continuation-token', 'start-after', 'encoding-type', 'fetch-owner', 'x-id']);
const OBJECT_READ_PARAMS = new Set(['partNumber', 'versionId', 'x-id']);

/** Names an S3 request from its method, path-style URL path and query. */
export function classifyS3Request(method: string, path: string, query: Record<string, string>): S3RequestInfo {
  const [, rawBucket = '', ...rawKey] = path.split('/');
  const bucket = rawBucket ? decodeURIComponent(rawBucket) : undefined;
  const key = rawKey.length > 0 && rawKey.join('/') !== '' ? decodeURIComponent(rawKey.join('/')) : undefined;
  const has = (name: string): boolean => name in query;
  const only = (allowed: Set<string>): boolean => Object.keys(query).every((name) => allowed.has(name) || name.startsWith('response-'));
  const verb = method.toUpperCase();
  let op: S3Op = 'Other';
  if (bucket !== undefined && key === undefined) {
    if (verb === 'GET' && has('uploads')) op = 'ListMultipartUploads';
    else if (verb === 'GET' && only(LIST_OBJECTS_PARAMS)) op = 'ListObjects';
    else if (verb === 'HEAD') op = 'HeadBucket';
    else if (verb === 'POST' && has('delete')) op = 'DeleteObjects';
  } else if (key !== undefined) {
    if (verb === 'PUT' && has('uploadId')) op = 'UploadPart';
    else if (verb === 'PUT' && only(OBJECT_READ_PARAMS)) op = 'PutObject';
    else if (verb === 'POST' && has('uploads')) op = 'CreateMultipartUpload';
    else if (verb === 'POST' && has('uploadId')) op = 'CompleteMultipartUpload';
    else if (verb === 'DELETE' && has('uploadId')) op = 'AbortMultipartUpload';
    else if (verb === 'DELETE' && only(OBJECT_READ_PARAMS)) op = 'DeleteObject';
    else if (verb === 'GET' && has('uploadId')) op = 'ListParts';
    else if (verb === 'GET' && only(OBJECT_READ_PARAMS)) op = 'GetObject';
    else if (verb === 'HEAD' && only(OBJECT_READ_PARAMS)) op = 'HeadObject';
  }
  const info: S3RequestInfo = { method: verb, path, query, op };
  if (op === 'UploadPart' && query.partNumber !== undefined) info.partNumber = Number(query.partNumber);
  if (bucket !== undefined) info.bucket = bucket;
  if (key !== undefined) info.key = key;
  return info;
}

/** An S3 error document, as S3 sends with a 4xx/5xx status. */
export function s3ErrorXml(code: string, message: string, detail: Record<string, string> = {}): string {
  const extra = Object.entries(detail).map(([name, value]) => element(name, value));
  return xmlDocument(element('Error', [element('Code', code), element('Message', message), ...extra]));
}

/** Records each request, then answers the operations s3rver lacks and passes everything else on. */
function harnessMiddleware(server: S3rver, requests: RecordedRequest[]): S3rver.Middleware {
  return async (ctx, next) => {
    const query = flatQuery(ctx.query);
    const request = classifyS3Request(ctx.method, ctx.path, query);
    requests.push(request);
    const { op, bucket, key } = request;
    if (bucket === undefined) return next();
    const uploadsDir = server.store.getResourcePath(bucket, undefined, 'uploads');
    if (op === 'ListObjects' && query['list-type'] === '2') {
      if (!(await isDirectory(dirname(uploadsDir)))) return sendError(ctx, 404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
      return listObjectsV2(ctx, server.store, bucket, query);
    }
    if (op === 'ListMultipartUploads') {
      if (!(await isDirectory(dirname(uploadsDir)))) return sendError(ctx, 404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
      return listMultipartUploads(ctx, bucket, uploadsDir, query);
    }
    if (key === undefined || !['ListParts', 'AbortMultipartUpload', 'UploadPart', 'CompleteMultipartUpload'].includes(op)) return next();

    const uploadId = query.uploadId ?? '';
    const upload = /^[0-9a-f]+$/i.test(uploadId) ? await readUpload(join(uploadsDir, uploadId)) : undefined;
    if (upload?.key !== key) {
      // Read the body first, as S3 does, so the client sees the error rather than a broken pipe.
      await drain(ctx);
      return sendError(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { UploadId: uploadId });
    }
    if (op === 'ListParts') return listParts(ctx, bucket, key, uploadId, upload.dir, query);
    if (op === 'AbortMultipartUpload') {
      await rm(upload.dir, { recursive: true, force: true });
      ctx.status = 204;
      ctx.body = null;
      return;
    }
    return next();
  };
}

/**
 * Has s3rver write each object and part under a staging name and renames the files into place once the body
 * is complete. A request cut off mid-body never completes, so its staging files are simply left behind
 * (objects in `<directory>/../staging`, parts as `N.partial-M` in the upload's folder, which ListParts skips).
 * Also makes deletions side by side safe.
 */
function writeAtomically(store: S3rver.FilesystemStore): void {
  let staged = 0;
  const putObject = store.putObject.bind(store);
  store.putObject = async (object) => {
    // Resolves to `<directory>/../staging/N`: outside the store, so no listing sees it.
    const staging = { ...object, key: `../../staging/${++staged}` };
    const result = await putObject(staging);
    for (const resource of ['metadata.json', 'object.md5', 'object']) {
      const target = store.getResourcePath(object.bucket, object.key, resource);
      await mkdir(dirname(target), { recursive: true });
      await rename(store.getResourcePath(object.bucket, staging.key, resource), target);
    }
    return result;
  };
  const putPart = store.putPart.bind(store);
  store.putPart = async (bucket, uploadId, partNumber, content) => {
    const staging = `${partNumber}.partial-${++staged}`;
    const result = await putPart(bucket, uploadId, staging, content);
    const dir = join(store.getResourcePath(bucket, undefined, 'uploads'), uploadId);
    await rename(join(dir, staging), join(dir, String(partNumber)));
    await rename(join(dir, `${staging}.md5`), join(dir, `${partNumber}.md5`));
    return result;
  };
  // s3rver removes a key's emptied folders after deleting it; deletions running side by side (DeleteObjects
  // does) race for the same folder and the loser's readdir fails with ENOENT. The object is gone either way.
  const deleteObject = store.deleteObject.bind(store);
  store.deleteObject = async (bucket, key) => {
    try {
      await deleteObject(bucket, key);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  };
}

/** An open upload in s3rver's store: `<bucket>/._S3rver_uploads/<uploadId>/` holding `key`, `metadata`, `N`, `N.md5`. */
interface StoredUpload {
  dir: string;
  key: string;
  /** When the upload was created (the `key` file is written once, at CreateMultipartUpload). */
  initiated: Date;
}

async function readUpload(dir: string): Promise<StoredUpload | undefined> {
  try {
    const keyFile = join(dir, 'key');
    const [key, info] = await Promise.all([readFile(keyFile, 'utf8'), stat(keyFile)]);
    return { dir, key, initiated: info.mtime };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** ListParts with max-parts and part-number-marker; a part is listed once s3rver has written its `.md5`. */
async function listParts(ctx: S3rver.Context, bucket: string, key: string, uploadId: string, dir: string, query: Record<string, string>): Promise<void> {
  const maxParts = clampInt(query['max-parts'], 1000);
  const marker = clampInt(query['part-number-marker'], 0);
  const names = await readdir(dir);
  const numbers = names
    .filter((name) => /^\d+$/.test(name) && names.includes(`${name}.md5`))
    .map(Number)
    .filter((number) => number > marker)
    .sort((a, b) => a - b);
  const page = numbers.slice(0, maxParts);
  const parts = await Promise.all(
    page.map(async (number) => {
      const [md5, info] = await Promise.all([readFile(join(dir, `${number}.md5`), 'utf8'), stat(join(dir, String(number)))]);
      return element('Part', [
        element('PartNumber', String(number)),
        element('LastModified', info.mtime.toISOString()),
        element('ETag', JSON.stringify(md5.trim())),
        element('Size', String(info.size)),
      ]);
    }),
  );
  const truncated = numbers.length > page.length;
  const body = element('ListPartsResult', [
    element('Bucket', bucket),
    element('Key', key),
    element('UploadId', uploadId),
    element('StorageClass', 'STANDARD'),
    element('PartNumberMarker', String(marker)),
    ...(page.length > 0 ? [element('NextPartNumberMarker', String(page[page.length - 1]))] : []),
    element('MaxParts', String(maxParts)),
    element('IsTruncated', String(truncated)),
    ...parts,
  ]);
  sendXml(ctx, body);
}

/**
 * ListObjectsV2 with prefix, delimiter, start-after, max-keys and continuation tokens. s3rver's own makes its
 * tokens with DES, which OpenSSL 3 no longer offers, so any listing longer than a page failed with a 500. The
 * token here is the last key of the page, base64url-encoded (opaque to clients, as S3's is).
 */
async function listObjectsV2(ctx: S3rver.Context, store: S3rver.FilesystemStore, bucket: string, query: Record<string, string>): Promise<void> {
  const prefix = query.prefix ?? '';
  const delimiter = query.delimiter ?? '';
  const maxKeys = clampInt(query['max-keys'], 1000);
  const token = query['continuation-token'];
  const startAfter = token ? Buffer.from(token, 'base64url').toString('utf8') : (query['start-after'] ?? '');
  const result = await store.listObjects(bucket, { prefix, delimiter, startAfter, maxKeys });
  const last = result.objects.at(-1)?.key;
  const body = element('ListBucketResult', [
    element('Name', bucket),
    element('Prefix', prefix),
    ...(token ? [element('ContinuationToken', token)] : query['start-after'] ? [element('StartAfter', startAfter)] : []),
    ...(result.isTruncated && last !== undefined ? [element('NextContinuationToken', Buffer.from(last, 'utf8').toString('base64url'))] : []),
    element('KeyCount', String(result.objects.length)),
    element('MaxKeys', String(maxKeys)),
    ...(delimiter ? [element('Delimiter', delimiter)] : []),
    element('IsTruncated', String(result.isTruncated)),
    ...result.objects.map((object) =>
      element('Contents', [
        element('Key', object.key),
        element('LastModified', object.lastModifiedDate.toISOString()),
        element('ETag', object.metadata.etag ?? ''),
        element('Size', String(object.size)),
        element('StorageClass', 'STANDARD'),
      ]),
    ),
    ...result.commonPrefixes.map((common) => element('CommonPrefixes', [element('Prefix', common)])),
  ]);
  sendXml(ctx, body);
}

/** ListMultipartUploads with prefix and max-uploads, sorted by key then initiation time. */
async function listMultipartUploads(ctx: S3rver.Context, bucket: string, uploadsDir: string, query: Record<string, string>): Promise<void> {
  const prefix = query.prefix ?? '';
  const maxUploads = clampInt(query['max-uploads'], 1000);
  const ids = await readdir(uploadsDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  const uploads = (await Promise.all(ids.map(async (id) => ({ id, upload: await readUpload(join(uploadsDir, id)) }))))
    .filter((entry): entry is { id: string; upload: StoredUpload } => entry.upload?.key.startsWith(prefix) === true)
    .sort((a, b) => (a.upload.key === b.upload.key ? a.upload.initiated.getTime() - b.upload.initiated.getTime() : a.upload.key < b.upload.key ? -1 : 1));
  const page = uploads.slice(0, maxUploads);
  const body = element('ListMultipartUploadsResult', [
    element('Bucket', bucket),
    element('KeyMarker', ''),
    element('UploadIdMarker', ''),
    element('Prefix', prefix),
    element('MaxUploads', String(maxUploads)),
    element('IsTruncated', String(uploads.length > page.length)),
    ...page.map(({ id, upload }) =>
      element('Upload', [element('Key', upload.key), element('UploadId', id), element('StorageClass', 'STANDARD'), element('Initiated', upload.initiated.toISOString())]),
    ),
  ]);
  sendXml(ctx, body);
}

function flatQuery(query: S3rver.Context['query']): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(query)) flat[name] = Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
  return flat;
}

function clampInt(value: string | undefined, fallback: number): number {
  const number = Number.parseInt(value ?? '', 10);
  return Number.isFinite(number) && number >= 0 ? Math.min(number, 1000) : fallback;
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

async function drain(ctx: S3rver.Context): Promise<void> {
  ctx.req.resume();
  await finished(ctx.req).catch(() => undefined);
}

function sendXml(ctx: S3rver.Context, body: string, status = 200): void {
  ctx.status = status;
  ctx.body = xmlDocument(body);
  ctx.type = 'application/xml';
}

function sendError(ctx: S3rver.Context, status: number, code: string, message: string, detail: Record<string, string> = {}): void {
  ctx.status = status;
  ctx.body = s3ErrorXml(code, message, detail);
  ctx.type = 'application/xml';
}

function xmlDocument(root: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${root}`;
}

/** `<name>text</name>`, with `content` escaped when it is a string and taken as child elements when an array. */
function element(name: string, content: string | string[]): string {
  const inner = Array.isArray(content) ? content.join('') : escapeXml(content);
  return `<${name}>${inner}</${name}>`;
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&apos;');
}
