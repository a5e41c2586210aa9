import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { currentToken, SUGGEST_DEBOUNCE_MS, useSearchStore } from './search.store.ts';

let fake: FakeBridge;

beforeEach(() => {
  fake = installFakeBridge();
  useSearchStore.setState(useSearchStore.getInitialState(), true);
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

describe('currentToken', () => {
  it('finds the token being typed, with its key and negation', () => {
    expect(currentToken('relay tag:spo')).toEqual({ start: 6, negated: false, key: 'tag', value: 'spo' });
    expect(currentToken('-person:"Ana Li')).toEqual({ start: 0, negated: true, key: 'person', value: 'Ana Li' });
    expect(currentToken('is:pick ')).toBeNull();
    expect(currentToken('rating>=4')).toEqual({ start: 0, negated: false, key: null, value: 'rating>=4' });
    expect(currentToken('camera:Canon')).toBeNull();
  });
});

describe('useSearchStore', () => {
  it('suggests only tags after tag:, and completes the token with quotes when needed', async () => {
    fake.answer('search:suggest', { tags: ['sports day', 'sprint'], people: ['Sam Lee'], events: ['Sports Day'] });
    useSearchStore.getState().setQuery('relay tag:sp');
    await vi.advanceTimersByTimeAsync(SUGGEST_DEBOUNCE_MS + 5);
    expect(fake.inputsOf('search:suggest')).toEqual([{ prefix: 'sp', limit: 6 }]);
    expect(useSearchStore.getState().suggestions.map((s) => s.text)).toEqual(['tag:"sports day"', 'tag:sprint']);
    useSearchStore.getState().move(1);
    useSearchStore.getState().move(1);
    useSearchStore.getState().accept(useSearchStore.getState().active);
    expect(useSearchStore.getState()).toMatchObject({ query: 'relay tag:sprint ', open: false });
  });

  it('offers tags, people and events for a bare word', async () => {
    fake.answer('search:suggest', { tags: ['ana'], people: ['Ana Lima'], events: [] });
    useSearchStore.getState().setQuery('an');
    await vi.advanceTimersByTimeAsync(SUGGEST_DEBOUNCE_MS + 5);
    expect(useSearchStore.getState().suggestions.map((s) => s.text)).toEqual(['tag:ana', 'person:"Ana Lima"']);
  });

  it('keeps the engine message of an invalid query and counts a valid one', async () => {
    fake.fail('search:query', { code: 'invalid-input', message: 'rating needs a number from 0 to 5, like rating>=4.' });
    useSearchStore.setState({ query: 'rating>=x' });
    expect(await useSearchStore.getState().run()).toBe(false);
    expect(useSearchStore.getState().error?.message).toBe('rating needs a number from 0 to 5, like rating>=4.');
    fake.answer('search:query', { items: [{ id: 1 }, { id: 2 }] as never, next: null });
    useSearchStore.setState({ query: 'tag:relay' });
    expect(await useSearchStore.getState().run()).toBe(true);
    expect(useSearchStore.getState()).toMatchObject({ error: null, result: { query: 'tag:relay', count: 2, more: false } });
  });
});
