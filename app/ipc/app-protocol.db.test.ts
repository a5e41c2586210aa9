import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine, type Engine } from '../engine.ts';
import { makeJpeg, tempDir, type TempDir } from '../test/fixtures.ts';
import { isAppError } from '../shared/errors.ts';
import { APP_CSP, createAppProtocolHandler, type AppRequest } from './app-protocol.ts';
import { createDispatcher, type Dispatcher } from './dispatcher.ts';
import { resolveMedia } from './media.ts';

let dir: TempDir;
let engine: Engine;
let dispatcher: Dispatcher;
let handle: (request: AppRequest) => Promise<Response>;
let assetId: number;
const INDEX = '<!doctype html><title>Keepsake</title><script src="./assets/app.js"></script>';

const get = (url: string, range: string | null = null): Promise<Response> => handle({ url, method: 'GET', range });

beforeAll(async () => {
  dir = await tempDir('keepsake-protocol-');
  await makeJpeg(dir.join('card', 'DCIM', 'IMG_0001.JPG'), { seed: 7, width: 640, height: 480 });
  engine = await openEngine({ libraryPath: dir.join('library'), logSink: () => undefined });
  dispatcher = createDispatcher(engine);
  const done = new Promise<void>((resolve) => dispatcher.subscribe((event) => event.event === 'import:finished' && resolve()));
  const started = await dispatcher.call('import:start', { source: dir.join('card'), event: 'Sports Day' });
  expect(started.ok).toBe(true);
  await done;
  await engine.jobs.whenIdle(['thumbs']);
  assetId = engine.catalog.assets.listTimelinePage({ limit: 1 }).items[0]!.id;

  await mkdir(dir.join('dist', 'assets'), { recursive: true });
  await writeFile(dir.join('dist', 'index.html'), INDEX);
  await writeFile(dir.join('dist', 'assets', 'app.js'), 'console.log("hello");');
  await writeFile(dir.join('secret.txt'), 'not for the window');
  await symlink(dir.join('secret.txt'), dir.join('dist', 'assets', 'leak.js'));
  handle = createAppProtocolHandler({
    staticDir: dir.join('dist'),
    // As in the app: the engine resolves by id and containment, and a refusal becomes "nothing there".
    resolveMedia: (id, variant) =>
      resolveMedia(engine, id, variant).catch((error: unknown) => {
        if (isAppError(error, 'not-found')) return null;
        throw error;
      }),
  });
}, 60_000);

afterAll(async () => {
  await dispatcher.close();
  await engine.close();
  await dir.cleanup();
});

function expectAppHeaders(response: Response): void {
  expect(response.headers.get('content-security-policy')).toBe(APP_CSP);
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
}

