/**
 * A real SMTP server on loopback (smtp-server) that keeps what it receives, parsed by mailparser, for
 * the suites that prove mail end to end. It can refuse the next messages with a temporary (4xx) or
 * permanent (5xx) answer, and be stopped and started again on the same port (an outage).
 * Test-only: it imports development dependencies.
 */
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface TestSmtpServer {
  /** `smtp://127.0.0.1:<port>` */
  url: string;
  /** Every message accepted, in arrival order. */
  received: ParsedMail[];
  /** How many DATA commands arrived, refused ones included. */
  attempts(): number;
  /** Refuses the next `count` messages with `code` (451: try later; 550: no such mailbox). */
  refuseNext(count: number, code?: number): void;
  /** Resolves once `count` messages have arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<ParsedMail[]>;
  /** Stops listening (an outage); {@link start} listens again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startSmtpServer(): Promise<TestSmtpServer> {
  const received: ParsedMail[] = [];
  let attempts = 0;
  let refusals: number[] = [];
  let port = 0;
  let server: SMTPServer | undefined;

  const make = () =>
    new SMTPServer({
      // Plain text on loopback, no login: the client under test is configured with smtp://host:port.
      disabledCommands: ['STARTTLS', 'AUTH'],
      authOptional: true,
      logger: false,
      onData(stream, _session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          attempts += 1;
          const refusal = refusals.shift();
          if (refusal !== undefined) {
            const error = new Error(refusal >= 500 ? 'Mailbox unavailable' : 'Try again later') as Error & { responseCode: number };
            error.responseCode = refusal;
            callback(error);
            return;
          }
          simpleParser(Buffer.concat(chunks)).then(
            (mail) => {
              received.push(mail);
              callback();
            },
            (error: Error) => callback(error),
          );
        });
      },
    });

  const start = async () => {
    const next = make();
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => resolve());
    });
    next.on('error', () => undefined);
    const address = next.server.address();
    if (address !== null && typeof address === 'object') port = address.port;
    server = next;
  };
  await start();

  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    attempts: () => attempts,
    refuseNext(count, code = 451) {
      refusals = [...refusals, ...Array.from({ length: count }, () => code)];
    },
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} messages, got ${received.length} within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return received;
    },
    async stop() {
      const current = server;
      server = undefined;
      if (current !== undefined) await new Promise<void>((resolve) => current.close(() => resolve()));
    },
    start,
  };
}
