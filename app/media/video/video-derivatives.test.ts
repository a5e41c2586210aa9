import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempPathFor } from '../../fs/durable-files.ts';
import { exiftool, ffprobeJson, makeJpeg, makeRandomBytes, makeVideo, makeZeroByte, tempDir, truncate, type TempDir } from '../../test/fixtures.ts';
import { childMediaProcesses, colourOf, decodeImage, makeClip, makeSoundOnly, storedFrame, topLevelBoxes } from '../../test/video-fixtures.ts';
import { makeVideoDerivatives, makeVideoPoster, makeVideoProxy, MAX_PROXY_DURATION_SEC, type VideoDerivativeResult } from './video-derivatives.ts';

// Real ffmpeg on real files made by code. Clips are short and small so the whole file stays within seconds on
// two cores; the one long clip (15 s of noisy 360p) is only ever started and stopped.

let dir: TempDir;
let longClip: string;

beforeAll(async () => {
  dir = await tempDir('keepsake-video-');
  longClip = await makeClip(dir.join('sources', 'long.mp4'), { pattern: 'camera', width: 640, height: 360, rate: 30, durationSec: 15 });
});

afterAll(async () => {
  await dir.cleanup();
});

let outputs = 0;
/** A fresh, not yet existing output folder, nested so the code must create it. */
function outputDir(): string {
  outputs += 1;
  return dir.join('out', String(outputs), 'cache', 'ab');
}

async function filesIn(folder: string): Promise<string[]> {
  try {
    return (await readdir(folder)).sort();
  } catch {
    return [];
  }
}

type Probe = Awaited<ReturnType<typeof ffprobeJson>>;
const videoStream = (probe: Probe): Record<string, unknown> => probe.streams.find((stream) => stream.codec_type === 'video') ?? {};
const audioStreams = (probe: Probe): Array<Record<string, unknown>> => probe.streams.filter((stream) => stream.codec_type === 'audio');

// What the phone clip carries that must not reach a published file.
const PLANTED = ['48.858', '2.294', 'iPhone', 'Apple', 'Ana Lima', '2026:05:14', '2026-05-14'];
function leaks(tags: Record<string, unknown>): string[] {
  const { SourceFile: _source, Directory: _directory, FileName: _name, ...rest } = tags;
  return Object.entries(rest)
    .filter(([key, value]) => /GPS|Location|Make$|Model$|Serial|Title|Comment|Artist|Author/i.test(key) || PLANTED.some((text) => String(value).includes(text)))
    .map(([key, value]) => `${key}=${String(value)}`);
}

