import path from 'node:path';
import { KEEPSAKE_DIR } from '../../catalog/database.ts';
import type { ContentHash } from '../../shared/ids.ts';

/** The renditions made of an asset. Photos get thumb and preview; videos get all four. */
export const DERIVATIVE_VARIANTS = ['thumb', 'preview', 'poster', 'proxy'] as const;
/** One of {@link DERIVATIVE_VARIANTS}. */
export type DerivativeVariant = (typeof DERIVATIVE_VARIANTS)[number];

/**
 * File names inside an asset's cache folder. The thumbnail is WebP (a third smaller than JPEG at the same
 * look, and small enough that WebP's slower encoder costs nothing); the preview and the video poster are
 * JPEG, which encodes twice as fast as WebP at 2048 px and every viewer shows; the proxy is H.264/AAC MP4.
 */
export const DERIVATIVE_FILES: Readonly<Record<DerivativeVariant, string>> = {
  thumb: 'thumb.webp',
  preview: 'preview.jpg',
  poster: 'poster.jpg',
  proxy: 'proxy.mp4',
};

/** Long edge of the grid thumbnail, in pixels. */
export const THUMB_SIZE = 320;
/** Long edge of the preview (and of a video's poster), in pixels; some JPEG sizes get a little less (see previewEdge). */
export const PREVIEW_SIZE = 2048;

/** `<library>/.keepsake/cache`: every derivative lives below it, keyed by content hash. */
export function cacheRoot(libraryRoot: string): string {
  return path.join(libraryRoot, KEEPSAKE_DIR, 'cache');
}

/** The folder of one asset's derivatives: `cache/<first two hex digits>/<hash>/`, so no folder holds too many entries. */
export function derivativeDir(libraryRoot: string, hash: ContentHash): string {
  if (!/^[0-9a-f]{8,}$/i.test(hash)) throw new Error(`not a content hash: ${hash}`);
  return path.join(cacheRoot(libraryRoot), hash.slice(0, 2), hash);
}

/** The file of one derivative of the asset with content `hash`. */
export function derivativePath(libraryRoot: string, hash: ContentHash, variant: DerivativeVariant): string {
  return path.join(derivativeDir(libraryRoot, hash), DERIVATIVE_FILES[variant]);
}
