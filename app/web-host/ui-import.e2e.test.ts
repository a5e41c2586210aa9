/// <reference lib="dom" />
import { appendFile, copyFile, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine, type Engine } from '../engine.ts';
import { RecentLibraries } from '../ipc/recent-libraries.ts';
import { artifactPath, launchBrowser } from '../test/browser.ts';
import { makeCameraCard, type CameraCard } from '../test/camera-card.ts';
import { makeJpeg, tempDir, type TempDir } from '../test/fixtures.ts';
import { buildRenderer, VIEWPORTS } from '../test/ui.ts';
import { startWebHost, type WebHost } from './web-host.ts';

// The whole first session of a photographer, in Chromium against the real web host: no library at first, a
// camera card inserted, an import with a live name preview, search, the status bar, the roster.

let browser: Browser;
let dir: TempDir;
let host: WebHost;
let context: BrowserContext;
let page: Page;
let card: CameraCard;
const engines: Engine[] = [];

const screenshot = (name: string): Promise<Buffer> => page.screenshot({ path: artifactPath('desktop', name) });
const engine = (): Engine => {
  const current = host.dispatcher.engine;
  if (current === null) throw new Error('no library is open');
  return current;
};

beforeAll(async () => {
  const [staticDir, made, launched] = await Promise.all([buildRenderer(), tempDir('keepsake-ui-import-'), launchBrowser()]);
  dir = made;
  browser = launched;
  await mkdir(dir.join('mounts'), { recursive: true });
  host = await startWebHost({
    engine: null,
    staticDir,
    recent: new RecentLibraries(dir.join('config')),
    suggestedLibraryPath: dir.join('Pictures', 'Keepsake'),
    openLibrary: async (libraryPath, create) => {
      const opened = await openEngine({ libraryPath, create, logSink: () => undefined, volumes: { roots: [dir.join('mounts')], intervalMs: 200 } });
      opened.jobs.start();
      opened.volumes.start();
      engines.push(opened);
      return opened;
    },
  });
  context = await browser.newContext({ viewport: VIEWPORTS.desktop });
  page = await context.newPage();
  await page.goto(host.url);
}, 180_000);

afterAll(async () => {
  await context?.close();
  await host?.close();
  await browser?.close();
  await dir?.cleanup();
});

