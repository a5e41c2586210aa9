/**
 * An event's media as a grid of square thumbnails, windowed: only the rows near the screen exist in
 * the page (a few hundred elements whether the event has 100 or 10,000 media), placed with transforms
 * inside one block as tall as the whole grid. Each cell paints its thumbhash at once and loads its
 * thumbnail when it comes near the screen (IntersectionObserver). Pages of the listing are fetched as
 * the reader scrolls toward the end.
 */
import type { GalleryMedia } from '../api.ts';
import { h } from '../dom.ts';
import { t } from '../i18n/index.ts';
import { placeholderUrl } from '../placeholder.ts';

const GAP = 4;
const MIN_CELL = 110;
const MIN_COLUMNS = 3;
/** Screens of rows kept above and below the visible ones. */
const OVERSCAN = 1;

export interface GridSource {
  /** The next page, or null when there is none. */
  more(): Promise<GalleryMedia[] | null>;
}

export class MediaGrid {
  readonly element: HTMLElement;
  readonly items: GalleryMedia[] = [];
  private readonly canvas: HTMLElement;
  private readonly status: HTMLElement;
  private readonly cells = new Map<number, HTMLElement>();
  private readonly observer: IntersectionObserver;
  private columns = MIN_COLUMNS;
  private size = MIN_CELL;
  private finished = false;
  private loading: Promise<void> | undefined;
  private frame = 0;
  private readonly listeners = new AbortController();

  constructor(
    private readonly source: GridSource,
    private readonly open: (index: number) => void,
  ) {
    this.canvas = h('div', { class: 'grid-canvas', role: 'list' });
    this.status = h('p', { class: 'grid-status', 'aria-live': 'polite' });
    this.element = h('div', { class: 'grid' }, this.canvas, this.status);
    this.observer = new IntersectionObserver((entries) => this.reveal(entries), { rootMargin: '300px 0px' });
    const schedule = () => {
      if (this.frame === 0) this.frame = requestAnimationFrame(() => ((this.frame = 0), this.layout()));
    };
    const { signal } = this.listeners;
    window.addEventListener('scroll', schedule, { passive: true, signal });
    window.addEventListener(
      'resize',
      () => {
        for (const cell of this.cells.values()) cell.remove();
        this.cells.clear();
        schedule();
      },
      { signal },
    );
  }

  /** Stops listening to the window (the page is being left). */
  destroy(): void {
    this.listeners.abort();
    this.observer.disconnect();
    cancelAnimationFrame(this.frame);
  }

  /** Loads the first page and draws; resolves once something is on screen. */
  async start(): Promise<void> {
    await this.loadMore();
    this.layout();
  }

  /** Whether every page has been loaded. */
  get complete(): boolean {
    return this.finished;
  }

  /** Loads pages until `index` is loaded or the listing ends (the lightbox going past the last loaded item). */
  async ensure(index: number): Promise<boolean> {
    while (index >= this.items.length && !this.finished) await this.loadMore();
    return index < this.items.length;
  }

  /** Moves keyboard focus to the cell of `index` (scrolling it into view), after the lightbox closes. */
  focus(index: number): void {
    const row = Math.floor(index / this.columns);
    const top = this.canvas.getBoundingClientRect().top + window.scrollY + row * (this.size + GAP);
    if (top < window.scrollY || top + this.size > window.scrollY + window.innerHeight) window.scrollTo({ top: top - window.innerHeight / 3 });
    this.layout();
    this.cells.get(index)?.focus();
  }

  /** Draws item `index` again (it changed: marked as a favourite, say), keeping keyboard focus on it. */
  refresh(index: number): void {
    const old = this.cells.get(index);
    if (old === undefined) return;
    const focused = document.activeElement === old;
    const cell = this.cell(index);
    cell.style.cssText = old.style.cssText;
    // The thumbnail already shown stays (the browser has it); no fade-in again.
    const shown = old.querySelector<HTMLImageElement>('img.thumb.loaded');
    const image = cell.querySelector<HTMLImageElement>('img.thumb');
    if (shown !== null && image !== null) {
      image.src = shown.src;
      image.classList.add('loaded');
    }
    this.observer.unobserve(old);
    old.replaceWith(cell);
    this.cells.set(index, cell);
    this.observer.observe(cell);
    if (focused) cell.focus();
  }