describe(makeVideoDerivatives.name, () => {
  describe('of a 1080p60 phone clip with sound, GPS and camera tags', () => {
    let source: string;
    let out: string;
    let result: VideoDerivativeResult;
    const progress: number[] = [];

    beforeAll(async () => {
      source = await makeClip(dir.join('sources', 'phone.mp4'), {
        width: 1920,
        height: 1080,
        rate: 60,
        audio: true,
        durationSec: 1,
        metadata: {
          location: '+48.8584+002.2945+035.000/',
          'com.apple.quicktime.location.ISO6709': '+48.8584+002.2945+035.000/',
          'com.apple.quicktime.make': 'Apple',
          'com.apple.quicktime.model': 'iPhone 15',
          creation_time: '2026-05-14T08:32:01Z',
          title: 'Ana Lima, class 3B',
        },
      });
      out = outputDir();
      result = await makeVideoDerivatives({
        source,
        posterPath: join(out, 'poster.jpg'),
        proxyPath: join(out, 'proxy.mp4'),
        onProgress: (fraction) => progress.push(fraction),
      });
    });

    it('returns the video’s displayed size and length and what it wrote', async () => {
      expect(result).toEqual({
        durationSec: expect.closeTo(1, 1),
        width: 1920,
        height: 1080,
        posterPath: join(out, 'poster.jpg'),
        proxyPath: join(out, 'proxy.mp4'),
        proxyBytes: (await readFile(join(out, 'proxy.mp4'))).length,
        posterWidth: 1920,
        posterHeight: 1080,
        proxyWidth: 1280,
        proxyHeight: 720,
        proxyDurationSec: expect.closeTo(1, 1),
        hasAudio: true,
      });
      expect(await filesIn(out)).toEqual(['poster.jpg', 'proxy.mp4']);
    });

    it('encodes a 1280×720 H.264 High proxy in yuv420p at 30 fps', async () => {
      const video = videoStream(await ffprobeJson(join(out, 'proxy.mp4')));
      expect(video).toMatchObject({ codec_name: 'h264', profile: 'High', pix_fmt: 'yuv420p', width: 1280, height: 720, r_frame_rate: '30/1' });
    });

    it('puts the index before the media data, so a browser starts playing before the download ends', async () => {
      const boxes = await topLevelBoxes(join(out, 'proxy.mp4'));
      expect(boxes.indexOf('moov')).toBeGreaterThanOrEqual(0);
      expect(boxes.indexOf('moov')).toBeLessThan(boxes.indexOf('mdat'));
    });

    it('gives the proxy stereo AAC sound', async () => {
      expect(audioStreams(await ffprobeJson(join(out, 'proxy.mp4')))).toEqual([expect.objectContaining({ codec_name: 'aac', channels: 2, sample_rate: '48000' })]);
    });

    it('leaves no GPS position, camera, date or title in the proxy', async () => {
      // The source really carries them, so the checks below can fail.
      expect(leaks(await exiftool(source))).toEqual(expect.arrayContaining([expect.stringMatching(/^GPSCoordinates=/), 'Make=Apple', 'Model=iPhone 15']));
      expect(leaks(await exiftool(join(out, 'proxy.mp4'), '-ee'))).toEqual([]);
      const probe = await ffprobeJson(join(out, 'proxy.mp4'));
      expect(Object.keys(probe.format.tags ?? {}).filter((key) => !['major_brand', 'minor_version', 'compatible_brands'].includes(key))).toEqual([]);
      expect(JSON.stringify(probe)).not.toMatch(/"(location[^"]*|com\.apple[^"]*|creation_time|title)"|iPhone|Ana Lima/i);
    });

    it('writes the poster as a plain JPEG with no tags', async () => {
      const tags = await exiftool(join(out, 'poster.jpg'));
      expect(tags).toMatchObject({ FileType: 'JPEG', ImageWidth: 1920, ImageHeight: 1080 });
      expect(leaks(tags)).toEqual([]);
      expect(Object.keys(tags).filter((key) => /^(Exif(?!Tool)|XMP|IPTC|ICC|Comment|Photoshop)/.test(key))).toEqual([]);
    });

    it('reports rising progress between 0 and 1, ending at 1', () => {
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.at(-1)).toBe(1);
      expect(progress.every((value, i) => value >= 0 && value <= 1 && (i === 0 || value >= (progress[i - 1] ?? 0)))).toBe(true);
    });
  });

  it('writes both files or neither: aborted during the proxy, it leaves the earlier versions alone', async () => {
    const out = outputDir();
    await makeVideoPoster({ source: longClip, posterPath: join(out, 'poster.jpg') });
    await writeFile(join(out, 'proxy.mp4'), 'earlier proxy');
    const posterBefore = await readFile(join(out, 'poster.jpg'));
    const controller = new AbortController();
    const attempt = makeVideoDerivatives({
      source: longClip,
      posterPath: join(out, 'poster.jpg'),
      proxyPath: join(out, 'proxy.mp4'),
      signal: controller.signal,
      onProgress: (fraction) => fraction > 0 && controller.abort(),
    });
    await expect(attempt).rejects.toMatchObject({ name: 'AppError', code: 'cancelled', message: expect.stringContaining('cancelled') });
    expect(await childMediaProcesses()).toEqual([]);
    expect(await filesIn(out)).toEqual(['poster.jpg', 'proxy.mp4']);
    expect(await readFile(join(out, 'poster.jpg'))).toEqual(posterBefore);
    expect(await readFile(join(out, 'proxy.mp4'), 'utf8')).toBe('earlier proxy');
  });

  it('refuses one path for both files', async () => {
    const out = outputDir();
    await expect(makeVideoDerivatives({ source: longClip, posterPath: join(out, 'x'), proxyPath: join(out, 'x') })).rejects.toMatchObject({ code: 'invalid-input' });
  });
});

