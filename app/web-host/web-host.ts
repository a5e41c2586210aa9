import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Engine } from '../engine.ts';
import { toIpcError } from '../ipc/dispatcher.ts';
import { createLibraryHolder, type LibraryHolder } from '../ipc/library-holder.ts';
import type { RecentLibraries } from '../ipc/recent-libraries.ts';
import { createLogger } from '../log/logger.ts';
import { STATIC_TYPES } from '../ipc/app-protocol.ts';
import { resolveMedia } from '../ipc/media.ts';
import { AppError, isAppError } from '../shared/errors.ts';

/** Largest request body accepted (RPC inputs are small). */
export const MAX_BODY_BYTES = 1024 * 1024;
const COOKIE = 'keepsake_token';
/** The renderer's build, served as static files. */
export const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../../renderer/dist/', import.meta.url));

/** Options of {@link startWebHost}. */
export interface WebHostOptions {
  /** The library to serve; without one the page starts on first run and opens one with `library:open`. */
  engine?: Engine | null;
  /** Opens the library chosen on the page (and starts its background work); needed to switch libraries. */
  openLibrary?: (libraryPath: string, create: boolean) => Promise<Engine>;
  /** Where opened libraries are remembered. */
  recent?: RecentLibraries | null;
  /** The folder first run proposes for a new library. */
  suggestedLibraryPath?: string;
  /** 0 picks a free port. */
  port?: number;
  /** The renderer build; default `renderer/dist`. */
  staticDir?: string;
  /** Fixed token (tests); default 256 random bits. */
  token?: string;
}

/** A running web host. */
export interface WebHost {
  port: number;
  token: string;
  /** The URL to open once: it carries the token, which the first load trades for a cookie. */
  url: string;
  /** The contract as served; `dispatcher.engine` is the open library's engine, or null. */
  dispatcher: LibraryHolder;
  close(): Promise<void>;
}


const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Keepsake</title></head>
<body><h1>Keepsake is running</h1><p>The user interface is not built yet. Build it with <code>npm run build -w renderer</code>
(or put a build in <code>renderer/dist/</code>) and reload this page. The engine's API is served at <code>/rpc/&lt;method&gt;</code>.</p></body></html>`;

