/** Thumbhash placeholders: the few bytes the manifest carries, decoded into a tiny PNG data URL. */
import { thumbHashToDataURL } from 'thumbhash';

const cache = new Map<string, string>();

/** The placeholder image for a base64 thumbhash, or undefined when there is none or it does not decode. */
export function placeholderUrl(thumbhash: string | null | undefined): string | undefined {
  if (thumbhash === null || thumbhash === undefined || thumbhash === '') return undefined;
  const known = cache.get(thumbhash);
  if (known !== undefined) return known;
  try {
    const bytes = Uint8Array.from(atob(thumbhash), (char) => char.charCodeAt(0));
    const url = thumbHashToDataURL(bytes);
    cache.set(thumbhash, url);
    return url;
  } catch {
    return undefined;
  }
}
