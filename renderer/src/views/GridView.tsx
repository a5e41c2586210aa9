import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { AssetTile, tileDomId } from '../components/AssetTile.tsx';
import { ErrorNote } from '../components/ErrorNote.tsx';
import { PublishButton } from '../components/PublishPanel.tsx';
import { Loupe } from '../components/Loupe.tsx';
import { MetadataPanel } from '../components/MetadataPanel.tsx';
import { cullAction, isTypingTarget, type CullAction } from '../lib/keymap.ts';
import { useEventsStore } from '../stores/events.store.ts';
import { DETAIL_BATCH, useGridStore } from '../stores/grid.store.ts';
import type { GridSource } from '../stores/nav.store.ts';

/** Smallest tile edge; columns are as many as fit the width. */
const MIN_TILE = 168;
const GAP = 6;
const PADDING = 12;
/** Rows kept mounted beyond each edge of the screen, so a fast scroll never shows an empty row. */
const OVERSCAN = 3;
/**
 * Details are read in aligned blocks of this many tiles, and the next block before the scroll reaches it: a
 * scroll then reads once every few hundred tiles instead of once a row.
 */
const DETAIL_BLOCK = DETAIL_BATCH;

/** How far a move key goes, in tiles, for a grid of `columns` with `pageRows` rows on screen; the loupe steps one at a time. */
function step(by: Extract<CullAction, { type: 'move' }>['by'], columns: number, pageRows: number, loupe: boolean): number {
  if (loupe) return by === 'left' || by === 'up' || by === 'pageUp' ? -1 : by === 'home' ? -Infinity : by === 'end' ? Infinity : 1;
  switch (by) {
    case 'left':
      return -1;
    case 'right':
      return 1;
    case 'up':
      return -columns;
    case 'down':
      return columns;
    case 'pageUp':
      return -columns * pageRows;
    case 'pageDown':
      return columns * pageRows;
    case 'home':
      return -Infinity;
    case 'end':
      return Infinity;
  }
}

/** Applies a culling key to the grid store; returns false when the key means nothing here. */
export function applyCullAction(action: CullAction, layout: { columns: number; pageRows: number }): boolean {
  const grid = useGridStore.getState();
  switch (action.type) {
    case 'move': {
      if (grid.ids.length === 0) return true;
      const from = Math.max(0, grid.focus);
      const by = step(action.by, layout.columns, layout.pageRows, grid.loupe);
      const to = Number.isFinite(by) ? from + by : by < 0 ? 0 : grid.ids.length - 1;
      // Up from the first row or down from the last stays put rather than jumping to a corner.
      if (to < 0 || to > grid.ids.length - 1) {
        if (action.by === 'up' || action.by === 'down') return true;
      }
      grid.select(to, action.extend ? 'extend' : 'replace');
      return true;
    }
    case 'selectAll':
      grid.selectAll();
      return true;
    case 'rate':
      void grid.rate(action.rating);
      return true;
    case 'flag':
      void grid.flag(action.flag);
      return true;
    case 'label':
      void grid.label(action.label);
      return true;
    case 'loupe':
      grid.setLoupe(!grid.loupe);
      return true;
    case 'close':
      if (grid.loupe) grid.setLoupe(false);
      else if (grid.selected.size > 1 && grid.focus >= 0) grid.select(grid.focus, 'replace');
      return true;
    case 'tag':
      grid.requestTag();
      return true;
  }
}

function heading(source: GridSource, eventName: string | undefined): string {
  if (source.kind === 'event') return eventName ?? 'Event';
  if (source.kind === 'search') return `Search: ${source.query}`;
  return 'All photos';
}

/**
 * The grid of an event, the timeline or a search: virtualised rows over the source's full list of ids (its
 * true height at once), details for the visible window only, keyboard-first culling, the loupe and the
 * metadata panel.
 */
