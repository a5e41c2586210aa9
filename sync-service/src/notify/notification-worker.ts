/**
 * Turns queued notifications into outbox messages: due digests of new media (`notification_digests`,
 * one per parent and event) and event notices (`event_notices`: dates moved, gallery closing soon), one
 * mail per parent who wants e-mail and one text message per parent who wants those. It also runs the
 * sweep that queues the "gallery closes soon" notices, and with it the retention: digests, notices and
 * their outbox messages settled more than {@link NotificationWorkerOptions.retentionDays} ago are
 * deleted (they name parents, families' events and addresses; nothing needs them once sent).
 *
 * The same discipline as the outbox (`mail/outbox.ts`): a worker claims a due row with one conditional
 * UPDATE (of two instances exactly one gets it) and a lease; it then queues the row's messages and marks
 * the row sent in one transaction. So a crash before the commit leaves the row claimed with nothing
 * queued, and once its lease passes another round does it again; a crash after leaves it sent. Every
 * message's outbox key names the row and the recipient (`digest:<event>:<digest id>:<user>`,
 * `notice:<notice id>:<user>`), so even a round that lost its lease mid-way cannot queue a message twice;
 * the row's id rather than its number, because a number can come again once retention deleted the rows
 * before it.
 *
 * Digests are due {@link NotificationWorkerOptions.digestDelaySeconds} after the first publish they
 * gather (`opened_at`); the delay is applied here rather than stored, so a changed setting applies to
 * digests already waiting.
 */
import { randomUUID } from 'node:crypto';
import type { ExpressionBuilder, Kysely, Transaction } from 'kysely';
import type { Database, EventNoticeRow, EventRow } from '../db/schema.ts';
import { asService } from '../db/tenant-scope.ts';
import type { Outbox, OutboxLog } from '../mail/outbox.ts';
import { renderDigestMail, renderDigestSms, renderEventNoticeMail, renderEventNoticeSms, type EventNoticeMailFields, type RenderedMail } from '../mail/templates.ts';
import { galleryExpired, todayUtc } from '../services/events.ts';
import { recipientsSeeing } from './notify-queue.ts';
import { preferencesOf, senderOf } from './preferences.ts';
import type { UnsubscribeTokens } from './unsubscribe-tokens.ts';

/** How the worker runs. */
export interface NotificationWorkerOptions {
  outbox: Outbox;
  unsubscribeTokens: UnsubscribeTokens;
  /** `PUBLIC_URL`: the base of gallery and unsubscribe links. */
  publicUrl: string;
  /** `NOTIFY_DIGEST_DELAY_SEC`. */
  digestDelaySeconds: number;
  /** `NOTIFY_GALLERY_EXPIRY_DAYS`: how many days before a gallery closes its families are told. Default 3. */
  galleryExpiryNoticeDays?: number;
  /** `NOTIFY_RETENTION_DAYS`: how long sent, cancelled and finally failed rows are kept. Default 90. */
  retentionDays?: number;
  /** How long a claim holds a row. Default 5 min. */
  leaseMs?: number;
  /** How often {@link NotificationWorker.start} looks for due rows. Default 15 s. */
  pollMs?: number;
  /** How often the closing-gallery sweep and the retention run (both idempotent; hourly catches a new day soon enough). Default 1 h. */
  sweepEveryMs?: number;
  /** Rows claimed per kind and round. Default 20. */
  batchSize?: number;
  now?: () => Date;
  log?: OutboxLog;
}

/** What one round did. */
export interface NotificationRound {
  digests: number;
  notices: number;
  /** Rows dropped: the event is no longer published or visible, or its gallery has closed. */
  cancelled: number;
  emails: number;
  sms: number;
}

type Table = 'notification_digests' | 'event_notices';
type Writer = Kysely<Database> | Transaction<Database>;

const SILENT: OutboxLog = { info: () => undefined, warn: () => undefined };

