import { AppError } from '../shared/errors.ts';

/** Values of `is:`: a flag, a kind or a status. */
export const IS_VALUES = ['pick', 'reject', 'video', 'photo', 'raw', 'unreadable', 'missing'] as const;
/** One of {@link IS_VALUES}. */
export type IsValue = (typeof IS_VALUES)[number];

/** The keys of `key:value` filters. */
export const FILTER_KEYS = ['tag', 'person', 'event', 'camera', 'is', 'date', 'rating'] as const;

/** Longest query accepted; a search box never needs more, and it bounds the SQL and FTS work. */
export const MAX_QUERY_LENGTH = 1000;
/** Most clauses in one query, for the same reason. */
export const MAX_CLAUSES = 32;

/** Ratings are 0–5 stars. */
const MIN_RATING = 0;
const MAX_RATING = 5;
/** Years a date filter may name; sort times outside them are not meaningful capture dates. */
const MIN_YEAR = 1900;
const MAX_YEAR = 2100;

/** One condition of a query; all clauses of a query must hold (AND). */
export type SearchClause =
  /** A free word (matched as a prefix, for search as you type) or a quoted phrase (matched exactly). */
  | { field: 'text'; value: string; phrase: boolean; negated: boolean }
  /** Exact tag or person name and event name prefix, any case; camera make/model/lens containing the text. */
  | { field: 'tag' | 'person' | 'event' | 'camera'; value: string; negated: boolean }
  | { field: 'is'; value: IsValue; negated: boolean }
  /** Inclusive star range. */
  | { field: 'rating'; min: number; max: number }
  /**
   * Capture time range in ms, `from` inclusive and `to` exclusive, null for open ends. Times are local
   * wall-clock times read as UTC, the same convention as `Asset.sortTime`, so they compare directly with it.
   */
  | { field: 'date'; from: number | null; to: number | null };

/** A parsed search: the conjunction of its clauses; no clauses means everything. */
export interface SearchQuery {
  clauses: SearchClause[];
}

const KEY_PATTERN = /^([A-Za-z]+):/;
const RATING_PATTERN = /^rating(>=|<=|=|:|>|<)(.*)$/i;
const ALLOWED_FORMS =
  'tag:, person:, event:, camera:, is:, date: or rating (e.g. tag:final, person:"Ana Lima", is:pick, date:2026-05, rating>=4)';

/**
 * Parses the search box's language: free words, "quoted phrases", `tag:`, `person:`, `event:`, `camera:`,
 * `is:`, `date:`, `rating` comparisons and `-` negation. Throws `invalid-input` saying what is wrong.
 */
export function parseQuery(text: string): SearchQuery {
  if (text.length > MAX_QUERY_LENGTH) {
    throw invalid(`The search is too long (${text.length} characters); keep it under ${MAX_QUERY_LENGTH}.`);
  }
  const clauses: SearchClause[] = [];
  for (const token of tokenize(text)) {
    const clause = parseToken(token);
    if (clause) clauses.push(clause);
  }
  if (clauses.length > MAX_CLAUSES) {
    throw invalid(`The search has ${clauses.length} parts; use at most ${MAX_CLAUSES}.`);
  }
  return { clauses };
}

/** A whitespace-separated piece of the query; `quoted` is the text between quotes when the value was quoted. */
interface Token {
  negated: boolean;
  /** `key:` before the value, lower case, or null. */
  key: string | null;
  /** The raw text after the key (and after `-`), quotes removed when quoted. */
  value: string;
  quoted: boolean;
  /** The token as typed, for messages. */
  source: string;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i]!)) {
      i += 1;
      continue;
    }
    const start = i;
    let negated = false;
    if (text[i] === '-' && i + 1 < text.length && !/\s/.test(text[i + 1]!)) {
      negated = true;
      i += 1;
    }
    let key: string | null = null;
    const keyMatch = KEY_PATTERN.exec(text.slice(i));
    if (keyMatch) {
      key = keyMatch[1]!.toLowerCase();
      i += keyMatch[0].length;
    }
    // A quote opens a quoted value only at the start of a value; elsewhere it is an ordinary character.
    if (text[i] === '"') {
      const close = text.indexOf('"', i + 1);
      if (close === -1) {
        const typed = text.slice(start);
        throw invalid(`Unclosed quote in ${typed}: add a closing " (quotes group words into a phrase or a name).`);
      }
      const value = text.slice(i + 1, close);
      i = close + 1;
      tokens.push({ negated, key, value, quoted: true, source: text.slice(start, i) });
      continue;
    }
    let end = i;
    while (end < text.length && !/\s/.test(text[end]!)) end += 1;
    tokens.push({ negated, key, value: text.slice(i, end), quoted: false, source: text.slice(start, end) });
    i = end;
  }
  return tokens;
}

function parseToken(token: Token): SearchClause | null {
  if (token.key === null) {
    const rating = token.quoted ? null : RATING_PATTERN.exec(token.value);
    if (rating) return parseRating(token, rating[1]!, rating[2]!);
    const value = token.quoted ? token.value.trim() : token.value;
    if (value === '') return null;
    return { field: 'text', value, phrase: token.quoted, negated: token.negated };
  }
  switch (token.key) {
    case 'tag':
    case 'person':
    case 'event':
    case 'camera':
      return { field: token.key, value: requireValue(token), negated: token.negated };
    case 'is':
      return parseIs(token);
    case 'date':
      if (token.negated) throw invalid(`${token.source}: a date cannot be negated; search a range instead, e.g. date:2026-01..2026-04.`);
      return parseDate(token);
    case 'rating':
      return parseRating(token, ':', token.quoted ? `"${token.value}"` : token.value);
    default:
      throw invalid(
        `Unknown filter "${token.key}:" in ${token.source}. Use ${ALLOWED_FORMS}; to search for the text itself, put it in quotes: "${token.key}:${token.value}".`,
      );
  }
}

