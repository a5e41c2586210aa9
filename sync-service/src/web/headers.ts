/**
 * The security headers every response of the service carries, API answers, errors and 404s included:
 * a Content-Security-Policy with no inline script or style (the gallery loads only its own files, and
 * images and video from the media origin), HSTS, no MIME sniffing, no referrer, a window of its own
 * and no camera, microphone or location.
 */
import type { FastifyInstance } from 'fastify';
import type { MediaSettings } from '../services/storage.ts';

/** The policy for a page whose images and video come from `mediaOrigins` (besides the service itself). */
export function contentSecurityPolicy(mediaOrigins: readonly string[]): string {
  const media = mediaOrigins.length === 0 ? '' : ` ${mediaOrigins.join(' ')}`;
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data: blob:${media}`,
    `media-src 'self'${media}`,
    "connect-src 'self'",
    "font-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The headers, apart from the policy, that never change. */
export const STATIC_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
  'x-frame-options': 'DENY',
};

/**
 * The origin browsers fetch media from: the CDN's when one is configured, else the bucket's, read off a
 * presigned URL (made locally, no request sent), so path-style, virtual-hosted and custom endpoints all
 * come out right. Undefined when no bucket is configured.
 */
export async function mediaOrigin(media: MediaSettings | undefined): Promise<string | undefined> {
  if (media === undefined) return undefined;
  if (media.cdnBaseUrl !== undefined) return new URL(media.cdnBaseUrl).origin;
  const probe = await media.store.presignGet('gallery/origin', { expiresIn: 60, contentDisposition: 'inline' });
  return new URL(probe).origin;
}

/**
 * Adds the headers to every response. Install it before any route; the media origin is worked out when
 * the app becomes ready.
 */
export function installSecurityHeaders(app: FastifyInstance, media: MediaSettings | undefined): void {
  let policy = contentSecurityPolicy([]);
  app.addHook('onReady', async () => {
    const origin = await mediaOrigin(media);
    policy = contentSecurityPolicy(origin === undefined ? [] : [origin]);
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', policy);
    for (const [name, value] of Object.entries(STATIC_SECURITY_HEADERS)) reply.header(name, value);
    return payload;
  });
}
