/// <reference lib="dom" />
/**
 * The parents' gallery in a real browser (Debian's Chromium through playwright-core) against a real
 * service listening on loopback, over a seeded database and s3rver holding real pictures and a real
 * video: a parent signs in with the family's access code and walks through their events, keeps
 * favourites, filters to their child, withdraws that child's consent; invitations are accepted from
 * their e-mail link.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
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
import { SmtpMailer } from '../mail/mailer.ts';
import { Outbox, OutboxWorker } from '../mail/outbox.ts';
import { startSmtpServer, type TestSmtpServer } from '../mail/smtp-test-server.ts';
import type { PublicFamily } from '../services/people.ts';
import { S3ObjectStore } from '../services/storage.ts';
import { TEST_DATABASES } from '../test/databases.ts';
import { PASSWORD, send, startHarness, TEST_SCRYPT, type Harness } from '../test/harness.ts';

const run = promisify(execFile);
/** Media in the parent's event: enough for three listing pages and a grid that must be windowed on a phone. */
const MEDIA = 240;
const PHONE = { width: 360, height: 740 };
const DESKTOP = { width: 1280, height: 800 };
const PARENT = { name: 'Maria Lima', email: 'maria@family.test', password: 'a long parent password' };
/** Sports Day's photos of the parent's child Ana: every tenth from the fourth (one of them with Chidi, of the other family). */
const ANA_EVERY = 10;
const ANA_PHOTOS = MEDIA / ANA_EVERY;