describe('rotation', () => {
  // The source's left half is red and its right half blue; a phone's display matrix turns it clockwise.
  it.each([
    { rotation: 90, stored: [1920, 1080], proxy: [720, 1280], poster: [1080, 1920], colours: { top: 'red', bottom: 'blue' } },
    { rotation: 180, stored: [320, 240], proxy: [320, 240], poster: [320, 240], colours: { left: 'blue', right: 'red' } },
    { rotation: 270, stored: [320, 240], proxy: [240, 320], poster: [240, 320], colours: { top: 'blue', bottom: 'red' } },
  ] as const)('turns a video rotated $rotation° upright in the pixels, with no rotation tag left', async (row) => {
    const source = await makeClip(dir.join('sources', `rotated-${row.rotation}.mp4`), { pattern: 'split', width: row.stored[0], height: row.stored[1], rotation: row.rotation, durationSec: 0.4 });
    const out = outputDir();
    const result = await makeVideoDerivatives({ source, posterPath: join(out, 'poster.jpg'), proxyPath: join(out, 'proxy.mp4') });
    expect([result.width, result.height]).toEqual(row.poster);

    // Samples the middle of the edges the colours are expected at (the other two straddle the seam).
    const where = (frame: Awaited<ReturnType<typeof decodeImage>>): Record<string, string> => {
      const at = {
        top: [frame.width / 2, frame.height * 0.1],
        bottom: [frame.width / 2, frame.height * 0.9],
        left: [frame.width * 0.1, frame.height / 2],
        right: [frame.width * 0.9, frame.height / 2],
      } as const;
      return Object.fromEntries(Object.keys(row.colours).map((edge) => [edge, colourOf(frame.pixel(...at[edge as keyof typeof at]))]));
    };
    const expected = row.colours;
    const poster = await decodeImage(join(out, 'poster.jpg'));
    expect([poster.width, poster.height]).toEqual(row.poster);
    expect(where(poster)).toEqual(expected);
    // Decoded without applying any rotation: upright even in a player that ignores rotation tags.
    const frame = await storedFrame(join(out, 'proxy.mp4'));
    expect([frame.width, frame.height]).toEqual(row.proxy);
    expect(where(frame)).toEqual(expected);

    const video = videoStream(await ffprobeJson(join(out, 'proxy.mp4')));
    expect(video.side_data_list).toBeUndefined();
    expect((await exiftool(join(out, 'proxy.mp4'))).Rotation ?? 0).toBe(0);
  });
});

