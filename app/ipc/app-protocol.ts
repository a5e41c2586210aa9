import { createReadStream } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { APP_HOST, APP_SCHEME } from './ipc-guard.ts';
import type { MediaFile } from './media.ts';

// `keepsake://app/...` serves the window: the renderer's build and, under /media/<assetId>/<variant>, the library's
// thumbnails, previews, posters and proxies by asset id. The renderer uses the same relative URLs as in the web host.

/**
 * The window's Content-Security-Policy, sent as a header on every response of the app's scheme. Scripts, styles,
 * media and fetches come from the app itself only; nothing may frame it, no plugin runs, no form posts anywhere.
 */
export const APP_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self'; font-src 'self'; " +
  "connect-src 'self'; object-src 'none'; frame-src 'none'; worker-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** Headers on every response of the app's scheme. */
export const APP_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': APP_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** MIME types of the renderer build's files, by extension (both hosts serve the same build). */
export const STATIC_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.jpg': 'image/jpeg',
  '.woff2': 'font/woff2',
  '.ico': 'image/x-icon',
};

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Keepsake</title></head>
<body><h1>Keepsake</h1><p>The user interface is missing from this installation. Reinstall Keepsake, or build it
with <code>npm run build -w renderer</code> when running from the source.</p></body></html>`;

/** Options of {@link createAppProtocolHandler}. */
export interface AppProtocolOptions {
  /** The renderer's build (`renderer/dist`, or `resources/app.asar/renderer/dist` when packaged). */
  staticDir: string;
  /** The file behind an asset's variant, or null; the engine process checks it lies inside the library. */
  resolveMedia: (assetId: string, variant: string) => Promise<MediaFile | null>;
}

/** A request to the app's scheme, as much of it as the handler reads. */
export interface AppRequest {
  url: string;
  method: string;
  /** The `Range` header, if any. */
  range: string | null;
  /** The `If-None-Match` header, if any: a media file whose ETag it names answers 304. */
  ifNoneMatch?: string | null;
}

function respond(status: number, body: ConstructorParameters<typeof Response>[0], headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { ...APP_HEADERS, ...headers } });
}

const notFound = (): Response => respond(404, 'Not found.', { 'Content-Type': 'text/plain; charset=utf-8' });

/** The relative path of a request to the app's own host, or null for anything that is not one. */
function appPath(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== `${APP_SCHEME}:` || parsed.host !== APP_HOST || parsed.username !== '' || parsed.password !== '') return null;
  return parsed.pathname;
}

/**
 * Builds the handler of `keepsake://app/...`: a function from a request to a Web `Response`, as Electron's
 * `protocol.handle` takes it. Static files must resolve (links followed) inside `staticDir`; media only by
 * numeric asset id and variant through `resolveMedia`. `..`, encoded separators, NUL, another host: 404.
 */
export function createAppProtocolHandler(options: AppProtocolOptions): (request: AppRequest) => Promise<Response> {
  return async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return respond(405, 'Use GET.', { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
    const pathname = appPath(request.url);
    if (pathname === null) return notFound();
    let relative: string;
    try {
      relative = decodeURIComponent(pathname);
    } catch {
      return notFound();
    }
    // Checked after decoding, so %2e%2e, %2f and %5c cannot smuggle a step out; WHATWG URL already folds literal dots.
    if (relative.includes('\0') || relative.includes('\\') || relative.split('/').includes('..')) return notFound();
    const head = request.method === 'HEAD';
    if (pathname.startsWith('/media/')) {
      const parts = pathname.slice('/media/'.length).split('/');
      if (parts.length !== 2 || !/^[1-9][0-9]{0,14}$/.test(parts[0]!) || !/^[a-z]{1,16}$/.test(parts[1]!)) return notFound();
      const media = await options.resolveMedia(parts[0]!, parts[1]!);
      if (!media) return notFound();
      if (request.ifNoneMatch === media.etag) return respond(304, null, { ETag: media.etag, 'Cache-Control': 'no-cache' });
      return serveFile(media.file, media.mime, media.size, request.range, head, { ETag: media.etag });
    }
    const root = await realpath(options.staticDir).catch(() => null);
    if (root === null) return respond(200, head ? null : NOT_BUILT, { 'Content-Type': 'text/html; charset=utf-8' });
    const wanted = path.join(root, relative === '/' ? 'index.html' : relative);
    const real = await realpath(wanted).catch(() => null);
    const info = real ? await stat(real).catch(() => null) : null;
    const contained = real !== null && !path.relative(root, real).startsWith('..') && !path.isAbsolute(path.relative(root, real));
    if (!real || !info?.isFile() || !contained) {
      // Client-side routes fall back to the app's page; a missing file with an extension is a plain 404.
      if (path.extname(relative) !== '') return notFound();
      const html = await readFile(path.join(root, 'index.html')).catch(() => null);
      return respond(200, head ? null : (html ?? NOT_BUILT), { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' });
    }
    const type = STATIC_TYPES[path.extname(real).toLowerCase()] ?? 'application/octet-stream';
    return serveFile(real, type, info.size, request.range, head);
  };
}

function serveFile(file: string, type: string, size: number, range: string | null, head: boolean, extra: Record<string, string> = {}): Response {
  let start = 0;
  let end = size - 1;
  let status = 200;
  if (range !== null) {
    const match = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    const unsatisfiable = (): Response => respond(416, 'Bad range.', { 'Content-Range': `bytes */${size}`, 'Content-Type': 'text/plain; charset=utf-8' });
    if (!match || (match[1] === '' && match[2] === '')) return unsatisfiable();
    if (match[1] === '') start = Math.max(0, size - Number(match[2]));
    else {
      start = Number(match[1]);
      if (match[2] !== '') end = Math.min(size - 1, Number(match[2]));
    }
    if (start > end || start >= size) return unsatisfiable();
    status = 206;
  }
  const headers: Record<string, string> = {
    'Content-Type': type,
    'Content-Length': String(end - start + 1),
    'Accept-Ranges': 'bytes',
    // A thumbnail is remade when its photo is rotated, and a new build replaces the bundle: always revalidate.
    'Cache-Control': 'no-cache',
    ...extra,
    ...(status === 206 ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
  };
  if (head || size === 0) return respond(status, null, headers);
  const body = Readable.toWeb(createReadStream(file, { start, end })) as ReadableStream<Uint8Array>;
  return respond(status, body, headers);
}
