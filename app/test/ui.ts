/**
 * End-to-end harness for the desktop UI: the real renderer build, served by the real web host over a
 * real library, in Debian's Chromium. Each test file builds the renderer once into its own folder (test
 * files run in parallel; a shared `renderer/dist` would be rebuilt under another file's feet).
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { openEngine, type Engine, type EngineOptions } from '../engine.ts';
import { startWebHost, type WebHost } from '../web-host/web-host.ts';
import { artifactPath, launchBrowser } from './browser.ts';
import { tempDir, type TempDir } from './fixtures.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let built: Promise<string> | null = null;

/** Builds the renderer (once per test file) and returns the folder holding `index.html`. */
export function buildRenderer(): Promise<string> {
  built ??= (async () => {
    const outdir = await mkdtemp(path.join(os.tmpdir(), 'keepsake-renderer-'));
    await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'renderer/build.ts'), '--outdir', outdir], { cwd: ROOT });
    return outdir;
  })();
  return built;
}

/** A phone-free desktop window size and a small laptop one. */
export const VIEWPORTS = { desktop: { width: 1440, height: 900 }, laptop: { width: 1280, height: 720 } } as const;

/** A library, the web host serving it, and a signed-in page. */
export interface UiSession {
  dir: TempDir;
  engine: Engine;
  host: WebHost;
  context: BrowserContext;
  page: Page;
  /** Saves a full-window screenshot under `test-artifacts/<suite>/<name>.png` and returns its path. */
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/** Options of {@link openUi}. */
export interface OpenUiOptions {
  /** The artifact folder's name for screenshots. */
  suite: string;
  browser: Browser;
  /** Set up the library before the page opens (import a card, make events). */
  prepare?: (engine: Engine, dir: TempDir) => Promise<void>;
  engineOptions?: Partial<EngineOptions>;
  viewport?: { width: number; height: number };
}

/** Opens a fresh library in the web host and signs a page in with the printed link. */
export async function openUi(options: OpenUiOptions): Promise<UiSession> {
  const [staticDir, dir] = await Promise.all([buildRenderer(), tempDir('keepsake-ui-')]);
  const engine = await openEngine({ libraryPath: dir.join('library'), ...options.engineOptions });
  await options.prepare?.(engine, dir);
  const host = await startWebHost({ engine, staticDir });
  const context = await options.browser.newContext({ viewport: options.viewport ?? VIEWPORTS.desktop });
  const page = await context.newPage();
  await page.goto(host.url);
  return {
    dir,
    engine,
    host,
    context,
    page,
    async screenshot(name) {
      const file = artifactPath(options.suite, name);
      await page.screenshot({ path: file });
      return file;
    },
    async close() {
      await context.close();
      await host.close();
      await engine.close();
      await dir.cleanup();
    },
  };
}

export { launchBrowser };
