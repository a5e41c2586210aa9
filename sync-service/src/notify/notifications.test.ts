/**
 * Parents' notifications end to end, on SQLite and PostgreSQL: manifests published through the API
 * (objects in s3rver), digests queued by the notification worker, mail sent by the outbox over real SMTP
 * (smtp-server on loopback, parsed as it arrives), and text messages sent to a loopback HTTP endpoint
 * that records each request: a paid SMS provider's API cannot be called from a test, so this endpoint
 * stands in for it and the provider adapter is exercised over real HTTP against it.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3Server } from '../../../app/test/s3-server.ts';
import { buildApp } from '../app.ts';
import type { Database } from '../db/schema.ts';
import type { Kysely, Transaction } from 'kysely';
import { SmtpMailer } from '../mail/mailer.ts';
import { Outbox, OutboxWorker, type NewMail } from '../mail/outbox.ts';
import { startSmtpServer, type TestSmtpServer } from '../mail/smtp-test-server.ts';
import type { ManifestAsset } from '../services/media.ts';
import { S3ObjectStore } from '../services/storage.ts';
import { TEST_DATABASES } from '../test/databases.ts';
import { injectAs, startHarness, TEST_SCRYPT, type Harness } from '../test/harness.ts';
import { NotificationWorker, type NotificationWorkerOptions } from './notification-worker.ts';
import { HttpSmsSender, SmsOutboxMailer } from './sms.ts';
import { UnsubscribeTokens } from './unsubscribe-tokens.ts';

const PUBLIC_URL = 'https://keepsake.greenfield.test';
const FROM = 'keepsake@greenfield.test';
const SMS_KEY = 'test-sms-api-key-0123456789';
const DELAY_SEC = 60;
const PHONE_B = '+447700900123';

/** What the stand-in SMS provider received. */
interface SmsRequest {
  headers: IncomingHttpHeaders;
  body: { to: string; text: string; reference: string };
}

