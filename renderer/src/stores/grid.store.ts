import { create } from 'zustand';
import type { Asset, AssetFlag, ColorLabel } from '../../../app/shared/domain.ts';
import type { PageCursor } from '../../../app/shared/views.ts';
import { asCallError, bridge, call, type CallError } from '../bridge/keepsake.ts';
import type { GridSource } from './nav.store.ts';

/** Assets whose details are kept; the visible window is a few hundred, so this covers long scrolls back and forth. */
export const CACHE_CAPACITY = 4000;
/** Largest batch of `assets:getMany`. */
export const DETAIL_BATCH = 500;
/** Largest batch of an edit call (the contract's bound). */
export const EDIT_BATCH = 10_000;
/** Search results come in pages of this many. */
export const SEARCH_PAGE = 500;
/** While an import runs, the grid re-reads its positions at most this often. */
export const REFRESH_MS = 1000;

type Culling = Pick<Asset, 'rating' | 'flag' | 'colorLabel'>;

/** How a click or a key changes the selection. */
export type SelectMode = 'replace' | 'extend' | 'toggle';

interface GridState {
  source: GridSource | null;
  status: 'idle' | 'loading' | 'ready' | 'failed';
  /** Every asset id of the source in display order (for search: the pages loaded so far). */
  ids: number[];
  /** Search only: where the next page starts, null once every result is loaded. */
  more: PageCursor | null;
  /** Details by id, least recently shown first. Mutated in place; `revision` tells subscribers. */
  cache: Map<number, Asset>;
  revision: number;
  /** Bumped for an asset when its thumbnail is (re)made, so a tile that failed to load it tries again. */
  thumbs: Map<number, number>;
  /** Index of the focused tile, or -1. */
  focus: number;
  /** Where a Shift range starts. */
  anchor: number;
  selected: ReadonlySet<number>;
  loupe: boolean;
  /** Bumped by T: the metadata panel focuses its tag entry. */
  tagRequest: number;
  error: CallError | null;

  open(source: GridSource): Promise<void>;
  /** Re-reads the positions (new assets of a running import), keeping focus and selection by id. */
  refresh(): Promise<void>;
  /** Loads the details of the tiles from `start` to `end` (indexes) that are not cached yet. */
  ensure(start: number, end: number): Promise<void>;
  /** Search only: loads the next page. */
  loadMore(): Promise<void>;
  /** Focuses a tile and changes the selection as a click (plain, Shift, Ctrl/Cmd) would. */
  select(index: number, mode: SelectMode): void;
  selectAll(): void;
  /** The ids a culling key or an edit applies to: the selection, else the focused asset. */
  targets(): number[];
  rate(rating: number): Promise<void>;
  flag(flag: AssetFlag): Promise<void>;
  /** Sets a colour label; when every target already has it, clears it (as Lightroom toggles). */
  label(label: ColorLabel): Promise<void>;
  setLoupe(open: boolean): void;
  requestTag(): void;
  thumbReady(assetId: number): void;
  dismissError(): void;
  /** Listens to the engine's thumbnails and imports; returns the function that stops listening. */
  connect(): () => void;
}

// Edits not yet confirmed by the engine: applied to details that arrive meanwhile, so a tile loaded mid-call
// does not show the old value.
const pending = new Map<number, Partial<Culling>>();
const inflight = new Set<number>();
let generation = 0;
const stale = new Set<number>();
let staleTimer: ReturnType<typeof setTimeout> | null = null;