let s3: S3Server;
let client: S3Client;
let browser: Browser;
let smtp: TestSmtpServer;
let mailer: SmtpMailer;
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
  const [started, launched, mailServer] = await Promise.all([startS3Server(), launchBrowser(), startSmtpServer()]);
  smtp = mailServer;
  mailer = new SmtpMailer(smtp.url);
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
  await mailer?.close();
  await smtp?.stop();
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
  let admin = '';
  let familyId = '';
  const kids = { ana: '', chidi: '' };
  let worker: OutboxWorker;
  /** Every URL the service was asked for: an invitation's token must never be among them. */
  const requested: string[] = [];

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

  /** Who is tagged in asset `i`: Ana in every tenth from the fourth (with Chidi in one), Chidi alone in the eighth. */
  const peopleOf = (i: number): string[] => (i % ANA_EVERY === 3 ? (i === 13 ? [kids.ana, kids.chidi] : [kids.ana]) : i === 7 ? [kids.chidi] : []);

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
        people: peopleOf(i),
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
    const outbox = new Outbox(randomBytes(32));
    app = buildApp({
      db: h.db.kysely,
      tokens: h.tokens,
      refreshTtlSeconds: 3600,
      scrypt: TEST_SCRYPT,
      media: { store: new S3ObjectStore(s3.client(), s3.bucket), urlTtlSeconds: 300 },
      outbox,
    });
    worker = new OutboxWorker(h.db.kysely, outbox, { mailer, fromAddress: 'photos@keepsake.test' });
    app.addHook('onRequest', async (request) => {
      requested.push(request.url);
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    school = await h.createSchool('greenfield');
    otherSchool = await h.createSchool('riverside');
    admin = await h.tokens.issue(await h.createUser('admin@g.test', [[school, 'admin']]));
    const otherAdmin = await h.tokens.issue(await h.createUser('admin@r.test', [[otherSchool, 'admin']]));
    const family = async (name: string) => (await api('POST', `/v1/schools/${school}/families`, admin, { name })).json<PublicFamily>().id;
    const mine = await family('Lima');
    const theirs = await family('Okafor');
    familyId = mine;
    for (const [key, name, of] of [['ana', 'Ana Lima', mine], ['chidi', 'Chidi Okafor', theirs]] as const) {
      const student = await api('POST', `/v1/schools/${school}/students`, admin, { name });
      kids[key] = student.json<{ id: string }>().id;
      expect((await api('POST', `/v1/schools/${school}/families/${of}/students`, admin, { studentId: kids[key] })).statusCode).toBe(200);
      expect((await api('PUT', `/v1/schools/${school}/students/${kids[key]}/consent/publish`, admin, { granted: true })).statusCode).toBe(200);
    }
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
      // Opened on the first item, whose ‹ is disabled: the arrow keys still reach the viewer.
      expect(await dialog.getByRole('button', { name: 'Previous' }).isDisabled()).toBe(true);
      await page.keyboard.press('ArrowRight');
      await expect.poll(() => dialog.locator('.position').textContent()).toBe(`2 of ${MEDIA}`);
      await page.keyboard.press('ArrowLeft');
      await expect.poll(() => dialog.locator('.position').textContent()).toBe(`1 of ${MEDIA}`);
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

  /** Signs in with the account the access code made (the first test) in a fresh page. */
  async function signedIn(context: BrowserContext): Promise<Page> {
    const page = await open(context, '/sign-in');
    await page.getByRole('button', { name: 'I have an account' }).click();
    const form = page.locator('form[data-form="password"]');
    await form.getByLabel('Email').fill(PARENT.email);
    await form.getByLabel('Password').fill(PARENT.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Events' }).waitFor();
    return page;
  }

  /** The asset ids of the grid's cells in the page, in order (the first rows: the grid is windowed). */
  const cellIds = (page: Page) => page.locator('.cell').evaluateAll((cells) => cells.map((c) => c.getAttribute('data-asset-id')));

  it('keeps favourites, filters to the family’s child, and hides her photos once her consent is withdrawn', async () => {
    const context = await browser.newContext({ viewport: PHONE, locale: 'en-GB' });
    try {
      const page = await signedIn(context);
      // The card counts what the family may see, and paints the first photo's thumbhash as its cover.
      const card = page.locator(`[data-event-id="${events.mine}"]`);
      await expect.poll(() => card.textContent()).toContain(`${MEDIA} photos`);
      expect(await card.locator('img.event-cover').getAttribute('src')).toMatch(/^data:image\/png;base64,/);

      await card.getByRole('link').click();
      await page.getByRole('heading', { name: 'Sports Day' }).waitFor();
      const filters = page.getByRole('navigation', { name: 'Show' });
      expect(await filters.getByRole('link').allTextContents()).toEqual(['All photos', 'Our favourites', 'Photos of Ana']);
      expect(await page.locator('main').textContent()).not.toMatch(/Chidi|Okafor/);
      await page.locator('.cell[data-index="4"]').waitFor();
      await shot(page, 'event-filters-phone');

      // Two favourites from the lightbox: the switch says so and the grid marks them.
      await page.locator('.cell[data-index="4"]').click();
      const dialog = page.getByRole('dialog', { name: 'Photo viewer' });
      const heart = dialog.getByRole('button', { name: 'Favourite' });
      expect(await heart.getAttribute('aria-pressed')).toBe('false');
      await heart.click();
      await expect.poll(() => heart.getAttribute('aria-pressed')).toBe('true');
      await expect.poll(() => heart.getAttribute('aria-busy')).toBeNull();
      await shot(page, 'lightbox-favourite-phone');
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      await expect.poll(() => dialog.locator('.position').textContent()).toMatch(/^7 of /);
      expect(await heart.getAttribute('aria-pressed')).toBe('false');
      await heart.click();
      await expect.poll(() => heart.getAttribute('aria-pressed')).toBe('true');
      await expect.poll(() => heart.getAttribute('aria-busy')).toBeNull();
      await page.keyboard.press('Escape');
      await expect.poll(() => page.locator('.cell[data-favourite]').evaluateAll((cells) => cells.map((c) => c.getAttribute('data-index')))).toEqual(['4', '6']);
      expect(await page.locator('.cell[data-index="4"]').getAttribute('aria-label')).toMatch(/^Open photo 5 of \d+\+?, favourite$/);

      // They are the family's, kept by the service: a reload shows them, and the filter lists only them.
      await page.reload();
      await page.locator('.cell[data-index="6"][data-favourite]').waitFor();
      await filters.getByRole('link', { name: 'Our favourites' }).click();
      await page.waitForURL(/favourites=1/);
      await expect.poll(() => cellIds(page)).toEqual([assetIds[4], assetIds[6]]);
      expect(await filters.getByRole('link', { name: 'Our favourites' }).getAttribute('aria-current')).toBe('true');

      // Ana's photos only: every one of them and nothing else (the windowed grid holds them all on a phone's few screens).
      await filters.getByRole('link', { name: 'Photos of Ana' }).click();
      await page.waitForURL(new RegExp(`child=${kids.ana}`));
      const ana = assetIds.filter((_, i) => i % ANA_EVERY === 3);
      for (let i = 0; i < 8 && (await page.locator(`.cell[data-index="${ANA_PHOTOS - 1}"]`).count()) === 0; i++) {
        await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
        await page.waitForTimeout(200);
      }
      await expect.poll(() => cellIds(page).then((ids) => ids.length)).toBe(ANA_PHOTOS);
      expect(await cellIds(page)).toEqual(ana);
      await page.evaluate(() => window.scrollTo(0, 0));
      await shot(page, 'event-child-phone');

      // The family page: Ana's consent, switched off; her photos leave the grid and the count at once.
      await page.getByRole('link', { name: 'My family' }).click();
      await page.getByRole('heading', { name: 'My family' }).waitFor();
      const publish = page.getByRole('switch', { name: 'Show photos of Ana to families in this gallery' });
      expect(await publish.isChecked()).toBe(true);
      expect(await page.getByRole('switch', { name: 'Use photos of Ana in the yearbook' }).isChecked()).toBe(false);
      expect(await page.locator('main').textContent()).not.toMatch(/Chidi|Okafor|Lima/);
      await shot(page, 'family-phone');
      await publish.uncheck();
      await expect.poll(() => page.locator(`[data-child-id="${kids.ana}"] [data-purpose="publish"] ~ .saved`).textContent()).toBe('Saved.');
      await page.reload();
      await page.getByRole('heading', { name: 'My family' }).waitFor();
      expect(await page.getByRole('switch', { name: 'Show photos of Ana to families in this gallery' }).isChecked()).toBe(false);

      // Notification settings on the same page: e-mail off, texts on; a number the service refuses is not saved.
      const notify = page.locator('form[data-form="notifications"]');
      const byEmail = notify.getByRole('switch', { name: 'E-mail me when new photos of our events are shared' });
      expect(await byEmail.isChecked()).toBe(true);
      await byEmail.uncheck();
      await notify.getByRole('switch', { name: 'Send me a text message too' }).check();
      await notify.getByLabel('Mobile number for text messages (international form)').fill('call me');
      await notify.getByRole('button', { name: 'Save notification settings' }).click();
      await expect.poll(() => notify.locator('.saved').textContent()).toMatch(/^Not saved: .*international form/);
      await notify.getByLabel('Mobile number for text messages (international form)').fill('+44 7700 900123');
      await notify.getByRole('button', { name: 'Save notification settings' }).click();
      await expect.poll(() => notify.locator('.saved').textContent()).toBe('Saved.');
      await shot(page, 'family-notifications-phone');
      await page.reload();
      await page.getByRole('heading', { name: 'Notifications' }).waitFor();
      expect(await notify.getByRole('switch', { name: 'E-mail me when new photos of our events are shared' }).isChecked()).toBe(false);
      expect(await notify.getByRole('switch', { name: 'Send me a text message too' }).isChecked()).toBe(true);
      expect(await notify.getByLabel('Mobile number for text messages (international form)').inputValue()).toBe('+447700900123');

      await page.getByRole('link', { name: 'All events' }).click();
      await expect.poll(() => page.locator(`[data-event-id="${events.mine}"]`).textContent()).toContain(`${MEDIA - ANA_PHOTOS} photos`);
      await page.goto(`${base}/events/${events.mine}?school=${school}`);
      await page.locator('.cell[data-index="3"]').waitFor();
      // Asset 3 was Ana's; the grid now goes from asset 2 straight to asset 4.
      expect((await cellIds(page)).slice(0, 5)).toEqual([assetIds[0], assetIds[1], assetIds[2], assetIds[4], assetIds[5]]);
      await page.goto(`${base}/events/${events.mine}?school=${school}&child=${kids.ana}`);
      await expect.poll(() => page.locator('.empty').textContent()).toBe('There are no photos of Ana in this event.');

      // Another family's child in the address is the not-found page, not their name.
      await page.goto(`${base}/events/${events.mine}?school=${school}&child=${kids.chidi}`);
      await page.locator('[data-page="not-found"]').waitFor();
      expect(await page.locator('main').textContent()).not.toMatch(/Chidi|Okafor/);

      // Desktop sizes of the new pages.
      await page.setViewportSize(DESKTOP);
      await page.goto(`${base}/family`);
      await page.getByRole('heading', { name: 'My family' }).waitFor();
      await shot(page, 'family-desktop');
      await page.getByRole('switch', { name: 'Show photos of Ana to families in this gallery' }).check();
      await expect.poll(() => page.locator(`[data-child-id="${kids.ana}"] [data-purpose="publish"] ~ .saved`).textContent()).toBe('Saved.');
      await page.goto(`${base}/events/${events.mine}?school=${school}&favourites=1`);
      await expect.poll(() => cellIds(page)).toEqual([assetIds[4], assetIds[6]]);
      await shot(page, 'event-favourites-desktop');
      expect((page as Page & { problems?: string[] }).problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 60_000);

  /** Invites `email` as a parent of the family and returns the token from the mail that arrives. */
  async function invitation(email: string): Promise<string> {
    const made = await api('POST', `/v1/schools/${school}/invites`, admin, { email, role: 'parent', familyId });
    expect(made.statusCode, made.body).toBe(201);
    const before = smtp.received.length;
    expect((await worker.runOnce()).sent).toBeGreaterThanOrEqual(1);
    const mail = (await smtp.waitFor(before + 1)).slice(before).find((m) => JSON.stringify(m.to).includes(email));
    const token = /\/invite#([A-Za-z0-9_-]+)/.exec(mail?.text ?? '')?.[1];
    if (token === undefined) throw new Error(`no invitation link in: ${mail?.text}`);
    return token;
  }

  it('accepts an e-mailed invitation into a new account, and into an existing one, landing on the events', async () => {
    const fresh = await invitation('joao@family.test');
    const phone = await browser.newContext({ viewport: PHONE, locale: 'en-GB' });
    try {
      const page = await open(phone, `/invite#${fresh}`);
      await page.getByRole('heading', { name: 'Accept your invitation' }).waitFor();
      await expect.poll(() => page.locator('.invite-summary').textContent()).toBe('You are invited to join School greenfield as a parent, with the address joao@family.test.');
      await shot(page, 'invite-phone');
      const form = page.locator('form[data-form="new-account"]');
      expect(await form.getByLabel('Email').inputValue()).toBe('joao@family.test');
      await form.getByLabel('Your name').fill('João Lima');
      await form.getByLabel('Choose a password').fill('short');
      await form.getByRole('button', { name: 'Create my account and accept' }).click();
      await expect.poll(() => page.getByRole('alert').first().textContent()).toBe('Choose a password of at least 10 characters.');
      await form.getByLabel('Choose a password').fill('another long password');
      await form.getByRole('button', { name: 'Create my account and accept' }).click();
      await page.waitForURL(`${base}/events`);
      await page.getByRole('heading', { name: 'Events' }).waitFor();
      expect(await page.locator('.event-name').allTextContents()).toEqual(['Sports Day', 'Spring Fair']);
      // The browser holds cookies only, and the link's token never reached the service in an address.
      expect(await page.evaluate(() => document.cookie)).toBe('');
      expect((await phone.cookies(base)).some((c) => c.name === ACCESS_COOKIE && c.httpOnly)).toBe(true);
      expect(requested.filter((url) => url.includes(fresh))).toEqual([]);

      // A used link says so.
      await page.goto(`${base}/invite#${fresh}`);
      await expect.poll(() => page.getByRole('alert').first().textContent()).toContain('no longer works');
      expect((page as Page & { problems?: string[] }).problems).toEqual([]);
    } finally {
      await phone.close();
    }

    await h.createUser('grandma@family.test');
    const existing = await invitation('grandma@family.test');
    const desktop = await browser.newContext({ viewport: DESKTOP, locale: 'en-GB' });
    try {
      const page = await open(desktop, `/invite#${existing}`);
      await page.getByRole('heading', { name: 'Accept your invitation' }).waitFor();
      await page.getByRole('button', { name: 'I already have an account' }).click();
      const form = page.locator('form[data-form="existing-account"]');
      await form.getByLabel('Password').fill(PASSWORD);
      await shot(page, 'invite-desktop');
      await form.getByRole('button', { name: 'Sign in and accept' }).click();
      await page.waitForURL(`${base}/events`);
      await page.getByRole('link', { name: /Sports Day/ }).waitFor();
      expect(requested.filter((url) => url.includes(existing))).toEqual([]);
      expect((page as Page & { problems?: string[] }).problems).toEqual([]);
    } finally {
      await desktop.close();
    }
  }, 60_000);
});
