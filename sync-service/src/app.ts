/**
 * The HTTP application, built but not listening, so tests drive it with `inject()` and `main.ts`
 * decides where it listens. Every response is JSON and every error is `{ code, message }`.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Kysely } from 'kysely';
import { SessionService } from './auth/sessions.ts';
import type { ScryptParams } from './auth/passwords.ts';
import type { TokenService } from './auth/tokens.ts';
import { ping } from './db/database.ts';
import type { Database } from './db/schema.ts';
import { ApiError, type ApiErrorCode } from './errors.ts';
import { authRoutes } from './routes/auth.ts';
import { eventRoutes } from './routes/events.ts';
import { EventService } from './services/events.ts';

export interface AppOptions {
  db: Kysely<Database>;
  tokens: TokenService;
  refreshTtlSeconds: number;
  /** Lower cost in tests only; defaults to the memory-hard production setting. */
  scrypt?: ScryptParams;
  /** Fastify's pino logger options; `false` (the default) for tests. */
  logger?: FastifyServerOptions['logger'];
  /** Largest accepted body in bytes; 1 MiB by default, plenty for JSON metadata (media never comes through here). */
  bodyLimit?: number;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** Safe texts for Fastify's own 4xx errors, whose messages are written for developers. */
function frameworkError(error: FastifyError, bodyLimit: number): ApiError | undefined {
  const status = error.statusCode ?? 500;
  if (status >= 500) return undefined;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('invalid-input', `The request body is larger than ${bodyLimit} bytes.`, undefined, 413);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('unsupported-media', 'Send the request body as application/json.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('invalid-input', 'The request says it has a JSON body but the body is empty.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('invalid-input', 'The Content-Length header does not match the body.');
    default:
      break;
  }
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new ApiError('invalid-input', 'The request body is not valid JSON.');
  }
  const code: ApiErrorCode = status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : status === 404 ? 'not-found' : 'invalid-input';
  return new ApiError(code, error.message, undefined, status);
}

export function buildApp(options: AppOptions): FastifyInstance {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit,
    // Our own ids, never the client's: a request id is what logs are joined on, so it must be unique.
    genReqId: () => randomUUID(),
  });

  // JSON only: drop Fastify's text/plain parser, so any other content type is a 415.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const known = error instanceof ApiError ? error : frameworkError(error, bodyLimit);
    if (known !== undefined) {
      return reply.code(known.status).send(known.toJSON());
    }
    // Unexpected: log it whole, answer without detail (no stack, no SQL) but with the id to look it up by.
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({ code: 'internal', message: `Something went wrong on the server (request ${request.id}).` });
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ code: 'not-found', message: `No such endpoint: ${request.method} ${request.url.split('?')[0] ?? ''}` });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    try {
      await ping(options.db);
      return { status: 'ready' };
    } catch (error) {
      request.log.warn({ err: error }, 'database not reachable');
      return reply.code(503).send({ code: 'internal', message: 'The database is not reachable.' });
    }
  });

  const sessions = new SessionService(options.db, options.tokens, {
    refreshTtlSeconds: options.refreshTtlSeconds,
    ...(options.scrypt === undefined ? {} : { scrypt: options.scrypt }),
  });
  authRoutes(app, sessions);
  eventRoutes(app, { db: options.db, tokens: options.tokens, events: new EventService(options.db) });
  return app;
}
