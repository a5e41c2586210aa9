import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import { MemoryStore } from './ratelimit.ts';
import { TEST_DATABASES } from './test/databases.ts';
import { TEST_SCRYPT, startHarness, type Harness } from './test/harness.ts';

const TOKEN = 'metrics-token-0123456789';

describe.each(TEST_DATABASES)('/metrics and request ids on $name', (target) => {
  let h: Harness;
  let school: string;
  const apps: FastifyInstance[] = [];

  beforeAll(async () => {
    h = await startHarness(target);
    school = await h.createSchool('gamma');
    await h.createUser('ada@school.test', [[school, 'admin']]);
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await h.close();
  });

  function app(options: { metricsToken?: string; trustProxy?: boolean } = {}): FastifyInstance {
    const built = buildApp({
      db: h.db.kysely,
      tokens: h.tokens,
      refreshTtlSeconds: 3600,
      scrypt: TEST_SCRYPT,
      rateLimit: { store: new MemoryStore(), limits: { windowSeconds: 60, perIp: 0, perSchool: 2, signInPerIp: 0, signInPerAccount: 0, refreshPerIp: 0 } },
      ...options,
    });
    apps.push(built);
    return built;
  }

  it('exposes default metrics, the request histogram by route pattern and the 429 count', async () => {
    const a = app();
    const { accessToken } = await h.signIn('ada@school.test');
    for (let i = 0; i < 3; i++) {
      await a.inject({ url: `/v1/schools/${school}/events`, headers: { authorization: `Bearer ${accessToken}` } });
    }
    await a.inject({ url: '/v1/nope/123' });
    const response = await a.inject({ url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = response.body;
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/v1\/schools\/:schoolId\/events",status_code="200"\} 2/);
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/v1\/schools\/:schoolId\/events",status_code="429"\} 1/);
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="unmatched",status_code="404"\} 1/);
    expect(text).toMatch(/rate_limit_rejections_total\{rule="school"\} 1/);
    expect(text).not.toContain(school); // raw URLs never become labels
  });

  it('keeps one registry per app', async () => {
    const a = app();
    const b = app();
    await a.inject({ url: '/healthz' });
    await a.inject({ url: '/healthz' });
    expect((await a.inject({ url: '/metrics' })).body).toMatch(/route="\/healthz",status_code="200"\} 2/);
    expect((await b.inject({ url: '/metrics' })).body).not.toContain('route="/healthz"');
  });

  it('hides behind METRICS_TOKEN when one is set', async () => {
    const a = app({ metricsToken: TOKEN });
    const none = await a.inject({ url: '/metrics' });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toEqual({ code: 'unauthorized', message: expect.stringContaining('METRICS_TOKEN') });
    expect((await a.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}x` } })).statusCode).toBe(401);
    const ok = await a.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('http_request_duration_seconds');
  });

  it("keeps a load balancer's x-request-id behind a trusted proxy, validated, and echoes it", async () => {
    const lb = app({ trustProxy: true });
    const kept = await lb.inject({ url: '/healthz', headers: { 'x-request-id': 'lb-7f3a9c-01' } });
    expect(kept.headers['x-request-id']).toBe('lb-7f3a9c-01');
    const errored = await lb.inject({ url: '/v1/nope', headers: { 'x-request-id': 'lb-7f3a9c-02' } });
    expect(errored.headers['x-request-id']).toBe('lb-7f3a9c-02');
    for (const bad of ['has space', 'x'.repeat(65), 'semi;colon', '']) {
      const replaced = await lb.inject({ url: '/healthz', headers: { 'x-request-id': bad } });
      expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
    // Without a trusted proxy in front, a client's id is never used (ids must stay unique to join logs on).
    const direct = await app().inject({ url: '/healthz', headers: { 'x-request-id': 'chosen-by-client' } });
    expect(direct.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('logs carry the request id', async () => {
    const lines: string[] = [];
    const logged = buildApp({
      db: h.db.kysely,
      tokens: h.tokens,
      refreshTtlSeconds: 3600,
      trustProxy: true,
      logger: { level: 'info', stream: { write: (line: string) => void lines.push(line) } },
    });
    apps.push(logged);
    await logged.inject({ url: '/healthz', headers: { 'x-request-id': 'lb-log-42' } });
    const entries = lines.map((line) => JSON.parse(line) as { reqId?: string; msg?: string });
    expect(entries.filter((entry) => entry.reqId === 'lb-log-42').map((entry) => entry.msg)).toEqual(['incoming request', 'request completed']);
  });
});
