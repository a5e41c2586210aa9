import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir, type TempDir } from '../test/fixtures.ts';
import { countInotifyWatches, waitFor, writeSlowly } from '../test/watch-helpers.ts';
import { watchFolders, type FolderWatch } from './folder-watcher.ts';

let dir: TempDir;
let watches: FolderWatch[];
beforeEach(async () => {
  dir = await tempDir('keepsake-folder-watch-');
  watches = [];
});
afterEach(async () => {
  for (const watch of watches) await watch.close();
  await dir.cleanup();
});

interface Seen {
  add: string[];
  change: string[];
  unlink: string[];
  error: string[];
}

async function watch(roots: string[], stabilityMs = 300): Promise<{ watch: FolderWatch; seen: Seen }> {
  const seen: Seen = { add: [], change: [], unlink: [], error: [] };
  const handle = await watchFolders(
    roots,
    {
      add: (file) => seen.add.push(file),
      change: (file) => seen.change.push(file),
      unlink: (file) => seen.unlink.push(file),
      error: (_error, folder) => seen.error.push(folder),
    },
    { stabilityMs, pollMs: 50, rescanMs: 200 },
  );
  watches.push(handle);
  return { watch: handle, seen };
}

describe('watchFolders', () => {
  it('uses one OS watch per folder, not per file', async () => {
    const folders = 20;
    for (let f = 0; f < folders; f++) {
      await mkdir(dir.join('event', `folder-${f}`), { recursive: true });
      await Promise.all(Array.from({ length: 100 }, (_, i) => writeFile(dir.join('event', `folder-${f}`, `IMG_${i}.jpg`), '')));
    }
    const before = await countInotifyWatches();
    const { watch: handle } = await watch([dir.join('event')]);
    const after = await countInotifyWatches();
    expect(handle.files()).toHaveLength(2000);
    expect(handle.osWatches()).toBe(folders + 1);
    if (before !== null && after !== null) expect(after - before).toBeLessThanOrEqual(folders + 1);
    await handle.close();
    const closed = await countInotifyWatches();
    if (before !== null && closed !== null) expect(closed).toBe(before);
  });

  it('reports a file once, after its last write', async () => {
    await mkdir(dir.join('event'));
    const { seen } = await watch([dir.join('event')]);
    const file = dir.join('event', 'frame.jpg');
    let reportedEarly = false;
    await writeSlowly(file, Buffer.alloc(100_000, 7), { chunks: 8, gapMs: 100, onChunk: () => void (reportedEarly ||= seen.add.length > 0) });
    await waitFor(() => seen.add.length > 0, 'the add');
    expect(reportedEarly).toBe(false);
    expect(seen.add).toEqual([file]);
    await writeFile(file, 'rewritten');
    await waitFor(() => seen.change.length > 0, 'the change');
    expect(seen).toEqual({ add: [file], change: [file], unlink: [], error: [] });
  });

  it('reports a deleted file, and the files of a folder moved away', async () => {
    await mkdir(dir.join('event', 'sub'), { recursive: true });
    await writeFile(dir.join('event', 'a.jpg'), 'a');
    await writeFile(dir.join('event', 'sub', 'b.jpg'), 'b');
    const { seen } = await watch([dir.join('event')]);
    await rm(dir.join('event', 'a.jpg'));
    await rename(dir.join('event', 'sub'), dir.join('elsewhere'));
    await waitFor(() => seen.unlink.length === 2, 'two unlinks');
    expect(seen.unlink.sort()).toEqual([dir.join('event', 'a.jpg'), dir.join('event', 'sub', 'b.jpg')]);
  });

  it('follows a subfolder renamed within the tree', async () => {
    await mkdir(dir.join('event', 'day 2'), { recursive: true });
    await writeFile(dir.join('event', 'day 2', 'a.jpg'), 'a');
    const { seen } = await watch([dir.join('event')]);
    await rename(dir.join('event', 'day 2'), dir.join('event', 'Day 2 (phone)'));
    await waitFor(() => seen.add.length === 1 && seen.unlink.length === 1, 'the unlink and add of the renamed folder');
    expect(seen).toMatchObject({ unlink: [dir.join('event', 'day 2', 'a.jpg')], add: [dir.join('event', 'Day 2 (phone)', 'a.jpg')] });
    await writeFile(dir.join('event', 'Day 2 (phone)', 'b.jpg'), 'b');
    await waitFor(() => seen.add.length === 2, 'a file created in the renamed folder');
    expect(seen.add[1]).toBe(dir.join('event', 'Day 2 (phone)', 'b.jpg'));
  });

  it('reports a vanished root as an error and watches it again when it is back', async () => {
    await mkdir(dir.join('event'));
    await writeFile(dir.join('event', 'a.jpg'), 'a');
    const { watch: handle, seen } = await watch([dir.join('event')]);
    await rm(dir.join('event'), { recursive: true });
    await waitFor(() => seen.error.length === 1, 'the error');
    expect(seen).toMatchObject({ error: [dir.join('event')], unlink: [dir.join('event', 'a.jpg')] });
    expect(handle.osWatches()).toBe(0);
    await mkdir(dir.join('event'));
    await writeFile(dir.join('event', 'b.jpg'), 'b');
    await waitFor(() => seen.add.length === 1, 'the file of the returned folder');
    expect(seen.add).toEqual([dir.join('event', 'b.jpg')]);
    expect(handle.osWatches()).toBe(1);
  });

  it('watches a root that does not exist yet once it appears', async () => {
    const { seen } = await watch([dir.join('later')]);
    await mkdir(dir.join('later', 'deep'), { recursive: true });
    await writeFile(path.join(dir.join('later', 'deep'), 'x.jpg'), 'x');
    await waitFor(() => seen.add.length === 1, 'the file');
    expect(seen.add).toEqual([dir.join('later', 'deep', 'x.jpg')]);
  });
});
