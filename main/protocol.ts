import { protocol, type Session } from 'electron';
import { createAppProtocolHandler, type AppProtocolOptions } from '../app/ipc/app-protocol.ts';
import { APP_SCHEME } from '../app/ipc/ipc-guard.ts';

/**
 * Declares `keepsake:` standard (real origin, relative URLs resolve), secure (like https), able to stream (video
 * seeking) and to serve fetch. Must run before the app is ready.
 */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true, codeCache: true } }]);
}

/** Serves `keepsake://app/...` in `session`: the renderer's build and media by asset id (see app/ipc/app-protocol.ts). */
export function serveAppScheme(session: Session, options: AppProtocolOptions): void {
  const handle = createAppProtocolHandler(options);
  session.protocol.handle(APP_SCHEME, (request) => handle({ url: request.url, method: request.method, range: request.headers.get('range'), ifNoneMatch: request.headers.get('if-none-match') }));
}
