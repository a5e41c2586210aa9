import type { KeepsakeBridge } from '../../../app/ipc/bridge.ts';
import type { PushEvent, PushEventName, Result } from '../../../app/ipc/contract.ts';

type Listener = (payload: unknown) => void;

/** Longest wait between two attempts to reopen the event socket. */
const MAX_RECONNECT_MS = 10_000;

/**
 * The browser's `window.keepsake` when the renderer is served by the web host (`keepsake web`): calls go
 * to `POST /rpc/<method>`, push events come over one WebSocket at `/events`, reopened with backoff when it
 * drops. The session cookie (set when the printed link was opened) authenticates both.
 */
export function createWebBridge(target: Pick<Window, 'location'> & { WebSocket: typeof WebSocket; fetch: typeof fetch }): KeepsakeBridge {
  const listeners = new Map<PushEventName, Set<Listener>>();
  let socket: WebSocket | null = null;
  let retryMs = 250;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;

  const open = (): void => {
    if (socket !== null || retryTimer !== null) return;
    const scheme = target.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new target.WebSocket(`${scheme}//${target.location.host}/events`);
    socket = ws;
    ws.addEventListener('open', () => {
      retryMs = 250;
    });
    ws.addEventListener('message', (message: MessageEvent) => {
      let event: PushEvent;
      try {
        event = JSON.parse(String(message.data)) as PushEvent;
      } catch {
        return;
      }
      for (const listener of listeners.get(event.event) ?? []) listener(event.payload);
    });
    ws.addEventListener('close', () => {
      socket = null;
      if (listeners.size === 0) return;
      retryTimer = setTimeout(() => {
        retryTimer = null;
        open();
      }, retryMs);
      retryMs = Math.min(MAX_RECONNECT_MS, retryMs * 2);
    });
  };

  return {
    async invoke(method, input) {
      let response: Response;
      try {
        response = await target.fetch(`/rpc/${method}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(input ?? {}),
          credentials: 'same-origin',
        });
      } catch {
        return { ok: false, error: { code: 'network', message: 'Keepsake is not answering.', hint: 'Check that `keepsake web` is still running, then try again.' } };
      }
      if (response.status === 401) {
        return { ok: false, error: { code: 'unauthorized', message: 'This page is not signed in to Keepsake.', hint: 'Open the address Keepsake printed when it started.' } };
      }
      try {
        return (await response.json()) as Result<never>;
      } catch {
        return { ok: false, error: { code: 'internal', message: `Keepsake answered ${response.status} without a result.` } };
      }
    },
    on(event, listener) {
      let set = listeners.get(event);
      if (set === undefined) listeners.set(event, (set = new Set()));
      set.add(listener as Listener);
      open();
      return () => {
        set.delete(listener as Listener);
        if (set.size === 0) listeners.delete(event);
      };
    },
  };
}

/** Installs the web bridge as `window.keepsake` (only where no preload provided one). */
export function installWebBridge(win: Window & typeof globalThis): void {
  if (win.keepsake !== undefined) return;
  win.keepsake = createWebBridge({ location: win.location, WebSocket: win.WebSocket, fetch: win.fetch.bind(win) });
}
