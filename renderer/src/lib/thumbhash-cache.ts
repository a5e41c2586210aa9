import { thumbHashToDataURL } from 'thumbhash';

/** Enough placeholders for several screens of scrolling back and forth; each is a few hundred bytes. */
const CAPACITY = 20_000;
const cache = new Map<string, string>();

/**
 * The placeholder of an asset's thumbhash (base64, as the catalog stores it) as a data URL, decoded once and
 * kept: decoding costs about a tenth of a millisecond, and a fast scroll paints hundreds of tiles. A hash that
 * does not decode gives null, so the tile shows its plain background instead.
 */
export function placeholderUrl(thumbhash: string | null | undefined): string | null {
  if (!thumbhash) return null;
  const known = cache.get(thumbhash);
  if (known !== undefined) return known;
  let url: string;
  try {
    const bytes = Uint8Array.from(atob(thumbhash), (char) => char.charCodeAt(0));
    url = thumbHashToDataURL(bytes);
  } catch {
    return null;
  }
  if (cache.size >= CAPACITY) cache.delete(cache.keys().next().value!);
  cache.set(thumbhash, url);
  return url;
}