const EXAMPLES: Record<string, string> = {
  tag: 'tag:final or tag:"under 11"',
  person: 'person:Ana or person:"Ana Lima"',
  event: 'event:"Sports Day"',
  camera: 'camera:canon',
  is: 'is:pick',
  date: 'date:2026-05',
};

function requireValue(token: Token): string {
  const value = token.value.trim();
  if (value === '') throw invalid(`${token.key}: needs a value, e.g. ${EXAMPLES[token.key ?? ''] ?? `${token.key}:value`}.`);
  return value;
}

function parseIs(token: Token): SearchClause {
  const value = requireValue(token).toLowerCase();
  if (!(IS_VALUES as readonly string[]).includes(value)) {
    throw invalid(`is: accepts ${IS_VALUES.join(', ')}; got "${token.value}".`);
  }
  return { field: 'is', value: value as IsValue, negated: token.negated };
}

function parseRating(token: Token, operator: string, operand: string): SearchClause {
  if (token.negated) {
    throw invalid(`${token.source}: a rating cannot be negated; use the opposite comparison instead, e.g. rating<=3 for -rating>=4.`);
  }
  if (!/^\d+$/.test(operand)) {
    throw invalid(`rating needs a whole number from ${MIN_RATING} to ${MAX_RATING} after ${operator}, e.g. rating>=4; got "${operand}".`);
  }
  const value = Number(operand);
  if (value < MIN_RATING || value > MAX_RATING) {
    throw invalid(`rating must be ${MIN_RATING}–${MAX_RATING}, got ${operand}.`);
  }
  const range: Record<string, [number, number]> = {
    ':': [value, value],
    '=': [value, value],
    '>=': [value, MAX_RATING],
    '<=': [MIN_RATING, value],
    '>': [value + 1, MAX_RATING],
    '<': [MIN_RATING, value - 1],
  };
  const [min, max] = range[operator]!;
  if (min > max) {
    throw invalid(`rating${operator}${value} matches nothing: ratings go from ${MIN_RATING} to ${MAX_RATING}.`);
  }
  return { field: 'rating', min, max };
}

/** A calendar date as written: year, optional month and day. */
interface DateSpec {
  year: number;
  month: number | null;
  day: number | null;
}

function parseDate(token: Token): SearchClause {
  const value = requireValue(token);
  const parts = value.split('..');
  if (parts.length > 2) {
    throw invalid(`date: takes one date or one range; got "${value}". ${DATE_FORMS}`);
  }
  if (parts.length === 1) {
    const spec = parseDateSpec(value);
    return { field: 'date', from: startOf(spec), to: endOf(spec) };
  }
  const [fromText, toText] = parts as [string, string];
  if (fromText === '' && toText === '') throw invalid(`date: a range needs at least one end; got "${value}". ${DATE_FORMS}`);
  const from = fromText === '' ? null : parseDateSpec(fromText);
  const to = toText === '' ? null : parseDateSpec(toText);
  const fromMs = from ? startOf(from) : null;
  const toMs = to ? endOf(to) : null;
  if (fromMs !== null && toMs !== null && fromMs >= toMs) {
    throw invalid(`date: the range ${value} ends before it starts; write the earlier date first.`);
  }
  return { field: 'date', from: fromMs, to: toMs };
}

const DATE_FORMS = 'Write a date as 2026, 2026-05 or 2026-05-14, or a range such as 2026-05-01..2026-05-14 (either end may be left open).';

function parseDateSpec(text: string): DateSpec {
  const match = /^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$/.exec(text);
  if (!match) throw invalid(`date: "${text}" is not a date. ${DATE_FORMS}`);
  const year = Number(match[1]);
  if (year < MIN_YEAR || year > MAX_YEAR) {
    throw invalid(`date: the year must be ${MIN_YEAR}–${MAX_YEAR}, got ${year}.`);
  }
  const month = match[2] === undefined ? null : Number(match[2]);
  if (month !== null && (month < 1 || month > 12)) {
    throw invalid(`date: the month must be 01–12, got ${match[2]} in ${text}.`);
  }
  const day = match[3] === undefined ? null : Number(match[3]);
  if (day !== null && month !== null) {
    const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
    if (day < 1 || day > days) {
      throw invalid(`date: ${year}-${String(month).padStart(2, '0')} has days 01–${days}, got ${match[3]} in ${text}.`);
    }
  }
  return { year, month, day };
}

function startOf(spec: DateSpec): number {
  return Date.UTC(spec.year, (spec.month ?? 1) - 1, spec.day ?? 1);
}

function endOf(spec: DateSpec): number {
  if (spec.month === null) return Date.UTC(spec.year + 1, 0, 1);
  if (spec.day === null) return Date.UTC(spec.year, spec.month, 1);
  return Date.UTC(spec.year, spec.month - 1, spec.day + 1);
}

function invalid(message: string): AppError {
  return new AppError('invalid-input', message);
}
