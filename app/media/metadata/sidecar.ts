import { access, open } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { AppError, toAppError } from '../../shared/errors.ts';
import type { MediaMetadata } from './metadata.types.ts';

/** The fields an XMP packet (embedded or sidecar) contributes. */
export type XmpMetadata = Pick<MediaMetadata, 'keywords' | 'rating' | 'rejected' | 'title' | 'description'>;

const NS = {
  dc: 'http://purl.org/dc/elements/1.1/',
  xmp: 'http://ns.adobe.com/xap/1.0/',
  lr: 'http://ns.adobe.com/lightroom/1.0/',
} as const;

// Lightroom sidecars with many brush strokes reach a few MB; anything far beyond is not a sidecar.
const MAX_SIDECAR_BYTES = 32 * 1024 * 1024;

/**
 * Reads the fields Keepsake uses from an XMP packet.
 *
 * This is a small linear extractor rather than exifr's XMP parser: exifr turns number-like text into numbers
 * (a keyword "007" would come back as 7), leaves XML entities undecoded, and its backtracking regular
 * expressions take seconds on malformed packets, which would block the thread.
 */
export function parseXmp(xmp: string | Uint8Array): XmpMetadata {
  const xml = typeof xmp === 'string' ? xmp : new TextDecoder('utf-8').decode(xmp);
  const dc = prefixFor(xml, NS.dc, 'dc');
  const lr = prefixFor(xml, NS.lr, 'lr');
  const xmpPrefixes = [prefixFor(xml, NS.xmp, 'xmp'), 'xap'];

  const result: XmpMetadata = {};
  const subjects = listItems(elementContent(xml, `${dc}:subject`));
  const leaves = listItems(elementContent(xml, `${lr}:hierarchicalSubject`))
    .map((path) => path.split('|').pop()?.trim() ?? '')
    .filter((leaf) => leaf !== '');
  const keywords = unique([...subjects, ...leaves]);
  if (keywords.length > 0) result.keywords = keywords;

  for (const prefix of xmpPrefixes) {
    const rating = parseRating(attributeValue(xml, `${prefix}:Rating`) ?? elementText(xml, `${prefix}:Rating`));
    if (rating !== undefined) {
      Object.assign(result, rating);
      break;
    }
  }

  const title = langAlt(elementContent(xml, `${dc}:title`));
  if (title !== undefined) result.title = title;
  const description = langAlt(elementContent(xml, `${dc}:description`));
  if (description !== undefined) result.description = description;
  return result;
}

/** Reads an `.xmp` sidecar file into the fields it carries; a file that is not XMP is `corrupt-media`. */
export async function readXmpSidecar(path: string, options: { signal?: AbortSignal } = {}): Promise<XmpMetadata> {
  if (options.signal?.aborted) throw new AppError('cancelled', `Reading the sidecar "${basename(path)}" was cancelled.`);
  let bytes: Buffer;
  try {
    const file = await open(path, 'r');
    try {
      const { size } = await file.stat();
      if (size > MAX_SIDECAR_BYTES) {
        throw new AppError('corrupt-media', `The sidecar "${basename(path)}" is ${Math.round(size / 1024 / 1024)} MB, too large to be an XMP sidecar.`);
      }
      bytes = await file.readFile();
    } finally {
      await file.close();
    }
  } catch (error) {
    throw toAppError(error, `Reading the sidecar "${basename(path)}"`);
  }
  const xml = new TextDecoder('utf-8').decode(bytes);
  if (!/<x:xmpmeta[\s>]|<rdf:RDF[\s>]/.test(xml)) {
    throw new AppError('corrupt-media', `The sidecar "${basename(path)}" is not an XMP file (no x:xmpmeta or rdf:RDF element was found).`);
  }
  return parseXmp(xml);
}

/**
 * The sidecar of a media file if one exists: `IMG_0001.xmp` (Lightroom, Capture One) or `IMG_0001.CR2.xmp`
 * (darktable, Photo Mechanic's option), in either case.
 */
export async function findXmpSidecar(mediaPath: string): Promise<string | undefined> {
  const stem = mediaPath.slice(0, mediaPath.length - extname(mediaPath).length);
  const candidates = [`${stem}.xmp`, `${stem}.XMP`, `${mediaPath}.xmp`, `${mediaPath}.XMP`];
  for (const candidate of candidates) {
    try {
      await access(candidate);
      return candidate;
    } catch {
      // Not there; try the next spelling.
    }
  }
  return undefined;
}

