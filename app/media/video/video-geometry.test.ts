import { describe, expect, it } from 'vitest';
import { posterSeekSec, posterSize, proxySize } from './video-geometry.ts';

describe(proxySize.name, () => {
  it.each([
    [{ width: 1920, height: 1080 }, { width: 1280, height: 720 }],
    [{ width: 3840, height: 2160 }, { width: 1280, height: 720 }],
    [{ width: 1080, height: 1920 }, { width: 720, height: 1280 }],
    [{ width: 1440, height: 1080 }, { width: 960, height: 720 }],
    [{ width: 2560, height: 1080 }, { width: 1280, height: 540 }],
    [{ width: 1000, height: 1000 }, { width: 720, height: 720 }],
  ])('fits %o inside the 720p box turned the same way: %o', (source, expected) => {
    expect(proxySize(source)).toEqual(expected);
  });

  it('never enlarges a small video', () => {
    expect(proxySize({ width: 640, height: 360 })).toEqual({ width: 640, height: 360 });
  });

  it('rounds odd edges down to even ones, at least 2×2', () => {
    expect(proxySize({ width: 321, height: 241 })).toEqual({ width: 320, height: 240 });
    expect(proxySize({ width: 1, height: 1 })).toEqual({ width: 2, height: 2 });
  });
});

describe(posterSize.name, () => {
  it('caps the long edge at 2048 and keeps the aspect', () => {
    expect(posterSize({ width: 3840, height: 2160 })).toEqual({ width: 2048, height: 1152 });
    expect(posterSize({ width: 2160, height: 3840 })).toEqual({ width: 1152, height: 2048 });
  });

  it('never enlarges', () => {
    expect(posterSize({ width: 320, height: 240 })).toEqual({ width: 320, height: 240 });
  });
});

describe(posterSeekSec.name, () => {
  it('seeks 1 s into a clip of 10 s or more', () => {
    expect(posterSeekSec(60)).toBe(1);
    expect(posterSeekSec(10)).toBe(1);
  });

  it('seeks a tenth of the way into a short clip', () => {
    expect(posterSeekSec(4)).toBe(0.4);
  });

  it('takes the first frame of a clip too short to seek in', () => {
    expect(posterSeekSec(0.2)).toBe(0);
    expect(posterSeekSec(0)).toBe(0);
  });

  it('tries 1 s when the length is unknown', () => {
    expect(posterSeekSec(undefined)).toBe(1);
  });
});
