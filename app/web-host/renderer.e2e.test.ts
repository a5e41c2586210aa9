/// <reference lib="dom" />
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeepsakeBridge } from '../ipc/bridge.ts';
import { launchBrowser, openUi, type UiSession } from '../test/ui.ts';

let browser: Browser;
let ui: UiSession;

beforeAll(async () => {
  browser = await launchBrowser();
  ui = await openUi({ suite: 'desktop', browser });
}, 120_000);

afterAll(async () => {
  await ui?.close();
  await browser?.close();
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
});
