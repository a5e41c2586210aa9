/**
 * The SMS provider adapter over real HTTP, against a loopback endpoint that stands in for the provider
 * (a paid SMS API cannot be called from a test): what it sends, and which answers are worth a retry.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailError } from '../mail/mailer.ts';
import { HttpSmsSender, SmsError, SmsOutboxMailer } from './sms.ts';

describe(HttpSmsSender.name, () => {
  const seen: Array<{ method: string; headers: IncomingHttpHeaders; body: string }> = [];
  let status = 202;
  let url = '';
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      seen.push({ method: request.method ?? '', headers: request.headers, body });
      response.writeHead(status, { 'content-type': 'application/json' }).end(status < 300 ? '{"id":"m-1"}' : '{"error":"invalid number"}');
    });
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/send`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('posts the number, the text and the reference as JSON with the key as a bearer token', async () => {
    status = 202;
    await new HttpSmsSender(url, 'key-0123456789abcdef').send({ to: '+447700900123', text: 'Hello', reference: '<ref@x>' });
    expect(seen.at(-1)).toMatchObject({ method: 'POST', body: JSON.stringify({ to: '+447700900123', text: 'Hello', reference: '<ref@x>' }) });
    expect(seen.at(-1)?.headers).toMatchObject({ 'content-type': 'application/json', authorization: 'Bearer key-0123456789abcdef', 'idempotency-key': '<ref@x>' });
  });

  it('treats a 4xx refusal as final and a 429, a 5xx or no answer as worth another try', async () => {
    const sender = new HttpSmsSender(url, 'key-0123456789abcdef');
    const failure = async (to: string) => sender.send({ to, text: 't', reference: 'r' }).then(() => undefined, (error: unknown) => error as SmsError);
    status = 400;
    expect(await failure('+1')).toMatchObject({ permanent: true, message: 'The SMS provider answered 400: {"error":"invalid number"}' });
    status = 429;
    expect((await failure('+1'))?.permanent).toBe(false);
    status = 503;
    expect((await failure('+1'))?.permanent).toBe(false);
    const down = await new HttpSmsSender('http://127.0.0.1:9/send', 'k', 2000).send({ to: '+1', text: 't', reference: 'r' }).catch((error: unknown) => error as SmsError);
    expect(down).toBeInstanceOf(SmsError);
    expect(down).toMatchObject({ permanent: false, message: expect.stringMatching(/^The SMS provider could not be reached/) as string });
  });

  it('hands the outbox a MailError it knows how to retry', async () => {
    status = 400;
    const mailer = new SmsOutboxMailer(new HttpSmsSender(url, 'key-0123456789abcdef'));
    const error = await mailer.send({ from: { name: 'School', address: 'a@b.test' }, to: '+447700900123', subject: 's', text: 'Hello', html: '', messageId: '<m@b.test>' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailError);
    expect(error).toMatchObject({ permanent: true });
  });
});