/** Serves the contract (RPC and push events), media by asset id and the renderer build on 127.0.0.1. */
export async function startWebHost(options: WebHostOptions): Promise<WebHost> {
  const token = options.token ?? randomBytes(32).toString('base64url');
  const tokenDigest = digest(token);
  const staticDir = options.staticDir ?? DEFAULT_STATIC_DIR;
  const dispatcher = createLibraryHolder({
    engine: options.engine ?? null,
    openEngine:
      options.openLibrary ??
      (() => Promise.reject(new AppError('conflict', 'This Keepsake serves one library; restart it with --library to open another.'))),
    recent: options.recent ?? null,
    suggestedPath: options.suggestedLibraryPath ?? options.engine?.libraryRoot ?? '',
  });
  // Before a library is open there is no engine log to write to.
  const quiet = createLogger('web-host');
  const log = () => dispatcher.engine?.log ?? quiet;
  let port = 0;
  const allowedHosts = (): Set<string> => new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  const headers = (): Record<string, string> => ({
    'Content-Security-Policy':
      `default-src 'self'; script-src 'self'; img-src 'self' data: blob:; media-src 'self'; connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}; ` +
      "style-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  });
  const send = (res: ServerResponse, status: number, body: string | Buffer, type = 'text/plain; charset=utf-8', extra: Record<string, string> = {}): void => {
    res.writeHead(status, { ...headers(), 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)), ...extra });
    res.end(body);
  };
  const sendJson = (res: ServerResponse, status: number, value: unknown): void => send(res, status, JSON.stringify(value), 'application/json; charset=utf-8');

  const hostAllowed = (req: IncomingMessage): boolean => allowedHosts().has(req.headers.host ?? '');
  const originAllowed = (req: IncomingMessage, required: boolean): boolean => {
    const origin = req.headers.origin;
    if (origin === undefined) return !required;
    return origin === `http://${req.headers.host ?? ''}` && hostAllowed(req);
  };
  const authorized = (req: IncomingMessage): boolean => {
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const cookie = parseCookies(req.headers.cookie)[COOKIE];
    return [bearer, cookie].some((candidate) => candidate !== undefined && timingSafeEqual(digest(candidate), tokenDigest));
  };

  const server = http.createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      log().error('web host request failed', { error: toIpcError(error) });
      if (!res.headersSent) sendJson(res, 500, { ok: false, error: toIpcError(error) });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hostAllowed(req) || !originAllowed(req, false)) return send(res, 403, 'Forbidden: this address is served to 127.0.0.1 only.');
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const given = url.searchParams.get('token');
    if (req.method === 'GET' && given !== null) {
      if (!timingSafeEqual(digest(given), tokenDigest)) return send(res, 401, 'The link is not valid: open the address Keepsake printed.');
      // The token leaves the address bar (and the history) at once: from here on the cookie carries it.
      res.writeHead(303, { ...headers(), Location: '/', 'Set-Cookie': `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`, 'Content-Length': '0' });
      return void res.end();
    }
    if (!authorized(req)) return send(res, 401, 'Not signed in: open the address Keepsake printed (it carries a one-time token).');
    if (url.pathname.startsWith('/rpc/')) {
      if (req.method !== 'POST') return send(res, 405, 'Use POST.', 'text/plain; charset=utf-8', { Allow: 'POST' });
      const body = await readBody(req);
      if (body === null) return sendJson(res, 413, { ok: false, error: { code: 'invalid-input', message: 'The request is too large.', hint: 'Send fewer items at once.' } });
      let input: unknown;
      try {
        input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      } catch {
        return sendJson(res, 400, { ok: false, error: { code: 'invalid-input', message: 'The request is not valid JSON.' } });
      }
      // Channel names are plain ASCII (`domain:verb`); anything else is simply an unknown method.
      const method = url.pathname.slice('/rpc/'.length).replace(/%3A/gi, ':');
      const result = await dispatcher.call(method, input);
      return sendJson(res, result.ok ? 200 : result.error.code === 'unknown-method' ? 404 : 200, result);
    }
    if (url.pathname.startsWith('/media/')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'Use GET.');
      const parts = url.pathname.slice('/media/'.length).split('/');
      if (parts.length !== 2) return send(res, 404, 'Not found.');
      const engine = dispatcher.engine;
      if (engine === null) return send(res, 404, 'Not found.');
      try {
        const media = await resolveMedia(engine, parts[0]!, parts[1]!);
        // Revalidated, never trusted blindly (a rotated photo's thumbnail is remade under the same URL), but a
        // tile scrolled back into view costs a 304, not the picture again.
        const validators = { ETag: media.etag, 'Cache-Control': 'private, no-cache' };
        if (req.headers['if-none-match'] === media.etag) {
          res.writeHead(304, { ...headers(), ...validators });
          return void res.end();
        }
        return serveFile(req, res, media.file, media.mime, media.size, validators);
      } catch (error) {
        if (isAppError(error, 'not-found')) return send(res, 404, 'Not found.');
        throw error;
      }
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'Use GET.');
    return serveStatic(req, res, url.pathname);
  }

  async function serveStatic(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    let relative: string;
    try {
      relative = decodeURIComponent(pathname);
    } catch {
      return send(res, 404, 'Not found.');
    }
    if (relative.includes('\0') || relative.split(/[\\/]/).includes('..')) return send(res, 404, 'Not found.');
    const root = await realpath(staticDir).catch(() => null);
    if (root === null) return send(res, 200, NOT_BUILT, 'text/html; charset=utf-8');
    const wanted = path.join(root, relative === '/' ? 'index.html' : relative);
    const real = await realpath(wanted).catch(() => null);
    const file = real && (await stat(real)).isFile() && !path.relative(root, real).startsWith('..') ? real : null;
    if (file === null) {
      // Client-side routes fall back to the app's page; files with an extension do not.
      if (path.extname(relative) !== '') return send(res, 404, 'Not found.');
      const index = path.join(root, 'index.html');
      const html = await readFile(index).catch(() => null);
      return html ? send(res, 200, html, 'text/html; charset=utf-8') : send(res, 200, NOT_BUILT, 'text/html; charset=utf-8');
    }
    const type = STATIC_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
    return serveFile(req, res, file, type, (await stat(file)).size);
  }

  function serveFile(req: IncomingMessage, res: ServerResponse, file: string, type: string, size: number, extra: Record<string, string> = {}): void {
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = size - 1;
    let status = 200;
    if (req.headers.range !== undefined) {
      if (!range || (range[1] === '' && range[2] === '')) return send(res, 416, 'Bad range.', 'text/plain; charset=utf-8', { 'Content-Range': `bytes */${size}` });
      if (range[1] === '') start = Math.max(0, size - Number(range[2]));
      else {
        start = Number(range[1]);
        if (range[2] !== '') end = Math.min(size - 1, Number(range[2]));
      }
      if (start > end || start >= size) return send(res, 416, 'Bad range.', 'text/plain; charset=utf-8', { 'Content-Range': `bytes */${size}` });
      status = 206;
    }
    res.writeHead(status, {
      ...headers(),
      'Content-Type': type,
      'Content-Length': String(end - start + 1),
      'Accept-Ranges': 'bytes',
      ...extra,
      ...(status === 206 ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(file, { start, end }).on('error', () => res.destroy()).pipe(res);
  }

  const sockets = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const reject = (status: number, text: string): void => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (!hostAllowed(req) || !originAllowed(req, true)) return reject(403, 'Forbidden');
    if (!authorized(req)) return reject(401, 'Unauthorized');
    if (url.pathname !== '/events') return reject(404, 'Not Found');
    sockets.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const unsubscribe = dispatcher.subscribe((event) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(event));
      });
      ws.on('close', unsubscribe);
      ws.on('error', unsubscribe);
      // The socket is one-way: the UI calls through /rpc.
      ws.on('message', () => undefined);
    });
  });

  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    port,
    token,
    url: `http://127.0.0.1:${port}/?token=${token}`,
    dispatcher,
    async close() {
      for (const client of sockets.clients) client.close(1001, 'Keepsake is closing');
      sockets.close();
      await dispatcher.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function digest(text: string): Buffer {
  // Hashing first makes the comparison constant-time whatever the lengths.
  return createHash('sha256').update(text).digest();
}

function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const part of (header ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index > 0) cookies[part.slice(0, index).trim()] = part.slice(index + 1).trim();
  }
  return cookies;
}

/** The body, or null when it is larger than {@link MAX_BODY_BYTES}. */
async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    return null;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_BODY_BYTES) {
      req.resume();
      return null;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