describe(createAppProtocolHandler.name, () => {
  it('serves the renderer’s page and bundle with the strict CSP', async () => {
    const page = await get('keepsake://app/index.html');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toBe(INDEX);
    expectAppHeaders(page);
    const script = await get('keepsake://app/assets/app.js');
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toBe('console.log("hello");');
    expectAppHeaders(script);
    expect(APP_CSP).toMatch(/script-src 'self';/);
    expect(APP_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
  });

  it('falls back to the page for client-side routes but not for missing files', async () => {
    expect(await (await get('keepsake://app/events/3')).text()).toBe(INDEX);
    expect(await (await get('keepsake://app/')).text()).toBe(INDEX);
    expect((await get('keepsake://app/assets/missing.js')).status).toBe(404);
  });

  it('serves a thumbnail by asset id with its MIME type and the whole file', async () => {
    const response = await get(`keepsake://app/media/${assetId}/thumb`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/webp');
    expectAppHeaders(response);
    const media = await resolveMedia(engine, assetId, 'thumb');
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(bytes.equals(await readFile(media.file))).toBe(true);
    expect(response.headers.get('content-length')).toBe(String(bytes.length));
  });

  it('lets the window revalidate a thumbnail it has: the same ETag answers 304 with no body', async () => {
    const first = await get(`keepsake://app/media/${assetId}/thumb`);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-z]+-[0-9a-z]+"$/);
    await first.arrayBuffer();
    const again = await handle({ url: `keepsake://app/media/${assetId}/thumb`, method: 'GET', range: null, ifNoneMatch: etag });
    expect(again.status).toBe(304);
    expect((await again.arrayBuffer()).byteLength).toBe(0);
    expectAppHeaders(again);
    const stale = await handle({ url: `keepsake://app/media/${assetId}/thumb`, method: 'GET', range: null, ifNoneMatch: '"0-0"' });
    expect(stale.status).toBe(200);
  });

  it('answers a Range request with 206 and exactly those bytes, and a bad range with 416', async () => {
    const original = await readFile((await resolveMedia(engine, assetId, 'original')).file);
    const part = await get(`keepsake://app/media/${assetId}/original`, 'bytes=100-199');
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${original.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(original.subarray(100, 200))).toBe(true);
    const tail = await get(`keepsake://app/media/${assetId}/original`, 'bytes=-10');
    expect(Buffer.from(await tail.arrayBuffer()).equals(original.subarray(original.length - 10))).toBe(true);
    const open = await get(`keepsake://app/media/${assetId}/original`, `bytes=${original.length - 5}-`);
    expect((await open.arrayBuffer()).byteLength).toBe(5);
    for (const range of [`bytes=${original.length}-`, 'bytes=5-1', 'bytes=-', 'items=0-1', 'bytes=0-1,5-6']) {
      const refused = await get(`keepsake://app/media/${assetId}/original`, range);
      expect(refused.status, range).toBe(416);
      expect(refused.headers.get('content-range')).toBe(`bytes */${original.length}`);
      expectAppHeaders(refused);
    }
  });

  it('answers HEAD with the headers and no body', async () => {
    const response = await handle({ url: `keepsake://app/media/${assetId}/thumb`, method: 'HEAD', range: null });
    expect(response.status).toBe(200);
    expect(Number(response.headers.get('content-length'))).toBeGreaterThan(0);
    expect(response.body).toBeNull();
  });

  it('refuses traversal, encoded traversal, links out of the build and ids outside the library with 404', async () => {
    const probes = [
      'keepsake://app/../secret.txt',
      'keepsake://app/%2e%2e/secret.txt',
      'keepsake://app/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      'keepsake://app/assets/..%5c..%5csecret.txt',
      'keepsake://app/assets/leak.js',
      'keepsake://app/%00index.html',
      'keepsake://app/%E0%A4%A.js',
      `keepsake://app/media/${assetId}/../../secret.txt`,
      `keepsake://app/media/${assetId}/%2e%2e%2fcatalog.db`,
      `keepsake://app/media/${assetId}`,
      `keepsake://app/media/${assetId}/thumb/extra`,
      `keepsake://app/media/0${assetId}/thumb`,
      'keepsake://app/media/999999/thumb',
      'keepsake://app/media/-1/thumb',
      `keepsake://app/media/${assetId}/proxy`,
      `keepsake://app/media/${assetId}/catalog`,
      `keepsake://app/media/${encodeURIComponent(dir.join('secret.txt'))}/original`,
      'keepsake://other/index.html',
      'https://app/index.html',
    ];
    for (const url of probes) {
      const response = await get(url);
      expect(response.status, url).toBe(404);
      expectAppHeaders(response);
      expect(await response.text()).not.toContain('not for the window');
    }
  });

  it('refuses methods other than GET and HEAD', async () => {
    const response = await handle({ url: 'keepsake://app/index.html', method: 'POST', range: null });
    expect(response.status).toBe(405);
    expectAppHeaders(response);
  });

  it('tells the user the interface is missing when there is no build', async () => {
    const bare = createAppProtocolHandler({ staticDir: dir.join('no-build'), resolveMedia: () => Promise.resolve(null) });
    const response = await bare({ url: 'keepsake://app/index.html', method: 'GET', range: null });
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/user interface is missing/);
  });
});
