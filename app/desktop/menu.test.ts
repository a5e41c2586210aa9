import { describe, expect, it } from 'vitest';
import { buildMenu, flattenMenu, MENU_COMMANDS } from './menu.ts';

const PLATFORMS = ['darwin', 'win32', 'linux'] as const;

describe(buildMenu.name, () => {
  it('offers every command exactly once on every platform', () => {
    for (const platform of PLATFORMS) {
      const items = flattenMenu(buildMenu({ platform, appName: 'Keepsake', development: false }));
      const commands = items.flatMap((item) => (item.command ? [item.command] : []));
      expect([...commands].sort(), platform).toEqual([...MENU_COMMANDS].sort());
    }
  });

  it('gives no two items the same shortcut', () => {
    for (const platform of PLATFORMS) {
      const accelerators = flattenMenu(buildMenu({ platform, appName: 'Keepsake', development: true })).flatMap((item) => (item.accelerator ? [item.accelerator] : []));
      expect(new Set(accelerators).size, platform).toBe(accelerators.length);
    }
  });

  it('imports from a folder with Ctrl/Cmd+I', () => {
    const item = flattenMenu(buildMenu({ platform: 'linux', appName: 'Keepsake', development: false })).find((entry) => entry.command === 'import-folder');
    expect(item).toEqual({ label: 'Import from Folder…', command: 'import-folder', accelerator: 'CmdOrCtrl+I' });
  });

  it('puts About, updates and Quit in the app menu on macOS and Exit under File elsewhere', () => {
    const mac = buildMenu({ platform: 'darwin', appName: 'Keepsake', development: false });
    expect(mac[0]?.label).toBe('Keepsake');
    expect(mac[0]?.submenu?.map((item) => item.role ?? item.command ?? item.type)).toEqual(['about', 'check-for-updates', 'separator', 'services', 'separator', 'hide', 'hideOthers', 'unhide', 'separator', 'quit']);
    const windows = buildMenu({ platform: 'win32', appName: 'Keepsake', development: false });
    expect(windows.map((item) => item.label)).toEqual(['&File', '&Edit', '&View', '&Window', '&Help']);
    expect(windows[0]?.submenu?.at(-1)).toEqual({ label: 'E&xit', role: 'quit', accelerator: 'Ctrl+Q' });
  });

  it('leaves developer tools and reload out of the shipped app', () => {
    const roles = (development: boolean) => flattenMenu(buildMenu({ platform: 'linux', appName: 'Keepsake', development })).map((item) => item.role);
    expect(roles(false)).not.toContain('toggleDevTools');
    expect(roles(false)).not.toContain('reload');
    expect(roles(true)).toContain('toggleDevTools');
  });
});