describe(makeVideoProxy.name, () => {
  it('never enlarges a small video, evens odd edges and keeps a frame rate under the cap', async () => {
    const source = await makeClip(dir.join('sources', 'small-odd.mp4'), { width: 321, height: 241, rate: 25, durationSec: 0.4 });
    const out = outputDir();
    const result = await makeVideoProxy({ source, proxyPath: join(out, 'proxy.mp4') });
    expect(result).toMatchObject({ width: 321, height: 241, proxyWidth: 320, proxyHeight: 240, hasAudio: false });
    expect(videoStream(await ffprobeJson(join(out, 'proxy.mp4')))).toMatchObject({ width: 320, height: 240, r_frame_rate: '25/1' });
  });

  it('has no sound track when the source has none', async () => {
    const source = await makeVideo(dir.join('sources', 'silent.mp4'), { audio: false, durationSec: 0.4 });
    const out = outputDir();
    await makeVideoProxy({ source, proxyPath: join(out, 'proxy.mp4') });
    expect(audioStreams(await ffprobeJson(join(out, 'proxy.mp4')))).toEqual([]);
  });

  it.each(['mov', 'mts', 'avi'] as const)('converts a camera’s .%s (its own codecs) to H.264/AAC MP4', async (container) => {
    const source = await makeVideo(dir.join('sources', `camera.${container}`), { durationSec: 0.5 });
    const out = outputDir();
    await makeVideoProxy({ source, proxyPath: join(out, 'proxy.mp4') });
    const probe = await ffprobeJson(join(out, 'proxy.mp4'));
    expect(probe.streams.map((stream) => stream.codec_name)).toEqual(['h264', 'aac']);
    expect(videoStream(probe)).toMatchObject({ width: 320, height: 240 });
  });

  it.each(['http:x.mp4', 'concat:a|b.mp4', 'pipe:0', 'Fête de l’école — 3B.mp4'])('reads a file named %j as that file', async (name) => {
    const source = dir.join('named', name);
    await makeVideo(dir.join('named', 'plain.mp4'), { durationSec: 0.3 });
    await copyFile(dir.join('named', 'plain.mp4'), source);
    const out = outputDir();
    const result = await makeVideoProxy({ source, proxyPath: join(out, 'proxy.mp4') });
    expect(result).toMatchObject({ width: 320, height: 240, hasAudio: true });
    expect(videoStream(await ffprobeJson(join(out, 'proxy.mp4')))).toMatchObject({ codec_name: 'h264' });
  });

  it('stops at the proxy cap for a 1×1 video lasting ten hours, without padding it to 30 fps', async () => {
    // One frame every 6 s: ten hours in 6,000 frames, quick to make, and a trap for constant-rate output.
    const source = await makeClip(dir.join('sources', 'ten-hours.mp4'), { width: 1, height: 1, rate: '1/6', durationSec: 36_000 });
    const out = outputDir();
    const started = Date.now();
    const result = await makeVideoProxy({ source, proxyPath: join(out, 'proxy.mp4') });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(result).toMatchObject({ durationSec: 36_000, width: 1, height: 1, proxyWidth: 2, proxyHeight: 2, proxyDurationSec: MAX_PROXY_DURATION_SEC });
    const probe = await ffprobeJson(join(out, 'proxy.mp4'));
    expect(Number(probe.format.duration)).toBeCloseTo(MAX_PROXY_DURATION_SEC, -1);
    expect(Number(videoStream(probe).nb_frames)).toBeLessThanOrEqual(MAX_PROXY_DURATION_SEC / 6 + 1);
  });

  it('honours a shorter cap', async () => {
    const source = await makeVideo(dir.join('sources', 'two-seconds.mp4'), { durationSec: 2 });
    const out = outputDir();
    const result = await makeVideoProxy({ source, proxyPath: join(out, 'proxy.mp4'), maxProxyDurationSec: 0.5 });
    expect(result).toMatchObject({ durationSec: 2, proxyDurationSec: 0.5 });
    expect(Number((await ffprobeJson(join(out, 'proxy.mp4'))).format.duration)).toBeLessThan(0.7);
  });

  it('replaces a temporary file a crash left behind', async () => {
    const source = await makeVideo(dir.join('sources', 'crash.mp4'), { durationSec: 0.3 });
    const out = outputDir();
    await makeZeroByte(join(out, 'x'));
    await writeFile(tempPathFor(join(out, 'proxy.mp4')), 'half a proxy from before the crash');
    await makeVideoProxy({ source, proxyPath: join(out, 'proxy.mp4') });
    expect(await filesIn(out)).toEqual(['proxy.mp4', 'x']);
    expect(videoStream(await ffprobeJson(join(out, 'proxy.mp4')))).toMatchObject({ codec_name: 'h264' });
  });

  it('kills ffmpeg and leaves no file when aborted', async () => {
    const out = outputDir();
    const controller = new AbortController();
    const seen: number[] = [];
    const attempt = makeVideoProxy({
      source: longClip,
      proxyPath: join(out, 'proxy.mp4'),
      signal: controller.signal,
      onProgress: (fraction) => {
        seen.push(fraction);
        if (fraction > 0) controller.abort();
      },
    });
    await expect(attempt).rejects.toMatchObject({ name: 'AppError', code: 'cancelled', message: 'Making the proxy of "long.mp4" was cancelled.' });
    expect(seen.length).toBeGreaterThan(0);
    expect(await childMediaProcesses()).toEqual([]);
    expect(await filesIn(out)).toEqual([]);
  });

  it('starts nothing when the signal is already aborted', async () => {
    const out = outputDir();
    await expect(makeVideoProxy({ source: longClip, proxyPath: join(out, 'proxy.mp4'), signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'cancelled' });
    expect(await filesIn(out)).toEqual([]);
  });

  it('kills ffmpeg at the timeout and says so', async () => {
    const out = outputDir();
    const started = Date.now();
    await expect(makeVideoProxy({ source: longClip, proxyPath: join(out, 'proxy.mp4'), timeoutMs: 1_000 })).rejects.toMatchObject({
      code: 'corrupt-media',
      message: expect.stringMatching(/^Making the proxy of "long\.mp4" took longer than 1 s, so ffmpeg was stopped/),
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await childMediaProcesses()).toEqual([]);
    expect(await filesIn(out)).toEqual([]);
  });

  describe('with bad input', () => {
    const cases: Array<{ what: string; make: (path: string) => Promise<string>; code: string; message: RegExp }> = [
      { what: 'an empty file', make: (path) => makeZeroByte(path), code: 'corrupt-media', message: /is empty \(0 bytes\)/ },
      { what: 'random bytes', make: (path) => makeRandomBytes(path, 64 * 1024), code: 'corrupt-media', message: /^Could not read the video "random-bytes\.mp4"/ },
      {
        what: 'an MP4 whose moov atom was never written',
        make: async (path) => truncate(await makeVideo(`${path}.whole.mp4`, { durationSec: 1 }), 0.6, path),
        code: 'corrupt-media',
        message: /moov atom.*interrupted/,
      },
      {
        what: 'a faststart MP4 cut in half',
        make: async (path) => truncate(await makeVideo(`${path}.whole.mp4`, { durationSec: 4, faststart: true }), 0.5, path),
        code: 'corrupt-media',
        message: /only .* of its 4 s could be read/,
      },
      { what: 'a photo named .mp4', make: (path) => makeJpeg(path), code: 'unsupported-media', message: /not a video container/ },
      { what: 'sound with no picture', make: (path) => makeSoundOnly(path), code: 'unsupported-media', message: /no video stream/ },
      { what: 'a file that is not there', make: async (path) => path, code: 'not-found', message: /does not exist/ },
    ];

    it.each(cases)('rejects $what with $code and leaves nothing behind', async ({ what, make, code, message }) => {
      const source = await make(dir.join('bad', `${what.replace(/\W+/g, '-')}.mp4`));
      const out = outputDir();
      const error = await makeVideoProxy({ source, proxyPath: join(out, 'proxy.mp4') }).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ name: 'AppError', code, message: expect.stringMatching(message) });
      expect(await filesIn(out)).toEqual([]);
    });
  });
});

