import { copyFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../../shared/errors.ts';
import { makeJpeg, makeRandomBytes, makeVideo, makeZeroByte, truncate, useTempDir } from '../../test/fixtures.ts';
import { fromFfprobe, parseIso6709, readVideoMetadata, type FfprobeOutput } from './video-metadata.ts';

describe(readVideoMetadata.name, () => {
  it('reads duration, dimensions and codecs', async () => {
    const dir = await useTempDir('keepsake-video-');
    const path = await makeVideo(dir.join('a.mp4'), { durationSec: 2, width: 320, height: 240 });
    const metadata = await readVideoMetadata(path);
    expect(metadata).toMatchObject({ width: 320, height: 240, rotation: 0, videoCodec: 'h264', audioCodec: 'aac' });
    expect(metadata.durationSec).toBeCloseTo(2, 1);
  });

  it('reports the displayed dimensions and rotation of a video shot upright on a phone', async () => {
    const dir = await useTempDir('keepsake-video-');
    const path = await makeVideo(dir.join('a.mp4'), { width: 320, height: 240, rotation: 90 });
    expect(await readVideoMetadata(path)).toMatchObject({ width: 240, height: 320, rotation: 90 });
  });

  it.each([180, 270] as const)('reports a rotation of %i degrees', async (rotation) => {
    const dir = await useTempDir('keepsake-video-');
    const path = await makeVideo(dir.join('a.mov'), { width: 320, height: 240, rotation, durationSec: 1 });
    const expected = rotation === 180 ? { width: 320, height: 240 } : { width: 240, height: 320 };
    expect(await readVideoMetadata(path)).toMatchObject({ ...expected, rotation });
  });

  it('reads creation_time as UTC', async () => {
    const dir = await useTempDir('keepsake-video-');
    const path = await makeVideo(dir.join('a.mp4'), { creationTime: '2026-05-14T08:32:01Z' });
    expect(await readVideoMetadata(path)).toMatchObject({ capturedAt: '2026-05-14T08:32:01+00:00', captureOffsetMin: 0 });
  });

  it('reads the GPS location atom', async () => {
    const dir = await useTempDir('keepsake-video-');
    const path = await makeVideo(dir.join('a.mp4'), { location: { latitude: 48.8584, longitude: 2.2945 } });
    expect((await readVideoMetadata(path)).gps).toEqual({ latitude: 48.8584, longitude: 2.2945 });
  });

  it('prefers the iPhone keys: local time with its offset, make, model and location', async () => {
    const dir = await useTempDir('keepsake-video-');
    const path = await makeVideo(dir.join('IMG_0001.MOV'), {
      creationTime: '2026-05-14T08:32:01Z',
      apple: { creationDate: '2026-05-14T10:32:01+0200', make: 'Apple', model: 'iPhone 15', location: { latitude: -33.8568, longitude: 151.2153, altitude: 35 } },
    });
    expect(await readVideoMetadata(path)).toMatchObject({
      capturedAt: '2026-05-14T10:32:01+02:00',
      captureOffsetMin: 120,
      cameraMake: 'Apple',
      cameraModel: 'iPhone 15',
      gps: { latitude: -33.8568, longitude: 151.2153, altitude: 35 },
    });
  });

  it.each([
    ['mts', 'h264', 'ac3'],
    ['avi', 'mjpeg', 'pcm_s16le'],
  ] as const)('reads a %s file', async (ext, videoCodec, audioCodec) => {
    const dir = await useTempDir('keepsake-video-');
    const metadata = await readVideoMetadata(await makeVideo(dir.join(`a.${ext}`), { durationSec: 1 }));
    expect(metadata).toMatchObject({ width: 320, height: 240, videoCodec, audioCodec });
    expect(metadata.durationSec).toBeCloseTo(1, 0);
  });

  it('rejects an MP4 without its moov atom with corrupt-media, saying why', async () => {
    const dir = await useTempDir('keepsake-video-');
    const path = await truncate(await makeVideo(dir.join('MVI_0042.mp4')), 0.5);
    await expect(readVideoMetadata(path)).rejects.toMatchObject({ name: 'AppError', code: 'corrupt-media', message: expect.stringMatching(/^Could not read the video "MVI_0042\.truncated\.mp4": moov atom not found: the file is incomplete/) });
  });

  it('rejects a file in no video format with corrupt-media', async () => {
    const dir = await useTempDir('keepsake-video-');
    await expect(readVideoMetadata(await makeRandomBytes(dir.join('a.mp4'), 4096))).rejects.toMatchObject({ name: 'AppError', code: 'corrupt-media', message: expect.stringMatching(/"a\.mp4"/) });
  });

  it('rejects an empty file with corrupt-media', async () => {
    const dir = await useTempDir('keepsake-video-');
    await expect(readVideoMetadata(await makeZeroByte(dir.join('a.mp4')))).rejects.toMatchObject({ name: 'AppError', code: 'corrupt-media' });
  });

  it('rejects a missing file with not-found', async () => {
    const dir = await useTempDir('keepsake-video-');
    await expect(readVideoMetadata(dir.join('gone.mp4'))).rejects.toMatchObject({ name: 'AppError', code: 'not-found' });
  });

  it.skipIf(process.platform === 'win32')('probes files named like protocols as files', async () => {
    const dir = await useTempDir('keepsake-video-');
    const source = await makeVideo(dir.join('source.mp4'), { durationSec: 1 });
    for (const name of ['concat:a|b.mp4', 'http:x.mp4', 'pipe:0.mp4']) {
      const path = dir.join(name);
      await copyFile(source, path);
      expect(await readVideoMetadata(path)).toMatchObject({ width: 320, height: 240, videoCodec: 'h264' });
    }
  });

  it('kills ffprobe when it runs past the timeout', async () => {
    const dir = await useTempDir('keepsake-video-');
    const path = await makeVideo(dir.join('a.mp4'), { durationSec: 1 });
    await expect(readVideoMetadata(path, { timeoutMs: 1 })).rejects.toMatchObject({ name: 'AppError', code: 'corrupt-media', message: expect.stringMatching(/gave up after/) });
  });

  it('rejects with cancelled when the signal aborts', async () => {
    const dir = await useTempDir('keepsake-video-');
    const path = await makeVideo(dir.join('a.mp4'), { durationSec: 1 });
    const controller = new AbortController();
    const pending = readVideoMetadata(path, { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AppError', code: 'cancelled' });
  });

  it('reads a JPEG as a single-frame video without failing', async () => {
    const dir = await useTempDir('keepsake-video-');
    const metadata = await readVideoMetadata(await makeJpeg(dir.join('a.jpg'), { width: 64, height: 48 }));
    expect(metadata).toMatchObject({ width: 64, height: 48, videoCodec: 'mjpeg' });
  });
});

describe(fromFfprobe.name, () => {
  const stream = { codec_type: 'video', codec_name: 'h264', width: 1920, height: 1080 };

  it('reads the legacy clockwise rotate tag of older ffprobe versions', () => {
    const report: FfprobeOutput = { streams: [{ ...stream, tags: { rotate: '90' } }] };
    expect(fromFfprobe(report, 'a.mp4')).toMatchObject({ width: 1080, height: 1920, rotation: 90 });
  });

  it('widens anamorphic footage to its displayed width', () => {
    const report: FfprobeOutput = { streams: [{ ...stream, width: 1440, sample_aspect_ratio: '4:3' }] };
    expect(fromFfprobe(report, 'a.mts')).toMatchObject({ width: 1920, height: 1080 });
  });

  it('ignores cover art and reads the real video stream', () => {
    const report: FfprobeOutput = {
      streams: [{ codec_type: 'video', codec_name: 'mjpeg', width: 300, height: 300, disposition: { attached_pic: 1 } }, stream],
    };
    expect(fromFfprobe(report, 'a.mp4')).toMatchObject({ videoCodec: 'h264', width: 1920 });
  });

  it('rejects a file with no video stream with unsupported-media', () => {
    const error = (() => {
      try {
        fromFfprobe({ streams: [{ codec_type: 'audio', codec_name: 'aac' }] }, 'a.m4a');
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(isAppError(error, 'unsupported-media')).toBe(true);
  });

  it('keeps an iPhone creation date without an offset as wall-clock time', () => {
    const report: FfprobeOutput = { format: { tags: { 'com.apple.quicktime.creationdate': '2026-05-14T10:32:01' } }, streams: [stream] };
    const metadata = fromFfprobe(report, 'a.mov');
    expect(metadata.capturedAt).toBe('2026-05-14T10:32:01');
    expect(metadata.captureOffsetMin).toBeUndefined();
  });

  it('ignores a creation time at the QuickTime or Unix epoch', () => {
    for (const zero of ['1904-01-01T00:00:00.000000Z', '1970-01-01T00:00:00.000000Z']) {
      expect(fromFfprobe({ format: { tags: { creation_time: zero } }, streams: [stream] }, 'a.mp4').capturedAt).toBeUndefined();
    }
  });

  it('reads Matroska tags regardless of case and its clock-style duration', () => {
    const report: FfprobeOutput = { streams: [{ ...stream, tags: { DURATION: '00:01:02.500000000' } }], format: { tags: { CREATION_TIME: '2026-05-14T08:32:01Z' } } };
    expect(fromFfprobe(report, 'a.mkv')).toMatchObject({ durationSec: 62.5, capturedAt: '2026-05-14T08:32:01+00:00' });
  });
});

describe(parseIso6709.name, () => {
  it('reads decimal degrees with and without altitude', () => {
    expect(parseIso6709('+48.8584+002.2945/')).toEqual({ latitude: 48.8584, longitude: 2.2945 });
    expect(parseIso6709('-33.8568+151.2153+035.000/')).toEqual({ latitude: -33.8568, longitude: 151.2153, altitude: 35 });
  });

  it('reads degrees and minutes, and degrees, minutes and seconds', () => {
    const dm = parseIso6709('+4851.504+00217.670/');
    expect(dm?.latitude).toBeCloseTo(48.8584, 4);
    expect(dm?.longitude).toBeCloseTo(2.29450, 4);
    const dms = parseIso6709('+485130.24-0741200/');
    expect(dms?.latitude).toBeCloseTo(48.8584, 4);
    expect(dms?.longitude).toBeCloseTo(-74.2, 4);
  });

  it('returns undefined for text that is not a position', () => {
    expect(parseIso6709('somewhere')).toBeUndefined();
    expect(parseIso6709('+95.0000+002.0000/')).toBeUndefined();
  });
});
