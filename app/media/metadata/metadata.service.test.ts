import { describe, expect, it, vi } from 'vitest';
import { AppError } from '../../shared/errors.ts';
import { makeJpeg, makeVideo, makeXmpSidecar, useTempDir } from '../../test/fixtures.ts';
import { MetadataReader } from './metadata.service.ts';
import type { MediaMetadata } from './metadata.types.ts';

function fakes(): {
  readPhoto: ReturnType<typeof vi.fn<(path: string, options: object) => Promise<MediaMetadata>>>;
  readVideo: ReturnType<typeof vi.fn<(path: string, options: object) => Promise<MediaMetadata>>>;
  readSidecar: ReturnType<typeof vi.fn<(path: string, options: object) => Promise<MediaMetadata>>>;
} {
  return {
    readPhoto: vi.fn(async () => ({ width: 10, keywords: ['embedded'], rating: 2 })),
    readVideo: vi.fn(async () => ({ durationSec: 3 })),
    readSidecar: vi.fn(async () => ({ keywords: ['sidecar'] })),
  };
}

describe(MetadataReader.name, () => {
  it('reads photos with the photo reader', async () => {
    const deps = fakes();
    expect(await new MetadataReader(deps).read('a.jpg', 'photo')).toEqual({ width: 10, keywords: ['embedded'], rating: 2 });
    expect(deps.readPhoto).toHaveBeenCalledWith('a.jpg', expect.objectContaining({ raw: false }));
    expect(deps.readSidecar).not.toHaveBeenCalled();
  });

  it('reads raw files with the photo reader in raw mode', async () => {
    const deps = fakes();
    await new MetadataReader(deps).read('a.nef', 'raw');
    expect(deps.readPhoto).toHaveBeenCalledWith('a.nef', expect.objectContaining({ raw: true }));
  });

  it('reads videos with the video reader', async () => {
    const deps = fakes();
    expect(await new MetadataReader(deps).read('a.mp4', 'video')).toEqual({ durationSec: 3 });
    expect(deps.readPhoto).not.toHaveBeenCalled();
  });

  it('overlays the sidecar, which wins', async () => {
    const deps = fakes();
    expect(await new MetadataReader(deps).read('a.jpg', 'photo', 'a.xmp')).toEqual({ width: 10, keywords: ['sidecar'], rating: 2 });
    expect(deps.readSidecar).toHaveBeenCalledWith('a.xmp', expect.any(Object));
  });

  it('keeps the embedded metadata and warns when the sidecar cannot be read', async () => {
    const deps = fakes();
    deps.readSidecar.mockRejectedValue(new AppError('corrupt-media', 'The sidecar "a.xmp" is not an XMP file.'));
    expect(await new MetadataReader(deps).read('a.jpg', 'photo', 'a.xmp')).toEqual({
      width: 10,
      keywords: ['embedded'],
      rating: 2,
      warnings: ['The sidecar "a.xmp" was ignored: The sidecar "a.xmp" is not an XMP file.'],
    });
  });

  it('passes a cancellation through', async () => {
    const deps = fakes();
    deps.readSidecar.mockRejectedValue(new AppError('cancelled', 'cancelled'));
    await expect(new MetadataReader(deps).read('a.jpg', 'photo', 'a.xmp')).rejects.toMatchObject({ name: 'AppError', code: 'cancelled' });
  });

  it('reads real files end to end', async () => {
    const dir = await useTempDir('keepsake-metadata-');
    const photo = await makeJpeg(dir.join('IMG_0001.jpg'), {
      exif: { dateTimeOriginal: '2026:05:14 10:32:01', offsetTimeOriginal: '+02:00' },
      xmp: { keywords: ['embedded'], rating: 1 },
    });
    const sidecar = await makeXmpSidecar(dir.join('IMG_0001.xmp'), { keywords: ['sidecar'], rating: 5 });
    const video = await makeVideo(dir.join('MVI_0001.mp4'), { durationSec: 1, rotation: 90 });
    const reader = new MetadataReader();
    expect(await reader.read(photo, 'photo', sidecar)).toMatchObject({ capturedAt: '2026-05-14T10:32:01+02:00', keywords: ['sidecar'], rating: 5 });
    expect(await reader.read(video, 'video')).toMatchObject({ width: 240, height: 320, rotation: 90 });
  });
});
