import { access, open, rename } from 'node:fs/promises';
import path from 'node:path';

/** Suffix of files being written; a crash leaves them behind and the next import removes them. */
export const TEMP_MARKER = '.keepsake-tmp';

/** The temporary name a destination is written under before it is renamed into place. */
export function tempPathFor(destination: string): string {
  return path.join(path.dirname(destination), `.${path.basename(destination)}${TEMP_MARKER}`);
}

/** Whether a file name is one of our temporary files. */
export function isTempFile(name: string): boolean {
  return name.endsWith(TEMP_MARKER);
}

/** Makes a rename durable: on Linux a rename is only on disk once its folder is fsynced. */
export async function syncDirectory(directory: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes a small file atomically: temp file, fsync, rename, fsync of the folder. `mode` is the new file's
 * permissions (0o600 for a secret: the temp file has them from its creation, so the secret is never readable).
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, options: { mode?: number } = {}): Promise<void> {
  const temp = tempPathFor(file);
  const handle = await open(temp, 'w', options.mode ?? 0o666);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  await syncDirectory(path.dirname(file));
}

/** Whether a path exists (and can be seen by this process). */
export async function fileExists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