export function GridView({ source }: { source: GridSource }): React.JSX.Element {
  const open = useGridStore((s) => s.open);
  const connect = useGridStore((s) => s.connect);
  const ids = useGridStore((s) => s.ids);
  const status = useGridStore((s) => s.status);
  const error = useGridStore((s) => s.error);
  const dismissError = useGridStore((s) => s.dismissError);
  const loupe = useGridStore((s) => s.loupe);
  const focus = useGridStore((s) => s.focus);
  const selected = useGridStore((s) => s.selected);
  const tagRequest = useGridStore((s) => s.tagRequest);
  const more = useGridStore((s) => s.more);
  const eventName = useEventsStore((s) => (source.kind === 'event' ? s.events.find((e) => e.id === source.eventId)?.name : undefined));
  const loadEvents = useEventsStore((s) => s.load);
  const sourceKey = JSON.stringify(source);

  useEffect(() => {
    void open(JSON.parse(sourceKey) as GridSource);
  }, [sourceKey, open]);
  useEffect(() => connect(), [connect]);
  useEffect(() => {
    if (source.kind === 'event' && eventName === undefined) void loadEvents();
  }, [source.kind, eventName, loadEvents]);

  const scrollRef = useRef<HTMLDivElement>(null);
  const gridRef = useRef<HTMLDivElement>(null);
  const [box, setBox] = useState({ width: 0, height: 0 });
  useLayoutEffect(() => {
    const element = scrollRef.current;
    if (!element) return;
    const measure = (): void => setBox({ width: element.clientWidth, height: element.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  const inner = Math.max(0, box.width - PADDING * 2);
  const columns = Math.max(1, Math.floor((inner + GAP) / (MIN_TILE + GAP)));
  const tile = Math.max(40, Math.floor((inner - GAP * (columns - 1)) / columns));
  const rowHeight = tile + GAP;
  const rows = Math.ceil(ids.length / columns);
  const pageRows = Math.max(1, Math.floor(box.height / rowHeight));

  // Keys cull as soon as the grid shows, unless the person is typing somewhere (the search box).
  useEffect(() => {
    const active = document.activeElement;
    if (status === 'ready' && !(active instanceof HTMLInputElement || active instanceof HTMLTextAreaElement)) gridRef.current?.focus({ preventScroll: true });
  }, [status]);

  // Focus goes back to the grid when the loupe closes, so the next key still culls.
  const wasLoupe = useRef(loupe);
  useEffect(() => {
    if (wasLoupe.current && !loupe) gridRef.current?.focus();
    wasLoupe.current = loupe;
  }, [loupe]);

  const onKeyDown = useCallback(
    (event: React.KeyboardEvent) => {
      if (isTypingTarget(event.target, event.key)) return;
      const action = cullAction(event);
      if (action && applyCullAction(action, { columns, pageRows })) event.preventDefault();
    },
    [columns, pageRows],
  );

  const targets = useMemo(() => {
    if (selected.size > 0) return selected.size === ids.length ? ids : ids.filter((id) => selected.has(id));
    return focus >= 0 && focus < ids.length ? [ids[focus]!] : [];
  }, [selected, focus, ids]);
  const focusedId = focus >= 0 ? ids[focus] : undefined;
  const backToGrid = useCallback(() => gridRef.current?.focus(), []);

  return (
    <section className="grid-screen" aria-label={heading(source, eventName)}>
      <header className="grid-bar">
        <h1>{heading(source, eventName)}</h1>
        <span className="muted" aria-live="polite">
          {status === 'loading' ? 'Loading…' : `${ids.length.toLocaleString()}${more ? '+' : ''} items`}
          {selected.size > 1 ? ` · ${selected.size.toLocaleString()} selected` : ''}
        </span>
        <span className="grid-keys muted" aria-hidden="true">
          ←↑→↓ move · 1–5 rate · 0 clear · P pick · X reject · U unflag · 6–9 label · T tag · Space preview
        </span>
        {source.kind === 'event' ? <PublishButton eventId={source.eventId} /> : null}
      </header>
      {error ? <ErrorNote error={error} onDismiss={status === 'failed' ? undefined : dismissError} /> : null}
      {status === 'failed' ? (
        <p className="grid-retry">
          <button type="button" onClick={() => void open(JSON.parse(sourceKey) as GridSource)}>
            Try again
          </button>
        </p>
      ) : null}
      <div className="grid-body">
        <div className="grid-main" onKeyDown={onKeyDown}>
          <div className="grid-scroll" ref={scrollRef}>
            {status === 'ready' && ids.length === 0 ? (
              <p className="grid-empty muted">{source.kind === 'search' ? 'Nothing matches this search.' : 'No photos or videos here yet. Import a card to fill it.'}</p>
            ) : null}
            <div
              ref={gridRef}
              role="grid"
              tabIndex={0}
              aria-label="Photos and videos"
              aria-multiselectable="true"
              aria-rowcount={rows}
              aria-colcount={columns}
              aria-activedescendant={focusedId !== undefined ? tileDomId(focusedId) : undefined}
              className="grid"
              style={{ height: PADDING * 2 + rows * rowHeight, position: 'relative' }}
            >
              <GridRows scrollRef={scrollRef} ids={ids} columns={columns} tile={tile} focus={focus} />
            </div>
          </div>
          {loupe ? <Loupe /> : null}
        </div>
        <MetadataPanel ids={targets} tagRequest={tagRequest} onDone={backToGrid} />
      </div>
    </section>
  );
}

/**
 * The rows on screen (and a few beyond), virtualised over every row of `ids`. A scroll re-renders this alone,
 * only when the window of rows changes, and of its rows only those that came into it: the header, the
 * metadata panel and the rows already shown are left as they are.
 */
const GridRows = memo(function GridRows({
  scrollRef,
  ids,
  columns,
  tile,
  focus,
}: {
  scrollRef: React.RefObject<HTMLDivElement | null>;
  ids: number[];
  columns: number;
  tile: number;
  /** The focused tile's index: whenever it changes, its row is scrolled into view. */
  focus: number;
}): React.JSX.Element {
  const ensure = useGridStore((s) => s.ensure);
  const rowHeight = tile + GAP;
  const rows = Math.ceil(ids.length / columns);
  const virtualizer = useVirtualizer({
    count: rows,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => rowHeight,
    overscan: OVERSCAN,
    paddingStart: PADDING,
    paddingEnd: PADDING,
    // The new rows render in their own task rather than inside the scroll event: the overscan covers the
    // frame in between, and the frame is not held back by the render.
    useFlushSync: false,
  });
  useEffect(() => virtualizer.measure(), [rowHeight, virtualizer]);
  const items = virtualizer.getVirtualItems();
  const firstRow = items[0]?.index ?? 0;
  const lastRow = items.at(-1)?.index ?? -1;

  // The details of the block the window is in, and of the next block in the direction of the scroll once the
  // window is within a screen of it: a read once a block, and none while the window stays in one (each range
  // change only marks what is cached as recently shown, and retries what failed).
  const down = virtualizer.scrollDirection !== 'backward';
  const span = (lastRow - firstRow + 1) * columns;
  const from = Math.floor(Math.max(0, firstRow * columns - (down ? 0 : span)) / DETAIL_BLOCK) * DETAIL_BLOCK;
  const to = (Math.floor(((lastRow + 1) * columns - 1 + (down ? span : 0)) / DETAIL_BLOCK) + 1) * DETAIL_BLOCK - 1;
  useEffect(() => {
    if (lastRow >= 0) void ensure(from, to);
  }, [from, to, lastRow, ids, ensure]);

  useEffect(() => {
    if (focus >= 0 && rows > 0) virtualizer.scrollToIndex(Math.floor(focus / columns), { align: 'auto' });
  }, [focus, columns, rows, virtualizer]);

  return (
    <>
      {items.map((row) => (
        <GridRow key={row.key} index={row.index} start={row.start} ids={ids} columns={columns} tile={tile} />
      ))}
    </>
  );
});

/** One row of tiles; re-rendered only when its place, its ids or the layout change. */
const GridRow = memo(function GridRow({ index, start, ids, columns, tile }: { index: number; start: number; ids: number[]; columns: number; tile: number }): React.JSX.Element {
  const first = index * columns;
  return (
    <div role="row" aria-rowindex={index + 1} className="grid-row" style={{ transform: `translateY(${start}px)`, height: tile, gap: GAP, left: PADDING, right: PADDING }}>
      {ids.slice(first, first + columns).map((id, i) => (
        <AssetTile key={id} id={id} index={first + i} size={tile} />
      ))}
    </div>
  );
});
