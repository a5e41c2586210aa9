import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEngine, type Engine } from '../../engine.ts';
import type { Asset } from '../../shared/domain.ts';
import { ffprobeJson, makeJpeg, makeVideo, tempDir, type TempDir } from '../../test/fixtures.ts';
import { DerivativeService } from './derivative.service.ts';

let dir: TempDir;
let engine: Engine;

beforeEach(async () => {
  dir = await tempDir('keepsake-derivatives-');
  engine = await openEngine({ libraryPath: dir.join('library') });
});
afterEach(async () => {
  await engine.close();
  await dir.cleanup();
});

/** Imports files in place into an event and returns their assets. */
async function addInPlace(files: string[]): Promise<Asset[]> {
  await engine.imports.addInPlace(files, 'Sports Day');
  return engine.catalog.assets.listTimelinePage({ limit: 100, order: 'asc' }).items;
}

describe(DerivativeService.name, () => {
  it('makes a photo\'s thumbnail, preview and placeholder into the cache keyed by its content', async () => {
    const [photo] = await addInPlace([await makeJpeg(dir.join('library', 'Sports Day', 'IMG_1.JPG'), { width: 2400, height: 1600 })]);
    expect(await engine.derivatives.makeThumbs(photo!.id)).toBe('made');
    const thumb = engine.derivatives.pathOf(photo!, 'thumb');
    expect(thumb).toBe(path.join(dir.join('library'), '.keepsake', 'cache', photo!.hash.slice(0, 2), photo!.hash, 'thumb.webp'));
    expect(await sharp(thumb).metadata()).toMatchObject({ format: 'webp', width: 320, height: 213 });
    expect(await sharp(engine.derivatives.pathOf(photo!, 'preview')).metadata()).toMatchObject({ format: 'jpeg', width: 2048, height: 1365 });
    expect(engine.catalog.assets.get(photo!.id)!.thumbhash).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('makes nothing again that is already there and whole', async () => {
    const [photo] = await addInPlace([await makeJpeg(dir.join('library', 'Sports Day', 'IMG_1.JPG'))]);
    await engine.derivatives.makeThumbs(photo!.id);
    const before = (await stat(engine.derivatives.pathOf(photo!, 'thumb'))).mtimeMs;
    expect(await engine.derivatives.makeThumbs(photo!.id)).toBe('valid');
    expect((await stat(engine.derivatives.pathOf(photo!, 'thumb'))).mtimeMs).toBe(before);
  });

  it('makes a lost derivative again when it is asked for', async () => {
    const [photo] = await addInPlace([await makeJpeg(dir.join('library', 'Sports Day', 'IMG_1.JPG'))]);
    await engine.derivatives.makeThumbs(photo!.id);
    await rm(path.join(dir.join('library'), '.keepsake', 'cache'), { recursive: true });
    const preview = await engine.derivatives.ensure(photo!.id, 'preview');
    expect((await stat(preview)).size).toBeGreaterThan(0);
    await expect(engine.derivatives.ensure(photo!.id, 'proxy')).rejects.toMatchObject({ code: 'not-found' });
  });

  it('makes a video\'s poster, thumbnail, placeholder and a 720p proxy', async () => {
    const [video] = await addInPlace([await makeVideo(dir.join('library', 'Sports Day', 'MVI_1.MP4'), { width: 1920, height: 1080, durationSec: 2 })]);
    expect(engine.derivatives.variantsOf(video!)).toEqual(['thumb', 'poster', 'proxy']);
    await engine.derivatives.makeThumbs(video!.id);
    expect(await sharp(engine.derivatives.pathOf(video!, 'poster')).metadata()).toMatchObject({ format: 'jpeg', width: 1920, height: 1080 });
    expect(await sharp(engine.derivatives.pathOf(video!, 'thumb')).metadata()).toMatchObject({ width: 320, height: 180 });
    expect(engine.catalog.assets.get(video!.id)!.thumbhash).not.toBeNull();
    const fractions: number[] = [];
    await engine.derivatives.makeProxy(video!.id, { onProgress: (fraction) => fractions.push(fraction) });
    const probe = await ffprobeJson(engine.derivatives.pathOf(video!, 'proxy'));
    expect(probe.streams.find((stream) => stream.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 1280, height: 720 });
    expect(fractions.at(-1)).toBe(1);
  });

  it('fills the derivatives of a whole import through the job queue', async () => {
    await addInPlace([
      await makeJpeg(dir.join('library', 'Sports Day', 'IMG_1.JPG')),
      await makeJpeg(dir.join('library', 'Sports Day', 'IMG_2.JPG'), { seed: 2 }),
      await makeVideo(dir.join('library', 'Sports Day', 'MVI_3.MP4'), { durationSec: 1 }),
    ]);
    engine.jobs.start();
    await engine.jobs.whenIdle();
    expect(engine.catalog.jobs.countsByKind()).toMatchObject({ thumbs: { done: 3, failed: 0 }, proxy: { done: 1, failed: 0 } });
    for (const asset of engine.catalog.assets.listTimelinePage({ limit: 10 }).items) {
      for (const variant of engine.derivatives.variantsOf(asset)) expect((await stat(engine.derivatives.pathOf(asset, variant))).size).toBeGreaterThan(0);
    }
  });
});
