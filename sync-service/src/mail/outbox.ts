/**
 * The mail outbox: every e-mail is first a row (written in the transaction of whatever caused it), then
 * a worker sends it. So a mail is never lost with a rolled-back change, never sent for one, and survives
 * a restart or an SMTP outage.
 *
 * Delivery, step by step:
 * - **Enqueue** inserts a row keyed by an idempotency key (unique): enqueueing the same mail twice
 *   (a retried request, the same invite link) leaves one row.
 * - **Claim**: a worker picks due rows and claims each with one conditional UPDATE (`… where id = ? and
 *   <still due>`), setting a random claim id and a lease. Of two workers (two instances) exactly one
 *   gets a row, on SQLite and on PostgreSQL alike.
 * - **Send, then mark**: on success the row becomes `sent` (only for the claim that holds it); on failure
 *   it goes back to `queued` with exponential backoff (`baseDelayMs · 2^(attempt-1)`, capped at
 *   `maxDelayMs`), or to `failed` with the reason after `maxAttempts` or a permanent refusal (SMTP 5xx).
 * - **Crash**: a row left `sending` by a worker that died is due again once its lease has passed.
 *
 * The one duplicate this allows: a worker that dies (or loses its database) after the SMTP server has
 * accepted the message but before the row is marked `sent`. The lease then hands the message to another
 * attempt, which sends it again. Both copies carry the same Message-ID (derived from the idempotency key,
 * see `messageIdFor`), so mail systems that de-duplicate on it show one. Nothing closes that window
 * entirely: SMTP has no two-phase commit.
 *
 * Rows have a channel: `email`, or `sms` for text messages (the body's text goes to the phone number in
 * `to_address`). Each worker delivers one channel, so both share this queue's keys, claims and retries.
 *
 * The worker works in the service's scope (all schools); enqueueing happens in the scope of the
 * school whose transaction queues the mail.
 *
 * Bodies carry links that act as credentials (invitations), so they are sealed (AES-256-GCM, bound to the
 * row's idempotency key) with a key the database does not hold, and emptied once a row is settled.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, OutboxChannel, OutboxRow } from '../db/schema.ts';
import { asService } from '../db/tenant-scope.ts';
import { MailError, messageIdFor, type Mailer } from './mailer.ts';

type Writer = Kysely<Database> | Transaction<Database>;

/** A mail to queue. */
export interface NewMail {
  schoolId: string;
  /** Unique per mail: the same key twice is the same mail (e.g. `invite:<id>:<send number>`). */
  idempotencyKey: string;
  to: string;
  /** The sender's display name; the address is the configured one. */
  fromName: string;
  subject: string;
  text: string;
  html: string;
  /** `email` (the default) or `sms`: a text message to the phone number in `to` (only `text` is sent). */
  channel?: OutboxChannel;
  /** Where replies go (the school's reply-to address). */
  replyTo?: string;
  /** Extra header fields, sealed with the body (a `List-Unsubscribe` link is a credential too). */
  headers?: Record<string, string>;
}

/** What a sealed body holds. */
interface SealedBody {
  text: string;
  html: string;
  replyTo?: string;
  headers?: Record<string, string>;
}

/** The smallest logger the worker needs (pino's shape). */
export interface OutboxLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

const SILENT: OutboxLog = { info: () => undefined, warn: () => undefined };
const SEAL_VERSION = 'v1:';

/** Where mail is queued; the write side, used by the services. */
export class Outbox {
  private readonly listeners = new Set<() => void>();

  constructor(
    /** 32 bytes; the same on every instance (derived from the signing key by default). */
    private readonly key: Buffer,
    private readonly now: () => Date = () => new Date(),
  ) {
    if (key.length !== 32) throw new Error('The outbox key must be 32 bytes.');
  }

  /**
   * Queues a mail in `db`'s transaction; a key already queued (or sent) is left as it is. Call
   * {@link notify} after the transaction commits so a worker in this process sends it at once.
   */
  async enqueue(db: Writer, mail: NewMail): Promise<{ id: string; created: boolean }> {
    const at = this.now().toISOString();
    const id = randomUUID();
    await db
      .insertInto('outbox')
      .values({
        id,
        school_id: mail.schoolId,
        idempotency_key: mail.idempotencyKey,
        to_address: mail.to,
        from_name: mail.fromName,
        subject: mail.subject,
        body: this.seal(mail.idempotencyKey, JSON.stringify({ text: mail.text, html: mail.html, replyTo: mail.replyTo, headers: mail.headers } satisfies SealedBody)),
        channel: mail.channel ?? 'email',
        state: 'queued',
        attempts: 0,
        next_attempt_at: at,
        claim_id: null,
        lease_expires_at: null,
        last_error: null,
        created_at: at,
        updated_at: at,
        sent_at: null,
      })
      .onConflict((oc) => oc.column('idempotency_key').doNothing())
      .execute();
    const row = await db.selectFrom('outbox').select('id').where('idempotency_key', '=', mail.idempotencyKey).executeTakeFirstOrThrow();
    return { id: row.id, created: row.id === id };
  }

