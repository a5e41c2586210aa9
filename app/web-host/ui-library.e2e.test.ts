/// <reference lib="dom" />
import { writeFile } from 'node:fs/promises';
import type { Browser, Locator } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../engine.ts';
import type { AssetId } from '../shared/ids.ts';
import { makeJpeg, makeVideo } from '../test/fixtures.ts';
import { launchBrowser, openUi, type UiSession } from '../test/ui.ts';

const PHOTOS = 30;
let browser: Browser;
let ui: UiSession;

/** Polls the engine (not the page) until `check` holds: the catalog is what the UI must have changed. */
async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function asset(engine: Engine, id: number) {
  return engine.catalog.assets.get(id as AssetId)!;
}

/** The id of the tile the grid's keyboard focus is on. */
async function focusedId(): Promise<number> {
  const tile = await ui.page.evaluate(() => document.querySelector('[role="grid"]')?.getAttribute('aria-activedescendant') ?? '');
  return Number(await ui.page.locator(`#${tile}`).getAttribute('data-asset-id'));
}

function tile(id: number): Locator {
  return ui.page.locator(`[role="gridcell"][data-asset-id="${id}"]`);
}

beforeAll(async () => {
  browser = await launchBrowser();
  ui = await openUi({
    suite: 'desktop',
    browser,
    async prepare(engine, dir) {
      for (let i = 1; i <= PHOTOS; i += 1) {
        const minute = String(i).padStart(2, '0');
        await makeJpeg(dir.join('card', 'DCIM', '100CANON', `IMG_${String(i).padStart(4, '0')}.JPG`), {
          seed: i,
          width: 640,
          height: 480,
          exif: { dateTimeOriginal: `2026:05:14 10:${minute}:00`, make: 'Canon', model: 'Canon EOS R6' },
        });
      }
      await makeVideo(dir.join('card', 'DCIM', '100CANON', 'MVI_0100.MP4'), { durationSec: 2, creationTime: '2026-05-14T09:30:00Z' });
      await writeFile(dir.join('roster.csv'), 'name,class,family email,publish\nAna Lima,4B,lima@example.org,no\nBen Okafor,4B,okafor@example.org,yes\n');
      await engine.roster.import(dir.join('roster.csv'));
      engine.jobs.start();
      const report = await engine.imports.run({ source: dir.join('card'), event: 'Sports Day' });
      expect(report.imported).toHaveLength(PHOTOS + 1);
      await engine.jobs.whenIdle(['thumbs']);
    },
  });
  // A missing element fails the step that waited for it, well inside the test's own timeout.
  ui.page.setDefaultTimeout(10_000);
}, 180_000);

afterAll(async () => {
  await ui?.close();
  await browser?.close();
});