  private loadMore(): Promise<void> {
    if (this.finished) return Promise.resolve();
    this.loading ??= (async () => {
      this.status.textContent = t('event.more');
      try {
        const page = await this.source.more();
        if (page === null) this.finished = true;
        else this.items.push(...page);
      } finally {
        this.loading = undefined;
        this.status.textContent = '';
      }
      this.layout();
    })();
    return this.loading;
  }

  private layout(): void {
    const width = this.canvas.clientWidth;
    if (width === 0) return;
    this.columns = Math.max(MIN_COLUMNS, Math.floor((width + GAP) / (MIN_CELL + GAP)));
    this.size = (width - GAP * (this.columns - 1)) / this.columns;
    const rows = Math.ceil(this.items.length / this.columns);
    this.canvas.style.height = `${Math.max(0, rows * (this.size + GAP) - GAP)}px`;

    const top = this.canvas.getBoundingClientRect().top;
    const pitch = this.size + GAP;
    const first = Math.max(0, Math.floor((-top - window.innerHeight * OVERSCAN) / pitch));
    const last = Math.min(rows - 1, Math.ceil((-top + window.innerHeight * (1 + OVERSCAN)) / pitch));
    const from = first * this.columns;
    const to = Math.min(this.items.length - 1, (last + 1) * this.columns - 1);

    for (const [index, cell] of this.cells) {
      if (index < from || index > to) {
        this.observer.unobserve(cell);
        cell.remove();
        this.cells.delete(index);
      }
    }
    for (let index = from; index <= to; index++) {
      let cell = this.cells.get(index);
      if (cell === undefined) {
        cell = this.cell(index);
        this.cells.set(index, cell);
        this.canvas.append(cell);
        this.observer.observe(cell);
      }
      const x = (index % this.columns) * pitch;
      const y = Math.floor(index / this.columns) * pitch;
      cell.style.transform = `translate(${x}px, ${y}px)`;
      cell.style.width = `${this.size}px`;
      cell.style.height = `${this.size}px`;
    }
    // Near the end of what is loaded: fetch the next page before the reader gets there.
    if (!this.finished && last >= rows - Math.ceil((window.innerHeight * 2) / pitch)) void this.loadMore();
  }

  private cell(index: number): HTMLElement {
    const item = this.items[index] as GalleryMedia;
    const total = this.finished ? this.items.length : `${this.items.length}+`;
    const opens = t(item.kind === 'video' ? 'event.openVideo' : 'event.open', { position: index + 1, total });
    const favourite = item.favourite === true;
    const label = favourite ? t('event.isFavourite', { label: opens }) : opens;
    const placeholder = placeholderUrl(item.thumbhash);
    const button = h(
      'button',
      {
        type: 'button',
        class: `cell${item.kind === 'video' ? ' video' : ''}${favourite ? ' favourite' : ''}`,
        role: 'listitem',
        'aria-label': label,
        'data-index': String(index),
        'data-asset-id': item.assetId,
        'data-favourite': favourite,
      },
      placeholder === undefined ? null : h('img', { class: 'placeholder', src: placeholder, alt: '', 'aria-hidden': 'true' }),
      h('img', { class: 'thumb', alt: '', decoding: 'async', 'data-src': item.variants.thumb?.url ?? item.variants.poster?.url }),
      favourite ? h('span', { class: 'heart', 'aria-hidden': 'true' }, '♥') : null,
    );
    button.addEventListener('click', () => this.open(index));
    return button;
  }

  private reveal(entries: IntersectionObserverEntry[]): void {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      this.observer.unobserve(entry.target);
      const image = entry.target.querySelector<HTMLImageElement>('img.thumb');
      const src = image?.dataset.src;
      if (image === null || image === undefined || src === undefined || image.src !== '') continue;
      image.addEventListener('load', () => image.classList.add('loaded'), { once: true });
      image.src = src;
    }
  }
}
