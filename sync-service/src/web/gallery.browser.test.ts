/// <reference lib="dom" />
/**
 * The parents' gallery in a real browser (Debian's Chromium through playwright-core) against a real
 * service listening on loopback, over a seeded database and s3rver holding real pictures and a real
 * video: a parent signs in with the family's access code and walks through their events.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactPath, launchBrowser } from '../../../app/test/browser.ts';
import { startS3Server, type S3Server } from '../../../app/test/s3-server.ts';
import type { ManifestAssetInput } from '../../../app/sync/protocol.ts';
import { buildApp } from '../app.ts';
import { ACCESS_COOKIE, REFRESH_COOKIE } from '../auth/web-session.ts';
import type { PublicFamily } from '../services/people.ts';
import { S3ObjectStore } from '../services/storage.ts';
import { TEST_DATABASES } from '../test/databases.ts';
import { send, startHarness, TEST_SCRYPT, type Harness } from '../test/harness.ts';

const run = promisify(execFile);
/** Media in the parent's event: enough for three listing pages and a grid that must be windowed on a phone. */
const MEDIA = 240;
const PHONE = { width: 360, height: 740 };
const DESKTOP = { width: 1280, height: 800 };
const PARENT = { name: 'Maria Lima', email: 'maria@family.test', password: 'a long parent password' };

let s3: S3Server;
let client: S3Client;
let browser: Browser;
/** Pictures in a few colours (JPEG preview, WebP thumb) and their thumbhashes. */
let pictures: Array<{ preview: Buffer; thumb: Buffer; thumbhash: string }>;
let video: { proxy: Buffer; poster: Buffer; thumb: Buffer };

async function picture(r: number, g: number, b: number): Promise<{ preview: Buffer; thumb: Buffer; thumbhash: string }> {
  const base = sharp({ create: { width: 1200, height: 800, channels: 3, background: { r, g, b } } })
    .composite([{ input: { create: { width: 400, height: 400, channels: 3, background: { r: 255 - r, g: 255 - g, b: 255 - b } } }, left: 200, top: 200 }]);
  const preview = await base.clone().jpeg({ quality: 80 }).toBuffer();
  const thumb = await sharp(preview).resize(320).webp().toBuffer();
  const small = await sharp(preview).resize(75, 50).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const thumbhash = Buffer.from(rgbaToThumbHash(small.info.width, small.info.height, small.data)).toString('base64');
  return { preview, thumb, thumbhash };
}

beforeAll(async () => {
  const [started, launched] = await Promise.all([startS3Server(), launchBrowser()]);
  s3 = started;
  client = s3.client();
  browser = launched;
  pictures = await Promise.all([
    [200, 40, 40],
    [40, 160, 60],
    [40, 80, 200],
    [230, 180, 30],
  ].map(([r, g, b]) => picture(r ?? 0, g ?? 0, b ?? 0)));
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'keepsake-gallery-video-'));
  const file = path.join(dir, 'proxy.webm');
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-t', '4', '-c:v', 'libvpx', '-b:v', '300k', '-y', file]);
  const poster = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 20, g: 20, b: 20 } } }).jpeg().toBuffer();
  video = { proxy: await fs.readFile(file), poster, thumb: await sharp(poster).webp().toBuffer() };
  await fs.rm(dir, { recursive: true, force: true });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await s3?.close();
});

