import { useId, useRef } from 'react';
import { useNavStore } from '../stores/nav.store.ts';
import { useSearchStore } from '../stores/search.store.ts';
import { count } from './progress-text.ts';

const KIND_LABEL = { tag: 'Tag', person: 'Person', event: 'Event' } as const;

/** The search box of the top bar: the engine's query language, completions for the token typed, results in the grid. */
export function SearchBox(): React.JSX.Element {
  const query = useSearchStore((s) => s.query);
  const suggestions = useSearchStore((s) => s.suggestions);
  const active = useSearchStore((s) => s.active);
  const open = useSearchStore((s) => s.open);
  const error = useSearchStore((s) => s.error);
  const result = useSearchStore((s) => s.result);
  const setQuery = useSearchStore((s) => s.setQuery);
  const move = useSearchStore((s) => s.move);
  const accept = useSearchStore((s) => s.accept);
  const close = useSearchStore((s) => s.close);
  const run = useSearchStore((s) => s.run);
  const go = useNavStore((s) => s.go);
  const input = useRef<HTMLInputElement>(null);
  const listId = useId();
  const errorId = useId();

  const search = async (): Promise<void> => {
    const text = useSearchStore.getState().query.trim();
    if (await run()) go({ name: 'grid', source: { kind: 'search', query: text } });
  };

  const onKeyDown = (event: React.KeyboardEvent<HTMLInputElement>): void => {
    switch (event.key) {
      case 'ArrowDown':
        event.preventDefault();
        move(1);
        break;
      case 'ArrowUp':
        event.preventDefault();
        move(-1);
        break;
      case 'Enter':
        event.preventDefault();
        if (open && active >= 0) accept(active);
        else void search();
        break;
      case 'Escape':
        if (open) {
          event.preventDefault();
          close();
        }
        break;
    }
  };

  return (
    <div className="search-box" role="search">
      <input
        ref={input}
        type="search"
        aria-label="Search"
        placeholder="Search (tag:, person:, event:, is:pick…)"
        value={query}
        role="combobox"
        aria-expanded={open}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={open && active >= 0 ? `${listId}-${active}` : undefined}
        aria-invalid={error !== null}
        aria-describedby={error ? errorId : undefined}
        spellCheck={false}
        onChange={(event) => setQuery(event.target.value)}
        onKeyDown={onKeyDown}
        onBlur={() => close()}
      />
      {result && !error ? (
        <span className="search-count muted" aria-live="polite">
          {result.more ? `${count(result.count)}+ found` : `${count(result.count)} found`}
        </span>
      ) : null}
      {open ? (
        <ul id={listId} role="listbox" aria-label="Suggestions" className="suggestions">
          {suggestions.map((suggestion, index) => (
            <li
              key={`${suggestion.kind}:${suggestion.value}`}
              id={`${listId}-${index}`}
              role="option"
              aria-selected={index === active}
              className={index === active ? 'active' : undefined}
              // Mouse down, not click: the input's blur (which closes the list) comes before a click.
              onMouseDown={(event) => {
                event.preventDefault();
                accept(index);
                input.current?.focus();
              }}
            >
              <span className="suggestion-kind">{KIND_LABEL[suggestion.kind]}</span> {suggestion.value}
            </li>
          ))}
        </ul>
      ) : null}
      {error ? (
        <div id={errorId} className="search-error" role="alert">
          <strong>{error.message}</strong> {error.hint ?? 'Correct the query and press Enter again.'}
        </div>
      ) : null}
    </div>
  );
}
