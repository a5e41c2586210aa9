// The application menu as data: the main process turns it into Electron's Menu, tests read it directly.

/** What a menu item asks the main process to do (anything else is an Electron role). */
export const MENU_COMMANDS = ['import-folder', 'open-library-folder', 'open-logs', 'check-for-updates'] as const;
/** One of {@link MENU_COMMANDS}. */
export type MenuCommand = (typeof MENU_COMMANDS)[number];

/** Electron's built-in behaviours the menu uses (a subset of MenuItemConstructorOptions['role']). */
export type MenuRole =
  | 'about' | 'services' | 'hide' | 'hideOthers' | 'unhide' | 'quit' | 'close'
  | 'undo' | 'redo' | 'cut' | 'copy' | 'paste' | 'selectAll'
  | 'reload' | 'forceReload' | 'toggleDevTools' | 'resetZoom' | 'zoomIn' | 'zoomOut' | 'togglefullscreen'
  | 'minimize' | 'zoom' | 'front';

/** One item of the menu. */
export interface MenuItemSpec {
  label?: string;
  role?: MenuRole;
  command?: MenuCommand;
  accelerator?: string;
  type?: 'separator';
  submenu?: MenuItemSpec[];
}

/** Options of {@link buildMenu}. */
export interface MenuOptions {
  platform: NodeJS.Platform;
  appName: string;
  /** Unpackaged runs get reload and developer tools; the shipped app does not. */
  development: boolean;
}

const separator: MenuItemSpec = { type: 'separator' };

/** The application menu for a platform: macOS gets its app menu, the others keep Quit under File. */
export function buildMenu(options: MenuOptions): MenuItemSpec[] {
  const mac = options.platform === 'darwin';
  const updates: MenuItemSpec = { label: 'Check for Updates…', command: 'check-for-updates' };
  const file: MenuItemSpec = {
    label: '&File',
    submenu: [
      { label: 'Import from Folder…', command: 'import-folder', accelerator: 'CmdOrCtrl+I' },
      separator,
      { label: 'Show Library Folder', command: 'open-library-folder', accelerator: 'CmdOrCtrl+Shift+L' },
      separator,
      mac ? { role: 'close' } : { label: 'E&xit', role: 'quit', accelerator: 'Ctrl+Q' },
    ],
  };
  const edit: MenuItemSpec = {
    label: '&Edit',
    submenu: [{ role: 'undo' }, { role: 'redo' }, separator, { role: 'cut' }, { role: 'copy' }, { role: 'paste' }, { role: 'selectAll' }],
  };
  const view: MenuItemSpec = {
    label: '&View',
    submenu: [
      ...(options.development ? [{ role: 'reload' } as const, { role: 'forceReload' } as const, { role: 'toggleDevTools' } as const, separator] : []),
      { role: 'resetZoom' },
      { role: 'zoomIn' },
      { role: 'zoomOut' },
      separator,
      { role: 'togglefullscreen' },
    ],
  };
  const window: MenuItemSpec = { label: '&Window', submenu: mac ? [{ role: 'minimize' }, { role: 'zoom' }, separator, { role: 'front' }] : [{ role: 'minimize' }, { role: 'close' }] };
  const help: MenuItemSpec = {
    label: '&Help',
    submenu: [...(mac ? [] : [updates, separator]), { label: 'Show Logs', command: 'open-logs' }, ...(mac ? [] : [{ label: `About ${options.appName}`, role: 'about' } as const])],
  };
  if (!mac) return [file, edit, view, window, help];
  const appMenu: MenuItemSpec = {
    label: options.appName,
    submenu: [{ role: 'about' }, updates, separator, { role: 'services' }, separator, { role: 'hide' }, { role: 'hideOthers' }, { role: 'unhide' }, separator, { role: 'quit' }],
  };
  return [appMenu, file, edit, view, window, help];
}

/** Every item of a menu, depth first (for lookups and checks). */
export function flattenMenu(items: readonly MenuItemSpec[]): MenuItemSpec[] {
  return items.flatMap((item) => [item, ...flattenMenu(item.submenu ?? [])]);
}
