import { Validator } from '@seriousme/openapi-schema-validator';
import type { RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiPath } from './openapi.ts';
import { TEST_DATABASES } from './test/databases.ts';
import { seedTwoSchools, startHarness, type Harness } from './test/harness.ts';

interface Operation {
  summary: string;
  security: unknown[];
  parameters: Array<{ name: string; in: string; required: boolean }>;
  requestBody?: { content: { 'application/json': { schema: Record<string, unknown> } } };
  responses: Record<string, unknown>;
}
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

// The document does not depend on the database; SQLite is enough.
const sqlite = TEST_DATABASES.find((target) => target.name === 'sqlite')!;

describe('the OpenAPI document', () => {
  let h: Harness;
  let document: Document;

  beforeAll(async () => {
    h = await startHarness(sqlite);
    const response = await h.app.inject({ method: 'GET', url: '/v1/openapi.json' });
    expect(response.statusCode).toBe(200);
    document = response.json<Document>();
  });
  afterAll(() => h.close());

  it('is a valid OpenAPI 3.1 document, served without signing in', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document) as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(document.openapi).toBe('3.1.0');
  });

  it('documents every API route the app registers, with a summary, and no route it does not', async () => {
    const registered: string[] = [];
    // A second app, to see the routes through the same hook a test of the whole API would use.
    const { buildApp } = await import('./app.ts');
    const app = buildApp({
      db: h.db.kysely,
      tokens: h.tokens,
      refreshTtlSeconds: 60,
      onRoute: (route: RouteOptions) => {
        for (const method of [route.method].flat()) if (method !== 'HEAD') registered.push(`${method} ${route.url}`);
      },
    });
    await app.ready();
    await app.close();
    const api = registered.filter((key) => / \/v1\/| \/(healthz|readyz|metrics)$/.test(key));
    expect(api.length).toBeGreaterThan(40);
    const documented = Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`));
    expect(documented.sort()).toEqual(api.map((key) => key.replace(/ (.*)$/, (_m, url: string) => ` ${openApiPath(url)}`)).sort());
    const undocumented = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(([, operation]) => operation.summary === 'UNDOCUMENTED')
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    expect(undocumented).toEqual([]);
  });

  it('describes the bodies and parameters the handlers really check', async () => {
    const create = document.paths['/v1/schools/{schoolId}/events']?.post;
    expect(create?.security).toEqual([{ bearer: [] }]);
    expect(create?.parameters).toEqual([expect.objectContaining({ name: 'schoolId', in: 'path', required: true })]);
    const body = create?.requestBody?.content['application/json'].schema;
    expect(body).toMatchObject({ type: 'object', additionalProperties: false, required: ['name', 'startsOn'] });
    expect(Object.keys((body?.properties ?? {}) as object)).toEqual(expect.arrayContaining(['name', 'startsOn', 'audience', 'galleryExpiresOn']));
    expect(Object.keys(create?.responses ?? {})).toEqual(expect.arrayContaining(['201', '400', '401', '403', '404']));

    // What the document says is what the service does: a field it does not list is refused.
    const { school, token } = await seedTwoSchools(h);
    const refused = await h.call('POST', `/v1/schools/${school}/events`, token.admin, { name: 'Play', startsOn: '2026-05-01', schoolId: school });
    expect(refused.statusCode).toBe(400);
    const accepted = await h.call('POST', `/v1/schools/${school}/events`, token.admin, { name: 'Play', startsOn: '2026-05-01' });
    expect(accepted.statusCode).toBe(201);

    const feed = document.paths['/v1/schools/{schoolId}/changes']?.get;
    expect(feed?.parameters.map((p) => `${p.in}:${p.name}:${p.required}`)).toEqual(['path:schoolId:true', 'query:since:false', 'query:limit:false']);
    expect(document.paths['/v1/auth/sign-in']?.post?.security).toEqual([]);
    expect(document.paths['/v1/schools/{schoolId}/events/{eventId}/media']?.get?.responses).toHaveProperty('410');
  });
});