  /** Cancels the queued (not yet claimed) mails whose key starts with `keyPrefix`; returns how many. */
  async cancelQueued(db: Writer, keyPrefix: string): Promise<number> {
    const result = await db
      .updateTable('outbox')
      .set({ state: 'cancelled', body: '', updated_at: this.now().toISOString() })
      .where('state', '=', 'queued')
      // substr, not LIKE: the two engines disagree on LIKE's escape character.
      .where(sql<string>`substr(idempotency_key, 1, ${keyPrefix.length})`, '=', keyPrefix)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Tells this process's workers that mail is waiting. */
  notify(): void {
    for (const listener of this.listeners) listener();
  }

  /** Subscribes to {@link notify}; returns the unsubscribe. */
  onQueued(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** AES-256-GCM of `plain`, bound to the row's key (a body copied onto another row does not open). */
  seal(idempotencyKey: string, plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(idempotencyKey));
    const sealed = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return SEAL_VERSION + Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
  }

  /** The plain text of {@link seal}, or undefined when it does not open with this key. */
  open(idempotencyKey: string, body: string): string | undefined {
    if (!body.startsWith(SEAL_VERSION)) return undefined;
    const raw = Buffer.from(body.slice(SEAL_VERSION.length), 'base64url');
    if (raw.length < 28) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(idempotencyKey));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}

/** How a worker sends. */
export interface OutboxWorkerOptions {
  mailer: Mailer;
  /** The sender address (`MAIL_FROM`); the display name is each row's. */
  fromAddress: string;
  /** How long a claim holds a row; a crashed worker's rows are retried after it. Default 5 min. */
  leaseMs?: number;
  /** The wait after the first failure; doubled after each next one. Default 30 s. */
  baseDelayMs?: number;
  /** The longest wait between two attempts. Default 1 h. */
  maxDelayMs?: number;
  /** Attempts before a mail is marked failed. Default 12 (about 6 h of retries with the defaults). */
  maxAttempts?: number;
  /** How often {@link OutboxWorker.start} looks for due mail when nothing wakes it. Default 5 s. */
  pollMs?: number;
  /** Rows claimed per round. Default 20. */
  batchSize?: number;
  /** The rows this worker delivers: `email` (the default) through an SMTP mailer, `sms` through an SMS one. */
  channel?: OutboxChannel;
  now?: () => Date;
  log?: OutboxLog;
}

/** What one round did. */
export interface OutboxRound {
  sent: number;
  retried: number;
  failed: number;
}

/** Sends the outbox. Run one per instance: claims keep them from sending a row twice. */
export class OutboxWorker {
  private readonly options: Required<Omit<OutboxWorkerOptions, 'mailer' | 'fromAddress' | 'now' | 'log' | 'channel'>>;
  private readonly channel: OutboxChannel;
  private readonly now: () => Date;
  private readonly log: OutboxLog;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private wakeAgain = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly outbox: Outbox,
    private readonly settings: OutboxWorkerOptions,
  ) {
    this.options = {
      leaseMs: settings.leaseMs ?? 5 * 60_000,
      baseDelayMs: settings.baseDelayMs ?? 30_000,
      maxDelayMs: settings.maxDelayMs ?? 3_600_000,
      maxAttempts: settings.maxAttempts ?? 12,
      pollMs: settings.pollMs ?? 5_000,
      batchSize: settings.batchSize ?? 20,
    };
    this.now = settings.now ?? (() => new Date());
    this.log = settings.log ?? SILENT;
    this.channel = settings.channel ?? 'email';
  }

  /** The wait before attempt `attempts + 1`, after `attempts` failures. */
  backoffMs(attempts: number): number {
    return Math.min(this.options.baseDelayMs * 2 ** Math.max(0, attempts - 1), this.options.maxDelayMs);
  }

  /**
   * Claims what is due now and tries each once. The outbox holds every school's mail, so the worker reads
   * and settles it in the service's scope (row-level security on PostgreSQL).
   */
  runOnce(): Promise<OutboxRound> {
    return asService(async () => {
      const round: OutboxRound = { sent: 0, retried: 0, failed: 0 };
      for (const row of await this.claim()) round[await this.deliver(row)] += 1;
      return round;
    });
  }

