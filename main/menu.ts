import { Menu, type MenuItemConstructorOptions } from 'electron';
import { buildMenu, type MenuCommand, type MenuItemSpec, type MenuOptions } from '../app/desktop/menu.ts';

function toElectron(item: MenuItemSpec, run: (command: MenuCommand) => void): MenuItemConstructorOptions {
  const { command, submenu, ...rest } = item;
  return {
    ...rest,
    ...(submenu ? { submenu: submenu.map((child) => toElectron(child, run)) } : {}),
    ...(command ? { click: () => run(command) } : {}),
  };
}

/** Installs the application menu built from app/desktop/menu.ts; `run` performs its commands. */
export function installMenu(options: MenuOptions, run: (command: MenuCommand) => void): void {
  Menu.setApplicationMenu(Menu.buildFromTemplate(buildMenu(options).map((item) => toElectron(item, run))));
}
