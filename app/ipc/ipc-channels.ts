// The only two Electron IPC channels: the preload invokes on one and listens on the other. Kept apart from the
// contract so the sandboxed preload's bundle carries these two strings and nothing else of app/.

/** `ipcRenderer.invoke(INVOKE_CHANNEL, method, input)` → the main process's guard → the engine. */
export const INVOKE_CHANNEL = 'keepsake:invoke';
/** `webContents.send(EVENT_CHANNEL, pushEvent)`: engine → window push events. */
export const EVENT_CHANNEL = 'keepsake:event';
