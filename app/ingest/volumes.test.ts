import { once } from 'node:events';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppError } from '../shared/errors.ts';
import { tempDir, type TempDir } from '../test/fixtures.ts';
import { type CameraCard, countCardMedia, defaultMountRoots, type RemovedVolume, VolumeWatcher } from './volumes.ts';

// A temp folder plays `/media/<user>`: creating a subfolder "mounts" a volume, removing it "unmounts" it.

let dir: TempDir;
let mediaRoot: string;
let watcher: VolumeWatcher | undefined;

beforeEach(async () => {
  dir = await tempDir('keepsake-volumes-');
  mediaRoot = dir.join('media', 'ana');
  await mkdir(mediaRoot, { recursive: true });
});

afterEach(async () => {
  await watcher?.stop();
  watcher = undefined;
  await dir.cleanup();
});

/** Writes files of the given sizes under `volume`. */
async function files(volume: string, entries: Record<string, number>): Promise<void> {
  for (const [relative, size] of Object.entries(entries)) {
    const file = path.join(volume, relative);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, Buffer.alloc(size));
  }
}

/** Mounts a card by building it aside and renaming it in, as a mount appears at once. */
async function mountCard(label: string, entries: Record<string, number> = { 'DCIM/100CANON/IMG_0001.JPG': 1000 }): Promise<string> {
  const staging = dir.join('staging', label);
  await files(staging, entries);
  await mkdir(path.join(staging, 'DCIM'), { recursive: true });
  const volume = path.join(mediaRoot, label);
  await rename(staging, volume);
  return volume;
}

function record(target: VolumeWatcher): { cards: CameraCard[]; removed: RemovedVolume[]; errors: AppError[] } {
  const seen = { cards: [] as CameraCard[], removed: [] as RemovedVolume[], errors: [] as AppError[] };
  target.on('card', (card) => seen.cards.push(card));
  target.on('removed', (volume) => seen.removed.push(volume));
  target.on('error', (error) => seen.errors.push(error));
  return seen;
}

const timeout = (): { signal: AbortSignal } => ({ signal: AbortSignal.timeout(5000) });