describe('the library screens in Chromium', () => {
  it('shows the event on the dashboard with its cover and counts', async () => {
    const card = ui.page.getByRole('article', { name: 'Sports Day' });
    await card.waitFor();
    await expect.poll(() => card.textContent()).toMatch(/30 photos · 1 video/);
    expect(await card.textContent()).toMatch(/31 not published/);
    expect(await card.textContent()).toMatch(/14 May 2026|May 14, 2026/);
    const cover = card.locator('.event-cover img');
    await expect.poll(() => cover.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 10_000 }).toBeGreaterThan(0);
    await ui.screenshot('library-dashboard');
  });

  it('opens the grid with thumbnails loaded from the media protocol', async () => {
    await ui.page.getByRole('button', { name: 'Open Sports Day' }).click();
    const grid = ui.page.getByRole('grid', { name: 'Photos and videos' });
    await grid.waitFor();
    await expect.poll(() => ui.page.getByRole('gridcell').count()).toBeGreaterThan(10);
    await expect
      .poll(
        () =>
          ui.page.evaluate(() => {
            const images = Array.from(document.querySelectorAll<HTMLImageElement>('[role="gridcell"] img')).slice(0, 12);
            return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0);
          }),
        { timeout: 15_000 },
      )
      .toBe(true);
    await expect.poll(() => ui.page.locator('.grid-bar').textContent()).toMatch(/31 items/);
    // Placeholders are painted from each asset's thumbhash, before and under the thumbnail.
    const placeholder = await ui.page.locator('[role="gridcell"] .tile-frame').first().evaluate((frame: HTMLElement) => frame.style.backgroundImage);
    expect(placeholder).toMatch(/^url\("data:image\/png;base64,/);
    await ui.screenshot('library-grid');
  });

  it('culls with the keyboard: the tile changes at once and the catalog follows', async () => {
    const { engine, page } = ui;
    await page.getByRole('grid').focus();
    await page.keyboard.press('ArrowRight');
    const second = await focusedId();
    await page.keyboard.press('4');
    await expect.poll(() => tile(second).getAttribute('aria-label')).toMatch(/4 stars/);
    await until(() => asset(engine, second).rating === 4, 'rating 4 in the catalog');
    await page.keyboard.press('p');
    await until(() => asset(engine, second).flag === 'pick', 'the pick');
    await page.keyboard.press('ArrowRight');
    const third = await focusedId();
    expect(third).not.toBe(second);
    await page.keyboard.press('x');
    await until(() => asset(engine, third).flag === 'reject', 'the reject');
    await page.keyboard.press('8');
    await until(() => asset(engine, third).colorLabel === 'green', 'the green label');
    expect(await tile(third).getAttribute('aria-label')).toMatch(/rejected, green label/);
    await page.keyboard.press('u');
    await page.keyboard.press('0');
    await until(() => asset(engine, third).flag === 'none' && asset(engine, third).rating === 0, 'unflag and clear');
    await page.keyboard.press('ArrowDown');
    expect(await focusedId()).not.toBe(third);
  });

  it('tags a Shift-selected range in one batch with T', async () => {
    const { engine, page } = ui;
    const cells = page.getByRole('gridcell');
    await cells.nth(1).click();
    await cells.nth(4).click({ modifiers: ['Shift'] });
    await page.getByRole('heading', { name: '4 selected' }).waitFor();
    const ids = await Promise.all([1, 2, 3, 4].map(async (i) => Number(await cells.nth(i).getAttribute('data-asset-id'))));
    await page.keyboard.press('t');
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Add a tag');
    await page.keyboard.type('relay');
    await page.keyboard.press('Enter');
    await until(() => ids.every((id) => engine.catalog.tags.forAsset(id as AssetId).includes('relay')), 'the tag on all four');
    await page.getByRole('complementary', { name: 'Details' }).getByRole('button', { name: 'Remove tag relay' }).waitFor();
    await page.keyboard.press('Escape');
    await page.keyboard.press('5');
    await until(() => ids.every((id) => asset(engine, id).rating === 5), 'a batch rating');
  });

  it('opens the loupe with Space and plays the video proxy, then steps to the next photo', async () => {
    const { engine, page } = ui;
    const video = engine.catalog.assets.listIds({}).map((id) => asset(engine, id)).find((a) => a.kind === 'video')!;
    await tile(video.id).click();
    await page.keyboard.press(' ');
    const loupe = page.getByRole('dialog', { name: 'Preview' });
    await loupe.waitFor();
    const player = loupe.locator('video');
    await expect.poll(() => player.evaluate((v: HTMLVideoElement) => v.readyState), { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
    expect(await player.getAttribute('src')).toBe(`/media/${video.id}/proxy`);
    await player.evaluate(async (v: HTMLVideoElement) => {
      v.muted = true;
      await v.play();
    });
    await expect.poll(() => player.evaluate((v: HTMLVideoElement) => v.currentTime), { timeout: 10_000 }).toBeGreaterThan(0);
    await ui.screenshot('library-loupe');
    await loupe.focus();
    await page.keyboard.press('ArrowRight');
    const preview = loupe.locator('img');
    await expect.poll(() => preview.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 15_000 }).toBeGreaterThan(0);
    expect(await preview.getAttribute('src')).toMatch(/^\/media\/\d+\/preview$/);
    await page.keyboard.press('3');
    const shown = await focusedId();
    await until(() => asset(engine, shown).rating === 3, 'a rating from the loupe');
    await page.keyboard.press('Escape');
    await loupe.waitFor({ state: 'detached' });
  });

  it('edits the title and tags a person by name in the metadata panel, marking who may not be published', async () => {
    const { engine, page } = ui;
    const cells = page.getByRole('gridcell');
    await cells.nth(6).click();
    const id = Number(await cells.nth(6).getAttribute('data-asset-id'));
    const panel = page.getByRole('complementary', { name: 'Details' });
    await panel.getByText('Canon EOS R6').waitFor();
    await panel.getByRole('textbox', { name: 'Title' }).fill('Relay final');
    await page.keyboard.press('Enter');
    await until(() => asset(engine, id).title === 'Relay final', 'the title');
    await panel.getByRole('combobox', { name: 'Tag a person' }).fill('ana lima');
    await page.keyboard.press('Enter');
    await until(() => engine.catalog.people.forAsset(id as AssetId).some((p) => p.name === 'Ana Lima'), 'the person tag');
    await panel.getByText('not publishable').waitFor();
    await panel.getByRole('combobox', { name: 'Tag a person' }).fill('Nobody Here');
    await page.keyboard.press('Enter');
    expect(await panel.getByRole('alert').textContent()).toMatch(/No one called "Nobody Here" is in the roster\..*People screen/);
    await ui.screenshot('library-panel');
  });

  it('shows the engine’s validation and conflict errors in the event form', async () => {
    const { engine, page } = ui;
    await page.getByRole('button', { name: 'Events' }).click();
    await page.getByRole('button', { name: 'New event' }).click();
    const form = page.getByRole('form', { name: 'New event' });
    await form.getByRole('button', { name: 'Create event' }).click();
    expect(await form.getByRole('alert').textContent()).toMatch(/“Name”/);
    await form.getByRole('textbox', { name: 'Name' }).fill('sports day');
    await form.getByRole('button', { name: 'Create event' }).click();
    expect(await form.getByRole('alert').textContent()).toMatch(/already exists.*another name/);
    await form.getByRole('textbox', { name: 'Name' }).fill('Spring Concert');
    await form.getByRole('button', { name: 'Create event' }).click();
    await page.getByRole('article', { name: 'Spring Concert' }).waitFor();

    await page.getByRole('button', { name: 'Edit Spring Concert' }).click();
    const edit = page.getByRole('form', { name: 'Edit Spring Concert' });
    const concert = engine.catalog.events.findByName('Spring Concert')!;
    engine.catalog.events.update(concert.id, concert.version, { location: 'Main hall' });
    await edit.getByRole('textbox', { name: 'Place' }).fill('Gym');
    await edit.getByRole('button', { name: 'Save' }).click();
    expect(await edit.getByRole('alert').textContent()).toMatch(/changed elsewhere/);
    await edit.getByRole('button', { name: 'Keep my changes over the latest version' }).click();
    await edit.getByRole('button', { name: 'Save' }).click();
    await edit.waitFor({ state: 'detached' });
    await until(() => engine.catalog.events.findByName('Spring Concert')?.location === 'Gym', 'the saved edit');
  });
});

describe('the grid while a card imports', () => {
  it('grows with the new photos and fills their thumbnails as the import runs', async () => {
    const { page, dir } = ui;
    for (let i = 1; i <= 5; i += 1) {
      await makeJpeg(dir.join('card2', 'DCIM', '101CANON', `IMG_${String(500 + i)}.JPG`), { seed: 500 + i, width: 640, height: 480, exif: { dateTimeOriginal: `2026:05:14 11:0${i}:00` } });
    }
    await page.getByRole('button', { name: 'Events' }).click();
    await page.getByRole('button', { name: 'Open Sports Day' }).click();
    await expect.poll(() => page.locator('.grid-bar').textContent()).toMatch(/31 items/);
    // The same call the import screen makes, through the web host: its progress reaches the grid as push events.
    const started = await page.evaluate(async (source) => {
      const response = await fetch('/rpc/import:start', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ source, event: 'Sports Day' }) });
      return (await response.json()) as { ok: boolean };
    }, dir.join('card2'));
    expect(started.ok).toBe(true);
    await expect.poll(() => page.locator('.grid-bar').textContent(), { timeout: 20_000 }).toMatch(/36 items/);
    await page.getByRole('grid').focus();
    await page.keyboard.press('End');
    const newest = page.locator('[role="gridcell"][aria-label^="IMG_505"] img');
    await expect.poll(() => newest.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 20_000 }).toBeGreaterThan(0);
  });
});

