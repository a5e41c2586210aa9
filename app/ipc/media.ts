import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Engine } from '../engine.ts';
import { cacheRoot, DERIVATIVE_VARIANTS, type DerivativeVariant } from '../media/derivatives/derivative-paths.ts';
import { AppError } from '../shared/errors.ts';
import type { AssetId } from '../shared/ids.ts';

/** What the UI may ask for: a derivative, or the original (for the loupe before a preview exists). */
export const MEDIA_VARIANTS = [...DERIVATIVE_VARIANTS, 'original'] as const;
/** One of {@link MEDIA_VARIANTS}. */
export type MediaVariant = (typeof MEDIA_VARIANTS)[number];

const VARIANT_MIME: Record<DerivativeVariant, string> = { thumb: 'image/webp', preview: 'image/jpeg', poster: 'image/jpeg', proxy: 'video/mp4' };
// Originals are served only as kinds a browser can draw; the MIME is the catalog's (sniffed at import), never the file name's.
const SAFE_ORIGINAL = /^(image\/(jpeg|png|webp|gif|avif)|video\/(mp4|quicktime|webm))$/;

/** A file resolved for the UI. */
export interface MediaFile {
  file: string;
  mime: string;
  size: number;
  /** A validator of this file's bytes (size and modification time): a remade thumbnail gets a new one. */
  etag: string;
}

/** The ETag of a file from its size and modification time. */
export function fileEtag(info: { size: number; mtimeMs: number }): string {
  return `"${info.size.toString(36)}-${Math.floor(info.mtimeMs).toString(36)}"`;
}

/** True for a string that is a catalog asset id (a positive integer without leading zeros). */
export function isAssetIdText(text: string): boolean {
  return /^[1-9][0-9]{0,14}$/.test(text);
}

/**
 * Resolves `(assetId, variant)` to a file inside the library: the id must be an asset id, the variant one of
 * {@link MEDIA_VARIANTS}, and the real path (links followed) must lie in the derivative cache or be the asset's
 * own file inside the library. Everything else is `not-found`, so a probe learns nothing.
 */
export async function resolveMedia(engine: Engine, assetId: string | number, variant: string): Promise<MediaFile> {
  const idText = String(assetId);
  const refused = new AppError('not-found', 'There is no such picture or video.');
  if (!isAssetIdText(idText) || !(MEDIA_VARIANTS as readonly string[]).includes(variant)) throw refused;
  const asset = engine.catalog.assets.get(Number(idText) as AssetId);
  if (!asset || asset.status === 'missing') throw refused;
  const root = await realpath(engine.libraryRoot);
  if (variant === 'original') {
    if (!SAFE_ORIGINAL.test(asset.mime) || path.isAbsolute(asset.path)) throw refused;
    const real = await realpath(path.join(engine.libraryRoot, asset.path)).catch(() => null);
    if (!real || !inside(root, real) || inside(path.join(root, '.keepsake'), real)) throw refused;
    const info = await stat(real);
    return { file: real, mime: asset.mime, size: info.size, etag: fileEtag(info) };
  }
  const derivative = variant as DerivativeVariant;
  if (!engine.derivatives.variantsOf(asset).includes(derivative)) throw refused;
  const made = await engine.derivatives.ensure(asset.id, derivative);
  const real = await realpath(made).catch(() => null);
  const cache = await realpath(cacheRoot(engine.libraryRoot)).catch(() => null);
  if (!real || !cache || !inside(cache, real)) throw refused;
  const info = await stat(real);
  return { file: real, mime: VARIANT_MIME[derivative], size: info.size, etag: fileEtag(info) };
}

function inside(root: string, file: string): boolean {
  const relative = path.relative(root, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}
