import { BrowserWindow, shell, type Session, type WebContents } from 'electron';
import { decideNavigation } from '../app/desktop/window-policy.ts';
import { APP_CSP } from '../app/ipc/app-protocol.ts';
import { APP_SCHEME } from '../app/ipc/ipc-guard.ts';

/** Options of {@link createAppWindow}. */
export interface AppWindowOptions {
  session: Session;
  preload: string;
  url: string;
}

/** Applies the navigation rules to any web contents: nothing navigates, nothing opens, https goes to the browser. */
export function lockDown(contents: WebContents): void {
  const external = (url: string): void => {
    const decision = decideNavigation(url);
    if (decision.action === 'open-external') void shell.openExternal(decision.url);
  };
  contents.on('will-navigate', (event) => {
    event.preventDefault();
    external(event.url);
  });
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    external(url);
    return { action: 'deny' };
  });
}

/**
 * Denies every permission (camera, notifications from the page, geolocation, HID, serial…), sends the strict CSP as
 * a header on anything not already carrying it, and cancels every request that is not the app's own scheme.
 */
export function hardenSession(session: Session): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.setDevicePermissionHandler(() => false);
  session.webRequest.onBeforeRequest({ urls: ['<all_urls>'] }, (details, callback) => {
    const scheme = details.url.slice(0, details.url.indexOf(':'));
    callback({ cancel: !(scheme === APP_SCHEME || scheme === 'devtools' || scheme === 'data' || scheme === 'blob') });
  });
  session.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [APP_CSP], 'X-Content-Type-Options': ['nosniff'] } });
  });
}

/** The one place windows are made: sandboxed, isolated, no Node, navigation and window.open denied. */
export function createAppWindow(options: AppWindowOptions): BrowserWindow {
  const window = new BrowserWindow({
    width: 1360,
    height: 860,
    minWidth: 960,
    minHeight: 600,
    show: false,
    title: 'Keepsake',
    backgroundColor: '#1e1f22',
    webPreferences: {
      session: options.session,
      preload: options.preload,
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: false,
    },
  });
  lockDown(window.webContents);
  window.once('ready-to-show', () => window.show());
  void window.loadURL(options.url);
  return window;
}
