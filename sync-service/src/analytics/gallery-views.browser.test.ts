/// <reference lib="dom" />
/**
 * The lightbox's view counting in a real browser (Debian's Chromium through playwright-core) against
 * the service listening on loopback: a parent signs in, opens a photo, pages past another quickly and
 * rests on a third, then goes back. The service records the photos that stayed on screen, once, for the parent's
 * family, and the page talks to nobody but the service and the bucket.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../../../app/test/browser.ts';
import { startS3Server, type S3Server } from '../../../app/test/s3-server.ts';
import { buildApp } from '../app.ts';
import { S3ObjectStore } from '../services/storage.ts';
import { TEST_DATABASES } from '../test/databases.ts';
import { injectAs, PASSWORD, startHarness, TEST_SCRYPT, type Harness } from '../test/harness.ts';

const PHOTOS = 4;

let s3: S3Server;
let browser: Browser;
let picture: { preview: Buffer; thumb: Buffer };

beforeAll(async () => {
  [s3, browser] = await Promise.all([startS3Server(), launchBrowser()]);
  const preview = await sharp({ create: { width: 600, height: 400, channels: 3, background: { r: 40, g: 120, b: 200 } } }).jpeg().toBuffer();
  picture = { preview, thumb: await sharp(preview).resize(160).webp().toBuffer() };
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await s3?.close();
});

describe.each(TEST_DATABASES)('lightbox views in Chromium on $name', (target) => {
  let h: Harness;
  let app: FastifyInstance;
  let base: string;
  let school: string;
  let family: string;
  let eventId: string;
  const assetIds = Array.from({ length: PHOTOS }, (_, i) => `photo${i}0a1b2c3d4e5f60718293a4b5c6d7e8f9`);

  beforeAll(async () => {
    h = await startHarness(target);
    app = buildApp({ db: h.db.kysely, tokens: h.tokens, refreshTtlSeconds: 3600, scrypt: TEST_SCRYPT, media: { store: new S3ObjectStore(s3.client(), s3.bucket), urlTtlSeconds: 300 } });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    school = await h.createSchool('greenfield');
    const admin = await h.tokens.issue(await h.createUser('admin@g.test', [[school, 'admin']]));
    const as = async (method: 'POST' | 'PUT', url: string, body?: unknown) => {
      const response = await injectAs(app, method, `/v1/schools/${school}${url}`, admin, body);
      expect(response.statusCode, response.body).toBeLessThan(300);
      return response.json<{ id: string }>();
    };
    family = (await as('POST', '/families', { name: 'Lima' })).id;
    const parent = await h.createUser('maria@family.test', [[school, 'parent']]);
    await as('POST', `/families/${family}/members`, { userId: parent });
    eventId = (await as('POST', '/events', { name: 'Sports Day', startsOn: '2026-06-12', state: 'published' })).id;
    const assets = [];
    for (const [i, id] of assetIds.entries()) {
      const variants: Record<string, { key: string; size: number; hash: string }> = {};
      for (const [variant, body, ext] of [['thumb', picture.thumb, 'webp'], ['preview', picture.preview, 'jpg']] as const) {
        const key = `schools/greenfield/events/${eventId}/${id}/${variant}.${ext}`;
        await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body, ContentType: ext === 'jpg' ? 'image/jpeg' : 'image/webp' }));
        variants[variant] = { key, size: body.length, hash: `${id}-${variant}` };
      }
      assets.push({ id, kind: 'photo', capturedAt: `2026-06-12T10:0${i}:00.000Z`, width: 600, height: 400, durationSec: null, rating: 0, title: null, description: null, tags: [], variants });
    }
    await as('PUT', `/events/${eventId}/manifest`, { assets });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  it('records the photos a parent rests on, not the one paged past, and only through the service', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });
    const origins = new Set<string>();
    const beacons: string[] = [];
    context.on('request', (request) => {
      origins.add(new URL(request.url()).origin);
      if (request.method() === 'POST' && request.url().endsWith('/views')) beacons.push(request.url());
    });
    try {
      const page = await context.newPage();
      await page.goto(`${base}/sign-in`);
      await page.getByRole('button', { name: 'I have an account' }).click();
      const form = page.locator('form[data-form="password"]');
      await form.getByLabel('Email').fill('maria@family.test');
      await form.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${base}/events`);
      await page.goto(`${base}/events/${eventId}?school=${school}`);
      // Opened on the second photo.
      await page.locator('.cell[data-index="1"]').click();
      const dialog = page.getByRole('dialog', { name: 'Photo viewer' });
      await dialog.waitFor();
      // Rests on the second photo, pages past the third at once, rests on the fourth.
      await expect.poll(() => beacons.length, { timeout: 5_000 }).toBe(1);
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      await expect.poll(() => dialog.locator('.position').textContent()).toBe(`4 of ${PHOTOS}`);
      await expect.poll(() => beacons.length, { timeout: 5_000 }).toBe(2);
      // Back past the third to the second: already reported on this page, so no request at all.
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.press('ArrowLeft');
      await page.waitForTimeout(1_500);
      await page.keyboard.press('Escape');
      expect(beacons).toHaveLength(2);

      const rows = await h.db.kysely.selectFrom('media_activity').select(['asset_id', 'family_id', 'audience', 'kind']).where('school_id', '=', school).orderBy('asset_id').execute();
      expect(rows).toEqual([assetIds[1], assetIds[3]].map((asset_id) => ({ asset_id, family_id: family, audience: 'family', kind: 'view' })));
      // The service and the bucket (s3rver, presigned URLs), nothing else.
      expect([...origins].sort()).toEqual([base, new URL(s3.endpoint).origin].sort());
    } finally {
      await context.close();
    }
  }, 60_000);
});
