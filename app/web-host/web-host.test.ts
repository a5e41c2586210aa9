import http from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { openEngine, type Engine } from '../engine.ts';
import { makeJpeg, makeVideo, tempDir, type TempDir } from '../test/fixtures.ts';
import type { PushEvent } from '../ipc/contract.ts';
import { startWebHost, type WebHost } from './web-host.ts';

let dir: TempDir;
let engine: Engine;
let host: WebHost;

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A raw request, so the Host and Origin headers are exactly what the test says. */
function request(path: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: host.port, path, method: options.method ?? 'GET', headers: { Host: `127.0.0.1:${host.port}`, ...options.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const auth = (): Record<string, string> => ({ Authorization: `Bearer ${host.token}` });
const rpc = async (method: string, input: unknown): Promise<{ status: number; json: { ok: boolean; value?: unknown; error?: { code: string; message: string } } }> => {
  const reply = await request(`/rpc/${method}`, { method: 'POST', headers: { ...auth(), 'Content-Type': 'application/json' }, body: JSON.stringify(input) });
  return { status: reply.status, json: JSON.parse(reply.body.toString()) };
};

function openSocket(headers: Record<string, string>): Promise<{ ws: WebSocket; events: PushEvent[] } | { refused: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${host.port}/events`, { headers });
    const events: PushEvent[] = [];
    ws.on('message', (data: Buffer) => events.push(JSON.parse(data.toString()) as PushEvent));
    ws.on('open', () => resolve({ ws, events }));
    ws.on('unexpected-response', (_req, res) => resolve({ refused: res.statusCode ?? 0 }));
    ws.on('error', () => resolve({ refused: -1 }));
  });
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  dir = await tempDir('keepsake-web-');
  for (let i = 1; i <= 3; i += 1) await makeJpeg(dir.join('card', 'DCIM', '100CANON', `IMG_000${i}.JPG`), { seed: i, width: 160, height: 120 });
  await makeVideo(dir.join('card', 'DCIM', '100CANON', 'MVI_0001.MP4'), { durationSec: 1 });
  await mkdir(dir.join('static', 'assets'), { recursive: true });
  await writeFile(dir.join('static', 'index.html'), '<!doctype html><title>Keepsake UI</title>');
  await writeFile(dir.join('static', 'assets', 'app.js'), 'console.log(1)');
  await writeFile(dir.join('secret.txt'), 'not for the browser');
  engine = await openEngine({ libraryPath: dir.join('library'), logSink: () => undefined });
  host = await startWebHost({ engine, staticDir: dir.join('static') });
});

afterAll(async () => {
  await host.close();
  await engine.close();
  await dir.cleanup();
});

describe(startWebHost.name, () => {
  it('prints a URL on 127.0.0.1 with a 256-bit token', () => {
    expect(host.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${host.port}/\\?token=[A-Za-z0-9_-]{43}$`));
  });

  it('refuses requests without the token or with a wrong one (401)', async () => {
    expect((await request('/')).status).toBe(401);
    expect((await request('/rpc/library:info', { method: 'POST', body: '{}' })).status).toBe(401);
    expect((await request('/rpc/library:info', { method: 'POST', body: '{}', headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await request('/?token=wrong')).status).toBe(401);
    expect((await request('/', { headers: { Cookie: 'keepsake_token=wrong' } })).status).toBe(401);
  });

  it('refuses a foreign Host (DNS rebinding) and a cross-site Origin (403)', async () => {
    expect((await request('/', { headers: { ...auth(), Host: `evil.example:${host.port}` } })).status).toBe(403);
    expect((await request('/', { headers: { ...auth(), Host: '127.0.0.1:1' } })).status).toBe(403);
    const cross = await request('/rpc/library:info', { method: 'POST', body: '{}', headers: { ...auth(), Origin: 'http://evil.example' } });
    expect(cross.status).toBe(403);
    const same = await request('/rpc/library:info', { method: 'POST', body: '{}', headers: { ...auth(), Origin: `http://127.0.0.1:${host.port}` } });
    expect(same.status).toBe(200);
  });

  it('trades the token in the URL for an HttpOnly SameSite cookie and strips it from the address', async () => {
    const first = await request(`/?token=${host.token}`);
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/');
    const cookie = first.headers['set-cookie']?.[0] ?? '';
    expect(cookie).toMatch(/^keepsake_token=[^;]+; HttpOnly; SameSite=Strict; Path=\/$/);
    const page = await request('/', { headers: { Cookie: cookie.split(';')[0]! } });
    expect(page.status).toBe(200);
    expect(page.body.toString()).toContain('Keepsake UI');
  });

  it('sends the CSP and the other security headers on every response', async () => {
    const replies = [await request('/'), await request('/', { headers: auth() }), await request('/nope.js', { headers: auth() }), await request('/', { headers: { Host: 'evil.example' } })];
    for (const reply of replies) {
      expect(reply.headers['content-security-policy']).toBe(
        `default-src 'self'; script-src 'self'; img-src 'self' data: blob:; media-src 'self'; connect-src 'self' ws://127.0.0.1:${host.port} ws://localhost:${host.port}; style-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'`,
      );
      expect(reply.headers['x-content-type-options']).toBe('nosniff');
      expect(reply.headers['referrer-policy']).toBe('no-referrer');
      expect(reply.headers['cross-origin-opener-policy']).toBe('same-origin');
    }
  });

  it('serves static files and refuses path traversal', async () => {
    const js = await request('/assets/app.js', { headers: auth() });
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/%2e%2e%2f%2e%2e%2fsecret.txt', '/..%5csecret.txt', '/%00.js']) {
      const reply = await request(path, { headers: auth() });
      expect(reply.status, path).toBe(404);
      expect(reply.body.toString()).not.toContain('not for the browser');
    }
  });

  it('serves a page that says how to build the renderer when it is not built', async () => {
    const bare = await startWebHost({ engine, staticDir: dir.join('no-build') });
    try {
      const reply = await new Promise<string>((resolve) => {
        http.get({ host: '127.0.0.1', port: bare.port, path: '/', headers: { Authorization: `Bearer ${bare.token}` } }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve(body));
        });
      });
      expect(reply).toMatch(/not built yet.*npm run build/s);
    } finally {
      await bare.close();
    }
  });

  it('answers RPC errors with the one error shape, and 413 for a body over 1 MiB', async () => {
    expect(await rpc('nope', {})).toMatchObject({ status: 404, json: { ok: false, error: { code: 'unknown-method' } } });
    expect(await rpc('assets:setRating', { ids: [1], rating: 9 })).toMatchObject({ json: { ok: false, error: { code: 'invalid-input' } } });
    const bad = await request('/rpc/library:info', { method: 'POST', headers: auth(), body: '{not json' });
    expect(bad.status).toBe(400);
    const big = await request('/rpc/search:query', { method: 'POST', headers: auth(), body: JSON.stringify({ query: 'x'.repeat(1024 * 1024 + 10) }) });
    expect(big.status).toBe(413);
  });

  it('refuses a WebSocket without the token, from another origin or without an Origin', async () => {
    const origin = `http://127.0.0.1:${host.port}`;
    expect(await openSocket({ Origin: origin })).toEqual({ refused: 401 });
    expect(await openSocket({ ...auth(), Origin: 'http://evil.example' })).toEqual({ refused: 403 });
    expect(await openSocket({ ...auth() })).toEqual({ refused: 403 });
  });

  it('streams an import started over RPC (progress, thumbnails, finished) and serves its media with Range', async () => {
    const socket = await openSocket({ ...auth(), Origin: `http://127.0.0.1:${host.port}` });
    if (!('ws' in socket)) throw new Error(`socket refused: ${socket.refused}`);
    try {
      const started = await rpc('import:start', { source: dir.join('card'), event: 'Sports Day' });
      const importId = (started.json.value as { importId: string }).importId;
      await waitFor(() => socket.events.some((event) => event.event === 'import:finished' && event.payload.importId === importId), 'the import to finish');
      const finished = socket.events.find((event) => event.event === 'import:finished');
      expect(finished?.payload).toMatchObject({ state: 'completed', imported: 4 });
      expect(socket.events.some((event) => event.event === 'import:progress' && event.payload.importId === importId)).toBe(true);
      await waitFor(() => socket.events.filter((event) => event.event === 'asset:thumbReady').length >= 4, 'four thumbnails');
      await engine.jobs.whenIdle(['thumbs', 'proxy']);

      const assets = engine.catalog.assets.listTimelinePage({ limit: 10 }).items;
      const photo = assets.find((asset) => asset.kind === 'photo')!;
      const video = assets.find((asset) => asset.kind === 'video')!;
      const thumb = await request(`/media/${photo.id}/thumb`, { headers: auth() });
      expect(thumb.status).toBe(200);
      expect(thumb.headers['content-type']).toBe('image/webp');
      expect(thumb.body.subarray(8, 12).toString()).toBe('WEBP');
      // A tile scrolled back into view revalidates: the same ETag costs a 304 and no bytes.
      expect(thumb.headers['cache-control']).toBe('private, no-cache');
      const revalidated = await request(`/media/${photo.id}/thumb`, { headers: { ...auth(), 'If-None-Match': String(thumb.headers.etag) } });
      expect([revalidated.status, revalidated.body.length]).toEqual([304, 0]);
      expect((await request(`/media/${photo.id}/preview`, { headers: auth() })).headers['content-type']).toBe('image/jpeg');
      const full = await request(`/media/${video.id}/proxy`, { headers: auth() });
      expect(full.headers['content-type']).toBe('video/mp4');
      const part = await request(`/media/${video.id}/proxy`, { headers: { ...auth(), Range: 'bytes=0-99' } });
      expect(part.status).toBe(206);
      expect(part.headers['content-range']).toBe(`bytes 0-99/${full.body.length}`);
      expect(part.body).toEqual(full.body.subarray(0, 100));
      const tail = await request(`/media/${video.id}/proxy`, { headers: { ...auth(), Range: 'bytes=-10' } });
      expect(tail.body).toEqual(full.body.subarray(full.body.length - 10));
      expect((await request(`/media/${video.id}/proxy`, { headers: { ...auth(), Range: `bytes=${full.body.length}-` } })).status).toBe(416);
      for (const path of [`/media/${photo.id}/../../secret.txt`, `/media/..%2f..%2fsecret.txt/thumb`, `/media/${photo.id}/%2e%2e%2fcatalog.db`, '/media/999999/thumb', `/media/${photo.id}/proxy`, '/media/abc/thumb', `/media/0${photo.id}/thumb`]) {
        expect((await request(path, { headers: auth() })).status, path).toBe(404);
      }
      expect((await request(`/media/${photo.id}/thumb`)).status).toBe(401);
    } finally {
      socket.ws.close();
    }
  });

  it('cancels an import by id', async () => {
    for (let i = 1; i <= 6; i += 1) await makeJpeg(dir.join('card2', `IMG_1${i}.JPG`), { seed: 200 + i, width: 1600, height: 1200 });
    const socket = await openSocket({ ...auth(), Origin: `http://127.0.0.1:${host.port}` });
    if (!('ws' in socket)) throw new Error('socket refused');
    try {
      const started = await rpc('import:start', { source: dir.join('card2'), event: 'Play' });
      const importId = (started.json.value as { importId: string }).importId;
      expect(await rpc('import:cancel', { importId })).toMatchObject({ json: { ok: true, value: { cancelled: true } } });
      await waitFor(() => socket.events.some((event) => event.event === 'import:finished' && event.payload.importId === importId), 'the cancelled import');
      const finished = socket.events.find((event) => event.event === 'import:finished' && event.payload.importId === importId);
      expect(finished?.payload).toMatchObject({ state: 'cancelled' });
      expect(await rpc('import:cancel', { importId })).toMatchObject({ json: { ok: true, value: { cancelled: false } } });
    } finally {
      socket.ws.close();
    }
  });
});
