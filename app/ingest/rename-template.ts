import path from 'node:path';
import { AppError } from '../shared/errors.ts';

/** What a rename template can refer to for one file. */
export interface RenameContext {
  /** Capture time as shot (ISO-8601, with or without an offset); the file's mtime when unknown. */
  capturedAt: string;
  eventName: string;
  seq: number;
  cameraModel: string | null;
  /** The file's name on the card, with its extension. */
  originalName: string;
}

/** The template used when none is given: keep the camera's names. */
export const DEFAULT_RENAME_TEMPLATE = '{original}';

type Part = { literal: string } | { token: 'date'; format: string } | { token: 'time' | 'event' | 'camera' | 'original' } | { token: 'seq'; width: number };

const TOKENS = ['date', 'time', 'event', 'seq', 'camera', 'original'];
const DATE_FIELDS = /YYYY|YY|MM|DD|HH|mm|ss/g;
// Windows forbids these in names; '/' and '\\' would create folders; control characters break terminals.
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[<>:"/\\|?*\u0000-\u001f\u007f]/g;
const MAX_NAME_BYTES = 200;

/** A parsed rename template such as `{date:YYYYMMDD}-{event}-{seq:4}`. */
export class RenameTemplate {
  private constructor(
    readonly source: string,
    private readonly parts: readonly Part[],
  ) {}

  /** Parses a template; unknown tokens and bad formats get an error that lists what is allowed. */
  static parse(source: string): RenameTemplate {
    const parts: Part[] = [];
    const pattern = /\{([^{}]*)\}|([^{}]+)|([{}])/g;
    for (const match of source.matchAll(pattern)) {
      if (match[3]) throw invalid(source, `an unmatched "${match[3]}"`);
      if (match[2]) {
        parts.push({ literal: match[2] });
        continue;
      }
      const [name = '', arg] = (match[1] ?? '').split(':', 2) as [string, string | undefined];
      switch (name) {
        case 'date':
          if (arg !== undefined && !/^(?:YYYY|YY|MM|DD|HH|mm|ss|[-_. ])+$/.test(arg)) {
            throw invalid(source, `"{date:${arg}}": the date format may use YYYY, YY, MM, DD, HH, mm, ss and - _ . or space`);
          }
          parts.push({ token: 'date', format: arg ?? 'YYYYMMDD' });
          break;
        case 'seq': {
          const width = arg === undefined ? 4 : Number(arg);
          if (!Number.isInteger(width) || width < 1 || width > 9) throw invalid(source, `"{seq:${arg}}": the width must be 1–9`);
          parts.push({ token: 'seq', width });
          break;
        }
        case 'time':
        case 'event':
        case 'camera':
        case 'original':
          if (arg !== undefined) throw invalid(source, `"{${name}}" takes no format`);
          parts.push({ token: name });
          break;
        default:
          throw invalid(source, `the unknown token "{${match[1]}}"`);
      }
    }
    if (!parts.some((part) => 'token' in part && (part.token === 'seq' || part.token === 'original' || part.token === 'time'))) {
      throw invalid(source, 'no part that tells files apart: add {seq}, {original} or {time}');
    }
    return new RenameTemplate(source, parts);
  }

  /** The file name (with the original's extension, lower-cased) this template gives one file. */
  render(context: RenameContext): string {
    const extension = path.extname(context.originalName).toLowerCase();
    const base = this.parts
      .map((part) => {
        if ('literal' in part) return part.literal;
        switch (part.token) {
          case 'date':
            return formatDate(context.capturedAt, part.format);
          case 'time':
            return formatDate(context.capturedAt, 'HHmmss');
          case 'seq':
            return String(context.seq).padStart(part.width, '0');
          case 'event':
            return context.eventName;
          case 'camera':
            return context.cameraModel ?? 'unknown-camera';
          case 'original':
            return path.basename(context.originalName, path.extname(context.originalName));
        }
      })
      .join('');
    return truncateBytes(sanitizeFileName(base) || 'untitled', MAX_NAME_BYTES - Buffer.byteLength(extension)) + extension;
  }
}

function invalid(source: string, what: string): AppError {
  return new AppError(
    'invalid-input',
    `The rename template "${source}" has ${what}. Tokens: ${TOKENS.map((token) => `{${token}}`).join(' ')}, e.g. {date:YYYYMMDD}-{event}-{seq:4}.`,
  );
}

/** Formats the wall-clock time written in an ISO-8601 string, ignoring its offset: a photo keeps the time it was shot. */
function formatDate(iso: string, format: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(iso);
  const [, year = '0000', month = '00', day = '00', hour = '00', minute = '00', second = '00'] = match ?? [];
  const fields: Record<string, string> = { YYYY: year, YY: year.slice(2), MM: month, DD: day, HH: hour, mm: minute, ss: second };
  return format.replace(DATE_FIELDS, (field) => fields[field] ?? field);
}

/** Makes any text safe as a file name on Windows, macOS and Linux. */
export function sanitizeFileName(name: string): string {
  return name
    .normalize('NFC')
    .replace(FORBIDDEN, '_')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\.+/, '')
    .replace(/[. ]+$/, '');
}

/** Cuts text to at most `max` UTF-8 bytes without splitting a character. */
export function truncateBytes(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  let out = '';
  for (const char of text) {
    if (Buffer.byteLength(out + char) > max) break;
    out += char;
  }
  return out;
}
