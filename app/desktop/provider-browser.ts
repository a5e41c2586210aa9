// Opening the school's sign-in page in the system browser. The window never gets a general "open this URL"
// power: when `sync:providerStart` passes through the main process and succeeds, the main process itself opens
// the URL the engine answered, and only when it is an http(s) address of the sync service the window asked for.

import type { CallTarget } from '../ipc/ipc-guard.ts';

/**
 * The URL to open for a started sign-in, or null when it must not be opened: not http(s), carrying credentials,
 * or not under `serverUrl` (the service the window asked to sign in at).
 */
export function providerUrlToOpen(url: unknown, serverUrl: string): string | null {
  if (typeof url !== 'string') return null;
  let parsed: URL;
  let server: URL;
  try {
    parsed = new URL(url);
    server = new URL(serverUrl.trim());
  } catch {
    return null;
  }
  const web = (u: URL): boolean => (u.protocol === 'https:' || u.protocol === 'http:') && u.username === '' && u.password === '';
  if (!web(parsed) || !web(server)) return null;
  const base = `${server.origin}${server.pathname.replace(/\/+$/, '')}/`;
  return parsed.href.startsWith(base) ? parsed.href : null;
}

/**
 * Wraps the main process's call target: a successful `sync:providerStart` has its URL opened by `open` (the
 * system browser) and answers `opened: true`, or `opened: false` when the browser could not be started (the
 * window then shows the link). A URL that is not the service's is neither opened nor handed on: the sign-in is
 * cancelled and the call refused.
 */
export function openProviderSignIn(target: CallTarget, open: (url: string) => Promise<void>): CallTarget {
  return {
    async call(method, input) {
      const result = await target.call(method, input);
      if (method !== 'sync:providerStart' || !result.ok) return result;
      const value = result.value as { url?: unknown; opened?: boolean };
      const url = providerUrlToOpen(value.url, (input as { serverUrl: string }).serverUrl);
      if (url === null) {
        await target.call('sync:providerCancel', {}).catch(() => undefined);
        return { ok: false, error: { code: 'forbidden', message: 'Keepsake did not open the sign-in page: its address is not on the sync service you named.' } };
      }
      const opened = await open(url).then(
        () => true,
        () => false,
      );
      return { ok: true, value: { ...value, opened } };
    },
  };
}