/** Queues parents' notifications from the digest and notice tables. Run one per instance. */
export class NotificationWorker {
  private readonly publicUrl: string;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly sweepEveryMs: number;
  private readonly batchSize: number;
  private readonly expiryDays: number;
  private readonly retentionDays: number;
  private readonly now: () => Date;
  private readonly log: OutboxLog;
  private lastSweep = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: NotificationWorkerOptions,
  ) {
    this.publicUrl = options.publicUrl.replace(/\/+$/, '');
    this.leaseMs = options.leaseMs ?? 5 * 60_000;
    this.pollMs = options.pollMs ?? 15_000;
    this.sweepEveryMs = options.sweepEveryMs ?? 3_600_000;
    this.batchSize = options.batchSize ?? 20;
    this.expiryDays = options.galleryExpiryNoticeDays ?? 3;
    this.retentionDays = options.retentionDays ?? 90;
    this.now = options.now ?? (() => new Date());
    this.log = options.log ?? SILENT;
  }

  /** One round, in the service's scope (every school's rows): sweep when due, then the due digests and notices. */
  runOnce(): Promise<NotificationRound> {
    return asService(async () => {
      const round: NotificationRound = { digests: 0, notices: 0, cancelled: 0, emails: 0, sms: 0 };
      if (this.now().getTime() - this.lastSweep >= this.sweepEveryMs) {
        await this.sweepClosingGalleries();
        const purged = await this.purgeSettled();
        if (purged.digests + purged.notices + purged.messages > 0) this.log.info({ ...purged, retentionDays: this.retentionDays }, 'old notifications deleted');
        this.lastSweep = this.now().getTime();
      }
      const digestDue = new Date(this.now().getTime() - this.options.digestDelaySeconds * 1000).toISOString();
      for (const claim of await this.claim('notification_digests', 'opened_at', digestDue)) await this.settle(round, 'digests', (trx) => this.sendDigest(trx, claim));
      for (const claim of await this.claim('event_notices', 'created_at', this.now().toISOString())) await this.settle(round, 'notices', (trx) => this.sendNotice(trx, claim));
      if (round.emails + round.sms > 0) this.options.outbox.notify();
      return round;
    });
  }

  /** Runs rounds every `pollMs` until {@link stop}. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.tick();
  }

  /** Stops the loop and waits for the round in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private tick(): void {
    if (this.stopped) return;
    this.running = this.runOnce()
      .then(
        () => undefined,
        (error: unknown) => this.log.warn({ err: error }, 'notification round failed; retrying at the next poll'),
      )
      .finally(() => {
        this.running = undefined;
        if (this.stopped) return;
        this.timer = setTimeout(() => this.tick(), this.pollMs);
        this.timer.unref();
      });
  }

  /**
   * Queues "the gallery closes soon" for each published event whose gallery closes within the notice
   * window (today included). The notice's `ref` is the closing date: the sweep adds it once, however
   * often it runs, and again only when the date is moved.
   */
  async sweepClosingGalleries(): Promise<number> {
    const now = this.now();
    const today = todayUtc(now);
    const last = todayUtc(new Date(now.getTime() + this.expiryDays * 86_400_000));
    const events = await this.db
      .selectFrom('events')
      .select(['id', 'school_id', 'gallery_expires_on'])
      .where('state', '=', 'published')
      .where('gallery_expires_on', '>=', today)
      .where('gallery_expires_on', '<=', last)
      .execute();
    let queued = 0;
    const at = now.toISOString();
    for (const event of events) {
      const expiresOn = event.gallery_expires_on ?? today;
      const result = await this.db
        .insertInto('event_notices')
        .values({
          id: randomUUID(),
          school_id: event.school_id,
          event_id: event.id,
          kind: 'gallery-expiring',
          ref: expiresOn,
          detail: JSON.stringify({ expiresOn }),
          state: 'pending',
          claim_id: null,
          lease_expires_at: null,
          created_at: at,
          updated_at: at,
          sent_at: null,
        })
        .onConflict((oc) => oc.columns(['event_id', 'kind', 'ref']).doNothing())
        .executeTakeFirst();
      queued += Number(result.numInsertedOrUpdatedRows ?? 0n);
    }
    return queued;
  }

  /**
   * Retention: deletes the digests and notices sent or cancelled more than `retentionDays` ago, and the
   * outbox messages they queued once sent, failed for good or cancelled that long ago. Pending and
   * in-flight rows are never touched, however old. A message is settled no earlier than its row, so its
   * row is gone by the time it is and cannot queue it again. A closing notice is kept until its closing
   * day has passed whatever the retention: while the sweep still looks at that day, it would queue it again.
   */
  async purgeSettled(): Promise<{ digests: number; notices: number; messages: number }> {
    const before = new Date(this.now().getTime() - this.retentionDays * 86_400_000).toISOString();
    const digests = await this.db.deleteFrom('notification_digests').where('state', 'in', ['sent', 'cancelled']).where('updated_at', '<', before).executeTakeFirst();
    const notices = await this.db
      .deleteFrom('event_notices')
      .where('state', 'in', ['sent', 'cancelled'])
      .where('updated_at', '<', before)
      .where((eb) => eb.or([eb('kind', '<>', 'gallery-expiring'), eb('ref', '<', todayUtc(this.now()))]))
      .executeTakeFirst();
    const messages = await this.db
      .deleteFrom('outbox')
      .where('state', 'in', ['sent', 'failed', 'cancelled'])
      .where('updated_at', '<', before)
      .where((eb) => eb.or([eb('idempotency_key', 'like', 'digest:%'), eb('idempotency_key', 'like', 'notice:%')]))
      .executeTakeFirst();
    return { digests: Number(digests.numDeletedRows), notices: Number(notices.numDeletedRows), messages: Number(messages.numDeletedRows) };
  }

  /**
   * Claims due rows of `table`: pending and due by `dueColumn`, or left `sending` by a worker whose lease
   * passed. The two tables share these columns; the casts only name one of them for Kysely's types.
   */
  private async claim(table: Table, dueColumn: 'opened_at' | 'created_at', dueBy: string): Promise<Array<{ id: string; claimId: string }>> {
    const db = this.db;
    const from = table as 'notification_digests';
    const column = dueColumn as 'opened_at';
    const at = this.now().toISOString();
    // One condition for the pick and the claim: the claim re-checks it, so of two workers only one wins.
    const due = (eb: ExpressionBuilder<Database, 'notification_digests'>) =>
      eb.or([eb.and([eb('state', '=', 'pending'), eb(column, '<=', dueBy)]), eb.and([eb('state', '=', 'sending'), eb('lease_expires_at', '<=', at)])]);
    const candidates = await db.selectFrom(from).select('id').where(due).orderBy(column).limit(this.batchSize).execute();
    const lease = new Date(this.now().getTime() + this.leaseMs).toISOString();
    const claimed: Array<{ id: string; claimId: string }> = [];
    for (const { id } of candidates) {
      const claimId = randomUUID();
      const result = await db.updateTable(from).set({ state: 'sending', claim_id: claimId, lease_expires_at: lease, updated_at: at }).where('id', '=', id).where(due).executeTakeFirst();
      if (result.numUpdatedRows === 0n) continue; // another worker was first
      claimed.push({ id, claimId });
    }
    return claimed;
  }

  /** Does one claimed row in a transaction; a failure leaves it claimed, to be done again once its lease passes. */
  private async settle(round: NotificationRound, kind: 'digests' | 'notices', work: (trx: Transaction<Database>) => Promise<Queued>): Promise<void> {
    try {
      const queued = await this.db.transaction().execute(work);
      if (queued === 'lost') return;
      if (queued === 'cancelled') {
        round.cancelled += 1;
        return;
      }
      round[kind] += 1;
      round.emails += queued.emails;
      round.sms += queued.sms;
    } catch (error) {
      this.log.warn({ err: error, kind }, 'notification not queued; it is retried when its lease passes');
    }
  }

  private async sendDigest(trx: Transaction<Database>, claim: { id: string; claimId: string }): Promise<Queued> {
    const digest = await trx.selectFrom('notification_digests').selectAll().where('id', '=', claim.id).where('claim_id', '=', claim.claimId).executeTakeFirst();
    if (digest === undefined) return 'lost';
    const event = await this.visibleEvent(trx, digest.school_id, digest.event_id);
    // The parent may have left the audience (or the school) since the digest was opened.
    const recipients = event === undefined ? [] : await recipientsSeeing(trx, digest.school_id, event, digest.user_id);
    if (event === undefined || recipients.length === 0) return this.finish(trx, 'notification_digests', claim, 'cancelled');
    const queued = await this.queueFor(trx, digest.school_id, recipients, `digest:${digest.event_id}:${digest.id}`, (common) => {
      const fields = { ...common, eventName: event.name, newMedia: digest.new_media };
      return { mail: renderDigestMail(fields), sms: renderDigestSms(fields) };
    }, event.id);
    await this.finish(trx, 'notification_digests', claim, 'sent');
    this.log.info({ digestId: digest.id, eventId: digest.event_id, newMedia: digest.new_media, ...queued }, 'digest queued');
    return queued;
  }

  private async sendNotice(trx: Transaction<Database>, claim: { id: string; claimId: string }): Promise<Queued> {
    const notice = await trx.selectFrom('event_notices').selectAll().where('id', '=', claim.id).where('claim_id', '=', claim.claimId).executeTakeFirst();
    if (notice === undefined) return 'lost';
    const event = await this.visibleEvent(trx, notice.school_id, notice.event_id);
    // A closing notice for a date the event no longer has is stale: the sweep queues one for the new date.
    if (event === undefined || (notice.kind === 'gallery-expiring' && event.gallery_expires_on !== notice.ref)) {
      return this.finish(trx, 'event_notices', claim, 'cancelled');
    }
    const recipients = await recipientsSeeing(trx, notice.school_id, event);
    const detail = parseDetail(notice);
    const queued = await this.queueFor(trx, notice.school_id, recipients, `notice:${notice.id}`, (common) => {
      const fields: EventNoticeMailFields =
        notice.kind === 'dates-changed'
          ? { ...common, eventName: event.name, kind: 'dates-changed', startsOn: detail.startsOn ?? event.starts_on, endsOn: detail.endsOn ?? null }
          : { ...common, eventName: event.name, kind: 'gallery-expiring', expiresOn: notice.ref };
      return { mail: renderEventNoticeMail(fields), sms: renderEventNoticeSms(fields) };
    }, event.id);
    await this.finish(trx, 'event_notices', claim, 'sent');
    this.log.info({ noticeId: notice.id, kind: notice.kind, eventId: notice.event_id, ...queued }, 'event notice queued');
    return queued;
  }

  /** The event when families may still see it: published, and its gallery not closed. */
  private async visibleEvent(db: Writer, schoolId: string, eventId: string): Promise<EventRow | undefined> {
    const event = await db.selectFrom('events').selectAll().where('id', '=', eventId).where('school_id', '=', schoolId).executeTakeFirst();
    if (event === undefined || event.state !== 'published' || galleryExpired(event.gallery_expires_on, todayUtc(this.now()))) return undefined;
    return event;
  }

  /**
   * Queues a message for each of `recipients` (parents' accounts, each once) by the channels they chose:
   * a mail with a one-click unsubscribe link, a text message with only the gallery link.
   */
  private async queueFor(
    trx: Transaction<Database>,
    schoolId: string,
    recipients: readonly string[],
    keyPrefix: string,
    render: (common: { schoolName: string; galleryUrl: string; unsubscribeUrl: string }) => { mail: RenderedMail; sms: string },
    eventId: string,
  ): Promise<{ emails: number; sms: number }> {
    if (recipients.length === 0) return { emails: 0, sms: 0 };
    const parents = await trx.selectFrom('users').select(['id', 'email']).where('id', 'in', [...recipients]).orderBy('id').execute();
    const prefs = await preferencesOf(trx, schoolId, parents.map((p) => p.id));
    const sender = await senderOf(trx, schoolId);
    const galleryUrl = `${this.publicUrl}/events/${encodeURIComponent(eventId)}`;
    let emails = 0;
    let sms = 0;
    for (const parent of parents) {
      const choice = prefs.get(parent.id);
      if (choice === undefined) continue;
      const unsubscribeUrl = `${this.publicUrl}/v1/notifications/unsubscribe?t=${this.options.unsubscribeTokens.issue({ userId: parent.id, schoolId })}`;
      const rendered = render({ schoolName: sender.schoolName, galleryUrl, unsubscribeUrl });
      if (choice.email) {
        await this.options.outbox.enqueue(trx, {
          schoolId,
          idempotencyKey: `${keyPrefix}:${parent.id}`,
          to: parent.email,
          fromName: sender.name,
          ...rendered.mail,
          ...(sender.replyTo === undefined ? {} : { replyTo: sender.replyTo }),
          // RFC 8058: a mail system's "unsubscribe" button POSTs to the link, with no sign-in.
          headers: { 'List-Unsubscribe': `<${unsubscribeUrl}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
        });
        emails += 1;
      }
      if (choice.sms && choice.phone !== null) {
        await this.options.outbox.enqueue(trx, {
          schoolId,
          idempotencyKey: `${keyPrefix}:${parent.id}:sms`,
          channel: 'sms',
          to: choice.phone,
          fromName: sender.name,
          subject: rendered.mail.subject,
          text: rendered.sms,
          html: '',
        });
        sms += 1;
      }
    }
    return { emails, sms };
  }

  /** Marks a claimed row done; only the claim that holds it may. */
  private async finish(trx: Transaction<Database>, table: Table, claim: { id: string; claimId: string }, state: 'sent' | 'cancelled'): Promise<'cancelled' | { emails: 0; sms: 0 }> {
    const at = this.now().toISOString();
    await trx
      .updateTable(table as 'notification_digests')
      .set({ state, claim_id: null, lease_expires_at: null, updated_at: at, sent_at: state === 'sent' ? at : null })
      .where('id', '=', claim.id)
      .where('claim_id', '=', claim.claimId)
      .execute();
    return state === 'cancelled' ? 'cancelled' : { emails: 0, sms: 0 };
  }
}

/** What a row turned into: messages queued, dropped, or nothing because another worker holds it now. */
type Queued = { emails: number; sms: number } | 'cancelled' | 'lost';

function parseDetail(notice: EventNoticeRow): { startsOn?: string; endsOn?: string | null } {
  try {
    return JSON.parse(notice.detail) as { startsOn?: string; endsOn?: string | null };
  } catch {
    return {};
  }
}
