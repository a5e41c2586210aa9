/// <reference lib="dom" />
/**
 * What the page itself can reach, tried from inside the real renderer in Chromium: no Node, no Electron,
 * no file://, no other origin (the CSP's connect-src, img-src and script-src), and the media route refuses
 * paths and ids that are not the library's.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeepsakeBridge } from '../ipc/bridge.ts';
import { makeJpeg } from '../test/fixtures.ts';
import { launchBrowser, openUi, type UiSession } from '../test/ui.ts';

let browser: Browser;
let ui: UiSession;
/** Another origin on loopback that records every request reaching it. */
let elsewhere: { server: http.Server; url: string; hits: string[] };
let assetId = 0;

beforeAll(async () => {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    res.writeHead(200, { 'Access-Control-Allow-Origin': '*', 'Content-Type': 'text/plain' });
    res.end('leaked');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  elsewhere = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
  browser = await launchBrowser();
  ui = await openUi({
    suite: 'desktop',
    browser,
    async prepare(engine, dir) {
      await makeJpeg(dir.join('card', 'DCIM', '100CANON', 'IMG_0001.JPG'), { seed: 5, width: 320, height: 240 });
      await engine.imports.run({ source: dir.join('card'), event: 'Sports Day' });
      assetId = engine.catalog.assets.listTimelinePage({ limit: 1 }).items[0]!.id;
    },
  });
}, 120_000);

afterAll(async () => {
  await ui?.close();
  await browser?.close();
  await new Promise((resolve) => elsewhere?.server.close(resolve));
});

describe('the renderer in the web host', () => {
  it('opens the library with no Node and no Electron in the page', async () => {
    await ui.page.getByRole('navigation', { name: 'Screens' }).waitFor();
    const reach = await ui.page.evaluate(() => ({
      require: typeof (globalThis as { require?: unknown }).require,
      process: typeof (globalThis as { process?: unknown }).process,
      bridge: Object.keys((window as { keepsake?: KeepsakeBridge }).keepsake ?? {}).sort(),
    }));
    expect(reach).toEqual({ require: 'undefined', process: 'undefined', bridge: ['invoke', 'on'] });
  });

  it('cannot read file://, talk to or load from another origin, nor run injected script', async () => {
    const tried = await ui.page.evaluate(async (other) => {
      const attempt = async (run: () => Promise<unknown>): Promise<string> => {
        try {
          await run();
          return 'reached';
        } catch {
          return 'refused';
        }
      };
      const image = (src: string): Promise<string> =>
        new Promise((resolve) => {
          const img = document.createElement('img');
          img.onload = () => resolve('reached');
          img.onerror = () => resolve('refused');
          img.src = src;
          document.body.append(img);
        });
      const script = (src: string): Promise<string> =>
        new Promise((resolve) => {
          const tag = document.createElement('script');
          tag.onload = () => resolve('reached');
          tag.onerror = () => resolve('refused');
          tag.src = src;
          document.head.append(tag);
        });
      // An injected inline script (what an XSS would try) does not run: the CSP has no 'unsafe-inline'.
      const inline = document.createElement('script');
      inline.textContent = 'window.__injected = true';
      document.head.append(inline);
      await new Promise((resolve) => setTimeout(resolve, 50));
      return {
        file: await attempt(() => fetch('file:///etc/passwd')),
        fetch: await attempt(() => fetch(`${other}/fetch`)),
        image: await image(`${other}/image.png`),
        script: await script(`${other}/script.js`),
        inline: (window as { __injected?: boolean }).__injected === true ? 'reached' : 'refused',
      };
    }, elsewhere.url);
    expect(tried).toEqual({ file: 'refused', fetch: 'refused', image: 'refused', script: 'refused', inline: 'refused' });
    // Refused by the browser before any byte left: the other server saw nothing.
    expect(elsewhere.hits).toEqual([]);
  });

  it('gets media by asset id only: paths, traversal and ids outside the library are not found', async () => {
    const statuses = await ui.page.evaluate(async (id) => {
      const paths = [`/media/${id}/thumb`, `/media/${id}/../../.keepsake/catalog.db`, `/media/..%2f..%2f.keepsake%2fcatalog.db/thumb`, `/media/${id}/%2e%2e%2fcatalog.db`, '/media/999999/thumb', `/media/0${id}/thumb`, '/media/etc%2fpasswd/original'];
      return Promise.all(paths.map(async (path) => (await fetch(path)).status));
    }, assetId);
    // In order: the asset's thumbnail, then six ways of asking for something else.
    expect(statuses).toEqual([200, 404, 404, 404, 404, 404, 404]);
  });
});
