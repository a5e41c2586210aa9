import { readdir, readFile, open } from 'node:fs/promises';

// Helpers for tests of folder watching; timing-dependent checks poll for their condition instead of sleeping.

/** Polls `check` until it returns a truthy value (returned) or `timeoutMs` passes (throws with `what`). */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000, intervalMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Writes `data` to `file` in `chunks` pieces with `gapMs` between them, like a camera or a copy over a slow link. */
export async function writeSlowly(file: string, data: Uint8Array, options: { chunks: number; gapMs: number; onChunk?: (written: number) => void | Promise<void> }): Promise<void> {
  const handle = await open(file, 'w');
  try {
    const size = Math.ceil(data.length / options.chunks);
    for (let offset = 0; offset < data.length; offset += size) {
      await handle.write(data, offset, Math.min(size, data.length - offset));
      await handle.sync();
      await options.onChunk?.(Math.min(offset + size, data.length));
      if (offset + size < data.length) await sleep(options.gapMs);
    }
  } finally {
    await handle.close();
  }
}

/** inotify watches held by this process (Linux: `inotify wd:` lines of /proc/self/fdinfo), or null elsewhere. */
export async function countInotifyWatches(pid: number | 'self' = 'self'): Promise<number | null> {
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fdinfo`);
  } catch {
    return null;
  }
  let count = 0;
  for (const fd of fds) {
    const text = await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8').catch(() => '');
    for (const line of text.split('\n')) if (line.startsWith('inotify wd:')) count++;
  }
  return count;
}