describe(VolumeWatcher.name, () => {
  it('reports a card that is already mounted when it starts', async () => {
    const volume = await mountCard('EOS_DIGITAL', {
      'DCIM/100CANON/IMG_0001.JPG': 1000,
      'DCIM/100CANON/IMG_0001.CR2': 3000,
      'DCIM/101CANON/MVI_0002.MOV': 5000,
      'DCIM/101CANON/MVI_0002.THM': 100,
      'DCIM/100CANON/._IMG_0001.JPG': 50,
      'MISC/AUTPRINT.MRK': 10,
    });
    watcher = new VolumeWatcher({ roots: [mediaRoot], intervalMs: 20 });
    const event = once(watcher, 'card', timeout());
    watcher.start();

    const [card] = (await event) as [CameraCard];

    expect(card).toEqual({ path: volume, label: 'EOS_DIGITAL', mediaCount: 3, bytes: 9000, partial: false });
    expect(watcher.cards).toEqual([card]);
  });

  it('stays quiet about cards mounted before it started when reportExisting is false', async () => {
    await mountCard('OLD_CARD');
    watcher = new VolumeWatcher({ roots: [mediaRoot], reportExisting: false });
    const seen = record(watcher);

    await watcher.poll();
    const fresh = await mountCard('NEW_CARD');
    await watcher.poll();

    expect(seen.cards.map((card) => card.path)).toEqual([fresh]);
  });

  it('emits card when a card is mounted while it runs', async () => {
    watcher = new VolumeWatcher({ roots: [mediaRoot], intervalMs: 20 });
    const seen = record(watcher);
    watcher.start();
    await watcher.poll();
    expect(seen.cards).toEqual([]);

    const event = once(watcher, 'card', timeout());
    const volume = await mountCard('NIKON_D750');
    const [card] = (await event) as [CameraCard];

    expect(card).toMatchObject({ path: volume, label: 'NIKON_D750', mediaCount: 1, bytes: 1000 });
  });

  it('emits nothing for a volume without DCIM', async () => {
    await files(path.join(mediaRoot, 'BACKUP_DISK'), { 'photos/IMG_0001.JPG': 100 });
    watcher = new VolumeWatcher({ roots: [mediaRoot] });
    const seen = record(watcher);

    for (let i = 0; i < 3; i++) await watcher.poll();

    expect(seen).toEqual({ cards: [], removed: [], errors: [] });
  });

  it('reports a volume once its DCIM appears, as when the mount point is made before the mount', async () => {
    const volume = path.join(mediaRoot, 'SD_CARD');
    await mkdir(volume);
    watcher = new VolumeWatcher({ roots: [mediaRoot] });
    const seen = record(watcher);
    await watcher.poll();
    await files(volume, { 'DCIM/100MSDCF/DSC00001.ARW': 200 });
    await watcher.poll();
    await watcher.poll();

    expect(seen.cards).toEqual([{ path: volume, label: 'SD_CARD', mediaCount: 1, bytes: 200, partial: false }]);
  });

  it('emits removed when a card is unmounted, and card again when it comes back', async () => {
    const volume = await mountCard('EOS_DIGITAL');
    watcher = new VolumeWatcher({ roots: [mediaRoot], intervalMs: 20 });
    const seen = record(watcher);
    const first = once(watcher, 'card', timeout());
    watcher.start();
    await first;

    const removed = once(watcher, 'removed', timeout());
    await rm(volume, { recursive: true });
    expect(await removed).toEqual([{ path: volume, label: 'EOS_DIGITAL' }]);
    expect(watcher.cards).toEqual([]);

    const again = once(watcher, 'card', timeout());
    await mountCard('EOS_DIGITAL');
    await again;
    expect(seen.cards.map((card) => card.path)).toEqual([volume, volume]);
  });

  it('sends a failing listener to the error event and keeps polling', async () => {
    watcher = new VolumeWatcher({ roots: [mediaRoot], intervalMs: 20 });
    watcher.on('card', (card) => {
      if (card.label === 'BAD') throw new Error('listener broke');
    });
    const error = once(watcher, 'error', timeout());
    watcher.start();
    await mountCard('BAD');
    const [reported] = (await error) as [AppError];
    expect(reported.message).toContain('listener broke');

    const next = once(watcher, 'card', timeout());
    await mountCard('GOOD');
    expect(await next).toMatchObject([{ label: 'GOOD' }]);
  });

  it('does not throw when nothing listens for errors and a root is missing or a file', async () => {
    const notAFolder = dir.join('not-a-folder');
    await writeFile(notAFolder, 'x');
    watcher = new VolumeWatcher({ roots: [dir.join('missing'), notAFolder, mediaRoot] });
    watcher.on('card', () => {
      throw new Error('nobody hears this');
    });
    await mountCard('EOS_DIGITAL');
    await expect(watcher.poll()).resolves.toBeUndefined();
  });

  it('emits nothing after stop', async () => {
    watcher = new VolumeWatcher({ roots: [mediaRoot], intervalMs: 10 });
    const seen = record(watcher);
    watcher.start();
    await watcher.stop();
    await mountCard('LATE');
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(seen.cards).toEqual([]);
  });
});

describe(countCardMedia.name, () => {
  it('counts media files under DCIM by extension, skipping clutter', async () => {
    const volume = dir.join('card');
    await files(volume, {
      'DCIM/100CANON/IMG_0001.JPG': 10,
      'DCIM/100CANON/img_0002.jpeg': 20,
      'DCIM/100CANON/IMG_0002.XMP': 5,
      'DCIM/100CANON/._IMG_0001.JPG': 5,
      'DCIM/.Trashes/IMG_0000.JPG': 5,
      'DCIM/PRIVATE/AVCHD/00000.MTS': 30,
      'PHOTOS/IMG_9999.JPG': 40,
    });
    expect(await countCardMedia(volume)).toEqual({ mediaCount: 3, bytes: 60, partial: false });
  });

  it('stops at the entry cap and says the count is partial', async () => {
    const volume = dir.join('card');
    const entries: Record<string, number> = {};
    for (let i = 0; i < 50; i++) entries[`DCIM/100CANON/IMG_${String(i).padStart(4, '0')}.JPG`] = 1;
    await files(volume, entries);
    const counted = await countCardMedia(volume, { maxEntries: 10 });
    expect(counted.partial).toBe(true);
    expect(counted.mediaCount).toBeLessThan(50);
  });
});

describe(defaultMountRoots.name, () => {
  it('watches /media and /run/media for the user on Linux', () => {
    expect(defaultMountRoots('linux', 'ana')).toEqual({ parents: ['/media/ana', '/media', '/run/media/ana'], drives: [] });
  });

  it('watches /Volumes on macOS', () => {
    expect(defaultMountRoots('darwin', 'ana')).toEqual({ parents: ['/Volumes'], drives: [] });
  });

  it('checks drive letters D: to Z: on Windows', () => {
    const roots = defaultMountRoots('win32', 'ana');
    expect(roots.parents).toEqual([]);
    expect(roots.drives).toHaveLength(23);
    expect([roots.drives[0], roots.drives.at(-1)]).toEqual(['D:\\', 'Z:\\']);
  });
});