describe.each(TEST_DATABASES)('the parents gallery in Chromium on $name', (target) => {
  let h: Harness;
  let app: FastifyInstance;
  let base: string;
  let school: string;
  let otherSchool: string;
  const events = { mine: '', theirs: '', expired: '', otherSchool: '' };
  /** The bucket's bytes of each asset's preview, by asset id. */
  const previews = new Map<string, Buffer>();
  let assetIds: string[] = [];
  let code = '';

  /** A request to the listening app (the harness's own app has no bucket). */
  const api = (method: 'GET' | 'POST' | 'PUT', url: string, token: string | undefined, body?: unknown) => send({ ...h, app }, method, url, token, body);

  async function put(key: string, body: Buffer, contentType: string): Promise<void> {
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body, ContentType: contentType }));
  }

  async function event(schoolId: string, token: string, body: Record<string, unknown>): Promise<string> {
    const response = await api('POST', `/v1/schools/${schoolId}/events`, token, { state: 'published', startsOn: '2026-06-12', ...body });
    expect(response.statusCode, response.body).toBe(201);
    return response.json<{ id: string }>().id;
  }

  /** Uploads `MEDIA` assets (the first a video) for the event and publishes their manifest. */
  async function publish(eventId: string, token: string): Promise<void> {
    const prefix = `schools/greenfield/events/${eventId}`;
    const assets: ManifestAssetInput[] = [];
    const uploads: Array<() => Promise<void>> = [];
    for (let i = 0; i < MEDIA; i++) {
      const id = `a${String(i).padStart(4, '0')}${randomUUID().slice(0, 8)}`;
      const isVideo = i === 0;
      const pic = pictures[i % pictures.length] ?? (pictures[0] as (typeof pictures)[number]);
      const files: Record<string, [Buffer, string, string]> = isVideo
        ? { thumb: [video.thumb, 'webp', 'image/webp'], poster: [video.poster, 'jpg', 'image/jpeg'], proxy: [video.proxy, 'webm', 'video/webm'] }
        : { thumb: [pic.thumb, 'webp', 'image/webp'], preview: [pic.preview, 'jpg', 'image/jpeg'] };
      const variants: ManifestAssetInput['variants'] = {};
      for (const [variant, [body, ext, type]] of Object.entries(files)) {
        const key = `${prefix}/${id}/${variant}.${ext}`;
        uploads.push(() => put(key, body, type));
        variants[variant as keyof typeof files & 'thumb'] = { key, size: body.length, hash: `${id}-${variant}` };
      }
      if (!isVideo) previews.set(id, pic.preview);
      assets.push({
        id,
        kind: isVideo ? 'video' : 'photo',
        capturedAt: `2026-06-12T10:${String(i % 60).padStart(2, '0')}:00.000Z`,
        width: isVideo ? 320 : 1200,
        height: isVideo ? 240 : 800,
        durationSec: isVideo ? 4 : null,
        rating: 0,
        title: null,
        description: null,
        tags: [],
        thumbhash: isVideo ? null : pic.thumbhash,
        variants,
      });
    }
    let next = 0;
    await Promise.all(Array.from({ length: 24 }, async () => {
      while (next < uploads.length) await (uploads[next++] as () => Promise<void>)();
    }));
    const response = await api('PUT', `/v1/schools/${school}/events/${eventId}/manifest`, token, { assets });
    expect(response.statusCode, response.body).toBe(200);
    assetIds = assets.map((a) => a.id);
  }

  beforeAll(async () => {
    h = await startHarness(target);
    app = buildApp({
      db: h.db.kysely,
      tokens: h.tokens,
      refreshTtlSeconds: 3600,
      scrypt: TEST_SCRYPT,
      media: { store: new S3ObjectStore(s3.client(), s3.bucket), urlTtlSeconds: 300 },
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    school = await h.createSchool('greenfield');
    otherSchool = await h.createSchool('riverside');
    const admin = await h.tokens.issue(await h.createUser('admin@g.test', [[school, 'admin']]));
    const otherAdmin = await h.tokens.issue(await h.createUser('admin@r.test', [[otherSchool, 'admin']]));
    const family = async (name: string) => (await api('POST', `/v1/schools/${school}/families`, admin, { name })).json<PublicFamily>().id;
    const mine = await family('Lima');
    const theirs = await family('Okafor');
    events.mine = await event(school, admin, { name: 'Sports Day', audience: { scope: 'some', familyIds: [mine] } });
    events.theirs = await event(school, admin, { name: 'Okafor Family Portraits', audience: { scope: 'some', familyIds: [theirs] } });
    events.expired = await event(school, admin, { name: 'Spring Fair', startsOn: '2026-03-01', galleryExpiresOn: '2026-03-10' });
    events.otherSchool = await event(otherSchool, otherAdmin, { name: 'Riverside Picnic' });
    await publish(events.mine, admin);
    code = (await api('POST', `/v1/schools/${school}/families/${mine}/access-code`, admin)).json<{ code: string }>().code;

  }, 90_000);
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  async function open(context: BrowserContext, url: string): Promise<Page> {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 404|Failed to load resource/.test(message.text())) problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${base}${url}`);
    (page as Page & { problems?: string[] }).problems = problems;
    return page;
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: artifactPath('gallery', `${target.name}-${name}`) });

  it('walks a parent from the access code to a downloaded photo, on a phone', async () => {
    const context = await browser.newContext({ viewport: PHONE, locale: 'en-GB', acceptDownloads: true });
    try {
      const page = await open(context, '/');
      await page.waitForURL(`${base}/sign-in`);
      await page.getByRole('heading', { name: 'Sign in to see your school photos' }).waitFor();
      await shot(page, 'sign-in-phone');

      // A mistyped code is caught before it is sent; a wrong one is refused by the service.
      const form = page.locator('form[data-form="code"]');
      await form.getByLabel('Family access code').fill('ABCD-1234');
      await form.getByLabel('Your name').fill(PARENT.name);
      await form.getByLabel('Email').fill(PARENT.email);
      await form.getByLabel('Choose a password').fill(PARENT.password);
      await page.getByRole('button', { name: 'Create my account' }).click();
      await expect.poll(() => page.getByRole('alert').first().textContent()).toContain('16 letters and digits');
      await page.getByLabel('Family access code').fill('ZZZZ-ZZZZ-ZZZZ-ZZZZ');
      await page.getByRole('button', { name: 'Create my account' }).click();
      await expect.poll(() => page.getByRole('alert').first().textContent()).toContain('not valid or has already been used');

      await page.getByLabel('Family access code').fill(code.toLowerCase());
      await page.getByRole('button', { name: 'Create my account' }).click();
      await page.waitForURL(`${base}/events`);
      await page.getByRole('heading', { name: 'Events' }).waitFor();

      // The session is in cookies scripts cannot read; Chromium keeps Secure cookies on http://127.0.0.1.
      const cookies = await context.cookies(base);
      const access = cookies.find((c) => c.name === ACCESS_COOKIE);
      expect(access).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
      expect((await context.cookies(`${base}/v1/web/session/refresh`)).find((c) => c.name === REFRESH_COOKIE)).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict' });
      expect(await page.evaluate(() => document.cookie)).toBe('');

      const names = await page.locator('.event-name').allTextContents();
      expect(names).toEqual(['Sports Day', 'Spring Fair']);
      const fair = page.locator(`[data-event-id="${events.expired}"]`);
      await expect.poll(() => fair.textContent()).toContain('Gallery closed');
      await shot(page, 'events-phone');

      await page.getByRole('link', { name: /Sports Day/ }).click();
      await page.getByRole('heading', { name: 'Sports Day' }).waitFor();
      // Placeholders are painted from the thumbhash at once; the thumbnails then load over them.
      const placeholder = page.locator('.cell img.placeholder').first();
      await placeholder.waitFor({ state: 'attached' });
      expect(await placeholder.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
      await expect.poll(() => page.locator('.cell img.thumb.loaded').count(), { timeout: 15_000 }).toBeGreaterThan(6);
      const loadedWidth = await page.locator('.cell img.thumb.loaded').first().evaluate((img) => (img as HTMLImageElement).naturalWidth);
      expect(loadedWidth).toBe(320);
      // Windowed: a phone screen's worth of cells exist, not all of them.
      const cells = await page.locator('.cell').count();
      expect(cells).toBeGreaterThan(10);
      expect(cells).toBeLessThan(MEDIA / 2);
      await shot(page, 'event-phone');

      // Scrolling to the end loads the following pages and draws the last item.
      for (let i = 0; i < 12 && (await page.locator(`.cell[data-index="${MEDIA - 1}"]`).count()) === 0; i++) {
        await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
        await page.waitForTimeout(250);
      }
      await page.locator(`.cell[data-index="${MEDIA - 1}"]`).waitFor({ state: 'attached' });
      expect(await page.locator('.cell').count()).toBeLessThan(MEDIA / 2);
      await page.evaluate(() => window.scrollTo(0, 0));

      // The lightbox: keyboard moves and Esc closes, focus back on the photo it was opened from.
      await page.locator('.cell[data-index="1"]').click();
      const dialog = page.getByRole('dialog', { name: 'Photo viewer' });
      await dialog.waitFor();
      await expect.poll(() => dialog.locator('.position').textContent()).toBe(`2 of ${MEDIA}`);
      await expect.poll(() => dialog.locator('img.preview').evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(1200);
      await shot(page, 'lightbox-phone');
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      await expect.poll(() => dialog.locator('.position').textContent()).toBe(`4 of ${MEDIA}`);
      await page.keyboard.press('ArrowLeft');
      await expect.poll(() => dialog.locator('.position').textContent()).toBe(`3 of ${MEDIA}`);
      expect(await dialog.locator('.stage').getAttribute('data-asset-id')).toBe(assetIds[2]);

      // Download the preview: the bytes saved are the bucket's, under the event's file name.
      const [download] = await Promise.all([page.waitForEvent('download'), dialog.getByRole('button', { name: 'Download' }).click()]);
      expect(download.suggestedFilename()).toBe('sports-day-0003.jpg');
      const saved = await fs.readFile(await download.path());
      expect(saved.equals(previews.get(assetIds[2] ?? '') ?? Buffer.alloc(0))).toBe(true);

      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-index'))).toBe('2');

      // The video plays from its proxy, its poster shown first.
      await page.locator('.cell[data-index="0"]').click();
      const player = dialog.locator('video');
      await player.waitFor();
      expect(await player.getAttribute('poster')).toContain('/poster.jpg');
      await expect.poll(() => player.evaluate((v) => (v as HTMLVideoElement).currentSrc)).toContain('/proxy.webm');
      await player.evaluate((v) => {
        const element = v as HTMLVideoElement;
        element.muted = true;
        return element.play();
      });
      await expect.poll(() => player.evaluate((v) => (v as HTMLVideoElement).currentTime), { timeout: 10_000 }).toBeGreaterThan(0.3);
      await page.keyboard.press('Escape');

      // Another family's event, another school's, and a made-up one: the not-found page, never their names.
      for (const id of [events.theirs, events.otherSchool, 'no-such-event']) {
        await page.goto(`${base}/events/${id}?school=${school}`);
        await page.locator('[data-page="not-found"]').waitFor();
        expect(await page.locator('main').textContent()).not.toMatch(/Okafor|Riverside/);
      }
      await shot(page, 'not-found-phone');

      // The expired gallery says so instead of showing its grid.
      await page.goto(`${base}/events/${events.expired}?school=${school}`);
      await expect.poll(() => page.locator('[data-expired]').textContent()).toContain('This gallery closed on 10 March 2026');
      expect((page as Page & { problems?: string[] }).problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('speaks French to a French browser, and lays the grid out on a desktop', async () => {
    const context = await browser.newContext({ viewport: DESKTOP, locale: 'fr-FR' });
    try {
      const page = await open(context, '/sign-in');
      await page.getByRole('heading', { name: "Connectez-vous pour voir les photos de l'école" }).waitFor();
      await page.getByRole('button', { name: "J'ai un compte" }).click();
      const form = page.locator('form[data-form="password"]');
      await form.getByLabel('E-mail').fill(PARENT.email);
      await form.getByLabel('Mot de passe').fill('pas le bon mot de passe');
      await page.getByRole('button', { name: 'Se connecter' }).click();
      await expect.poll(() => page.getByRole('alert').first().textContent()).toBe("L'e-mail ou le mot de passe n'est pas correct.");
      await form.getByLabel('Mot de passe').fill(PARENT.password);
      await page.getByRole('button', { name: 'Se connecter' }).click();
      await page.getByRole('heading', { name: 'Événements' }).waitFor();
      await expect.poll(() => page.locator(`[data-event-id="${events.expired}"]`).textContent()).toContain('Galerie fermée');
      await shot(page, 'events-desktop-fr');

      await page.getByRole('link', { name: /Sports Day/ }).click();
      await expect.poll(() => page.locator('.cell img.thumb.loaded').count(), { timeout: 15_000 }).toBeGreaterThan(20);
      expect(await page.locator('.cell').first().getAttribute('aria-label')).toMatch(/^Ouvrir la vidéo 1 sur/);
      await shot(page, 'event-desktop-fr');
      await page.locator('.cell[data-index="5"]').click();
      await page.getByRole('dialog', { name: 'Visionneuse de photos' }).waitFor();
      await page.getByRole('button', { name: 'Télécharger' }).waitFor();
      await shot(page, 'lightbox-desktop-fr');
      await page.keyboard.press('Escape');

      // The switch changes the language at once and remembers it.
      await page.getByRole('combobox', { name: 'Langue' }).selectOption('en');
      await page.getByRole('link', { name: 'All events' }).waitFor();
      expect((page as Page & { problems?: string[] }).problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 40_000);
});
