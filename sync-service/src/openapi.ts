/**
 * The API as an OpenAPI 3.1 document, built from the routes the app really registers: each route
 * declares its summary and its zod schemas in `config.api` (the same schemas its handler parses with),
 * so the document cannot drift from what the service accepts. Served at `GET /v1/openapi.json`.
 */
import { readFileSync } from 'node:fs';
import type { RouteOptions } from 'fastify';
import { z } from 'zod';
import { STATUS_OF, type ApiErrorCode } from './errors.ts';

/** What a route says about itself for the document. */
export interface RouteDoc {
  summary: string;
  /** Grouping in the document; defaults to the path's first segment after `/v1/`. */
  tag?: string;
  /** `bearer` (the default for `/v1/schools/…`), `none` for public routes. */
  auth?: 'bearer' | 'none';
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** The success status and what it returns; 200 "OK" by default. */
  success?: { status: number; description: string };
  /** The success answer's body, when the route declares one (as the handler's own return type is derived from it). */
  response?: z.ZodType;
  /** The error codes the route answers with besides invalid-input/unauthorized/not-found. */
  errors?: ApiErrorCode[];
}

declare module 'fastify' {
  interface FastifyContextConfig {
    api?: RouteDoc;
  }
}

/** The service's version, from its package.json. */
export const SERVICE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Routes in the document: the API and the operations probes; not the gallery's pages and assets. */
export function isApiRoute(route: RegisteredRoute): boolean {
  return route.url.startsWith('/v1/') || ['/healthz', '/readyz', '/metrics'].includes(route.url);
}

/** One registered route, as `onRoute` saw it. */
export interface RegisteredRoute {
  method: string;
  url: string;
  api: RouteDoc | undefined;
}

/** Collects every route as it is added, for {@link buildOpenApi}; HEAD twins of GET routes are left out. */
export function routeCollector(): { routes: RegisteredRoute[]; onRoute(route: RouteOptions): void } {
  const routes: RegisteredRoute[] = [];
  return {
    routes,
    onRoute(route) {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const method of methods) {
        if (method === 'HEAD') continue;
        routes.push({ method, url: route.url, api: (route.config as { api?: RouteDoc } | undefined)?.api });
      }
    },
  };
}

type JsonSchema = Record<string, unknown>;

/** A schema as JSON Schema: its request side by default (defaults optional, transforms' inputs), or what it answers with. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** `/v1/schools/:schoolId/events` → `/v1/schools/{schoolId}/events`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function parameters(where: 'path' | 'query', schema: z.ZodType | undefined, url: string): JsonSchema[] {
  const names = where === 'path' ? [...url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1] as string) : [];
  const object = schema === undefined ? undefined : jsonSchema(schema);
  const properties = (object?.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((object?.required ?? []) as string[]);
  const all = where === 'path' ? names : Object.keys(properties);
  return all.map((name) => ({
    name,
    in: where,
    required: where === 'path' ? true : required.has(name),
    schema: properties[name] ?? { type: 'string' },
  }));
}

const ERROR_TEXT: Record<ApiErrorCode, string> = {
  'invalid-input': 'The request is malformed; the message names each bad field.',
  'unsupported-media': 'The body is not JSON.',
  unauthorized: 'No valid access token.',
  forbidden: 'The caller may see this but not do it.',
  'not-found': 'No such thing, or the caller may not know it exists.',
  conflict: 'A newer version exists (optimistic concurrency); the body carries the current one.',
  gone: 'It was there and is no more for this caller (an expired gallery).',
  'quota-exceeded': "The school's plan has no room for this.",
  internal: 'The server failed; the message carries the request id.',
};

/** The document for `routes`. A route registered without `config.api` is listed with a placeholder summary (and fails the test). */
export function buildOpenApi(routes: readonly RegisteredRoute[], info: { version: string; serverUrl?: string }): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const api = route.api;
    const path = openApiPath(route.url);
    const secured = api?.auth === undefined ? route.url.startsWith('/v1/schools/') : api.auth === 'bearer';
    const codes = new Set<ApiErrorCode>(['invalid-input', ...(secured ? (['unauthorized', 'not-found'] as const) : []), ...(api?.errors ?? [])]);
    const responses: Record<string, JsonSchema> = {
      [String(api?.success?.status ?? 200)]: {
        description: api?.success?.description ?? 'OK',
        ...(api?.response === undefined ? {} : { content: { 'application/json': { schema: jsonSchema(api.response, 'output') } } }),
      },
    };
    for (const code of codes) {
      const status = String(STATUS_OF[code]);
      const existing = responses[status];
      responses[status] = {
        description: existing === undefined ? ERROR_TEXT[code] : `${String(existing.description)} Or: ${ERROR_TEXT[code]}`,
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      };
    }
    if (secured && route.url.startsWith('/v1/')) responses['429'] = { description: 'Too many requests; see Retry-After.', headers: { 'Retry-After': { schema: { type: 'integer' } } } };
    const segment = /^\/v1\/(?:schools\/:schoolId\/)?([a-z-]+)/.exec(route.url)?.[1] ?? 'service';
    const operation: JsonSchema = {
      operationId: `${route.method.toLowerCase()}${path.replace(/[{}]/g, '').replace(/(?:^|[/-])([a-zA-Z0-9])/g, (_m, c: string) => c.toUpperCase())}`,
      summary: api?.summary ?? 'UNDOCUMENTED',
      tags: [api?.tag ?? segment],
      parameters: [...parameters('path', api?.params, route.url), ...parameters('query', api?.query, route.url)],
      responses,
      ...(secured ? { security: [{ bearer: [] }] } : { security: [] }),
      ...(api?.body === undefined ? {} : { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(api.body) } } } }),
    };
    (paths[path] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Keepsake sync service',
      version: info.version,
      description: "Shares a school's events, people, consent and quotas between desktops, and serves the parents' gallery. Errors are `{ code, message }`.",
    },
    ...(info.serverUrl === undefined ? {} : { servers: [{ url: info.serverUrl }] }),
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (EdDSA)' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['code', 'message'],
          properties: { code: { type: 'string', enum: Object.keys(STATUS_OF) }, message: { type: 'string' } },
        },
      },
    },
  };
}

/** Route options carrying `api`: `app.get(url, doc({ summary, params, query, body }), handler)`. */
export function doc(api: RouteDoc): { config: { api: RouteDoc } } {
  return { config: { api } };
}
