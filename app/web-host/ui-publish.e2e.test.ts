/// <reference lib="dom" />
import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import Database from 'better-sqlite3';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openEngine, type Engine } from '../engine.ts';
import { librarySessionFile } from '../ipc/publish-handlers.ts';
import type { AssetId, EventId, PersonId } from '../shared/ids.ts';
import { fileSessionStore, SyncClient } from '../sync/sync-client.ts';
import { makeJpeg } from '../test/fixtures.ts';
import { startS3Server, type S3Server } from '../test/s3-server.ts';
import { memorySessionStore, startSyncService, type SyncServiceProcess } from '../test/sync-service.ts';
import { artifactPath } from '../test/browser.ts';
import { buildRenderer, launchBrowser, openUi, type UiSession } from '../test/ui.ts';
import { startWebHost, type WebHost } from './web-host.ts';

// The desktop's connection to its school and its publishing, as a photographer does it: sign in from the
// settings screen, set up the school's bucket, open an event's publish panel (one photo held back for
// consent), publish with a bandwidth limit, pause, close Keepsake mid-upload, start it again, resume, and
// find every object in the bucket and the event's media listed by the school's sync service. Then a second
// event with originals, and Keepsake stopped while their parts are in flight (not paused): the next start
// goes on by itself, resumes the multipart uploads, and the parent's gallery shows every photo once.

let browser: Browser;
let s3: S3Server;
let service: SyncServiceProcess;
let ui: UiSession;
// Keepsake as it runs now: the first engine and host, then those started after a restart (null while stopped).
let running: { engine: Engine; host: WebHost } | null = null;
// After the first restart: the second engine on the same library.
let engine2: Engine | null = null;
let page: Page;
let eventId: EventId;
/** The school's office, signed in beside the desktop (as the admin screens would be). */
let office: SyncClient;
let schoolId: string;
/** A student the school knows, with consent to publish: the desktop learns of him from the change feed. */
let benId: string;

const UPLOADER_TIMING = { maxRetries: 2, backoffMs: 50 };
/** The family signed in to the parents' gallery (by access code, then by password). */
const GRACE = { email: 'grace@okafor.example', password: 'a long family password' };

const shot = async (name: string): Promise<void> => {
  await page.screenshot({ path: artifactPath('desktop', name) });
};

/** Quits Keepsake whatever it is doing: the window, the host, then the engine (uploads in flight are cut off). */
async function stopKeepsake(): Promise<void> {
  const stopping = running!;
  running = null;
  await page.close();
  await stopping.host.close();
  await stopping.engine.close();
}

/**
 * Starts Keepsake again on the same library as `keepsake web --library` does: the host (and its contract)
 * first, then the background work; `beforeWork` sees the library before anything runs. Opens a window on it.
 */
async function startKeepsake(beforeWork?: (engine: Engine) => void): Promise<Engine> {
  const engine = await openEngine({ libraryPath: ui.dir.join('library'), create: false, uploaderTiming: UPLOADER_TIMING });
  const host = await startWebHost({ engine, staticDir: await buildRenderer() });
  running = { engine, host };
  beforeWork?.(engine);
  engine.jobs.start();
  page = await ui.context.newPage();
  await page.goto(host.url);
  return engine;
}

/** The office opens the event to the whole school: its parents see it in the gallery. */
async function openToSchool(remote: string): Promise<void> {
  const current = await office.request<{ version: number }>('GET', `/v1/schools/${schoolId}/events/${remote}`);
  await office.request('PATCH', `/v1/schools/${schoolId}/events/${remote}`, { version: current.version, state: 'published', audience: { scope: 'school' } });
}

/** A parent's phone: a page in a small window of its own, closed after `use`. */
async function onPhone(use: (parent: Page) => Promise<void>): Promise<void> {
  const phone = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'en-GB' });
  try {
    await use(await phone.newPage());
  } finally {
    await phone.close();
  }
}

/** Opens the event in a signed-in parent's gallery and waits for `count` photos, their thumbnails shown; returns the cells. */
async function galleryShows(parent: Page, remote: string, count: number): Promise<Locator> {
  await parent.goto(`${service.base}/events/${remote}?school=${schoolId}`);
  const cells = parent.locator('.cell[data-asset-id]');
  await expect.poll(() => cells.count(), { timeout: 20_000 }).toBe(count);
  await expect.poll(() => parent.locator('.cell img.thumb').evaluateAll((images) => images.filter((img) => (img as HTMLImageElement).naturalWidth > 0).length)).toBe(count);
  return cells;
}

