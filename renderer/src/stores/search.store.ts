import { create } from 'zustand';
import { asCallError, call, type CallError } from '../bridge/keepsake.ts';

/** How long typing pauses before suggestions are asked for. */
export const SUGGEST_DEBOUNCE_MS = 120;
/** Suggestions asked for per kind. */
export const SUGGEST_LIMIT = 6;
/** Results counted when a search is run; beyond this the box says "1,000+". */
export const COUNT_LIMIT = 1000;

/** One completion of the token being typed. */
export interface Suggestion {
  kind: 'tag' | 'person' | 'event';
  value: string;
  /** The token as it will read in the query, e.g. `person:"Ana Lima"`. */
  text: string;
}

/** The last token of the query (where the caret is at the end), split into its negation, key and value. */
export function currentToken(query: string): { start: number; negated: boolean; key: Suggestion['kind'] | null; value: string } | null {
  // Inside an open quote the token runs from the key before it; otherwise from the last space.
  const quotes = (query.match(/"/g) ?? []).length;
  const start = quotes % 2 === 1 ? query.lastIndexOf(' ', query.lastIndexOf('"')) + 1 : query.lastIndexOf(' ') + 1;
  let token = query.slice(start);
  if (token === '') return null;
  const negated = token.startsWith('-');
  if (negated) token = token.slice(1);
  const match = /^(tag|person|event):(.*)$/.exec(token);
  if (match) return { start, negated, key: match[1] as Suggestion['kind'], value: match[2]!.replace(/^"/, '') };
  if (token.includes(':') || token.startsWith('"')) return null;
  return { start, negated, key: null, value: token };
}

function asToken(kind: Suggestion['kind'], value: string): string {
  return `${kind}:${/[\s"]/.test(value) ? `"${value.replace(/"/g, '')}"` : value}`;
}

interface SearchState {
  query: string;
  suggestions: Suggestion[];
  /** The highlighted suggestion, or -1. */
  active: number;
  open: boolean;
  error: CallError | null;
  /** The last search run: how many results it found (`more` when there are over {@link COUNT_LIMIT}). */
  result: { query: string; count: number; more: boolean } | null;
  setQuery(query: string): void;
  /** Moves the highlight by `delta` (wrapping). */
  move(delta: number): void;
  /** Replaces the token being typed with suggestion `index`. */
  accept(index: number): void;
  close(): void;
  /** Runs the query: resolves true when it is valid (the caller then shows the results). */
  run(): Promise<boolean>;
  clear(): void;
}

let timer: ReturnType<typeof setTimeout> | null = null;
let suggestSeq = 0;

/** The search box: the query, completions for the token being typed, and the last search's count. */
export const useSearchStore = create<SearchState>((set, get) => {
  const suggest = async (query: string): Promise<void> => {
    const token = currentToken(query);
    const seq = ++suggestSeq;
    if (token === null || token.value.trim() === '') {
      set({ suggestions: [], active: -1, open: false });
      return;
    }
    try {
      const found = await call('search:suggest', { prefix: token.value, limit: SUGGEST_LIMIT });
      if (seq !== suggestSeq) return;
      const kinds: Array<[Suggestion['kind'], string[]]> = [
        ['tag', found.tags],
        ['person', found.people],
        ['event', found.events],
      ];
      const suggestions = kinds
        .filter(([kind]) => token.key === null || token.key === kind)
        .flatMap(([kind, values]) => values.map((value) => ({ kind, value, text: `${token.negated ? '-' : ''}${asToken(kind, value)}` })));
      set({ suggestions, active: -1, open: suggestions.length > 0 });
    } catch {
      // Suggestions are a convenience: without them the box still searches.
      if (seq === suggestSeq) set({ suggestions: [], open: false });
    }
  };

  return {
    query: '',
    suggestions: [],
    active: -1,
    open: false,
    error: null,
    result: null,
    setQuery(query) {
      set({ query, error: null });
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        void suggest(get().query);
      }, SUGGEST_DEBOUNCE_MS);
    },
    move(delta) {
      const { suggestions, active, open } = get();
      if (!open || suggestions.length === 0) return;
      const next = active + delta;
      set({ active: next < 0 ? suggestions.length - 1 : next >= suggestions.length ? 0 : next });
    },
    accept(index) {
      const { query, suggestions } = get();
      const chosen = suggestions[index];
      const token = currentToken(query);
      if (!chosen || token === null) return;
      suggestSeq++;
      set({ query: `${query.slice(0, token.start)}${chosen.text} `, suggestions: [], active: -1, open: false });
    },
    close() {
      // A suggestion still on its way (or not yet asked for) must not reopen the list.
      if (timer !== null) clearTimeout(timer);
      timer = null;
      suggestSeq++;
      set({ open: false, active: -1 });
    },
    async run() {
      const query = get().query.trim();
      get().close();
      if (query === '') return false;
      try {
        const page = await call('search:query', { query, limit: COUNT_LIMIT });
        set({ error: null, result: { query, count: page.items.length, more: page.next !== null } });
        return true;
      } catch (error) {
        set({ error: asCallError(error), result: null });
        return false;
      }
    },
    clear() {
      suggestSeq++;
      set({ query: '', suggestions: [], active: -1, open: false, error: null, result: null });
    },
  };
});