  /** Sends in the background: at once, whenever {@link Outbox.notify} is called, and every `pollMs`. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribe = this.outbox.onQueued(() => this.wake());
    this.wake();
  }

  /** Stops the loop and waits for the round in progress (a mail being sent is finished and marked). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    await this.running;
  }

  private wake(): void {
    if (this.stopped) return;
    if (this.running !== undefined) {
      this.wakeAgain = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.loop().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      if (this.wakeAgain) {
        this.wakeAgain = false;
        this.wake();
      } else {
        this.timer = setTimeout(() => this.wake(), this.options.pollMs);
        this.timer.unref();
      }
    });
  }

  private async loop(): Promise<void> {
    try {
      // A full batch means more may be due: keep going until a round comes back short.
      for (;;) {
        const round = await this.runOnce();
        if (this.stopped || round.sent + round.retried + round.failed < this.options.batchSize) return;
      }
    } catch (error) {
      this.log.warn({ err: error }, 'outbox round failed; retrying at the next poll');
    }
  }

  /** The rows this worker now holds: picked, then each claimed with a conditional UPDATE. */
  private async claim(): Promise<OutboxRow[]> {
    const at = this.now().toISOString();
    const candidates = await this.db
      .selectFrom('outbox')
      .select('id')
      .where('channel', '=', this.channel)
      .where((eb) =>
        eb.or([
          eb.and([eb('state', '=', 'queued'), eb('next_attempt_at', '<=', at)]),
          eb.and([eb('state', '=', 'sending'), eb('lease_expires_at', '<=', at)]),
        ]),
      )
      .orderBy('next_attempt_at')
      .limit(this.options.batchSize)
      .execute();
    const lease = new Date(this.now().getTime() + this.options.leaseMs).toISOString();
    const claimed: OutboxRow[] = [];
    for (const { id } of candidates) {
      const claimId = randomUUID();
      const result = await this.db
        .updateTable('outbox')
        .set((eb) => ({ state: 'sending', claim_id: claimId, lease_expires_at: lease, attempts: eb('attempts', '+', 1), updated_at: at }))
        .where('id', '=', id)
        .where((eb) =>
          eb.or([
            eb.and([eb('state', '=', 'queued'), eb('next_attempt_at', '<=', at)]),
            eb.and([eb('state', '=', 'sending'), eb('lease_expires_at', '<=', at)]),
          ]),
        )
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) continue; // another worker was first
      const row = await this.db.selectFrom('outbox').selectAll().where('id', '=', id).where('claim_id', '=', claimId).executeTakeFirst();
      if (row !== undefined) claimed.push(row);
    }
    return claimed;
  }

  private async deliver(row: OutboxRow): Promise<keyof OutboxRound> {
    const opened = this.outbox.open(row.idempotency_key, row.body);
    const parsed = opened === undefined ? undefined : (JSON.parse(opened) as SealedBody);
    if (parsed === undefined) return this.settleFailure(row, new MailError('The message cannot be read with the current outbox key (was JWT_PRIVATE_KEY replaced?).', true));
    try {
      await this.settings.mailer.send({
        from: { name: row.from_name, address: this.settings.fromAddress },
        to: row.to_address,
        subject: row.subject,
        text: parsed.text,
        html: parsed.html,
        messageId: messageIdFor(row.idempotency_key, this.settings.fromAddress),
        ...(parsed.replyTo === undefined ? {} : { replyTo: parsed.replyTo }),
        ...(parsed.headers === undefined ? {} : { headers: parsed.headers }),
      });
    } catch (error) {
      return this.settleFailure(row, error instanceof MailError ? error : new MailError(`Sending failed: ${(error as Error).message}`, false));
    }
    const at = this.now().toISOString();
    const marked = await this.db
      .updateTable('outbox')
      .set({ state: 'sent', sent_at: at, updated_at: at, body: '', claim_id: null, lease_expires_at: null, last_error: null })
      .where('id', '=', row.id)
      .where('claim_id', '=', row.claim_id)
      .executeTakeFirst();
    // Only when our lease ran out mid-send and another worker took the row: it will be sent again (see module comment).
    if (marked.numUpdatedRows === 0n) this.log.warn({ outboxId: row.id }, 'mail sent after its claim had passed to another worker');
    else this.log.info({ outboxId: row.id, attempts: row.attempts }, 'mail sent');
    return 'sent';
  }

  private async settleFailure(row: OutboxRow, error: MailError): Promise<'retried' | 'failed'> {
    const now = this.now();
    const final = error.permanent || row.attempts >= this.options.maxAttempts;
    const reason = error.message.slice(0, 500);
    await this.db
      .updateTable('outbox')
      .set(
        final
          ? { state: 'failed', body: '', claim_id: null, lease_expires_at: null, last_error: reason, updated_at: now.toISOString() }
          : {
              state: 'queued',
              next_attempt_at: new Date(now.getTime() + this.backoffMs(row.attempts)).toISOString(),
              claim_id: null,
              lease_expires_at: null,
              last_error: reason,
              updated_at: now.toISOString(),
            },
      )
      .where('id', '=', row.id)
      .where('claim_id', '=', row.claim_id)
      .execute();
    this.log.warn({ outboxId: row.id, attempts: row.attempts, reason, final }, final ? 'mail failed for good' : 'mail not sent; will retry');
    return final ? 'failed' : 'retried';
  }
}
