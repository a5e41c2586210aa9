import { ipcMain, type WebContents } from 'electron';
import type { IpcGuard, IpcSender } from '../app/ipc/ipc-guard.ts';
import { INVOKE_CHANNEL } from '../app/ipc/ipc-channels.ts';

/**
 * Registers the one IPC handler: every `window.keepsake.invoke` arrives here and goes through the guard, which
 * checks the sender frame and parses the input with the contract before anything reaches the engine.
 */
export function registerIpc(guard: IpcGuard, window: () => WebContents | null): () => void {
  // eslint-disable-next-line no-restricted-syntax -- this is the wrapper the rule points everyone else to
  ipcMain.handle(INVOKE_CHANNEL, (event, method: unknown, input: unknown) => {
    const frame = event.senderFrame;
    // Only the app's own window; a frame that navigated away or was destroyed has no say.
    const sender: IpcSender | null = frame && event.sender === window() ? { url: frame.url, topLevel: frame.parent === null } : null;
    return guard.handle(sender, method, input);
  });
  return () => ipcMain.removeHandler(INVOKE_CHANNEL);
}
