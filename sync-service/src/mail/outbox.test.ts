import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../db/database.ts';
import { migrateToLatest } from '../db/migrations.ts';
import { withSchool } from '../db/tenant-scope.ts';
import { TEST_DATABASES, type TestDb } from '../test/databases.ts';
import { SmtpMailer, messageIdFor, type Mailer } from './mailer.ts';
import { Outbox, OutboxWorker, type NewMail, type OutboxWorkerOptions } from './outbox.ts';
import { startSmtpServer, type TestSmtpServer } from './smtp-test-server.ts';

const FROM = 'keepsake@greenfield.test';

/**
 * The rows are checked through the owner's connection (`db`); the outbox is written and worked through
 * the service's own logins (`service`, and `other` for a second instance), as in production: on PostgreSQL
 * row-level security binds them, so the worker must open the service's scope itself.
 */
describe.each(TEST_DATABASES)('mail outbox on $name', (target) => {
  let db: TestDb;
  let service: Db;
  let other: Db;
  let smtp: TestSmtpServer;
  let mailer: SmtpMailer;
  let schoolId: string;
  let now: Date;
  const key = randomBytes(32);
  const outbox = new Outbox(key, () => now);

  beforeAll(async () => {
    db = await target.open();
    await migrateToLatest(db);
    service = await db.connectAsService();
    other = await db.connectAsService();
    schoolId = randomUUID();
    await db.kysely.insertInto('schools').values({ id: schoolId, name: 'Greenfield Primary', slug: 'greenfield', created_at: new Date().toISOString() }).execute();
  });
  afterAll(async () => {
    await other.close();
    await service.close();
    await db.close();
  });

  beforeEach(async () => {
    now = new Date('2026-09-01T08:00:00.000Z');
    smtp = await startSmtpServer();
    mailer = new SmtpMailer(smtp.url);
  });
  afterEach(async () => {
    await mailer.close();
    await smtp.stop();
    await db.kysely.deleteFrom('outbox').execute();
  });

  const worker = (options: Partial<OutboxWorkerOptions> = {}, over: Db = service) =>
    new OutboxWorker(over.kysely, outbox, { mailer, fromAddress: FROM, baseDelayMs: 1000, maxDelayMs: 3000, maxAttempts: 5, leaseMs: 60_000, now: () => now, ...options });
  const mail = (idempotencyKey: string, to = 'parent@family.test'): NewMail => ({
    schoolId,
    idempotencyKey,
    to,
    fromName: 'Greenfield Primary',
    subject: 'Sports Day photos',
    text: `Hello, see https://sync.test/invite#${idempotencyKey}`,
    html: `<p>Hello, see <a href="https://sync.test/invite#${idempotencyKey}">the photos</a></p>`,
  });
  const row = (idempotencyKey: string) => db.kysely.selectFrom('outbox').selectAll().where('idempotency_key', '=', idempotencyKey).executeTakeFirstOrThrow();
  /** Queues as a request of the school does: in its scope. */
  const queue = (m: NewMail, through: Outbox = outbox) => withSchool(schoolId, () => through.enqueue(service.kysely, m));
  const advance = (ms: number) => {
    now = new Date(now.getTime() + ms);
  };

  it('queues one message per idempotency key and sends it from the school with a Message-ID made from the key', async () => {
    const first = await queue(mail('invite:a:1'));
    const again = await queue(mail('invite:a:1'));
    expect(first.created).toBe(true);
    expect(again).toEqual({ id: first.id, created: false });
    // Sealed at rest: the link is not in the stored row.
    const queued = await row('invite:a:1');
    expect(queued.state).toBe('queued');
    expect(JSON.stringify(queued)).not.toContain('sync.test/invite');

    expect(await worker().runOnce()).toEqual({ sent: 1, retried: 0, failed: 0 });
    const [received] = await smtp.waitFor(1);
    expect(smtp.received).toHaveLength(1);
    expect(received?.from?.value).toEqual([{ name: 'Greenfield Primary', address: FROM }]);
    expect(received?.subject).toBe('Sports Day photos');
    expect(received?.messageId).toBe(messageIdFor('invite:a:1', FROM));
    expect(received?.messageId).toMatch(/^<[0-9a-f]{40}@greenfield\.test>$/);
    expect(received?.text?.trim()).toBe('Hello, see https://sync.test/invite#invite:a:1');
    expect(received?.html).toContain('<a href="https://sync.test/invite#invite:a:1">');
    // Settled: marked sent, and the body (with its link) is gone from the database.
    expect(await row('invite:a:1')).toMatchObject({ state: 'sent', attempts: 1, body: '', sent_at: now.toISOString(), claim_id: null });
    // Sending again finds nothing to do.
    expect(await worker().runOnce()).toEqual({ sent: 0, retried: 0, failed: 0 });
    expect(smtp.attempts()).toBe(1);
  });

  it('retries a refused message with exponential backoff and sends it once the server takes it', async () => {
    smtp.refuseNext(2, 451);
    await queue(mail('digest:1'));
    const w = worker();
    expect(await w.runOnce()).toEqual({ sent: 0, retried: 1, failed: 0 });
    let r = await row('digest:1');
    expect(r).toMatchObject({ state: 'queued', attempts: 1, next_attempt_at: new Date(now.getTime() + 1000).toISOString() });
    expect(r.last_error).toContain('451');

    // Not due yet: nothing is tried before the backoff has passed.
    advance(999);
    expect(await w.runOnce()).toEqual({ sent: 0, retried: 0, failed: 0 });
    advance(1);
    expect(await w.runOnce()).toEqual({ sent: 0, retried: 1, failed: 0 });
    r = await row('digest:1');
    expect(r.next_attempt_at).toBe(new Date(now.getTime() + 2000).toISOString());

    advance(2000);
    expect(await w.runOnce()).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(smtp.attempts()).toBe(3);
    expect(await smtp.waitFor(1)).toHaveLength(1);
    expect(await row('digest:1')).toMatchObject({ state: 'sent', attempts: 3, last_error: null });
  });

  it('caps the backoff and marks the message failed with the reason after the last attempt', async () => {
    smtp.refuseNext(99, 451);
    await queue(mail('digest:2'));
    const w = worker();
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 4; attempt++) {
      expect(await w.runOnce()).toEqual({ sent: 0, retried: 1, failed: 0 });
      const wait = new Date((await row('digest:2')).next_attempt_at).getTime() - now.getTime();
      waits.push(wait);
      advance(wait);
    }
    expect(waits).toEqual([1000, 2000, 3000, 3000]);
    expect(await w.runOnce()).toEqual({ sent: 0, retried: 0, failed: 1 });
    const failed = await row('digest:2');
    expect(failed).toMatchObject({ state: 'failed', attempts: 5, body: '' });
    expect(failed.last_error).toMatch(/^The mail server answered: 451/);
    advance(3_600_000);
    expect(await w.runOnce()).toEqual({ sent: 0, retried: 0, failed: 0 });
    expect(smtp.received).toHaveLength(0);
  });

  it('gives up at once on a permanent refusal (no such mailbox)', async () => {
    smtp.refuseNext(1, 550);
    await queue(mail('invite:b:1', 'nobody@family.test'));
    expect(await worker().runOnce()).toEqual({ sent: 0, retried: 0, failed: 1 });
    const failed = await row('invite:b:1');
    expect(failed.state).toBe('failed');
    expect(failed.last_error).toContain('550');
  });

  it('never sends one message twice when two workers run at once', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `digest:many:${i}`);
    for (const k of keys) await queue(mail(k, `parent${k.split(':')[2]}@family.test`));
    // Two instances: two connections (pools) to the one database.
    const a = worker({ batchSize: 7 }, service);
    const b = worker({ batchSize: 7 }, other);
    let sent = 0;
    for (let round = 0; round < 20 && sent < keys.length; round++) {
      const [ra, rb] = await Promise.all([a.runOnce(), b.runOnce()]);
      sent += ra.sent + rb.sent;
    }
    expect(sent).toBe(30);
    const received = await smtp.waitFor(30);
    expect(smtp.attempts()).toBe(30);
    expect(new Set(received.map((m) => m.messageId)).size).toBe(30);
    const rows = await db.kysely.selectFrom('outbox').select(['state', 'attempts']).execute();
    expect(rows.every((r) => r.state === 'sent' && r.attempts === 1)).toBe(true);
  });

  it('does not resend sent mail after a restart (a new worker over the same database)', async () => {
    await queue(mail('invite:c:1'));
    expect((await worker().runOnce()).sent).toBe(1);
    // A new process: a new outbox and worker with the same key over the same rows.
    const restarted = new OutboxWorker(other.kysely, new Outbox(key, () => now), { mailer, fromAddress: FROM, now: () => now });
    advance(24 * 3_600_000);
    expect(await restarted.runOnce()).toEqual({ sent: 0, retried: 0, failed: 0 });
    expect(smtp.attempts()).toBe(1);
  });

  it('retries a message whose worker died mid-send once its lease has passed', async () => {
    await queue(mail('invite:d:1'));
    // A worker that claims and then hangs for ever, as a process killed mid-send would.
    const hung: Mailer = { send: () => new Promise<void>(() => undefined), close: () => Promise.resolve() };
    void worker({ mailer: hung }).runOnce();
    await expect.poll(async () => (await row('invite:d:1')).state).toBe('sending');

    const survivor = worker();
    advance(59_999);
    expect(await survivor.runOnce()).toEqual({ sent: 0, retried: 0, failed: 0 });
    advance(1);
    expect(await survivor.runOnce()).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(await smtp.waitFor(1)).toHaveLength(1);
    expect(await row('invite:d:1')).toMatchObject({ state: 'sent', attempts: 2 });
  });

  it('keeps mail queued while the SMTP server is down and sends it once it is back', async () => {
    await smtp.stop();
    await queue(mail('invite:e:1'));
    const w = worker();
    expect(await w.runOnce()).toEqual({ sent: 0, retried: 1, failed: 0 });
    const waiting = await row('invite:e:1');
    expect(waiting.state).toBe('queued');
    expect(waiting.last_error).toMatch(/^The mail server could not be reached \(/);

    await smtp.start();
    advance(1000);
    expect(await w.runOnce()).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(await smtp.waitFor(1)).toHaveLength(1);
  });

  it('sends in the background as soon as a mail is queued', async () => {
    const live = new OutboxWorker(service.kysely, outbox, { mailer, fromAddress: FROM, pollMs: 60_000, now: () => now });
    live.start();
    try {
      await queue(mail('invite:f:1'));
      outbox.notify();
      expect(await smtp.waitFor(1)).toHaveLength(1);
      await expect.poll(async () => (await row('invite:f:1')).state).toBe('sent');
    } finally {
      await live.stop();
    }
  });

  it('marks a message failed when it cannot be opened with the current key', async () => {
    await queue(mail('invite:g:1'), new Outbox(randomBytes(32), () => now));
    expect(await worker().runOnce()).toEqual({ sent: 0, retried: 0, failed: 1 });
    expect((await row('invite:g:1')).last_error).toContain('cannot be read with the current outbox key');
    expect(smtp.attempts()).toBe(0);
  });
});
