/**
 * The gallery's language: the one the visitor chose (kept in localStorage), else the browser's first
 * language we have, else English. Texts are looked up by key; values fill `{name}` marks.
 */
import { en, type MessageKey, type Messages } from './en.ts';
import { fr } from './fr.ts';

/** Every language the gallery speaks, by its code. */
export const LANGUAGES: Readonly<Record<string, Messages>> = { en, fr };
const STORAGE_KEY = 'keepsake.language';

function pick(): string {
  try {
    const chosen = localStorage.getItem(STORAGE_KEY);
    if (chosen !== null && chosen in LANGUAGES) return chosen;
  } catch {
    // Storage may be off (private mode): the browser's language decides.
  }
  for (const tag of navigator.languages ?? [navigator.language]) {
    const base = tag.toLowerCase().split('-')[0] ?? '';
    if (base in LANGUAGES) return base;
  }
  return 'en';
}

let current = pick();

/** The current language's code (`en`, `fr`). */
export function language(): string {
  return current;
}

/** Switches language and remembers the choice. */
export function setLanguage(code: string): void {
  if (!(code in LANGUAGES)) return;
  current = code;
  try {
    localStorage.setItem(STORAGE_KEY, code);
  } catch {
    // Not remembered; still switched for this visit.
  }
  document.documentElement.lang = code;
}

/** The browser's own locale when it speaks the current language (en-GB dates for a British reader), else the language. */
function locale(): string {
  const own = (navigator.languages ?? [navigator.language]).find((tag) => tag.toLowerCase().split('-')[0] === current);
  return own ?? current;
}

/** The text for `key`, with `{name}` marks filled from `values`. */
export function t(key: MessageKey, values: Record<string, string | number> = {}): string {
  const text = (LANGUAGES[current] ?? en)[key];
  return text.replace(/\{(\w+)\}/g, (mark, name: string) => (name in values ? String(values[name]) : mark));
}

/** `{count} photo` or `{count} photos`, by the language's plural rules. */
export function plural(base: 'events.photos', count: number): string {
  const form = new Intl.PluralRules(locale()).select(count) === 'one' ? 'one' : 'other';
  return t(`${base}.${form}`, { count: count.toLocaleString(locale()) });
}

/** A `YYYY-MM-DD` date in the current language (read as a calendar day, not shifted by the time zone). */
export function formatDate(day: string): string {
  const date = new Date(`${day}T12:00:00Z`);
  return Number.isNaN(date.getTime()) ? day : date.toLocaleDateString(locale(), { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
}

document.documentElement.lang = current;