describe(makeVideoPoster.name, () => {
  it('caps the long edge at 2048 pixels', async () => {
    const source = await makeClip(dir.join('sources', 'qhd.mp4'), { width: 2560, height: 1440, durationSec: 0.3 });
    const out = outputDir();
    const result = await makeVideoPoster({ source, posterPath: join(out, 'poster.jpg') });
    expect(result).toMatchObject({ posterPath: join(out, 'poster.jpg'), width: 2560, height: 1440, posterWidth: 2048, posterHeight: 1152 });
    const poster = await decodeImage(join(out, 'poster.jpg'));
    expect([poster.width, poster.height]).toEqual([2048, 1152]);
  });

  it('takes the only frame of a one-frame clip', async () => {
    const source = await makeClip(dir.join('sources', 'one-frame.mp4'), { pattern: 'split', durationSec: 0.04 });
    const out = outputDir();
    await makeVideoPoster({ source, posterPath: join(out, 'poster.jpg') });
    const poster = await decodeImage(join(out, 'poster.jpg'));
    expect(colourOf(poster.pixel(10, poster.height / 2))).toBe('red');
  });

  it('rejects an MP4 without its moov atom and writes nothing', async () => {
    const source = await truncate(await makeVideo(dir.join('bad', 'poster-whole.mp4'), { durationSec: 1 }), 0.6, dir.join('bad', 'poster-cut.mp4'));
    const out = outputDir();
    await expect(makeVideoPoster({ source, posterPath: join(out, 'poster.jpg') })).rejects.toMatchObject({ code: 'corrupt-media' });
    expect(await filesIn(out)).toEqual([]);
  });
});
