import { beforeEach, describe, expect, it } from 'vitest';
import type { Asset } from '../../../app/shared/domain.ts';
import { cullAction, type KeyPress } from '../lib/keymap.ts';
import { testAsset } from '../test/assets.ts';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { applyCullAction } from '../views/GridView.tsx';
import { DETAIL_BATCH, REFRESH_MS, SEARCH_PAGE, useGridStore } from './grid.store.ts';

const initial = useGridStore.getInitialState();
let fake: FakeBridge;
let catalog: Map<number, Asset>;

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const grid = () => useGridStore.getState();
const shown = (id: number) => grid().cache.get(id);
const press = (key: string, mods: Partial<KeyPress> = {}) => applyCullAction(cullAction({ key, shiftKey: false, ctrlKey: false, metaKey: false, altKey: false, ...mods })!, { columns: 4, pageRows: 3 });

beforeEach(async () => {
  useGridStore.setState({ ...initial, cache: new Map(), thumbs: new Map(), selected: new Set() }, true);
  catalog = new Map(Array.from({ length: 20 }, (_, i) => [i + 1, testAsset(i + 1)]));
  fake = installFakeBridge()
    .answer('assets:positions', () => ({ ids: [...catalog.keys()] }))
    .answer('assets:getMany', (input) => (input as { ids: number[] }).ids.flatMap((id) => (catalog.has(id) ? [catalog.get(id)!] : [])));
  await grid().open({ kind: 'event', eventId: 1 });
  await grid().ensure(0, 19);
});

