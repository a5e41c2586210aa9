/**
 * Serves the parents' gallery from `dist/web` (see `build.ts`): the app shell (`index.html`, never cached, so a new
 * build is picked up on the next visit) at `/` and at each of the app's own paths, and its assets at
 * `/assets/<name>-<hash>.<ext>`, cached for a year (their names change with their contents), gzipped
 * for browsers that accept it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import { buildGalleryWhenStale, WEB_DIST } from './build.ts';

/** The paths the gallery routes in the browser: each answers with the shell. */
export const GALLERY_PAGES = ['/', '/sign-in', '/invite', '/events', '/events/:eventId', '/family'] as const;

const CONTENT_TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  woff2: 'font/woff2',
};

/** An asset name as the build writes them: no folders, no dots but the extension's. */
const ASSET_NAME = /^[A-Za-z0-9_-]{1,100}\.(js|css|svg|png|woff2)$/;

const NOT_BUILT = 'The gallery has not been built on this server yet. Run npm run build:web -w sync-service, then reload the page.';

export interface GalleryOptions {
  /** Where the built gallery is; default `dist/web`. */
  distDir?: string;
  /**
   * `when-stale` (the default): build at start-up when `distDir` is missing or older than the sources,
   * so `npm run sync-service` always serves what the sources say. `never`: serve what is there (an
   * image built with `npm run build:web`, a read-only file system).
   */
  build?: 'when-stale' | 'never';
}

async function readOrUndefined(file: string): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function acceptsGzip(request: FastifyRequest): boolean {
  const accepted = request.headers['accept-encoding'];
  return typeof accepted === 'string' && /(^|[\s,])gzip(;q=(?!0(\.0*)?\b)[\d.]+)?(\s*(,|$))/i.test(accepted);
}

export function galleryRoutes(app: FastifyInstance, options: GalleryOptions = {}): void {
  const distDir = options.distDir ?? WEB_DIST;

  if ((options.build ?? 'when-stale') === 'when-stale') {
    app.addHook('onReady', async () => {
      try {
        if (await buildGalleryWhenStale(distDir)) app.log.info({ distDir }, 'built the gallery');
      } catch (error) {
        // A read-only image still serves the gallery it was built with; a broken build is logged, not fatal.
        app.log.warn({ err: error, distDir }, 'could not build the gallery; serving the last build, if any');
      }
    });
  }

  const shell = async (_request: FastifyRequest, reply: FastifyReply) => {
    const html = await readOrUndefined(path.join(distDir, 'index.html'));
    if (html === undefined) throw new ApiError('internal', NOT_BUILT, undefined, 503);
    return reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(html);
  };
  for (const page of GALLERY_PAGES) app.get(page, shell);

  app.get('/assets/:name', async (request, reply) => {
    const { name } = request.params as { name: string };
    const match = ASSET_NAME.exec(name);
    const missing = new ApiError('not-found', `The gallery has no file ${name}. Reload the page to get the current version.`);
    if (match === null) throw missing;
    const file = path.join(distDir, 'assets', name);
    const gzip = acceptsGzip(request);
    const zipped = gzip ? await readOrUndefined(`${file}.gz`) : undefined;
    const body = zipped ?? (await readOrUndefined(file));
    if (body === undefined) throw missing;
    if (zipped !== undefined) reply.header('content-encoding', 'gzip');
    return reply
      .header('content-type', CONTENT_TYPES[match[1] ?? ''] ?? 'application/octet-stream')
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('vary', 'accept-encoding')
      .send(body);
  });
}
