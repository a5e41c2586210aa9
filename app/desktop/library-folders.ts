import path from 'node:path';
import type { Result } from '../ipc/contract.ts';

/** The folders the File menu shows: the library itself, and its logs. */
export type LibraryFolder = 'library' | 'logs';

/**
 * The folder of the library open *now*, asked of the engine at the moment the menu is used: the window can open
 * another library at any time (first run, the recent list), so a root remembered at start would go stale.
 * Null when no library is open (first run) or the engine does not answer.
 */
export async function currentLibraryFolder(call: (method: 'library:info', input: object) => Promise<Result>, which: LibraryFolder): Promise<string | null> {
  const result = await call('library:info', {});
  if (!result.ok) return null;
  const { root } = result.value as { root: string };
  return which === 'library' ? root : path.join(root, '.keepsake', 'logs');
}
