import { mkdir, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CATALOG_FILE, KEEPSAKE_DIR } from '../catalog/database.ts';
import { writeFileAtomic } from '../fs/durable-files.ts';
import type { RecentLibrary } from './contract.ts';

/** How many libraries the list remembers. */
export const MAX_RECENT = 10;
const FILE_NAME = 'recent-libraries.json';

/**
 * Keepsake's per-user settings folder: `$KEEPSAKE_CONFIG_DIR` if set, else the platform's place for it
 * (`%APPDATA%\Keepsake`, `~/Library/Application Support/Keepsake`, `$XDG_CONFIG_HOME/keepsake`).
 */
export function userConfigDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.KEEPSAKE_CONFIG_DIR) return path.resolve(env.KEEPSAKE_CONFIG_DIR);
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(os.homedir(), 'AppData', 'Roaming'), 'Keepsake');
  if (platform === 'darwin') return path.join(os.homedir(), 'Library', 'Application Support', 'Keepsake');
  return path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'keepsake');
}

/** True when `folder` holds a Keepsake catalog. */
export async function isLibrary(folder: string): Promise<boolean> {
  return stat(path.join(folder, KEEPSAKE_DIR, CATALOG_FILE)).then(
    (info) => info.isFile(),
    () => false,
  );
}

interface Stored {
  version: 1;
  libraries: Array<{ path: string; name: string; openedAt: string }>;
}

/** The libraries opened on this computer, most recent first, kept in one small JSON file written atomically. */
export class RecentLibraries {
  readonly file: string;
  // Writes are chained so two opens in quick succession cannot lose each other's entry.
  private writing: Promise<void> = Promise.resolve();

  constructor(configDir: string = userConfigDir()) {
    this.file = path.join(configDir, FILE_NAME);
  }

  /** The list, each entry marked unavailable when its catalog is not there now. */
  async list(): Promise<RecentLibrary[]> {
    await this.writing;
    const stored = await this.read();
    return Promise.all(stored.map(async (entry) => ({ ...entry, available: await isLibrary(entry.path) })));
  }

  /** Puts `library` first (once). */
  remember(library: { path: string; name: string }, now: Date = new Date()): Promise<void> {
    const next = this.writing.then(async () => {
      const rest = (await this.read()).filter((entry) => entry.path !== library.path);
      const stored: Stored = { version: 1, libraries: [{ path: library.path, name: library.name, openedAt: now.toISOString() }, ...rest].slice(0, MAX_RECENT) };
      await mkdir(path.dirname(this.file), { recursive: true });
      await writeFileAtomic(this.file, `${JSON.stringify(stored, null, 2)}\n`);
    });
    // A failed write must not stop the next one; the caller still hears about this one.
    this.writing = next.catch(() => undefined);
    return next;
  }

  private async read(): Promise<Stored['libraries']> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      return [];
    }
    try {
      const parsed = JSON.parse(text) as Partial<Stored>;
      if (!Array.isArray(parsed.libraries)) return [];
      // The file is the user's to edit or damage: keep only well-formed entries.
      return parsed.libraries.filter(
        (entry): entry is Stored['libraries'][number] =>
          typeof entry === 'object' && entry !== null && typeof entry.path === 'string' && path.isAbsolute(entry.path) && typeof entry.name === 'string' && typeof entry.openedAt === 'string',
      );
    } catch {
      return [];
    }
  }
}