beforeAll(async () => {
  [browser, s3] = await Promise.all([launchBrowser(), startS3Server()]);
  service = await startSyncService({
    env: { S3_ENDPOINT: s3.endpoint, S3_BUCKET: s3.bucket, S3_FORCE_PATH_STYLE: 'true', S3_REGION: 'us-east-1', S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER' },
  });
  office = new SyncClient({ store: memorySessionStore() });
  await office.signIn(service.base, service.admin.email, service.admin.password);
  schoolId = office.memberships[0]!.schoolId;
  benId = (await office.request<{ id: string }>('POST', `/v1/schools/${schoolId}/students`, { name: 'Ben Okafor' })).id;
  await office.request('PUT', `/v1/schools/${schoolId}/students/${benId}/consent/publish`, { granted: true });
  // No key in the environment: the photographer enters it in settings.
  for (const name of ['KEEPSAKE_S3_ACCESS_KEY_ID', 'KEEPSAKE_S3_SECRET_ACCESS_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'KEEPSAKE_S3_PROFILE']) vi.stubEnv(name, '');
  ui = await openUi({
    suite: 'desktop',
    browser,
    engineOptions: { uploaderTiming: UPLOADER_TIMING },
    prepare: async (engine, dir) => {
      // Big enough that previews take a few seconds at 40 KB/s, so pausing has something to stop.
      for (let i = 1; i <= 3; i += 1) {
        await makeJpeg(dir.join('card', `IMG_000${i}.JPG`), { seed: i, width: 3000, height: 2000, quality: 95, exif: { dateTimeOriginal: `2026:05:14 10:0${i}:00` } });
      }
      await engine.imports.run({ source: dir.join('card'), event: 'Sports Day' });
      eventId = engine.catalog.events.findByName('Sports Day')!.id;
      const first = engine.catalog.assets.listEventPage(eventId, { limit: 10 }).items[0]!;
      const { person } = engine.catalog.people.upsert({ name: 'Ana Lima', classGroup: '3B' });
      engine.catalog.people.setConsent(person.id as PersonId, 'publish', false, 'office');
      engine.catalog.people.tagAsset(first.id as AssetId, person.id as PersonId);
      engine.jobs.start();
      await engine.jobs.whenIdle(['thumbs']);
    },
  });
  page = ui.page;
  running = { engine: ui.engine, host: ui.host };
}, 180_000);

afterAll(async () => {
  await ui?.context.close();
  if (running) {
    await running.host.close();
    await running.engine.close();
  }
  await ui?.dir.cleanup();
  await browser?.close();
  vi.unstubAllEnvs();
  await service?.stop();
  await s3?.close();
});

const screens = () => page.getByRole('navigation', { name: 'Screens' });

describe('connecting to the school and publishing from the desktop', () => {
  it('signs in from settings and sets up the school’s bucket, with a message per wrong field', async () => {
    await screens().getByRole('button', { name: 'Settings' }).click();
    const signIn = page.getByRole('form', { name: 'Sign in to the sync service' });
    await signIn.getByLabel('Sync service URL').fill(service.base);
    await signIn.getByLabel('Email').fill(service.admin.email);
    await signIn.getByLabel('Password').fill('not the password');
    await signIn.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: /password/i }).waitFor();
    await signIn.getByLabel('Password').fill(service.admin.password);
    await signIn.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('This library publishes for Greenfield Primary.', { exact: true }).waitFor();

    const storage = page.getByRole('form', { name: 'Storage settings' });
    // The school id comes from the school signed in to.
    await expect.poll(() => storage.getByLabel(/^School id/).inputValue()).toBe('greenfield');
    await storage.getByLabel(/^Endpoint/).fill(s3.endpoint);
    await storage.getByLabel(/^Bucket/).fill('Keepsake_Photos');
    await storage.getByLabel(/^Part size/).fill('2');
    await storage.getByRole('button', { name: 'Save storage settings' }).click();
    await expect.poll(() => storage.getByLabel(/^Bucket/).getAttribute('aria-invalid')).toBe('true');
    expect(await storage.getByLabel(/^Part size/).getAttribute('aria-invalid')).toBe('true');
    await shot('settings-invalid');
    await storage.getByLabel(/^Bucket/).fill(s3.bucket);
    await storage.getByLabel(/^Part size/).fill('5');
    await storage.getByLabel(/Path-style/).check();
    // One request at a time, so a pause leaves work queued behind the one in flight.
    await storage.getByLabel(/^Requests at once/).fill('1');
    await storage.getByRole('button', { name: 'Save storage settings' }).click();
    await page.getByText('Storage settings saved.').waitFor();
    await storage.getByRole('button', { name: 'Check the bucket' }).click();
    await page.getByRole('alert').filter({ hasText: 'no access key for the bucket yet' }).waitFor();
    const key = page.getByRole('form', { name: 'Access key' });
    await key.getByLabel('Access key ID').fill('S3RVER');
    await key.getByLabel('Secret access key').fill('a-secret-s3rver-ignores');
    await key.getByRole('button', { name: 'Keep this key' }).click();
    await key.getByText('The key ending in …RVER is kept in a file in the library only you can read.', { exact: false }).waitFor();
    expect(await key.getByLabel('Secret access key').inputValue()).toBe('');
    await storage.getByRole('button', { name: 'Check the bucket' }).click();
    await page.getByText(`The bucket ${s3.bucket} is reachable`, { exact: false }).waitFor();
    await shot('settings-signed-in');
    // Nothing secret reached the page.
    const html = await page.content();
    expect(html).not.toContain(service.admin.password);
    expect(html).not.toContain('a-secret-s3rver-ignores');
  }, 60_000);

  it('opens the publish panel: two new, one held back for consent, and the school’s storage', async () => {
    // Ben came with the school's changes at sign-in; the photographer tags him in the second photo.
    await expect.poll(() => ui.engine.catalog.people.list().find((person) => person.remoteId === benId)?.consent.publish).toBe(true);
    const ben = ui.engine.catalog.people.list().find((person) => person.remoteId === benId)!;
    const second = ui.engine.catalog.assets.listEventPage(eventId, { limit: 10 }).items[1]!;
    ui.engine.catalog.people.tagAsset(second.id as AssetId, ben.id as PersonId);
    await screens().getByRole('button', { name: 'Uploads' }).click();
    await page.getByRole('table', { name: 'Events to publish' }).getByRole('row', { name: /Sports Day/ }).getByRole('button', { name: 'Publish…' }).click();
    const counts = page.getByRole('list', { name: 'What will be published' });
    await counts.waitFor();
    expect(await counts.getByRole('listitem').first().textContent()).toBe('2 new items');
    const held = page.getByRole('table', { name: 'Not published' }).getByRole('row');
    expect(await held.count()).toBe(1);
    expect(await held.textContent()).toMatch(/IMG_0001\.JPG.*No consent.*Ana Lima \(3B\): consent to publish denied/);
    expect(await page.getByRole('meter', { name: 'School storage after this publish' }).getAttribute('aria-valuetext')).toMatch(/^0 B of .* used now; .* after this publish$/);
    await shot('publish-panel');
  }, 60_000);

  it('publishes with a bandwidth limit, shows progress, and pauses', async () => {
    // The limit first (a school's slow uplink), then the publish.
    await screens().getByRole('button', { name: 'Uploads' }).click();
    const limit = page.getByRole('form', { name: 'Bandwidth limit' });
    await limit.getByLabel('Limit (KB/s)').fill('40');
    await limit.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('Limited to 40 KB/s.').waitFor();
    await page.getByRole('table', { name: 'Events to publish' }).getByRole('row', { name: /Sports Day/ }).getByRole('button', { name: 'Publish…' }).click();
    await page.getByRole('button', { name: 'Publish 2 items' }).click();
    await page.getByRole('button', { name: 'Show uploads' }).click();
    const headline = page.getByLabel('Overall progress').locator('.progress-headline');
    await expect.poll(() => headline.textContent(), { timeout: 30_000 }).toMatch(/^Uploading · [01] of 2 items · .* of /);
    await page.getByRole('table', { name: 'Files being sent' }).waitFor();
    await expect.poll(() => headline.textContent(), { timeout: 20_000 }).toMatch(/KB\/s/);
    await shot('uploads-progress');
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByText('Paused', { exact: true }).waitFor();
    // The request in flight finishes (faster once the limit is raised); then nothing more is sent.
    await limit.getByLabel('Limit (KB/s)').fill('5000');
    await limit.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('Limited to 5,000 KB/s.').waitFor();
    const bytes = () => ui.engine.cloud.connection().uploader.progress().bytesSent;
    // A slice through the old limit may still be sleeping (up to 1.6 s for 64 KiB at 40 KB/s): settled is 3 s without a byte.
    let last = -1;
    let changedAt = Date.now();
    await expect.poll(async () => {
      const now = bytes();
      if (now !== last) [last, changedAt] = [now, Date.now()];
      return Date.now() - changedAt >= 3000;
    }, { interval: 500, timeout: 30_000 }).toBe(true);
    const objects = ui.engine.catalog.cloud.objectsOfEvent(eventId).length;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(bytes()).toBe(last);
    expect(ui.engine.catalog.cloud.objectsOfEvent(eventId).length).toBe(objects);
    expect(ui.engine.catalog.jobs.countsByKind().publish!.done).toBeLessThan(2);
    await shot('uploads-paused');
  }, 90_000);

  it('keeps the paused queue across a restart of Keepsake, resumes, and the school lists the media', async () => {
    await stopKeepsake();
    engine2 = await startKeepsake();
    await screens().getByRole('button', { name: 'Uploads' }).click();
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    await page.getByText('Paused', { exact: true }).waitFor();
    const limit = page.getByRole('form', { name: 'Bandwidth limit' });
    await expect.poll(() => limit.getByLabel('Limit (KB/s)').inputValue()).toBe('5000');
    await limit.getByLabel('Limit (KB/s)').fill('');
    await limit.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('No bandwidth limit.').waitFor();
    await page.getByRole('button', { name: 'Resume' }).click();
    const headline = page.getByLabel('Overall progress').locator('.progress-headline');
    await expect.poll(() => headline.textContent(), { timeout: 60_000 }).toMatch(/^Nothing to upload · 2 of 2 items/);
    expect(await page.getByRole('table', { name: 'Failed uploads' }).count()).toBe(0);
    await shot('uploads-done');

    const objects = engine2.catalog.cloud.objectsOfEvent(eventId);
    expect(objects.filter((o) => o.variant !== 'manifest').length).toBeGreaterThanOrEqual(4);
    for (const object of objects) {
      const head = await s3.client().send(new HeadObjectCommand({ Bucket: s3.bucket, Key: object.key }));
      expect(head.ContentLength).toBe(object.size);
    }
    const client = new SyncClient({ store: fileSessionStore(librarySessionFile(engine2.libraryRoot)) });
    await client.refresh();
    const school = client.memberships[0]!.schoolId;
    const remote = engine2.catalog.events.get(eventId)!.remoteId!;
    await expect
      .poll(async () => (await client.request<{ media: unknown[] }>('GET', `/v1/schools/${school}/events/${remote}/media`)).media.length, { timeout: 30_000 })
      .toBe(2);

    // The panel now says both are published, and the storage they take.
    await page.getByRole('table', { name: 'Events to publish' }).getByRole('row', { name: /Sports Day/ }).getByRole('button', { name: 'Publish…' }).click();
    await page.getByText('2 items already published').waitFor();
    expect(await page.getByRole('meter').getAttribute('aria-valuetext')).not.toMatch(/^0 B of/);
    await shot('publish-panel-after');
  }, 120_000);

  it('shows the photos to a parent in the gallery, and takes Ben’s away once his consent is withdrawn', async () => {
    // The office opens the event to the whole school and gives Ben's family its access code.
    const remote = engine2!.catalog.events.get(eventId)!.remoteId!;
    await openToSchool(remote);
    const family = await office.request<{ id: string }>('POST', `/v1/schools/${schoolId}/families`, { name: 'Okafor' });
    await office.request('POST', `/v1/schools/${schoolId}/families/${family.id}/students`, { studentId: benId });
    const { code } = await office.request<{ code: string }>('POST', `/v1/schools/${schoolId}/families/${family.id}/access-code`);

    await onPhone(async (parent) => {
      await parent.goto(`${service.base}/sign-in`);
      const form = parent.locator('form[data-form="code"]');
      await form.getByLabel('Family access code').fill(code);
      await form.getByLabel('Your name').fill('Grace Okafor');
      await form.getByLabel('Email').fill(GRACE.email);
      await form.getByLabel('Choose a password').fill(GRACE.password);
      await parent.getByRole('button', { name: 'Create my account' }).click();
      await parent.getByRole('heading', { name: 'Events' }).waitFor();
      const cells = await galleryShows(parent, remote, 2);
      await parent.screenshot({ path: artifactPath('desktop', 'gallery-parent-phone') });

      // Withdrawn by the school: Ben's photo leaves the parents' gallery at once; the other stays.
      await office.request('PUT', `/v1/schools/${schoolId}/students/${benId}/consent/publish`, { granted: false });
      await parent.reload();
      await expect.poll(() => cells.count(), { timeout: 20_000 }).toBe(1);
      await parent.screenshot({ path: artifactPath('desktop', 'gallery-parent-after-withdrawal') });
    });
  }, 90_000);

  it('goes on by itself after Keepsake is stopped mid-upload (not paused), resuming the originals’ multipart uploads', async () => {
    let engine = running!.engine;
    await engine.jobs.whenIdle(['publish', 'manifest']);
    // A second event: two 17-megapixel photos, whose originals (about 11 MB) go up in three 5 MiB parts.
    for (let i = 1; i <= 2; i += 1) {
      await makeJpeg(ui.dir.join('card2', `IMG_010${i}.JPG`), { seed: 10 + i, width: 5000, height: 3500, quality: 98, exif: { dateTimeOriginal: `2026:06:02 09:0${i}:00` } });
    }
    await engine.imports.run({ source: ui.dir.join('card2'), event: 'Class Photos' });
    const classEvent = engine.catalog.events.findByName('Class Photos')!.id;
    await engine.jobs.whenIdle(['thumbs']);

    // The school's subscription includes originals (its operator keeps plans in the service's database), so
    // does the library's storage setting; the uplink is slow.
    const serviceDb = new Database(path.join(service.dataDir, 'sync.db'), { timeout: 10_000 });
    try {
      serviceDb.prepare('UPDATE plans SET originals_allowed = 1').run();
    } finally {
      serviceDb.close();
    }
    await screens().getByRole('button', { name: 'Settings' }).click();
    const storage = page.getByRole('form', { name: 'Storage settings' });
    await storage.getByLabel(/allows publishing originals/).check();
    await storage.getByRole('button', { name: 'Save storage settings' }).click();
    await expect.poll(() => engine.cloud.settings().allowOriginals).toBe(true);
    await screens().getByRole('button', { name: 'Uploads' }).click();
    const limit = () => page.getByRole('form', { name: 'Bandwidth limit' });
    await limit().getByLabel('Limit (KB/s)').fill('1000');
    await limit().getByRole('button', { name: 'Apply' }).click();
    await page.getByText('Limited to 1,000 KB/s.').waitFor();
    await page.getByRole('table', { name: 'Events to publish' }).getByRole('row', { name: /Class Photos/ }).getByRole('button', { name: 'Publish…' }).click();
    await page.getByLabel(/Publish originals too/).check();
    await page.getByRole('button', { name: 'Publish 2 items' }).click();
    await page.getByRole('button', { name: 'Show uploads' }).click();

    // Stopped while an original is going up: its first part is on the store, the second in flight.
    let interrupted: { key: string; size: number; partSize: number } | undefined;
    await expect
      .poll(
        () => {
          interrupted = engine.catalog.cloud.listUploads().find((upload) => upload.partsDone === 1 && upload.size > 2 * upload.partSize);
          return interrupted !== undefined;
        },
        { interval: 100, timeout: 120_000 },
      )
      .toBe(true);
    expect(engine.cloud.paused).toBe(false);
    await stopKeepsake();
    const key = interrupted!.key;
    const partCount = Math.ceil(interrupted!.size / interrupted!.partSize);
    const sentBefore = s3.requests.length;

    // Started again, nobody presses anything: the queue goes on from where it was.
    let partsKept: number[] = [];
    engine = await startKeepsake((next) => {
      const upload = next.catalog.cloud.listUploads().find((u) => u.key === key);
      expect(upload, 'the interrupted upload is still known after the restart').toBeDefined();
      partsKept = next.catalog.cloud.partsOf(upload!.id).map((part) => part.partNumber);
    });
    await screens().getByRole('button', { name: 'Uploads' }).click();
    const headline = page.getByLabel('Overall progress').locator('.progress-headline');
    // The run's byte total went with the last session: the bytes sent show, but no total and no time left.
    await expect.poll(() => headline.textContent(), { timeout: 30_000 }).toMatch(/^Uploading · [01] of 2 items · [\d.]+ \S*B sent/);
    expect(await headline.textContent()).not.toMatch(/ left$/);
    await expect.poll(() => s3.requests.slice(sentBefore).some((q) => q.op === 'ListParts' && q.key === key), { timeout: 60_000 }).toBe(true);
    await page.getByRole('table', { name: 'Files being sent' }).waitFor();
    await shot('uploads-resumed-after-restart');
    // The limit was kept; lifted, the rest goes at full speed.
    await expect.poll(() => limit().getByLabel('Limit (KB/s)').inputValue()).toBe('1000');
    await limit().getByLabel('Limit (KB/s)').fill('');
    await limit().getByRole('button', { name: 'Apply' }).click();
    await page.getByText('No bandwidth limit.').waitFor();
    await expect.poll(() => headline.textContent(), { timeout: 120_000 }).toMatch(/^Nothing to upload · 2 of 2 items/);
    expect(await page.getByRole('table', { name: 'Failed uploads' }).count()).toBe(0);
    const classRow = page.getByRole('table', { name: 'Events to publish' }).getByRole('row', { name: /Class Photos/ });
    await expect.poll(() => classRow.textContent()).toMatch(/2 item\(s\), 0 not published/);
    await shot('uploads-done-after-restart');

    // Resumed, not restarted: the upload was listed, no part already on the store was sent again, and
    // each original had one multipart upload over both runs.
    const after = s3.requests.slice(sentBefore);
    const objects = engine.catalog.cloud.objectsOfEvent(classEvent);
    const originals = objects.filter((o) => o.variant === 'original').map((o) => o.key);
    expect(originals).toHaveLength(2);
    expect(originals).toContain(key);
    for (const original of originals) expect(s3.requests.filter((q) => q.op === 'CreateMultipartUpload' && q.key === original), original).toHaveLength(1);
    expect(after.filter((q) => q.op === 'ListParts' && q.key === key).length).toBeGreaterThanOrEqual(1);
    expect(partsKept.length).toBeGreaterThanOrEqual(1);
    const partsAfter = after.filter((q) => q.op === 'UploadPart' && q.key === key).map((q) => q.partNumber!);
    expect(partsAfter.filter((n) => partsKept.includes(n)), 'parts sent again').toEqual([]);
    expect([...new Set([...partsKept, ...partsAfter])].sort((a, b) => a - b)).toEqual(Array.from({ length: partCount }, (_, i) => i + 1));
    expect(engine.catalog.cloud.listUploads()).toEqual([]);
    expect((await s3.client().send(new ListMultipartUploadsCommand({ Bucket: s3.bucket }))).Uploads ?? []).toEqual([]);

    // No duplicate objects: the bucket holds the catalog's objects of the event, one per photo and variant.
    const prefix = `${engine.cloud.publisher.eventPrefix(engine.catalog.events.get(classEvent)!)}/`;
    const listed = (await s3.client().send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }))).Contents ?? [];
    expect(listed.map((o) => `${o.Key!} ${o.Size!}`).sort()).toEqual(objects.map((o) => `${o.key} ${o.size}`).sort());
    const variants = objects.filter((o) => o.variant !== 'manifest').map((o) => `${o.assetId} ${o.variant}`);
    expect(new Set(variants).size).toBe(variants.length);
    expect(variants.filter((v) => v.endsWith(' original'))).toHaveLength(2);

    // The school lists each photo once, with its original.
    const remote = engine.catalog.events.get(classEvent)!.remoteId!;
    const media = async () =>
      (await office.request<{ media: Array<{ assetId: string; variants: Record<string, { size: number }> }> }>('GET', `/v1/schools/${schoolId}/events/${remote}/media`)).media;
    await expect.poll(async () => (await media()).length, { timeout: 30_000 }).toBe(2);
    const listedMedia = await media();
    expect(new Set(listedMedia.map((m) => m.assetId)).size).toBe(2);
    for (const item of listedMedia) expect(item.variants.original?.size).toBeGreaterThan(2 * interrupted!.partSize);

    // And the parent's gallery shows both.
    await openToSchool(remote);
    await onPhone(async (parent) => {
      await parent.goto(`${service.base}/sign-in`);
      await parent.getByRole('button', { name: 'I have an account' }).click();
      const form = parent.locator('form[data-form="password"]');
      await form.getByLabel('Email').fill(GRACE.email);
      await form.getByLabel('Password').fill(GRACE.password);
      await parent.getByRole('button', { name: 'Sign in', exact: true }).click();
      await parent.getByRole('heading', { name: 'Events' }).waitFor();
      await galleryShows(parent, remote, 2);
      await parent.screenshot({ path: artifactPath('desktop', 'gallery-parent-after-restart') });
    });
  }, 300_000);
});
