import { app, dialog, Notification, session, shell, type BrowserWindow } from 'electron';
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { readLaunchArguments } from '../app/desktop/launch-arguments.ts';
import { currentLibraryFolder } from '../app/desktop/library-folders.ts';
import type { MenuCommand } from '../app/desktop/menu.ts';
import { ImportNotifier, trackImports } from '../app/desktop/notifications.ts';
import { EngineStartError } from '../app/ipc/engine-channel.ts';
import { APP_ORIGIN, createIpcGuard, isAppUrl } from '../app/ipc/ipc-guard.ts';
import { EVENT_CHANNEL } from '../app/ipc/ipc-channels.ts';
import { createLogger, fileSink } from '../app/log/logger.ts';
import { openSignInInBrowser } from './browser.ts';
import { startEngine, type EngineHandle } from './engine-client.ts';
import { safeStorageKeeper } from './safe-storage.ts';
import { registerIpc } from './ipc.ts';
import { installMenu } from './menu.ts';
import { registerAppScheme, serveAppScheme } from './protocol.ts';
import { createUpdater } from './updater.ts';
import { createAppWindow, hardenSession, lockDown } from './window.ts';

// The main process stays thin: it owns the window, the menu and the OS integrations; every decision is made in
// app/ (tested under plain Node) and all library work happens in the engine's utility process.

const PARTITION = 'persist:keepsake';
// dist/main/main.cjs → the repository (or app.asar) root.
const ROOT = path.resolve(__dirname, '..', '..');
const log = createLogger('main', fileSink(path.join(app.getPath('logs'), 'main.log')));

let window: BrowserWindow | null = null;
let engine: EngineHandle | null = null;
let quitting = false;
const notifier = new ImportNotifier();

app.enableSandbox();
registerAppScheme();
app.on('web-contents-created', (_event, contents) => lockDown(contents));

if (!app.requestSingleInstanceLock()) {
  // Another Keepsake already has the library open: it gets our command line (second-instance) and we leave.
  app.quit();
} else {
  app.on('second-instance', (_event, argv, workingDirectory) => {
    focusWindow();
    const { source } = readLaunchArguments(argv, { cwd: workingDirectory, packaged: app.isPackaged });
    if (source) void offerFolder(source);
  });
  app.on('open-file', (event, file) => {
    event.preventDefault();
    void offerFolder(file);
  });
  void app.whenReady().then(start).catch((error: unknown) => {
    log.error('start failed', { error });
    dialog.showErrorBox('Keepsake could not start', error instanceof Error ? error.message : String(error));
    app.exit(1);
  });
}

function focusWindow(): void {
  if (!window) return;
  if (window.isMinimized()) window.restore();
  window.show();
  window.focus();
}

async function offerFolder(folder: string): Promise<void> {
  const isFolder = await stat(folder).then((found) => found.isDirectory(), () => false);
  if (isFolder) engine?.client.offerSource(folder);
}

async function start(): Promise<void> {
  // Without KEEPSAKE_LIBRARY the engine reopens the most recent library, or the window starts on first run.
  const libraryPath = process.env.KEEPSAKE_LIBRARY ? path.resolve(process.env.KEEPSAKE_LIBRARY) : null;
  engine = await startEngine({
    entry: path.join(ROOT, 'dist', 'engine', 'engine-process.mjs'),
    libraryPath,
    resourcesPath: app.isPackaged ? process.resourcesPath : null,
    log,
    // The refresh token and any access key go to the OS keychain, never to files in the library.
    secrets: safeStorageKeeper(path.join(app.getPath('userData'), 'secrets'), (name) => createHash('sha256').update(name).digest('hex').slice(0, 32)),
    onUnexpectedExit: () => {
      if (quitting) return;
      dialog.showErrorBox('Keepsake stopped working', 'The library engine stopped. Keepsake will close; nothing already saved is lost. Open it again to carry on.');
      app.exit(1);
    },
  });
  try {
    await engine.client.ready;
  } catch (error) {
    const message = error instanceof EngineStartError ? error.error.message : String(error);
    dialog.showErrorBox('Keepsake could not open the library', `${libraryPath ?? 'The most recent library'}\n\n${message}`);
    app.exit(1);
    return;
  }
  const client = engine.client;

  const appSession = session.fromPartition(PARTITION);
  hardenSession(appSession);
  serveAppScheme(appSession, { staticDir: path.join(ROOT, 'renderer', 'dist'), resolveMedia: (id, variant) => client.resolveMedia(id, variant) });
  registerIpc(createIpcGuard(openSignInInBrowser(trackImports(client, notifier))), () => window?.webContents ?? null);
  client.subscribe((event) => {
    const contents = window?.webContents;
    // Events go to the app's own page only, never to whatever a window might have been pointed at.
    if (contents && !contents.isDestroyed() && isAppUrl(contents.getURL())) contents.send(EVENT_CHANNEL, event);
    if (event.event === 'import:finished' && Notification.isSupported()) {
      const text = notifier.finished(event.payload);
      const notification = new Notification({ title: text.title, body: text.body });
      notification.on('click', focusWindow);
      notification.show();
    }
  });

  const updater = createUpdater({ version: app.getVersion(), packaged: app.isPackaged, resourcesPath: process.resourcesPath, window: () => window, log: log.child('updates') });
  const run = (command: MenuCommand): void => {
    switch (command) {
      case 'import-folder':
        void (window ? dialog.showOpenDialog(window, { title: 'Import from Folder', properties: ['openDirectory'] }) : dialog.showOpenDialog({ properties: ['openDirectory'] })).then((picked) => {
          if (!picked.canceled && picked.filePaths[0]) void offerFolder(picked.filePaths[0]);
        });
        break;
      case 'open-library-folder':
      case 'open-logs':
        void currentLibraryFolder((method, input) => client.call(method, input), command === 'open-logs' ? 'logs' : 'library').then((folder) => {
          if (folder) void shell.openPath(folder);
        });
        break;
      case 'check-for-updates':
        void updater.check(true);
        break;
    }
  };
  installMenu({ platform: process.platform, appName: app.getName(), development: !app.isPackaged }, run);

  openWindow();
  app.on('activate', () => {
    if (!window) openWindow();
  });
  const { source } = readLaunchArguments(process.argv, { cwd: process.cwd(), packaged: app.isPackaged });
  if (source) window?.webContents.once('did-finish-load', () => void offerFolder(source));
  setTimeout(() => void updater.check(false), 10_000).unref();
}

function openWindow(): void {
  window = createAppWindow({ session: session.fromPartition(PARTITION), preload: path.join(ROOT, 'dist', 'preload', 'preload.cjs'), url: `${APP_ORIGIN}/index.html` });
  window.on('closed', () => (window = null));
}

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

app.on('before-quit', (event) => {
  if (quitting || !engine) return;
  // Finish what the engine is writing (the catalog, a file being copied) before the process goes.
  event.preventDefault();
  quitting = true;
  void engine.stop().finally(() => app.quit());
});