/**
 * Combines embedded metadata with a sidecar's, the sidecar winning field by field as Lightroom and Photo
 * Mechanic do: the sidecar is where the photographer's latest edits live. Rating and rejection travel
 * together, so a sidecar rating lifts an embedded reject.
 */
export function mergeMetadata(embedded: MediaMetadata, sidecar: Partial<MediaMetadata> | undefined): MediaMetadata {
  if (!sidecar) return embedded;
  const merged: MediaMetadata = { ...embedded };
  for (const [key, value] of Object.entries(sidecar) as Array<[keyof MediaMetadata, unknown]>) {
    if (value === undefined || key === 'warnings') continue;
    (merged as Record<string, unknown>)[key] = value;
  }
  if (sidecar.rating !== undefined || sidecar.rejected !== undefined) {
    if (sidecar.rating === undefined) delete merged.rating;
    if (sidecar.rejected === undefined) delete merged.rejected;
  }
  const warnings = [...(embedded.warnings ?? []), ...(sidecar.warnings ?? [])];
  if (warnings.length > 0) merged.warnings = warnings;
  return merged;
}

function parseRating(text: string | undefined): Pick<XmpMetadata, 'rating' | 'rejected'> | undefined {
  if (text === undefined) return undefined;
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(value)) return undefined;
  if (value < 0) return { rejected: true };
  return { rating: Math.min(5, Math.round(value)) };
}

// A namespace's prefix as the packet declares it; writers almost always use the conventional one.
function prefixFor(xml: string, uri: string, fallback: string): string {
  const declaration = new RegExp(`xmlns:([A-Za-z_][\\w.-]*)\\s*=\\s*["']${escapeRegExp(uri)}["']`).exec(xml);
  return declaration?.[1] ?? fallback;
}

// Every search below is a single forward scan (indexOf or a regular expression without nested repetition),
// so a damaged packet costs linear time.
function elementContent(xml: string, qname: string): string | undefined {
  const start = new RegExp(`<${escapeRegExp(qname)}(?=[\\s/>])`).exec(xml);
  if (!start) return undefined;
  const tagEnd = xml.indexOf('>', start.index);
  if (tagEnd < 0 || xml[tagEnd - 1] === '/') return undefined;
  const close = xml.indexOf(`</${qname}>`, tagEnd);
  return close < 0 ? undefined : xml.slice(tagEnd + 1, close);
}

function elementText(xml: string, qname: string): string | undefined {
  const content = elementContent(xml, qname);
  return content === undefined || content.includes('<') ? undefined : decodeEntities(content);
}

function attributeValue(xml: string, qname: string): string | undefined {
  const match = new RegExp(`\\s${escapeRegExp(qname)}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`).exec(xml);
  const raw = match?.[1] ?? match?.[2];
  return raw === undefined ? undefined : decodeEntities(raw);
}

interface ListItem {
  lang?: string;
  text: string;
}

function listItemsWithLang(content: string | undefined): ListItem[] {
  if (content === undefined) return [];
  const items: ListItem[] = [];
  for (const match of content.matchAll(/<rdf:li(\s[^>]*)?>([^<]*)<\/rdf:li>/g)) {
    const attributes = match[1] ?? '';
    const lang = /xml:lang\s*=\s*["']([^"']*)["']/.exec(attributes)?.[1];
    const text = decodeEntities(match[2] ?? '').trim();
    if (text !== '') items.push(lang === undefined ? { text } : { lang, text });
  }
  return items;
}

function listItems(content: string | undefined): string[] {
  return listItemsWithLang(content).map((item) => item.text);
}

// dc:title and dc:description are language alternatives; the default language wins, then the first one.
function langAlt(content: string | undefined): string | undefined {
  if (content === undefined) return undefined;
  const items = listItemsWithLang(content);
  if (items.length === 0) {
    // Some writers put plain text where a language alternative belongs.
    const text = content.includes('<') ? '' : decodeEntities(content).trim();
    return text === '' ? undefined : text;
  }
  return (items.find((item) => item.lang?.toLowerCase() === 'x-default') ?? items[0])?.text;
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (entity, body: string) => {
    switch (body) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
    }
    const code = body.startsWith('#x') ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : entity;
  });
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
