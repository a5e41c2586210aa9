import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useNavStore } from '../stores/nav.store.ts';
import { SUGGEST_DEBOUNCE_MS, useSearchStore } from '../stores/search.store.ts';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { SearchBox } from './SearchBox.tsx';

let fake: FakeBridge;
const pause = (): Promise<void> => act(() => new Promise<void>((resolve) => setTimeout(resolve, SUGGEST_DEBOUNCE_MS + 20)));

beforeEach(() => {
  fake = installFakeBridge().answer('search:suggest', { tags: ['relay', 'relay final'], people: [], events: [] });
  useNavStore.setState(useNavStore.getInitialState(), true);
  useSearchStore.setState(useSearchStore.getInitialState(), true);
});
afterEach(cleanup);

describe('SearchBox', () => {
  it('completes the token with ↓ and Enter, closes with Esc, and shows results in the grid on Enter', async () => {
    fake.answer('search:query', { items: [{ id: 1 }, { id: 2 }, { id: 3 }] as never, next: null });
    render(<SearchBox />);
    const box = screen.getByRole('combobox', { name: 'Search' });
    fireEvent.change(box, { target: { value: 'tag:rel' } });
    await pause();
    expect(screen.getAllByRole('option').map((option) => option.textContent)).toEqual(['Tag relay', 'Tag relay final']);
    fireEvent.keyDown(box, { key: 'ArrowDown' });
    fireEvent.keyDown(box, { key: 'ArrowDown' });
    expect(screen.getByRole('option', { selected: true }).textContent).toBe('Tag relay final');
    fireEvent.keyDown(box, { key: 'Enter' });
    expect((box as HTMLInputElement).value).toBe('tag:"relay final" ');
    expect(screen.queryByRole('listbox')).toBeNull();
    fireEvent.change(box, { target: { value: 'tag:"relay final" rel' } });
    await pause();
    fireEvent.keyDown(box, { key: 'Escape' });
    expect(screen.queryByRole('listbox')).toBeNull();
    fireEvent.change(box, { target: { value: 'tag:"relay final"' } });
    fireEvent.keyDown(box, { key: 'Enter' });
    expect(await screen.findByText('3 found')).toBeTruthy();
    expect(useNavStore.getState().view).toEqual({ name: 'grid', source: { kind: 'search', query: 'tag:"relay final"' } });
  });

  it('shows the engine message for an invalid query and stays on the screen', async () => {
    fake.fail('search:query', { code: 'invalid-input', message: 'Unknown filter "colour:"; try tag:, person:, event:, camera:, is:, date: or rating.' });
    render(<SearchBox />);
    const box = screen.getByRole('combobox', { name: 'Search' });
    fireEvent.change(box, { target: { value: 'colour:red' } });
    fireEvent.keyDown(box, { key: 'Enter' });
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Unknown filter "colour:"');
    expect(box.getAttribute('aria-invalid')).toBe('true');
    expect(useNavStore.getState().view).toEqual({ name: 'events' });
  });
});