describe('the desktop UI from first run to a searched import', () => {
  it('creates a library from the first-run screen', async () => {
    await page.getByRole('heading', { name: 'Welcome to Keepsake' }).waitFor();
    const field = page.getByLabel('Folder for the new library');
    // The suggestion arrives with the recent libraries, a moment after the screen.
    await expect.poll(() => field.inputValue()).toBe(dir.join('Pictures', 'Keepsake'));
    await screenshot('first-run');
    await field.fill(dir.join('School 2026'));
    await page.getByRole('button', { name: 'Create library' }).click();
    await page.getByRole('navigation', { name: 'Screens' }).waitFor();
    expect(engine().libraryRoot).toBe(dir.join('School 2026'));
    await expect.poll(() => page.getByRole('contentinfo', { name: 'Status' }).textContent()).toContain('School 2026');
  }, 60_000);

  it('offers to import a camera card when one is inserted, and fills the import screen', async () => {
    // Made elsewhere and moved in at once, as a card mounts with all its files.
    card = await makeCameraCard(dir.join('EOS_DIGITAL'), { photos: 6 });
    await rename(dir.join('EOS_DIGITAL'), dir.join('mounts', 'EOS_DIGITAL'));
    card = { ...card, root: dir.join('mounts', 'EOS_DIGITAL') };
    const dialog = page.getByRole('dialog', { name: /^Import \d+ photos from EOS_DIGITAL\?$/ });
    await dialog.waitFor({ timeout: 20_000 });
    const counted = engine().volumes.cards[0]!.mediaCount;
    expect(counted).toBeGreaterThanOrEqual(card.media.length);
    expect(await dialog.getByRole('heading').textContent()).toBe(`Import ${counted} photos from EOS_DIGITAL?`);
    await screenshot('card-prompt');
    await dialog.getByRole('button', { name: 'Import' }).click();
    await page.getByRole('heading', { name: 'Import', exact: true }).waitFor();
    await expect.poll(() => page.getByLabel('Source folder or card').inputValue()).toBe(card.root);
  }, 60_000);

  it('previews the names live and changes them as the template changes', async () => {
    await page.getByLabel('Event').fill('Sports Day');
    await page.getByLabel('Rename template').fill('{event}-{seq:3}');
    const names = page.getByRole('complementary', { name: 'Name preview' }).locator('.new-name');
    await expect.poll(() => names.first().textContent(), { timeout: 15_000 }).toBe('Sports Day-001.jpg');
    expect(await names.count()).toBe(10);
    expect(await page.getByRole('complementary', { name: 'Name preview' }).textContent()).toContain('duplicates are checked when the import runs');
    await page.getByLabel('Rename template').fill('Relay-{date:YYYYMMDD}-{seq:2}');
    await expect.poll(() => names.first().textContent(), { timeout: 15_000 }).toMatch(/^Relay-\d{8}-01\.(jpg|mp4|png)$/);
    await page.getByLabel('Tags (optional, comma-separated)').fill('sportsday, 2026');
    await screenshot('import-preview');
  }, 60_000);

  it('imports the card: summary with per-file errors, then thumbnails in the event grid', async () => {
    await page.getByRole('button', { name: 'Start import' }).click();
    const summary = page.getByRole('status', { name: 'Import summary' });
    await summary.waitFor({ timeout: 60_000 });
    const text = (await summary.textContent()) ?? '';
    const imported = card.media.length;
    expect(text).toContain(`${imported} files imported into Sports Day, 1 duplicate skipped (already in the library), 1 not imported.`);
    expect(await summary.getByRole('list', { name: 'Files not imported' }).textContent()).toContain('IMG_9000.JPG: The file is empty (0 bytes)');
    await screenshot('import-summary');
    await summary.getByRole('button', { name: 'Open Sports Day' }).click();
    const grid = page.getByRole('grid', { name: 'Photos and videos' });
    await grid.waitFor();
    // Thumbnails are made in the background; each tile's image is served once made.
    await expect
      .poll(() => grid.locator('img').evaluateAll((images) => images.filter((image) => (image as HTMLImageElement).complete && (image as HTMLImageElement).naturalWidth > 0).length), { timeout: 60_000 })
      .toBeGreaterThanOrEqual(imported - 1);
    await screenshot('event-grid');
  }, 120_000);

  it('shows the thumbnail job in the status bar, and the unreadable file with its reason', async () => {
    const status = page.getByRole('contentinfo', { name: 'Status' });
    await expect.poll(() => status.getByLabel('Background jobs').textContent(), { timeout: 30_000 }).toMatch(/Thumbnails \d+\/\d+/);
    await engine().jobs.whenIdle(['thumbs']);
    const button = status.getByRole('button', { name: '1 unreadable file' });
    await button.waitFor({ timeout: 30_000 });
    await button.click();
    const panel = page.getByRole('dialog', { name: 'Files Keepsake cannot read' });
    const row = panel.getByRole('row', { name: /IMG_9001\.JPG/ });
    await row.waitFor();
    // The reason the engine recorded, as a sentence (e.g. "Truncated JPEG").
    expect(await row.locator('td').nth(1).textContent()).toMatch(/^[A-Z].{5,}/);
    await screenshot('unreadable-panel');
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
  }, 90_000);

  it('searches by tag with suggestions, and by a word, counting the right assets', async () => {
    const box = page.getByRole('combobox', { name: 'Search' });
    await box.fill('tag:sports');
    await page.getByRole('option', { name: /sportsday/ }).waitFor();
    await screenshot('search-suggestions');
    await box.press('ArrowDown');
    await box.press('Enter');
    await expect.poll(() => box.inputValue()).toBe('tag:sportsday ');
    await box.press('Enter');
    await expect.poll(() => page.locator('.search-count').textContent()).toBe(`${card.media.length} found`);
    await page.getByRole('grid', { name: 'Photos and videos' }).waitFor();
    // The XMP sidecar titled one photo "Relay final" (every file is now named Relay-…, so "relay" finds them all).
    await box.fill('final');
    await box.press('Enter');
    await expect.poll(() => page.locator('.search-count').textContent()).toBe('1 found');
    await box.fill('rating>=banana');
    await box.press('Enter');
    const alert = page.locator('.search-box [role="alert"]');
    await alert.waitFor();
    expect(((await alert.textContent()) ?? '').length).toBeGreaterThan(10);
    await screenshot('search-invalid');
    await box.fill('');
  }, 60_000);

  it('imports a roster CSV and shows consent on each person, with the lines skipped', async () => {
    const csv = dir.join('roster.csv');
    await writeFile(csv, 'name,class,family email,publish,yearbook\nAna Lima,4B,lima@example.org,yes,no\n,4B,nobody@example.org,yes,yes\nBen Ode,4C,ode@example.org,no,yes\n');
    await page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: 'People' }).click();
    await page.getByLabel('Roster CSV file').fill(csv);
    await page.getByRole('button', { name: 'Import roster' }).click();
    const report = page.getByRole('status').filter({ hasText: 'added' });
    await report.waitFor();
    expect(await report.textContent()).toContain('2 people added, 0 updated, 1 line skipped:');
    expect(await page.getByRole('list', { name: 'Roster lines skipped' }).textContent()).toMatch(/^Line 3: /);
    const ana = page.getByRole('row', { name: /Ana Lima/ });
    expect(await ana.getByTitle('Publish: consent given').count()).toBe(1);
    expect(await ana.getByTitle('Yearbook: no consent').count()).toBe(1);
    await expect.poll(() => page.getByRole('contentinfo', { name: 'Status' }).textContent()).toContain('2 people');
    await screenshot('people');
  }, 60_000);

  it('shows progress while a larger card copies, and cancels it', async () => {
    // Large noisy photos, each made unique by a trailer, so copying takes long enough to be watched and stopped.
    const big = dir.join('big-card', 'DCIM', '100CANON');
    await mkdir(big, { recursive: true });
    const seed = await makeJpeg(dir.join('seed.jpg'), { seed: 5, width: 4000, height: 3000 });
    for (let i = 1; i <= 60; i += 1) {
      const file = path.join(big, `IMG_${String(i).padStart(4, '0')}.JPG`);
      await copyFile(seed, file);
      await appendFile(file, `unique ${i}`);
    }
    await page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: 'Import' }).click();
    await page.getByRole('button', { name: 'Import more' }).click();
    await page.getByLabel('Source folder or card').fill(dir.join('big-card'));
    await page.getByLabel('Event').fill('Concert');
    await page.getByLabel('Rename template').fill('');
    await page.getByRole('button', { name: 'Start import' }).click();
    const progress = page.getByLabel('Import progress');
    await expect.poll(() => progress.locator('.progress-headline').textContent(), { timeout: 30_000 }).toMatch(/^[1-9]\d* of 60 files · /);
    expect(await progress.textContent()).toMatch(/MB\/s/);
    await screenshot('import-progress');
    await page.getByRole('button', { name: 'Cancel import' }).click();
    const summary = page.getByRole('status', { name: 'Import summary' });
    await summary.waitFor({ timeout: 30_000 });
    expect(await summary.getByRole('heading').textContent()).toBe('Import cancelled');
    const imported = Number(/(\d+) files? imported/.exec((await summary.textContent()) ?? '')?.[1]);
    expect(imported).toBeLessThan(60);
    expect(engine().catalog.assets.count()).toBe(card.media.length + imported);
    await screenshot('import-cancelled');
  }, 120_000);

  it('switches to another library from the status bar, and lists the first among the recent ones', async () => {
    const status = page.getByRole('contentinfo', { name: 'Status' });
    await status.getByRole('button', { name: 'School 2026' }).click();
    await page.getByRole('heading', { name: 'Open another library' }).waitFor();
    const recent = page.getByRole('list', { name: 'Recent libraries' });
    await expect.poll(() => recent.textContent()).toContain(dir.join('School 2026'));
    await page.getByLabel('Folder for the new library').fill(dir.join('Drama Club'));
    await page.getByRole('button', { name: 'Create library' }).click();
    await expect.poll(() => status.textContent(), { timeout: 20_000 }).toContain('Drama Club');
    await expect.poll(() => status.textContent()).toContain('0 items');
    expect(engine().libraryRoot).toBe(dir.join('Drama Club'));
    // The library opened from the page is closed when another replaces it.
    expect(() => engines[0]!.catalog.assets.count()).toThrow();
    await screenshot('switched-library');
  }, 60_000);
});