function sourceKey(source: GridSource | null): string {
  return JSON.stringify(source);
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function withPending(asset: Asset): Asset {
  const change = pending.get(asset.id);
  return change ? { ...asset, ...change } : asset;
}

/** The grid: what it lists, which details are loaded, focus and selection, and culling with optimistic updates. */
export const useGridStore = create<GridState>((set, get) => {
  const remember = (assets: readonly Asset[]): void => {
    const { cache } = get();
    for (const asset of assets) {
      cache.delete(asset.id);
      cache.set(asset.id, withPending(asset));
    }
    for (const id of cache.keys()) {
      if (cache.size <= CACHE_CAPACITY) break;
      cache.delete(id);
    }
    set((s) => ({ revision: s.revision + 1 }));
  };

  const loadSearchPage = async (query: string, after: PageCursor | null, mine: number): Promise<void> => {
    const page = await call('search:query', { query, limit: SEARCH_PAGE, after });
    if (mine !== generation) return;
    remember(page.items);
    set((s) => ({ ids: after === null ? page.items.map((a) => a.id) : [...s.ids, ...page.items.map((a) => a.id)], more: page.next }));
  };

  const positions = async (source: GridSource): Promise<number[]> => {
    const input = source.kind === 'event' ? { eventId: source.eventId } : {};
    return (await call('assets:positions', input)).ids;
  };

  const edit = async (change: Partial<Culling>, send: (ids: number[]) => Promise<unknown>): Promise<void> => {
    const ids = get().targets();
    if (ids.length === 0) return;
    const { cache } = get();
    const before = new Map<number, Asset>();
    for (const id of ids) {
      const asset = cache.get(id);
      if (asset) {
        before.set(id, asset);
        cache.set(id, { ...asset, ...change });
      }
      pending.set(id, { ...pending.get(id), ...change });
    }
    set((s) => ({ revision: s.revision + 1 }));
    try {
      for (const batch of chunks(ids, EDIT_BATCH)) await send(batch);
    } catch (error) {
      // Roll back only what still shows this edit: a later key press on the same tile wins.
      for (const [id, asset] of before) {
        const now = cache.get(id);
        if (now && (Object.keys(change) as Array<keyof Culling>).every((key) => now[key] === change[key])) cache.set(id, { ...now, ...pick(asset, change) });
      }
      set((s) => ({ revision: s.revision + 1, error: asCallError(error) }));
    } finally {
      for (const id of ids) pending.delete(id);
    }
  };

  return {
    source: null,
    status: 'idle',
    ids: [],
    more: null,
    cache: new Map(),
    revision: 0,
    thumbs: new Map(),
    focus: -1,
    anchor: -1,
    selected: new Set(),
    loupe: false,
    tagRequest: 0,
    error: null,

    async open(source) {
      if (sourceKey(source) === sourceKey(get().source) && get().status === 'ready') return get().refresh();
      const mine = ++generation;
      set({ source, status: 'loading', ids: [], more: null, focus: -1, anchor: -1, selected: new Set(), loupe: false, error: null });
      try {
        if (source.kind === 'search') await loadSearchPage(source.query, null, mine);
        else {
          const ids = await positions(source);
          if (mine !== generation) return;
          set({ ids });
        }
        if (mine !== generation) return;
        const first = get().ids.length > 0 ? 0 : -1;
        set({ status: 'ready', focus: first, anchor: first, selected: new Set(first === 0 ? [get().ids[0]!] : []) });
      } catch (error) {
        if (mine === generation) set({ status: 'failed', error: asCallError(error) });
      }
    },

    async refresh() {
      const { source } = get();
      if (source === null || source.kind === 'search') return;
      const mine = generation;
      let ids: number[];
      try {
        ids = await positions(source);
      } catch (error) {
        set({ error: asCallError(error) });
        return;
      }
      if (mine !== generation) return;
      const { ids: old, focus, anchor, selected } = get();
      const at = new Map(ids.map((id, index) => [id, index]));
      const keep = (index: number): number => (index < 0 ? -1 : (at.get(old[index]!) ?? Math.min(index, ids.length - 1)));
      const stillSelected = new Set([...selected].filter((id) => at.has(id)));
      set({ ids, focus: keep(focus), anchor: keep(anchor), selected: stillSelected, status: 'ready' });
    },

    async ensure(start, end) {
      const { ids, cache, more, source } = get();
      const from = Math.max(0, start);
      const to = Math.min(ids.length - 1, end);
      const missing: number[] = [];
      const seen: Asset[] = [];
      for (let i = from; i <= to; i += 1) {
        const id = ids[i]!;
        const asset = cache.get(id);
        if (asset) seen.push(asset);
        else if (!inflight.has(id)) missing.push(id);
      }
      // Touch what is on screen so eviction takes what scrolled away longest ago.
      for (const asset of seen) {
        cache.delete(asset.id);
        cache.set(asset.id, asset);
      }
      const loads = chunks(missing, DETAIL_BATCH).map(async (batch) => {
        batch.forEach((id) => inflight.add(id));
        try {
          remember(await call('assets:getMany', { ids: batch }));
        } catch (error) {
          set({ error: asCallError(error) });
        } finally {
          batch.forEach((id) => inflight.delete(id));
        }
      });
      if (source?.kind === 'search' && more !== null && end >= ids.length - 1) loads.push(get().loadMore());
      await Promise.all(loads);
    },

    async loadMore() {
      const { source, more } = get();
      if (source?.kind !== 'search' || more === null || inflight.has(-1)) return;
      inflight.add(-1);
      try {
        await loadSearchPage(source.query, more, generation);
      } catch (error) {
        set({ error: asCallError(error) });
      } finally {
        inflight.delete(-1);
      }
    },

    select(index, mode) {
      const { ids, anchor, selected } = get();
      if (ids.length === 0) return;
      const target = Math.max(0, Math.min(ids.length - 1, index));
      const id = ids[target]!;
      if (mode === 'extend' && anchor >= 0) {
        const [lo, hi] = anchor < target ? [anchor, target] : [target, anchor];
        set({ focus: target, selected: new Set(ids.slice(lo, hi + 1)) });
      } else if (mode === 'toggle') {
        const next = new Set(selected);
        if (next.has(id)) next.delete(id);
        else next.add(id);
        set({ focus: target, anchor: target, selected: next });
      } else {
        set({ focus: target, anchor: target, selected: new Set([id]) });
      }
    },

    selectAll() {
      set((s) => ({ selected: new Set(s.ids) }));
    },

    targets() {
      const { selected, focus, ids } = get();
      if (selected.size > 0) return ids.length === selected.size ? [...ids] : ids.filter((id) => selected.has(id));
      return focus >= 0 && focus < ids.length ? [ids[focus]!] : [];
    },

    rate(rating) {
      return edit({ rating }, (ids) => call('assets:setRating', { ids, rating }));
    },

    flag(flag) {
      return edit({ flag }, (ids) => call('assets:setFlag', { ids, flag }));
    },

    label(label) {
      const { cache } = get();
      const ids = get().targets();
      const already = ids.length > 0 && ids.every((id) => cache.get(id)?.colorLabel === label);
      const colorLabel = already ? null : label;
      return edit({ colorLabel }, (batch) => call('assets:setColorLabel', { ids: batch, colorLabel }));
    },

    setLoupe(open) {
      set({ loupe: open && get().focus >= 0 });
    },

    requestTag() {
      set((s) => ({ tagRequest: s.tagRequest + 1 }));
    },

    thumbReady(assetId) {
      const { cache, thumbs } = get();
      thumbs.set(assetId, (thumbs.get(assetId) ?? 0) + 1);
      set((s) => ({ revision: s.revision + 1 }));
      // The placeholder and the pixel size are written with the thumbnail: re-read cached assets in one batch
      // (the old details stay on screen meanwhile); an asset not cached is read fresh when it scrolls in.
      if (!cache.has(assetId)) return;
      stale.add(assetId);
      staleTimer ??= setTimeout(() => {
        staleTimer = null;
        const ids = [...stale];
        stale.clear();
        for (const batch of chunks(ids, DETAIL_BATCH)) {
          call('assets:getMany', { ids: batch }).then(remember, () => batch.forEach((id) => cache.delete(id)));
        }
      }, 100);
    },

    dismissError() {
      set({ error: null });
    },

    connect() {
      let timer: ReturnType<typeof setTimeout> | null = null;
      const later = (): void => {
        timer ??= setTimeout(() => {
          timer = null;
          void get().refresh();
        }, REFRESH_MS);
      };
      const stops = [
        bridge().on('asset:thumbReady', ({ assetId }) => {
          get().thumbReady(assetId);
          // A thumbnail of an asset the grid does not list yet: something (an import, the folder watcher)
          // added assets, which may belong here.
          const { source, ids } = get();
          if (source !== null && source.kind !== 'search' && !ids.includes(assetId)) later();
        }),
        bridge().on('import:progress', later),
        bridge().on('import:finished', () => void get().refresh()),
      ];
      return () => {
        if (timer !== null) clearTimeout(timer);
        stops.forEach((stop) => stop());
      };
    },
  };
});

function pick(asset: Asset, change: Partial<Culling>): Partial<Culling> {
  return Object.fromEntries(Object.keys(change).map((key) => [key, asset[key as keyof Culling]]));
}