describe('useGridStore', () => {
  it('opens an event with every position at once and the first tile focused', () => {
    expect(fake.inputsOf('assets:positions')).toEqual([{ eventId: 1 }]);
    expect(grid().ids).toHaveLength(20);
    expect(grid()).toMatchObject({ status: 'ready', focus: 0 });
    expect([...grid().selected]).toEqual([1]);
  });

  it('reads only the details it lacks, in batches the contract allows', async () => {
    catalog = new Map(Array.from({ length: 1200 }, (_, i) => [i + 1, testAsset(i + 1)]));
    await grid().refresh();
    fake.calls.length = 0;
    await grid().ensure(0, 1199);
    const batches = fake.inputsOf('assets:getMany') as Array<{ ids: number[] }>;
    // 1,180 not cached yet (the first 20 are).
    expect(batches.map((b) => b.ids.length)).toEqual([DETAIL_BATCH, DETAIL_BATCH, 1180 - 2 * DETAIL_BATCH]);
    expect(batches.flatMap((b) => b.ids)).not.toContain(1);
    expect(shown(1200)?.id).toBe(1200);
  });

  it('selects a range with Shift and toggles single tiles with Ctrl/Cmd', () => {
    grid().select(2, 'replace');
    grid().select(5, 'extend');
    expect([...grid().selected]).toEqual([3, 4, 5, 6]);
    grid().select(0, 'extend');
    expect([...grid().selected]).toEqual([1, 2, 3]);
    grid().select(9, 'toggle');
    grid().select(1, 'toggle');
    expect(grid().targets()).toEqual([1, 3, 10]);
  });

  it('moves focus with the arrows by a tile or a row, and extends with Shift', () => {
    press('ArrowRight');
    press('ArrowDown');
    expect(grid().focus).toBe(5);
    press('ArrowRight', { shiftKey: true });
    press('ArrowRight', { shiftKey: true });
    expect([...grid().selected]).toEqual([6, 7, 8]);
    press('ArrowUp');
    expect(grid()).toMatchObject({ focus: 3, anchor: 3 });
    press('ArrowUp');
    expect(grid().focus).toBe(3);
    press('End');
    expect(grid().focus).toBe(19);
    press('a', { ctrlKey: true });
    expect(grid().targets()).toHaveLength(20);
  });

  it('shows a rating before the engine answers and keeps it when it agrees', async () => {
    const answer = deferred<{ updated: number }>();
    fake.answer('assets:setRating', () => answer.promise);
    press('4');
    expect(shown(1)?.rating).toBe(4);
    answer.resolve({ updated: 1 });
    await answer.promise;
    expect(shown(1)?.rating).toBe(4);
    expect(fake.inputsOf('assets:setRating')).toEqual([{ ids: [1], rating: 4 }]);
  });

  it('rolls a rating back and shows the engine’s error when the call fails', async () => {
    grid().select(0, 'replace');
    grid().select(2, 'extend');
    catalog.forEach((asset) => (asset.rating = 2));
    await grid().refresh();
    grid().cache.clear();
    await grid().ensure(0, 19);
    fake.fail('assets:setRating', { code: 'io', message: 'The catalog could not be written: the disk is read-only.' });
    const done = grid().rate(5);
    expect([1, 2, 3].map((id) => shown(id)?.rating)).toEqual([5, 5, 5]);
    await done;
    expect([1, 2, 3].map((id) => shown(id)?.rating)).toEqual([2, 2, 2]);
    expect(grid().error).toMatchObject({ code: 'io', message: 'The catalog could not be written: the disk is read-only.' });
  });

  it('flags and labels a multi-selection in one call each, and clears a label every target has', async () => {
    fake.answer('assets:setFlag', { updated: 3 }).answer('assets:setColorLabel', { updated: 3 });
    grid().select(0, 'replace');
    grid().select(2, 'extend');
    press('x');
    press('8');
    await Promise.resolve();
    expect(fake.inputsOf('assets:setFlag')).toEqual([{ ids: [1, 2, 3], flag: 'reject' }]);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(shown(2)).toMatchObject({ flag: 'reject', colorLabel: 'green' });
    await grid().label('green');
    expect(fake.inputsOf('assets:setColorLabel')).toEqual([
      { ids: [1, 2, 3], colorLabel: 'green' },
      { ids: [1, 2, 3], colorLabel: null },
    ]);
    expect(shown(3)?.colorLabel).toBeNull();
  });

  it('keeps focus and selection on the same assets when an import adds new ones before them', async () => {
    grid().select(4, 'replace');
    catalog = new Map([[100, testAsset(100)], [101, testAsset(101)], ...catalog]);
    await grid().refresh();
    expect(grid().ids.slice(0, 3)).toEqual([100, 101, 1]);
    expect(grid().focus).toBe(6);
    expect([...grid().selected]).toEqual([5]);
  });

  it('re-reads a shown asset when its thumbnail is ready, for the placeholder', async () => {
    catalog.get(3)!.thumbhash = 'YJqGPQw7sFlslqhFafSE+Q6oJ1h2iHB2Rw';
    fake.calls.length = 0;
    fake.emit('asset:thumbReady', { assetId: 3 });
    const stop = grid().connect();
    fake.emit('asset:thumbReady', { assetId: 3 });
    await new Promise((resolve) => setTimeout(resolve, 150));
    stop();
    expect(fake.inputsOf('assets:getMany')).toEqual([{ ids: [3] }]);
    expect(shown(3)?.thumbhash).toBe('YJqGPQw7sFlslqhFafSE+Q6oJ1h2iHB2Rw');
    expect(grid().thumbs.get(3)).toBe(1);
  });

  it('grows while an import runs, reading the positions again at most once a second', async () => {
    const stop = grid().connect();
    catalog.set(21, testAsset(21));
    fake.calls.length = 0;
    for (let i = 0; i < 5; i += 1) fake.emit('import:progress', { importId: 'a'.repeat(32), phase: 'copying', filesDone: i, filesTotal: 5, bytesDone: 0, bytesTotal: 0, bytesPerSec: 0, etaSec: null, current: null, errors: [] });
    fake.emit('asset:thumbReady', { assetId: 21 });
    await new Promise((resolve) => setTimeout(resolve, REFRESH_MS + 100));
    stop();
    expect(fake.inputsOf('assets:positions')).toHaveLength(1);
    expect(grid().ids).toHaveLength(21);
  });

  it('pages a search as the end of the loaded results comes into view', async () => {
    const results = Array.from({ length: SEARCH_PAGE + 10 }, (_, i) => testAsset(i + 1, { rating: 5 }));
    fake.answer('search:query', (input) => {
      const { after } = input as { after: { id: number } | null };
      const from = after === null ? 0 : after.id;
      const items = results.slice(from, from + SEARCH_PAGE);
      return { items, next: from + SEARCH_PAGE < results.length ? { sortTime: 0, id: from + SEARCH_PAGE } : null };
    });
    await grid().open({ kind: 'search', query: 'rating>=5' });
    expect(grid()).toMatchObject({ status: 'ready', more: { id: SEARCH_PAGE } });
    expect(grid().ids).toHaveLength(SEARCH_PAGE);
    await grid().ensure(SEARCH_PAGE - 20, SEARCH_PAGE - 1);
    expect(grid().ids).toHaveLength(SEARCH_PAGE + 10);
    expect(grid().more).toBeNull();
    expect(fake.inputsOf('search:query')).toEqual([
      { query: 'rating>=5', limit: SEARCH_PAGE, after: null },
      { query: 'rating>=5', limit: SEARCH_PAGE, after: { sortTime: 0, id: SEARCH_PAGE } },
    ]);
  });

  it('opens the loupe with Space and closes it with Esc', () => {
    press(' ');
    expect(grid().loupe).toBe(true);
    press('ArrowRight');
    expect(grid().focus).toBe(1);
    press('Escape');
    expect(grid().loupe).toBe(false);
  });
});
