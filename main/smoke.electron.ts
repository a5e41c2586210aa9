import assert from 'node:assert/strict';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { _electron as electron, type ElectronApplication, type Page } from 'playwright-core';

// The Electron smoke test: launches the built app (npm run build:desktop, renderer built) with Electron's real binary
// and checks what the window is allowed to see. Run with `npm run test:electron` where the binary exists; it fails,
// never skips, when it does not. vitest does not collect it (its name does not end in .test.ts).

const ROOT = fileURLToPath(new URL('..', import.meta.url));

async function electronBinary(): Promise<string> {
  const binary = process.env.ELECTRON_PATH ?? (createRequire(import.meta.url)('electron') as string);
  await access(binary).catch(() => {
    throw new Error(`Electron's binary is not at ${binary}: install it (npx electron --version downloads it) or set ELECTRON_PATH.`);
  });
  return binary;
}

let app: ElectronApplication;
let page: Page;
let library: string;

before(async () => {
  await access(path.join(ROOT, 'dist', 'main', 'main.cjs')).catch(() => {
    throw new Error('Build the shell first: npm run build:desktop');
  });
  library = await mkdtemp(path.join(os.tmpdir(), 'keepsake-smoke-'));
  app = await electron.launch({
    executablePath: await electronBinary(),
    args: [ROOT, ...(process.env.CI ? ['--no-sandbox'] : [])],
    env: { ...process.env, KEEPSAKE_LIBRARY: library },
    timeout: 60_000,
  });
  page = await app.firstWindow();
  await page.waitForLoadState('domcontentloaded');
});

after(async () => {
  await app?.close();
  await rm(library, { recursive: true, force: true });
});

test('the window is the app’s own page, sandboxed and isolated', async () => {
  assert.match(page.url(), /^keepsake:\/\/app\//);
  // Electron reports `sandboxed` per process on macOS and Windows; on Linux the page checks below stand for it.
  const sandboxed = await app.evaluate(({ app: electronApp, BrowserWindow }) => {
    const pid = BrowserWindow.getAllWindows()[0]?.webContents.getOSProcessId();
    return electronApp.getAppMetrics().find((metric) => metric.pid === pid)?.sandboxed ?? null;
  });
  if (sandboxed !== null) assert.equal(sandboxed, true);
});

test('the page sees window.keepsake with invoke and on, and no Node', async () => {
  const seen = await page.evaluate(() => ({
    keys: Object.keys((globalThis as unknown as { keepsake: object }).keepsake).sort(),
    require: typeof (globalThis as { require?: unknown }).require,
    process: typeof (globalThis as { process?: unknown }).process,
    ipcRenderer: typeof (globalThis as { ipcRenderer?: unknown }).ipcRenderer,
  }));
  assert.deepEqual(seen, { keys: ['invoke', 'on'], require: 'undefined', process: 'undefined', ipcRenderer: 'undefined' });
});

test('a call round-trips to the engine and bad input is refused at the boundary', async () => {
  const results = await page.evaluate(async () => {
    const bridge = (globalThis as unknown as { keepsake: { invoke(method: string, input: unknown): Promise<unknown> } }).keepsake;
    return { info: await bridge.invoke('library:info', {}), bad: await bridge.invoke('assets:get', { id: '1; DROP TABLE assets' }) };
  });
  assert.deepEqual((results.info as { ok: boolean; value: { root: string } }).ok, true);
  assert.equal((results.info as { value: { root: string } }).value.root, library);
  assert.equal((results.bad as { error: { code: string } }).error.code, 'invalid-input');
});

test('media is served by id with the CSP, and window.open and navigation go nowhere', async () => {
  const probe = await page.evaluate(async () => {
    const response = await fetch('/media/999999/thumb');
    const opened = (globalThis as unknown as { open(url: string): unknown }).open('http://example.com/');
    return { status: response.status, csp: response.headers.get('content-security-policy'), opened: opened === null };
  });
  assert.equal(probe.status, 404);
  assert.match(probe.csp ?? '', /default-src 'self'/);
  assert.equal(probe.opened, true);
  await page.evaluate(() => void ((globalThis as unknown as { location: { href: string } }).location.href = 'http://example.com/'));
  await page.waitForTimeout(500);
  assert.match(page.url(), /^keepsake:\/\/app\//);
});
