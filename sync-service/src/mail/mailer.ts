/**
 * Sending one e-mail. The outbox talks to a {@link Mailer}; {@link SmtpMailer} is the real one
 * (nodemailer over SMTP, `SMTP_URL`). A mailer only sends: queueing, retries and de-duplication are
 * the outbox's.
 */
import { createHash } from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';

/** One message, ready to go. */
export interface OutgoingMail {
  from: { name: string; address: string };
  to: string;
  subject: string;
  text: string;
  html: string;
  /** `<…@…>`: the same for every attempt at the same mail, so receivers can drop a duplicate. */
  messageId: string;
  /** Where replies go, when not to the sender. */
  replyTo?: string;
  /** Extra header fields (e.g. `List-Unsubscribe`), sent as given. */
  headers?: Record<string, string>;
}

/** Why a send failed, and whether trying again could help. */
export class MailError extends Error {
  override readonly name = 'MailError';
  constructor(
    message: string,
    /** True for a refusal that will not change (SMTP 5xx: no such mailbox, policy); false for "try later". */
    readonly permanent: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Something that delivers mail. */
export interface Mailer {
  /** Resolves once the server has accepted the message; throws a {@link MailError} otherwise. */
  send(mail: OutgoingMail): Promise<void>;
  close(): Promise<void>;
}

/**
 * The Message-ID for an idempotency key: a hash of the key (so nothing of the key leaks) at the sender's
 * domain. Every retry of one outbox row carries the same id.
 */
export function messageIdFor(idempotencyKey: string, fromAddress: string): string {
  const domain = fromAddress.split('@').at(-1) ?? 'keepsake.invalid';
  return `<${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 40)}@${domain}>`;
}

/** Timeouts well inside the outbox's lease, so a hung server cannot keep a message claimed past it. */
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 60_000 };

/** nodemailer over SMTP: `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://…:465`. */
export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(url: string) {
    this.transport = nodemailer.createTransport({ url, ...SMTP_TIMEOUTS });
  }

  async send(mail: OutgoingMail): Promise<void> {
    try {
      await this.transport.sendMail({
        from: { name: mail.from.name, address: mail.from.address },
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: mail.messageId,
        ...(mail.replyTo === undefined ? {} : { replyTo: mail.replyTo }),
        ...(mail.headers === undefined ? {} : { headers: mail.headers }),
      });
    } catch (error) {
      throw toMailError(error);
    }
  }

  close(): Promise<void> {
    this.transport.close();
    return Promise.resolve();
  }
}

/** SMTP 5xx is a final answer; anything else (4xx, a refused connection, a timeout) may pass later. */
function toMailError(error: unknown): MailError {
  const details = error as { responseCode?: unknown; response?: unknown; code?: unknown; message?: unknown };
  const status = typeof details.responseCode === 'number' ? details.responseCode : undefined;
  const reply = typeof details.response === 'string' ? details.response : undefined;
  const permanent = status !== undefined && status >= 500 && status < 600;
  const reason =
    reply !== undefined
      ? `The mail server answered: ${reply}`
      : `The mail server could not be reached (${typeof details.code === 'string' ? details.code : typeof details.message === 'string' ? details.message : 'unknown error'}).`;
  return new MailError(reason.slice(0, 500), permanent, { cause: error });
}
