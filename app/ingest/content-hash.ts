import { open, type FileHandle } from 'node:fs/promises';
import { createXXHash128, type IHasher } from 'hash-wasm';
import type { ContentHash } from '../shared/ids.ts';

/** Chunk size for reads: large enough that a cold disk streams at full speed (measured: 4 MiB ≈ 2× 1 MiB). */
export const READ_CHUNK = 1 * 1024 * 1024;

// Reads go into reused buffers: a fresh 4 MiB buffer per chunk (as a read stream allocates) costs page faults
// and GC, and measured 4.5× slower than hashing into a reused one.
const pool: Buffer[] = [];
const POOL_MAX = 8;

/** Lends a {@link READ_CHUNK} buffer; give it back with {@link releaseBuffer}. */
export function acquireBuffer(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafe(READ_CHUNK);
}

/** Returns a buffer lent by {@link acquireBuffer}. */
export function releaseBuffer(buffer: Buffer): void {
  if (pool.length < POOL_MAX) pool.push(buffer);
}

/**
 * A streaming hasher for content identity. XXH3-128 (hash-wasm): several GB/s here, so any disk is the
 * bottleneck, and 128 bits make an accidental collision across a school's whole archive negligible.
 * Its hex digest matches `xxhsum -H2`, so a manifest can be checked with standard tools.
 */
export async function createContentHasher(): Promise<IHasher> {
  const hasher = await createXXHash128();
  hasher.init();
  return hasher;
}

/**
 * Reads a file once, chunk by chunk into a reused buffer, handing each chunk to `onChunk` (which must be
 * done with it when its promise settles). Returns the content hash and size.
 */
export async function readHashed(
  file: string | FileHandle,
  options: { signal?: AbortSignal; onChunk?: (chunk: Buffer) => Promise<void> | void } = {},
): Promise<{ hash: ContentHash; size: number }> {
  const handle = typeof file === 'string' ? await open(file, 'r') : file;
  const buffer = acquireBuffer();
  try {
    const hasher = await createContentHasher();
    let size = 0;
    for (;;) {
      options.signal?.throwIfAborted();
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      hasher.update(chunk);
      size += bytesRead;
      if (options.onChunk) await options.onChunk(chunk);
    }
    return { hash: hasher.digest('hex') as ContentHash, size };
  } finally {
    releaseBuffer(buffer);
    if (typeof file === 'string') await handle.close();
  }
}

/** Hashes a file's content. */
export async function hashFile(file: string, options: { signal?: AbortSignal } = {}): Promise<{ hash: ContentHash; size: number }> {
  return readHashed(file, options);
}
