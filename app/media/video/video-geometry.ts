import { PREVIEW_SIZE } from '../derivatives/derivative-paths.ts';

/** A picture size in pixels, as displayed (rotation and pixel aspect applied). */
export interface FrameSize {
  width: number;
  height: number;
}

/** The proxy fits inside 1280×720 (landscape) or 720×1280 (portrait): "720p" whichever way the phone was held. */
export const PROXY_LONG_EDGE = 1280;
/** Short edge of the box the proxy fits in; see {@link PROXY_LONG_EDGE}. */
export const PROXY_SHORT_EDGE = 720;

/** Where the poster frame is taken from in a clip long enough to have it: past fades from black and shaky starts. */
export const POSTER_SEEK_SEC = 1;
/** Share of a short clip's length the poster seeks to instead of {@link POSTER_SEEK_SEC}. */
export const POSTER_SEEK_FRACTION = 0.1;
// Below this a seek gains nothing and risks landing past the last frame; the first frame is used.
const POSTER_MIN_SEEK_SEC = 0.05;

/**
 * The proxy's size for a video displayed at `source`: fitted inside the 720p box turned the same way as the
 * picture, never enlarged, both edges even (4:2:0 H.264 needs them), at least 2×2.
 */
export function proxySize(source: FrameSize): FrameSize {
  const portrait = source.height > source.width;
  const boxWidth = portrait ? PROXY_SHORT_EDGE : PROXY_LONG_EDGE;
  const boxHeight = portrait ? PROXY_LONG_EDGE : PROXY_SHORT_EDGE;
  const scale = Math.min(1, boxWidth / source.width, boxHeight / source.height);
  // Rounding down to even never enlarges an odd edge (721 → 720) and never leaves the box (its edges are even).
  const even = (value: number): number => Math.max(2, Math.floor(value / 2) * 2);
  return { width: even(source.width * scale), height: even(source.height * scale) };
}

/** The poster's size for a video displayed at `source`: long edge at most {@link PREVIEW_SIZE}, never enlarged. */
export function posterSize(source: FrameSize): FrameSize {
  const scale = Math.min(1, PREVIEW_SIZE / Math.max(source.width, source.height));
  return { width: Math.max(1, Math.round(source.width * scale)), height: Math.max(1, Math.round(source.height * scale)) };
}

/**
 * Seconds into the clip the poster is taken from: 1 s, or 10 % of a clip shorter than 10 s, 0 (the first frame)
 * for a clip too short to seek in. An unknown length gets 1 s; the caller falls back to the first frame when the
 * seek finds nothing.
 */
export function posterSeekSec(durationSec: number | undefined): number {
  if (durationSec === undefined || !Number.isFinite(durationSec)) return POSTER_SEEK_SEC;
  const seek = Math.min(POSTER_SEEK_SEC, durationSec * POSTER_SEEK_FRACTION);
  return seek < POSTER_MIN_SEEK_SEC ? 0 : Math.round(seek * 1000) / 1000;
}
