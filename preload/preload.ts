import { contextBridge, ipcRenderer } from 'electron';
import type { KeepsakeBridge } from '../app/ipc/bridge.ts';
import type { PushEvent, Result } from '../app/ipc/contract.ts';
import { EVENT_CHANNEL, INVOKE_CHANNEL } from '../app/ipc/ipc-channels.ts';

// Exposes exactly window.keepsake = { invoke, on }. ipcRenderer itself never reaches the page: it could send on
// any channel. One listener on the event channel fans push events out to the page's listeners by name.

type Listener = (payload: unknown) => void;
const listeners = new Map<string, Set<Listener>>();

ipcRenderer.on(EVENT_CHANNEL, (_event, message: PushEvent) => {
  for (const listener of listeners.get(message.event) ?? []) {
    try {
      listener(message.payload);
    } catch (error) {
      // One failing listener must not starve the others; the page still sees its error.
      setTimeout(() => {
        throw error;
      });
    }
  }
});

const unreachable: Result = { ok: false, error: { code: 'internal', message: 'The library did not answer.', hint: 'Restart Keepsake; nothing already saved is lost.' } };

const keepsake: KeepsakeBridge = {
  invoke: (method, input) => ipcRenderer.invoke(INVOKE_CHANNEL, method, input).catch(() => unreachable),
  on: (event, listener) => {
    const set = listeners.get(event) ?? new Set<Listener>();
    listeners.set(event, set);
    const entry = listener as Listener;
    set.add(entry);
    return () => void set.delete(entry);
  },
};

contextBridge.exposeInMainWorld('keepsake', keepsake);
