import { createReadStream } from 'node:fs';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { AppError, toAppError } from '../shared/errors.ts';
import type { ContentHash } from '../shared/ids.ts';
import { createContentHasher, hashFile, READ_CHUNK } from './content-hash.ts';

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

/** Result of a verified copy. */
export interface VerifiedCopy {
  hash: ContentHash;
  size: number;
}

/**
 * Copies `source` to every destination, reading the source once while hashing it, then fsyncs each
 * copy, re-reads it and compares hashes before renaming it into place. A destination is never seen
 * half-written: on any failure the temporary files are removed and nothing is renamed.
 */
export async function copyVerified(
  source: string,
  destinations: readonly string[],
  options: { signal?: AbortSignal; onBytes?: (bytes: number) => void; expectedHash?: ContentHash } = {},
): Promise<VerifiedCopy> {
  const before = await statOrThrow(source);
  const temps = destinations.map(tempPathFor);
  const handles: FileHandle[] = [];
  try {
    for (const temp of temps) handles.push(await openForWrite(temp));
    const hasher = await createContentHasher();
    let size = 0;
    const stream = createReadStream(source, { highWaterMark: READ_CHUNK, signal: options.signal });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        hasher.update(chunk);
        size += chunk.length;
        await Promise.all(handles.map((handle, index) => writeAll(handle, chunk, temps[index]!)));
        options.onBytes?.(chunk.length);
      }
    } catch (error) {
      throw readError(error, source, options.signal);
    }
    const hash = hasher.digest('hex') as ContentHash;
    await Promise.all(handles.map((handle) => handle.sync()));
    await Promise.all(handles.map((handle) => handle.close()));
    handles.length = 0;

    const after = await statOrThrow(source);
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || size !== before.size) {
      throw new AppError('io', `${source} changed while it was being read; import it again once whatever is writing it has finished.`);
    }
    if (options.expectedHash && options.expectedHash !== hash) {
      throw new AppError('io', `${source} changed since it was first read; import it again once whatever is writing it has finished.`);
    }
    for (const temp of temps) {
      const copy = await hashFile(temp, { signal: options.signal });
      if (copy.hash !== hash || copy.size !== size) {
        throw new AppError('io', `The copy of ${source} at ${temp} does not match the original (the destination disk may be failing).`);
      }
    }
    for (const [index, temp] of temps.entries()) await rename(temp, destinations[index]!);
    await Promise.all([...new Set(destinations.map((file) => path.dirname(file)))].map(syncDirectory));
    return { hash, size };
  } catch (error) {
    await Promise.all(handles.map((handle) => handle.close().catch(() => undefined)));
    await Promise.all(temps.map((temp) => rm(temp, { force: true }).catch(() => undefined)));
    throw error;
  }
}

async function statOrThrow(file: string): Promise<{ size: number; mtimeMs: number }> {
  try {
    return await stat(file);
  } catch (error) {
    throw toAppError(error, file);
  }
}

async function openForWrite(file: string): Promise<FileHandle> {
  try {
    // A leftover from a crash is ours to overwrite; 'w' truncates it.
    return await open(file, 'w');
  } catch (error) {
    throw toAppError(error, `Cannot write ${file}`);
  }
}

async function writeAll(handle: FileHandle, chunk: Buffer, file: string): Promise<void> {
  try {
    let offset = 0;
    while (offset < chunk.length) {
      const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
      offset += bytesWritten;
    }
  } catch (error) {
    throw toAppError(error, `Cannot write ${file}`);
  }
}

function readError(error: unknown, source: string, signal: AbortSignal | undefined): AppError {
  if (signal?.aborted || (error as { name?: string }).name === 'AbortError') return new AppError('cancelled', 'The import was cancelled.');
  if (error instanceof AppError) return error;
  return toAppError(error, `Cannot read ${source}`);
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

/** Writes a small file atomically: temp file, fsync, rename, fsync of the folder. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const temp = tempPathFor(file);
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  await syncDirectory(path.dirname(file));
}
