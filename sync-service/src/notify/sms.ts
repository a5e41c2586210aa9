/**
 * Text messages. The service talks to an {@link SmsSender}; {@link HttpSmsSender} is the real one, a JSON
 * POST to the provider's API (`SMS_API_URL`, `SMS_API_KEY`). Messages are queued in the mail outbox with
 * channel `sms` and sent by an outbox worker of that channel through {@link SmsOutboxMailer}, so they get
 * the outbox's idempotency keys, claims, leases and retries with backoff unchanged.
 */
import { MailError, type Mailer, type OutgoingMail } from '../mail/mailer.ts';

/** One text message. */
export interface SmsMessage {
  /** E.164 phone number. */
  to: string;
  text: string;
  /** The same for every attempt at one message, so a provider that de-duplicates sends it once. */
  reference: string;
}

/** Why a send failed, and whether trying again could help. */
export class SmsError extends Error {
  override readonly name = 'SmsError';
  constructor(
    message: string,
    /** True for a refusal that will not change (a bad number, a rejected key); false for "try later". */
    readonly permanent: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Something that delivers text messages. */
export interface SmsSender {
  /** Resolves once the provider has accepted the message; throws an {@link SmsError} otherwise. */
  send(message: SmsMessage): Promise<void>;
}

/** Well inside the outbox's lease, so a hung provider cannot keep a message claimed past it. */
const SMS_TIMEOUT_MS = 15_000;

/**
 * The provider's HTTP API: `POST SMS_API_URL` with `{ to, text, reference }` as JSON, the key as a bearer
 * token and the reference as `Idempotency-Key`. 2xx is accepted; 408, 429 and 5xx are worth another try;
 * any other 4xx is final.
 */
export class HttpSmsSender implements SmsSender {
  constructor(
    private readonly url: string,
    private readonly apiKey: string,
    private readonly timeoutMs: number = SMS_TIMEOUT_MS,
  ) {}

  async send(message: SmsMessage): Promise<void> {
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.apiKey}`, 'idempotency-key': message.reference },
        body: JSON.stringify({ to: message.to, text: message.text, reference: message.reference }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new SmsError(`The SMS provider could not be reached (${(error as Error).message}).`, false, { cause: error });
    }
    if (response.ok) {
      await response.body?.cancel();
      return;
    }
    const detail = (await response.text().catch(() => '')).slice(0, 200);
    const retry = response.status === 408 || response.status === 429 || response.status >= 500;
    throw new SmsError(`The SMS provider answered ${response.status}${detail === '' ? '' : `: ${detail}`}`, !retry);
  }
}

/** An outbox {@link Mailer} that sends each row's text body as a text message to the row's `to` (a phone number). */
export class SmsOutboxMailer implements Mailer {
  constructor(private readonly sms: SmsSender) {}

  async send(mail: OutgoingMail): Promise<void> {
    try {
      await this.sms.send({ to: mail.to, text: mail.text, reference: mail.messageId });
    } catch (error) {
      if (error instanceof SmsError) throw new MailError(error.message, error.permanent, { cause: error });
      throw new MailError(`Sending the text message failed: ${(error as Error).message}`, false, { cause: error });
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
