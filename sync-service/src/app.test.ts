import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DATABASES } from './test/databases.ts';
import { PASSWORD, startHarness, type Harness } from './test/harness.ts';

describe.each(TEST_DATABASES)('http basics on $name', (target) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(target);
    await h.createUser('ada@school.test');
  });
  afterAll(() => h.close());

  it('answers /healthz and /readyz (a database round trip)', async () => {
    expect((await h.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await h.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready' });
  });

  it('gives every response its own request id', async () => {
    const a = await h.app.inject({ url: '/healthz', headers: { 'x-request-id': 'chosen-by-client' } });
    const b = await h.app.inject({ url: '/healthz' });
    expect(a.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });

  it('answers an unknown route with a JSON 404', async () => {
    const response = await h.app.inject({ url: '/v1/nope?secret=1' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ code: 'not-found', message: 'No such endpoint: GET /v1/nope' });
  });

  it('refuses an oversized body with 413 { code, message }', async () => {
    const response = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/sign-in',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ email: 'ada@school.test', password: 'x'.repeat(1024 * 1024 + 1) }),
    });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toEqual({ code: 'invalid-input', message: expect.stringContaining('larger than') });
  });

  it('refuses malformed JSON with 400 and no stack trace', async () => {
    const response = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/sign-in',
      headers: { 'content-type': 'application/json' },
      payload: '{"email": "ada@school.test",',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ code: 'invalid-input', message: 'The request body is not valid JSON.' });
    expect(response.body).not.toMatch(/at .*\.(ts|js):\d+/);
  });

  it('accepts JSON only', async () => {
    const text = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/sign-in',
      headers: { 'content-type': 'text/plain' },
      payload: `email=ada@school.test&password=${PASSWORD}`,
    });
    expect(text.statusCode).toBe(415);
    expect(text.json()).toEqual({ code: 'unsupported-media', message: expect.any(String) });
    const empty = await h.app.inject({ method: 'POST', url: '/v1/auth/sign-in' });
    expect(empty.statusCode).toBe(400);
    expect(empty.json()).toMatchObject({ code: 'invalid-input' });
  });

  it('rejects prototype-pollution keys', async () => {
    const response = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/sign-in',
      headers: { 'content-type': 'application/json' },
      payload: `{"email":"ada@school.test","password":"${PASSWORD}","__proto__":{"role":"admin"}}`,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'invalid-input' });
  });

  it('hides internal errors behind a generic 500', async () => {
    const broken = await startHarness(target);
    await broken.db.close();
    const response = await broken.app.inject({ method: 'POST', url: '/v1/auth/sign-in', payload: { email: 'a@b.c', password: 'x' } });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ code: 'internal', message: expect.stringContaining(String(response.headers['x-request-id'])) });
    expect((await broken.app.inject({ url: '/readyz' })).statusCode).toBe(503);
    await broken.app.close();
  });
});