// The timings over 100,000 assets (first paint, dropped frames, key to paint) are `npm run bench -- ui`;
// this is the same grid over a large library, checked for what a user sees, not for speed.
describe('the grid over 20,000 assets', () => {
  const COUNT = 20_000;
  let big: UiSession;

  beforeAll(async () => {
    big = await openUi({
      suite: 'desktop',
      browser,
      async prepare(engine, dir) {
        // One real photo stands behind every row (the catalog keys assets by hash, not by path), so the
        // thumbnails the grid asks for are made on demand like any others.
        const event = engine.catalog.events.create({ name: 'Whole Year', folder: 'Whole Year' });
        await makeJpeg(dir.join('library', 'Whole Year', 'IMG.jpg'), { seed: 3, width: 320, height: 240 });
        const first = engine.catalog.assets.insert({ hash: 'f'.repeat(32) as never, eventId: event.id, path: 'Whole Year/IMG.jpg', originalName: 'IMG_000000.JPG', size: 1, mtimeMs: 0, kind: 'photo', mime: 'image/jpeg', sortTime: 0 });
        await engine.derivatives.makeThumbs(first.id);
        const { thumbhash } = engine.catalog.assets.get(first.id)!;
        engine.catalog.transaction(() => {
          for (let i = 1; i < COUNT; i += 1) {
            const asset = engine.catalog.assets.insert({
              hash: i.toString(16).padStart(32, '0') as never,
              eventId: event.id,
              path: 'Whole Year/IMG.jpg',
              originalName: `IMG_${String(i).padStart(6, '0')}.JPG`,
              size: 1,
              mtimeMs: 0,
              kind: 'photo',
              mime: 'image/jpeg',
              sortTime: i * 1000,
            });
            engine.catalog.assets.setDerived(asset.id, { thumbhash: thumbhash!, width: 320, height: 240 });
          }
        });
      },
    });
    big.page.setDefaultTimeout(10_000);
  }, 300_000);

  afterAll(async () => {
    // Thumbnails the fling asked for are still being made after the browser dropped those requests, so the
    // folder may not be empty yet when it is removed: try again once that work has written its files.
    try {
      await big?.close();
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOTEMPTY') throw error;
      for (let attempt = 0; ; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        try {
          await big.dir.cleanup();
          break;
        } catch (again) {
          if ((again as { code?: string }).code !== 'ENOTEMPTY' || attempt >= 20) throw again;
        }
      }
    }
  });

  it('shows every asset of a large event, keeps the DOM to the visible rows, and reaches any of them', async () => {
    const { page } = big;
    const open = page.getByRole('button', { name: 'Open Whole Year' });
    await open.waitFor({ timeout: 30_000 });
    await open.click();
    await page.locator('[role="gridcell"][aria-label^="IMG_"]').first().waitFor();
    await expect.poll(() => page.locator('.grid-bar').textContent()).toMatch(/20,000 items/);

    // A fast fling: 4,000 px a frame for 60 frames; the grid never holds more than the rows around the view.
    const cells = await page.evaluate(async () => {
      const scroller = document.querySelector<HTMLElement>('.grid-scroll')!;
      let most = 0;
      for (let i = 0; i < 60; i += 1) {
        scroller.scrollTop += 4000;
        await new Promise((resolve) => requestAnimationFrame(resolve));
        most = Math.max(most, document.querySelectorAll('[role="gridcell"]').length);
      }
      return most;
    });
    expect(cells).toBeLessThan(200);

    await page.evaluate(() => {
      const scroller = document.querySelector<HTMLElement>('.grid-scroll')!;
      scroller.scrollTop = scroller.scrollHeight / 2;
    });
    await page.locator('[role="gridcell"][aria-label^="IMG_01"], [role="gridcell"][aria-label^="IMG_009"]').first().waitFor();
    await page.getByRole('grid').focus();
    await page.keyboard.press('End');
    const last = page.locator('[role="gridcell"][aria-label^="IMG_019999"]');
    await last.waitFor();
    await page.keyboard.press('3');
    await page.locator('[role="gridcell"][aria-label="IMG_019999.JPG, 3 stars"]').waitFor();
    const wholeYear = big.engine.catalog.events.listSummaries().find((event) => event.name === 'Whole Year')!;
    const rated = big.engine.catalog.assets.listEventPage(wholeYear.id, { limit: 1, order: 'desc' }).items[0]!;
    expect(rated.originalName).toBe('IMG_019999.JPG');
    await expect.poll(() => big.engine.catalog.assets.get(rated.id)?.rating).toBe(3);
    await big.screenshot('library-grid-large');
  }, 60_000);
});