/** A loopback HTTP endpoint that records every request and answers 202 (or `failNext` times 503). */
async function startSmsEndpoint(): Promise<{ url: string; requests: SmsRequest[]; failNext: { count: number }; close(): Promise<void> }> {
  const requests: SmsRequest[] = [];
  const failNext = { count: 0 };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (failNext.count > 0) {
        failNext.count -= 1;
        response.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"busy"}');
        return;
      }
      requests.push({ headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as SmsRequest['body'] });
      response.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"queued"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1/messages`, requests, failNext, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const header = (mail: ParsedMail, name: string) => mail.headerLines.find((line) => line.key === name)?.line.replace(/^[^:]+:\s*/, '').replace(/\r?\n\s+/g, ' ');
const recipients = (mails: ParsedMail[]) => mails.map((m) => (Array.isArray(m.to) ? m.to[0] : m.to)?.value[0]?.address ?? '').sort();

describe.each(TEST_DATABASES)('parents’ notifications on $name', (target) => {
  let h: Harness;
  let app: FastifyInstance;
  let s3: S3Server;
  let smtp: TestSmtpServer;
  let mailer: SmtpMailer;
  let sms: Awaited<ReturnType<typeof startSmsEndpoint>>;
  let mailWorker: OutboxWorker;
  let smsWorker: OutboxWorker;
  let worker: NotificationWorker;
  const outboxKey = randomBytes(32);
  const outbox = new Outbox(outboxKey);
  /** How far the notification worker's clock runs ahead of the real one (publishes are stamped with the real one). */
  let skewMs = 0;
  let school = '';
  let admin = '';
  let sportsDay = '';
  let scienceFair = '';
  const parents = { a1: '', a2: '', b: '', c: '' };
  const parentToken = { a1: '', a2: '', b: '', c: '' };
  const kids = { a: '', b: '', noConsent: '', c: '' };
  let manifest: ManifestAsset[] = [];
  let familyC = '';

  /** A family of `members` with one child per entry of `classes` (each with publish consent); returns the children's ids. */
  async function household(name: string, members: string[], classes: string[]): Promise<{ id: string; children: string[] }> {
    const db = h.db.kysely;
    const now = new Date().toISOString();
    const id = randomUUID();
    await db.insertInto('families').values({ id, school_id: school, name, email: null, access_code_hash: null, created_at: now, updated_at: now }).execute();
    for (const user of members) await db.insertInto('family_members').values({ family_id: id, user_id: user }).execute();
    const children: string[] = [];
    for (const classId of classes) {
      const child = randomUUID();
      await db.insertInto('students').values({ id: child, school_id: school, name: `Child of ${name}`, class_id: classId, remote_ref: null, created_at: now, updated_at: now, deleted_at: null }).execute();
      await db.insertInto('family_students').values({ family_id: id, student_id: child }).execute();
      await db.insertInto('consents').values({ student_id: child, purpose: 'publish', granted: 1, set_by_user_id: null, set_at: now }).execute();
      children.push(child);
    }
    return { id, children };
  }
  /** A new class of the school. */
  async function schoolClass(name: string): Promise<string> {
    const id = randomUUID();
    await h.db.kysely.insertInto('classes').values({ id, school_id: school, name, created_at: new Date().toISOString() }).execute();
    return id;
  }
  /** A published event with `audience`, created through the API. */
  async function publishedEvent(name: string, audience: unknown): Promise<{ id: string; version: number }> {
    const created = await call('POST', `/v1/schools/${school}/events`, admin, { name, startsOn: '2026-09-20', state: 'published', audience });
    expect(created.statusCode, created.body).toBe(201);
    return created.json<{ id: string; version: number }>();
  }

  const notifier = (options: Partial<NotificationWorkerOptions> = {}) =>
    new NotificationWorker(h.db.kysely, {
      outbox,
      unsubscribeTokens: new UnsubscribeTokens(h.tokens.deriveSecret('notify-unsubscribe')),
      publicUrl: PUBLIC_URL,
      digestDelaySeconds: DELAY_SEC,
      sweepEveryMs: 0,
      now: () => new Date(Date.now() + skewMs),
      ...options,
    });
  const call = (method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, token: string | undefined, body?: unknown): Promise<LightMyRequestResponse> => injectAs(app, method, url, token, body);

  /** A photo of `eventId` tagged with `people`, its thumbnail uploaded to s3rver. */
  async function photo(eventId: string, people: string[]): Promise<ManifestAsset> {
    const id = createHash('sha256').update(randomUUID()).digest('hex').slice(0, 32);
    const key = `schools/greenfield/events/${eventId}/${id}/thumb.webp`;
    const body = Buffer.from(`thumbnail ${id}`);
    await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
    return { id, kind: 'photo', capturedAt: null, width: 400, height: 300, durationSec: null, rating: 0, title: null, description: null, tags: [], people, variants: { thumb: { key, size: body.length, hash: `h-${id}` } } };
  }
  /** Publishes the event's manifest grown by `batch` (a manifest names every asset of the event). */
  async function publish(eventId: string, assets: ManifestAsset[]): Promise<void> {
    const response = await call('PUT', `/v1/schools/${school}/events/${eventId}/manifest`, admin, { assets });
    expect(response.statusCode, response.body).toBe(200);
  }
  /** Runs the mail outbox and returns the mails that arrived in this call. */
  async function deliver(expected: number): Promise<ParsedMail[]> {
    const before = smtp.received.length;
    let sent = 0;
    for (let round = 0; round < 5 && sent < expected; round++) sent += (await mailWorker.runOnce()).sent;
    expect(sent).toBe(expected);
    return (await smtp.waitFor(before + expected)).slice(before);
  }
  const unsubscribeUrl = (mail: ParsedMail) => {
    const value = header(mail, 'list-unsubscribe');
    const match = /^<(https:\/\/keepsake\.greenfield\.test\/v1\/notifications\/unsubscribe\?t=[^>]+)>$/.exec(value ?? '');
    if (match?.[1] === undefined) throw new Error(`no one-click link in List-Unsubscribe: ${value}`);
    return match[1].slice(PUBLIC_URL.length);
  };
  const prefsOf = async (token: string) => (await call('GET', `/v1/schools/${school}/me/notifications`, token)).json<{ email: boolean; sms: boolean; phone: string | null }>();

  beforeAll(async () => {
    h = await startHarness(target);
    s3 = await startS3Server();
    smtp = await startSmtpServer();
    mailer = new SmtpMailer(smtp.url);
    sms = await startSmsEndpoint();
    app = buildApp({
      db: h.db.kysely,
      tokens: h.tokens,
      refreshTtlSeconds: 3600,
      scrypt: TEST_SCRYPT,
      publicUrl: PUBLIC_URL,
      outbox,
      gallery: false,
      media: { store: new S3ObjectStore(s3.client(), s3.bucket), urlTtlSeconds: 60 },
    });
    mailWorker = new OutboxWorker(h.db.kysely, outbox, { mailer, fromAddress: FROM });
    smsWorker = new OutboxWorker(h.db.kysely, outbox, { mailer: new SmsOutboxMailer(new HttpSmsSender(sms.url, SMS_KEY)), fromAddress: FROM, channel: 'sms', baseDelayMs: 1 });
    worker = notifier();

    school = await h.createSchool('greenfield');
    await h.db.kysely.updateTable('schools').set({ name: 'Greenfield Primary' }).where('id', '=', school).execute();
    const adminId = await h.createUser('head@g.test', [[school, 'admin']]);
    admin = await h.tokens.issue(adminId);
    for (const who of ['a1', 'a2', 'b', 'c'] as const) {
      parents[who] = await h.createUser(`parent-${who}@families.test`, [[school, 'parent']]);
      parentToken[who] = await h.tokens.issue(parents[who]);
    }
    const now = new Date().toISOString();
    const db = h.db.kysely;
    const [class3b, class4a] = [randomUUID(), randomUUID()];
    await db.insertInto('classes').values([{ id: class3b, school_id: school, name: '3B', created_at: now }, { id: class4a, school_id: school, name: '4A', created_at: now }]).execute();
    const family = async (name: string, members: string[], children: Array<[key: keyof typeof kids, classId: string, consent: boolean]>) => {
      const id = randomUUID();
      await db.insertInto('families').values({ id, school_id: school, name, email: null, access_code_hash: null, created_at: now, updated_at: now }).execute();
      for (const user of members) await db.insertInto('family_members').values({ family_id: id, user_id: user }).execute();
      for (const [key, classId, consent] of children) {
        kids[key] = randomUUID();
        await db.insertInto('students').values({ id: kids[key], school_id: school, name: `Child ${key}`, class_id: classId, remote_ref: null, created_at: now, updated_at: now, deleted_at: null }).execute();
        await db.insertInto('family_students').values({ family_id: id, student_id: kids[key] }).execute();
        if (consent) await db.insertInto('consents').values({ student_id: kids[key], purpose: 'publish', granted: 1, set_by_user_id: null, set_at: now }).execute();
      }
      return id;
    };
    // Family A is listed for Sports Day; B's children are in the listed class (one of them without consent); C's child is in another class.
    const familyA = await family('Ahmed', [parents.a1, parents.a2], [['a', class4a, true]]);
    await family('Brown', [parents.b], [['b', class3b, true], ['noConsent', class3b, false]]);
    familyC = await family('Chen', [parents.c], [['c', class4a, true]]);
    const created = await call('POST', `/v1/schools/${school}/events`, admin, {
      name: 'Sports Day',
      startsOn: '2026-06-12',
      state: 'published',
      audience: { scope: 'some', classIds: [class3b], familyIds: [familyA] },
    });
    expect(created.statusCode, created.body).toBe(201);
    sportsDay = created.json<{ id: string }>().id;
    const fair = await call('POST', `/v1/schools/${school}/events`, admin, { name: 'Science Fair', startsOn: '2026-06-20', state: 'published' });
    scienceFair = fair.json<{ id: string }>().id;
    // Parent B also wants text messages; the school sends as its office, with replies to it.
    expect((await call('PUT', `/v1/schools/${school}/me/notifications`, parentToken.b, { email: true, sms: true, phone: '+44 7700 900123' })).json()).toEqual({ email: true, sms: true, phone: PHONE_B });
    const sender = await call('PUT', `/v1/schools/${school}/notification-sender`, admin, { displayName: 'Greenfield Office', replyTo: 'office@greenfield.test' });
    expect(sender.statusCode, sender.body).toBe(200);
  }, 60_000);
  afterAll(async () => {
    await app.close();
    await mailer.close();
    await smtp.stop();
    await sms.close();
    await s3.close();
    await h.close();
  });

  it('sends each parent who may see the event one digest for three publishes, counting only what they may see', async () => {
    const batch1 = [await photo(sportsDay, [kids.a]), await photo(sportsDay, [kids.a]), await photo(sportsDay, []), await photo(sportsDay, [kids.b])];
    const batch2 = [await photo(sportsDay, [kids.b]), await photo(sportsDay, [kids.b, kids.noConsent]), await photo(sportsDay, [kids.noConsent])];
    const batch3 = [await photo(sportsDay, []), await photo(sportsDay, [kids.c])];
    manifest = [...batch1];
    await publish(sportsDay, manifest);
    manifest = [...manifest, ...batch2];
    await publish(sportsDay, manifest);
    manifest = [...manifest, ...batch3];
    await publish(sportsDay, manifest);

    // Within the delay nothing goes out: the publishes are still gathering.
    skewMs = 0;
    expect(await worker.runOnce()).toEqual({ digests: 0, notices: 0, cancelled: 0, emails: 0, sms: 0 });
    skewMs = (DELAY_SEC + 1) * 1000;
    // The parents of families A and B; not C (outside the audience). A has two parents; B also wants a text.
    expect(await worker.runOnce()).toEqual({ digests: 3, notices: 0, cancelled: 0, emails: 3, sms: 1 });
    expect(await worker.runOnce()).toEqual({ digests: 0, notices: 0, cancelled: 0, emails: 0, sms: 0 });

    const mails = await deliver(3);
    expect(recipients(mails)).toEqual(['parent-a1@families.test', 'parent-a2@families.test', 'parent-b@families.test']);
    // 9 photos, of which 2 show the child without consent: 7 counted.
    for (const mail of mails) {
      expect(mail.subject).toBe('7 new photos from Sports Day');
      expect(mail.from?.value).toEqual([{ name: 'Greenfield Office', address: FROM }]);
      expect(mail.replyTo?.value).toEqual([{ name: '', address: 'office@greenfield.test' }]);
      expect(mail.text).toContain('7 new photos from Sports Day are in the Greenfield Primary gallery.');
      expect(mail.text).toContain(`${PUBLIC_URL}/events/${sportsDay}`);
      expect(mail.html).toContain(`href="${PUBLIC_URL}/events/${sportsDay}"`);
      // No pictures of children, nor anything that fetches one; the unsubscribe link is the only token.
      expect(mail.attachments).toEqual([]);
      expect(String(mail.html)).not.toMatch(/<img|background-image|schools\/greenfield\/events|thumb\.webp/i);
      expect(header(mail, 'list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
      expect(unsubscribeUrl(mail)).toMatch(/^\/v1\/notifications\/unsubscribe\?t=u1\.[0-9a-f-]{36}\.[0-9a-f-]{36}\.[0-9a-z]+\.[A-Za-z0-9_-]{43}$/);
      expect(mail.text).toContain(`${PUBLIC_URL}${unsubscribeUrl(mail)}`);
    }
    const links = mails.map(unsubscribeUrl);
    expect(new Set(links).size).toBe(3);

    // The text message goes to the stand-in provider (refused once with a 503, then retried).
    sms.failNext.count = 1;
    expect(await smsWorker.runOnce()).toEqual({ sent: 0, retried: 1, failed: 0 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await smsWorker.runOnce()).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(sms.requests).toHaveLength(1);
    expect(sms.requests[0]?.headers.authorization).toBe(`Bearer ${SMS_KEY}`);
    expect(sms.requests[0]?.body).toMatchObject({ to: PHONE_B, text: `Greenfield Primary: 7 new photos from Sports Day on Keepsake. ${PUBLIC_URL}/events/${sportsDay}` });
    expect(sms.requests[0]?.headers['idempotency-key']).toBe(sms.requests[0]?.body.reference);
    // The e-mail worker leaves text messages alone, and nothing is sent twice.
    expect((await mailWorker.runOnce()).sent).toBe(0);
    expect((await smsWorker.runOnce()).sent).toBe(0);
  });

  it('unsubscribes by the one-click POST only (the link page changes nothing) and stops the next digest', async () => {
    const digests = await h.db.kysely.selectFrom('notification_digests').select(['number', 'new_media', 'state']).where('event_id', '=', sportsDay).execute();
    expect(digests).toEqual([1, 2, 3].map(() => ({ number: 1, new_media: 7, state: 'sent' })));
    const [mailA1] = smtp.received.filter((m) => recipients([m])[0] === 'parent-a1@families.test');
    if (mailA1 === undefined) throw new Error('no digest for parent a1');
    const link = unsubscribeUrl(mailA1);

    // A mail scanner or a click opens the page: it asks, and e-mail stays on.
    const page = await call('GET', link, undefined);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('Stop the e-mails from Greenfield Primary');
    expect(page.body).toMatch(/<form method="post" action="\?t=u1\.[^"]+">/);
    expect((await prefsOf(parentToken.a1)).email).toBe(true);

    // The mail system's one-click POST (RFC 8058): a form body, no sign-in.
    const posted = await app.inject({ method: 'POST', url: link, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'List-Unsubscribe=One-Click' });
    expect(posted.statusCode, posted.body).toBe(200);
    expect(posted.json()).toEqual({ unsubscribed: true, channel: 'email', schoolName: 'Greenfield Primary' });
    expect(await prefsOf(parentToken.a1)).toEqual({ email: false, sms: false, phone: null });
    expect(await h.audit('notify.unsubscribe')).toContainEqual(expect.objectContaining({ subject: `user:${parents.a1}`, school_id: school }));
    // Twice is fine, and the page now says so.
    expect((await app.inject({ method: 'POST', url: link, headers: { 'content-type': 'multipart/form-data; boundary=x' }, payload: '--x\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--x--\r\n' })).statusCode).toBe(200);
    expect((await call('GET', link, undefined)).body).toContain('You no longer get notification e-mails from Greenfield Primary');

    // The next publish opens digest 2 with only its own new photo; a1 gets no mail.
    manifest = [...manifest, await photo(sportsDay, [kids.a])];
    await publish(sportsDay, manifest);
    expect(await worker.runOnce()).toEqual({ digests: 3, notices: 0, cancelled: 0, emails: 2, sms: 1 });
    const mails = await deliver(2);
    expect(recipients(mails)).toEqual(['parent-a2@families.test', 'parent-b@families.test']);
    expect(mails.map((m) => m.subject)).toEqual(['1 new photo from Sports Day', '1 new photo from Sports Day']);
    expect((await smsWorker.runOnce()).sent).toBe(1);
    expect(sms.requests.at(-1)?.body.text).toBe(`Greenfield Primary: 1 new photo from Sports Day on Keepsake. ${PUBLIC_URL}/events/${sportsDay}`);
    const numbers = await h.db.kysely.selectFrom('notification_digests').select('number').distinct().where('event_id', '=', sportsDay).orderBy('number').execute();
    expect(numbers.map((r) => r.number)).toEqual([1, 2]);
    // Republishing the same manifest is no news: no digest.
    await publish(sportsDay, manifest);
    expect((await worker.runOnce()).digests).toBe(0);
  });

  it('refuses a forged, altered, damaged or expired unsubscribe token with a clear error and changes nothing', async () => {
    const tokens = new UnsubscribeTokens(h.tokens.deriveSecret('notify-unsubscribe'));
    const valid = tokens.issue({ userId: parents.a2, schoolId: school });
    const [version, , schoolPart, day, mac] = valid.split('.');
    const cases: Array<[string, RegExp]> = [
      [new UnsubscribeTokens(randomBytes(32)).issue({ userId: parents.a2, schoolId: school }), /not valid \(it was altered or not made by this service\)/],
      [[version, parents.b, schoolPart, day, mac].join('.'), /not valid/],
      [valid.slice(0, -1) + (valid.endsWith('A') ? 'B' : 'A'), /not valid/],
      ['u1.nothing', /incomplete or damaged/],
      [new UnsubscribeTokens(h.tokens.deriveSecret('notify-unsubscribe'), () => new Date(Date.now() - 61 * 86_400_000)).issue({ userId: parents.a2, schoolId: school }), /has expired \(links work for 60 days\)/],
    ];
    for (const [token, message] of cases) {
      const url = `/v1/notifications/unsubscribe?t=${encodeURIComponent(token)}`;
      const posted = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'List-Unsubscribe=One-Click' });
      expect(posted.statusCode, token).toBe(400);
      expect(posted.json<{ code: string; message: string }>()).toEqual({ code: 'invalid-input', message: expect.stringMatching(message) as string });
      const page = await call('GET', url, undefined);
      expect(page.statusCode).toBe(400);
      expect(page.body).toContain('This link does not work');
    }
    expect((await app.inject({ method: 'POST', url: '/v1/notifications/unsubscribe' })).json()).toMatchObject({ code: 'invalid-input' });
    expect((await prefsOf(parentToken.a2)).email).toBe(true);
    expect((await prefsOf(parentToken.b)).email).toBe(true);
  });

  it('sends no duplicate when a worker dies mid-way and another one takes over after its lease', async () => {
    await publish(scienceFair, [await photo(scienceFair, [kids.c]), await photo(scienceFair, [])]);
    /** An outbox whose process dies while queueing a text message (after the same digest's mail). */
    class DyingOutbox extends Outbox {
      override async enqueue(db: Kysely<Database> | Transaction<Database>, mail: NewMail) {
        if (mail.channel === 'sms') throw new Error('process killed');
        return super.enqueue(db, mail);
      }
    }
    const dying = notifier({ outbox: new DyingOutbox(outboxKey), leaseMs: 60_000 });
    // School-wide: a1 (unsubscribed: no mail), a2 and c are done; b's mail and text died with the process.
    expect(await dying.runOnce()).toEqual({ digests: 3, notices: 0, cancelled: 0, emails: 2, sms: 0 });
    const states = await h.db.kysely.selectFrom('notification_digests').select(['user_id', 'state']).where('event_id', '=', scienceFair).execute();
    expect(states.map((r) => r.state).sort()).toEqual(['sending', 'sent', 'sent', 'sent']);
    expect(states.find((r) => r.state === 'sending')?.user_id).toBe(parents.b);
    // B's mail was rolled back with its digest's mark: each digest's messages and its mark commit together or not at all.
    const queuedFor = async () =>
      (await h.db.kysely.selectFrom('outbox').select('to_address').where('idempotency_key', 'like', `digest:${scienceFair}:%`).execute()).map((r) => r.to_address).sort();
    expect(await queuedFor()).toEqual(['parent-a2@families.test', 'parent-c@families.test']);

    // A restarted instance: nothing before the lease passes, then B once.
    const restarted = notifier();
    expect((await restarted.runOnce()).digests).toBe(0);
    skewMs += 61_000;
    expect(await restarted.runOnce()).toEqual({ digests: 1, notices: 0, cancelled: 0, emails: 1, sms: 1 });
    expect(await queuedFor()).toEqual([PHONE_B, 'parent-a2@families.test', 'parent-b@families.test', 'parent-c@families.test']);
    const mails = await deliver(3);
    expect(recipients(mails)).toEqual(['parent-a2@families.test', 'parent-b@families.test', 'parent-c@families.test']);
    expect(new Set(mails.map((m) => m.subject))).toEqual(new Set(['2 new photos from Science Fair']));
    expect((await smsWorker.runOnce()).sent).toBe(1);

    // Even a digest handed out again (a worker that lost its lease mid-way) queues nothing new: the keys are the same.
    await h.db.kysely.updateTable('notification_digests').set({ state: 'pending' }).where('event_id', '=', scienceFair).execute();
    expect((await restarted.runOnce()).digests).toBe(4);
    expect((await mailWorker.runOnce()).sent).toBe(0);
    expect((await smsWorker.runOnce()).sent).toBe(0);
    expect((await notifier().runOnce()).digests).toBe(0);
  });

  it('tells the families who may see an event when its date moves, by the same outbox', async () => {
    const current = (await call('GET', `/v1/schools/${school}/events/${sportsDay}`, admin)).json<{ version: number }>();
    const moved = await call('PATCH', `/v1/schools/${school}/events/${sportsDay}`, admin, { version: current.version, startsOn: '2026-06-19' });
    expect(moved.statusCode, moved.body).toBe(200);
    // A change that moves no date tells nobody.
    expect((await call('PATCH', `/v1/schools/${school}/events/${sportsDay}`, admin, { version: current.version + 1, location: 'Field' })).statusCode).toBe(200);
    expect(await worker.runOnce()).toEqual({ digests: 0, notices: 1, cancelled: 0, emails: 2, sms: 1 });
    const mails = await deliver(2);
    expect(recipients(mails)).toEqual(['parent-a2@families.test', 'parent-b@families.test']);
    for (const mail of mails) {
      expect(mail.subject).toBe('Sports Day has moved');
      expect(mail.text).toContain('Sports Day now takes place on 19 June 2026.');
      expect(mail.text).toContain(`${PUBLIC_URL}/events/${sportsDay}`);
      expect(header(mail, 'list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
    }
    expect((await smsWorker.runOnce()).sent).toBe(1);
    expect(sms.requests.at(-1)?.body.text).toBe(`Greenfield Primary: Sports Day now takes place on 19 June 2026. ${PUBLIC_URL}/events/${sportsDay}`);
  });

  it('tells the families once, three days ahead, that a gallery closes', async () => {
    const closesOn = new Date(Date.now() + skewMs + 2 * 86_400_000).toISOString().slice(0, 10);
    const current = (await call('GET', `/v1/schools/${school}/events/${scienceFair}`, admin)).json<{ version: number }>();
    expect((await call('PATCH', `/v1/schools/${school}/events/${scienceFair}`, admin, { version: current.version, galleryExpiresOn: closesOn })).statusCode).toBe(200);
    expect(await worker.runOnce()).toEqual({ digests: 0, notices: 1, cancelled: 0, emails: 3, sms: 1 });
    // The sweep runs again (every round in this test): the notice is not queued twice.
    expect((await worker.runOnce()).notices).toBe(0);
    const mails = await deliver(3);
    expect(recipients(mails)).toEqual(['parent-a2@families.test', 'parent-b@families.test', 'parent-c@families.test']);
    const day = new Date(`${closesOn}T00:00:00Z`).toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
    expect(mails[0]?.subject).toBe(`The Science Fair gallery closes on ${day}`);
  });

  it('tells the families when the office publishes a draft event that already holds photos', async () => {
    // The desktop creates events as drafts and publishes their photos before the office opens them to families.
    const created = await call('POST', `/v1/schools/${school}/events`, admin, { name: 'Spring Concert', startsOn: '2026-04-02' });
    expect(created.statusCode, created.body).toBe(201);
    const concert = created.json<{ id: string; version: number; state: string }>();
    expect(concert.state).toBe('draft');
    await publish(concert.id, [await photo(concert.id, []), await photo(concert.id, [kids.noConsent]), await photo(concert.id, [kids.a])]);
    skewMs = (DELAY_SEC + 1) * 1000;
    // A draft is nobody's news yet.
    expect((await worker.runOnce()).digests).toBe(0);
    const opened = await call('PATCH', `/v1/schools/${school}/events/${concert.id}`, admin, { version: concert.version, state: 'published' });
    expect(opened.statusCode, opened.body).toBe(200);
    const run = await worker.runOnce();
    // School-wide: every parent (a1, a2, b, c) gets one digest, of the two photos whose children all have consent.
    expect(run.digests).toBe(4);
    const mails = await deliver(run.emails);
    expect(mails.length).toBeGreaterThan(0);
    for (const mail of mails) expect(mail.subject).toBe('2 new photos from Spring Concert');
    // Edited again while published: no second digest for the same photos.
    const again = await call('PATCH', `/v1/schools/${school}/events/${concert.id}`, admin, { version: concert.version + 1, location: 'Hall' });
    expect(again.statusCode, again.body).toBe(200);
    expect((await worker.runOnce()).digests).toBe(0);
  });

  it('sends a parent in two families one digest per event, counting each photo once', async () => {
    // Two households, a child at the school in each; Dee is a parent in both, Eli in the first only.
    const [class5x, class6y] = [await schoolClass('5X'), await schoolClass('6Y')];
    const dee = await h.createUser('parent-dee@families.test', [[school, 'parent']]);
    const eli = await h.createUser('parent-eli@families.test', [[school, 'parent']]);
    const first = await household('Dee and Eli', [dee, eli], [class5x]);
    const second = await household('Dee and Sam', [dee], [class6y]);
    const [child1, child2] = [first.children[0] ?? '', second.children[0] ?? ''];
    const harvest = await publishedEvent('Harvest Festival', { scope: 'some', classIds: [class5x, class6y], familyIds: [] });
    // Four photos every parent of the event may see (one of both children), one of a child without consent.
    await publish(harvest.id, [
      await photo(harvest.id, [child1]),
      await photo(harvest.id, [child2]),
      await photo(harvest.id, [child1, child2]),
      await photo(harvest.id, []),
      await photo(harvest.id, [kids.noConsent]),
    ]);
    expect(await worker.runOnce()).toEqual({ digests: 2, notices: 0, cancelled: 0, emails: 2, sms: 0 });
    const mails = await deliver(2);
    expect(recipients(mails)).toEqual(['parent-dee@families.test', 'parent-eli@families.test']);
    for (const mail of mails) expect(mail.subject).toBe('4 new photos from Harvest Festival');
    const rows = await h.db.kysely.selectFrom('notification_digests').select(['user_id', 'new_media']).where('event_id', '=', harvest.id).orderBy('user_id').execute();
    expect(rows).toEqual([dee, eli].sort().map((user_id) => ({ user_id, new_media: 4 })));
    // The next publish is one more digest for each of them, still one each.
    await publish(harvest.id, [await photo(harvest.id, [child2])]);
    expect(await worker.runOnce()).toMatchObject({ digests: 2, emails: 2 });
    expect((await deliver(2)).map((m) => m.subject)).toEqual(['1 new photo from Harvest Festival', '1 new photo from Harvest Festival']);
  });

  it('tells the families an audience is widened to of what is already published, and nobody else', async () => {
    const class7z = await schoolClass('7Z');
    const fay = await h.createUser('parent-fay@families.test', [[school, 'parent']]);
    const fays = await household('Fay', [fay], [class7z]);
    let event = await publishedEvent('Book Week', { scope: 'some', classIds: [class7z], familyIds: [] });
    await publish(event.id, [await photo(event.id, [fays.children[0] ?? '']), await photo(event.id, []), await photo(event.id, [kids.noConsent])]);
    expect(await worker.runOnce()).toMatchObject({ digests: 1, emails: 1 });
    expect((await deliver(1)).map((m) => m.subject)).toEqual(['2 new photos from Book Week']);
    const audience = async (value: unknown) => {
      const response = await call('PATCH', `/v1/schools/${school}/events/${event.id}`, admin, { version: event.version, audience: value });
      expect(response.statusCode, response.body).toBe(200);
      event = response.json<{ id: string; version: number }>();
    };

    // Widened to family C: its parent is told of the two photos already there; Fay is not told again.
    await audience({ scope: 'some', classIds: [class7z], familyIds: [familyC] });
    expect(await worker.runOnce()).toEqual({ digests: 1, notices: 0, cancelled: 0, emails: 1, sms: 0 });
    const told = await deliver(1);
    expect(recipients(told)).toEqual(['parent-c@families.test']);
    expect(told[0]?.subject).toBe('2 new photos from Book Week');
    // Narrowed again: nobody is mailed.
    await audience({ scope: 'some', classIds: [class7z], familyIds: [] });
    expect(await worker.runOnce()).toEqual({ digests: 0, notices: 0, cancelled: 0, emails: 0, sms: 0 });
    // Widened back: family C was told of those photos already.
    await audience({ scope: 'some', classIds: [class7z], familyIds: [familyC] });
    expect((await worker.runOnce()).digests).toBe(0);
    // School-wide: every other parent comes in (a1 unsubscribed; b also by text); C and Fay were told.
    await audience({ scope: 'school' });
    expect(await worker.runOnce()).toEqual({ digests: 5, notices: 0, cancelled: 0, emails: 4, sms: 1 });
    const widened = await deliver(4);
    expect(recipients(widened)).toEqual(['parent-a2@families.test', 'parent-b@families.test', 'parent-dee@families.test', 'parent-eli@families.test']);
    for (const mail of widened) expect(mail.subject).toBe('2 new photos from Book Week');
    const texts = await h.db.kysely.selectFrom('outbox').select('to_address').where('idempotency_key', 'like', `digest:${event.id}:%`).where('channel', '=', 'sms').execute();
    expect(texts).toEqual([{ to_address: PHONE_B }]);
    expect((await mailWorker.runOnce()).sent).toBe(0);
  });

  it('deletes digests, notices and their messages settled more than NOTIFY_RETENTION_DAYS ago, never pending ones', async () => {
    const db = h.db.kysely;
    // A publish not told yet: a pending digest for each of the school's seven parents (Science Fair is school-wide).
    await publish(scienceFair, [await photo(scienceFair, [])]);
    const old = new Date(Date.now() - 100 * 86_400_000).toISOString();
    // An invitation sent long ago is not the notifications' to delete; a message still queued is never deleted.
    const waiting = `digest:${scienceFair}:waiting:${parents.c}`;
    for (const key of ['invite:retention:1', waiting]) {
      await outbox.enqueue(db, { schoolId: school, idempotencyKey: key, to: 'parent-c@families.test', fromName: 'Greenfield', subject: 'Old', text: 'old', html: '' });
    }
    await db.updateTable('outbox').set({ state: 'sent' }).where('idempotency_key', '=', 'invite:retention:1').execute();
    const [failedSms] = await db.selectFrom('outbox').select('id').where('channel', '=', 'sms').where('state', '=', 'sent').where('school_id', '=', school).execute();
    await db.updateTable('outbox').set({ state: 'failed' }).where('id', '=', failedSms?.id ?? '').execute();
    // Everything settled long ago, except Science Fair's sent digests (recent); its pending ones too.
    await db.updateTable('notification_digests').set({ updated_at: old }).where((eb) => eb.or([eb('event_id', '<>', scienceFair), eb('state', '=', 'pending')])).execute();
    await db.updateTable('event_notices').set({ updated_at: old }).execute();
    await db.updateTable('outbox').set({ updated_at: old }).execute();
    const digestStates = async () =>
      (await db.selectFrom('notification_digests').select(['event_id', 'state']).where('school_id', '=', school).execute()).map((r) => `${r.event_id === scienceFair ? 'fair' : 'other'}:${r.state}`).sort();
    const before = await digestStates();
    expect(before.filter((r) => r === 'fair:pending')).toHaveLength(7);
    expect(before.filter((r) => r.startsWith('other:')).length).toBeGreaterThan(10);
    expect((await db.selectFrom('event_notices').select('id').execute()).length).toBeGreaterThan(0);

    // Not due yet (an hour's delay, the real clock): the round only sweeps and deletes.
    const retention = notifier({ retentionDays: 90, digestDelaySeconds: 3600, now: () => new Date() });
    expect(await retention.runOnce()).toEqual({ digests: 0, notices: 0, cancelled: 0, emails: 0, sms: 0 });
    expect(await digestStates()).toEqual([...Array<string>(7).fill('fair:pending'), ...Array<string>(4).fill('fair:sent')]);
    // A closing notice stays until its gallery's closing day has passed, or the sweep would queue it again.
    expect(await db.selectFrom('event_notices').select(['event_id', 'kind']).execute()).toEqual([{ event_id: scienceFair, kind: 'gallery-expiring' }]);
    const left = await db.selectFrom('outbox').select(['idempotency_key', 'state']).where('school_id', '=', school).orderBy('idempotency_key').execute();
    expect(left.filter((row) => row.state !== 'queued' && !row.idempotency_key.startsWith('invite:'))).toEqual([]);
    expect(left).toEqual(expect.arrayContaining([{ idempotency_key: waiting, state: 'queued' }, { idempotency_key: 'invite:retention:1', state: 'sent' }]));
    // A longer retention keeps what is left; the pending digests still go out (a1 unsubscribed, b also by text).
    expect(await notifier({ retentionDays: 120 }).purgeSettled()).toEqual({ digests: 0, notices: 0, messages: 0 });
    expect(await worker.runOnce()).toEqual({ digests: 7, notices: 0, cancelled: 0, emails: 6, sms: 1 });
  });
});
