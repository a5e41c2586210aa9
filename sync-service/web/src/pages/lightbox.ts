/**
 * One photo or video at a time, over the grid: a modal dialog (focus stays inside, Esc closes it),
 * ← and → or a swipe to move, the preview image or the video from its proxy (the poster shows
 * first), and a download of the preview, or of the original when the event has one. For parents,
 * a switch marks the photo as one of the family's favourites.
 */
import { mediaUrl, setFavourite, type GalleryMedia } from '../api.ts';
import { reportViewWhenSeen } from '../analytics.ts';
import { h } from '../dom.ts';
import { t } from '../i18n/index.ts';
import { placeholderUrl } from '../placeholder.ts';
import type { MediaGrid } from './grid.ts';

/** Horizontal travel, in CSS pixels, that counts as a swipe. */
const SWIPE = 50;

export class Lightbox {
  private readonly dialog: HTMLDialogElement;
  private readonly stage: HTMLElement;
  private readonly position: HTMLElement;
  private readonly previous: HTMLButtonElement;
  private readonly next: HTMLButtonElement;
  private readonly download: HTMLButtonElement;
  private readonly favourite: HTMLButtonElement;
  private readonly note: HTMLElement;
  private index = 0;
  /** A favourite being saved: further presses wait (the button stays enabled, so keyboard focus stays on it). */
  private saving = false;
  /** Bumped on each move, so a slow URL for a photo already left behind is dropped. */
  private showing = 0;

  constructor(
    private readonly grid: MediaGrid,
    private readonly schoolId: string,
    private readonly eventId: string,
    /** `favourites`: the reader has a family, whose favourites the viewer can mark. */
    options: { favourites?: boolean } = {},
  ) {
    this.stage = h('div', { class: 'stage' });
    this.position = h('p', { class: 'position', 'aria-live': 'polite' });
    this.previous = h('button', { type: 'button', class: 'nav previous', 'aria-label': t('lightbox.previous') }, '‹');
    this.next = h('button', { type: 'button', class: 'nav next', 'aria-label': t('lightbox.next') }, '›');
    this.download = h('button', { type: 'button', class: 'download primary' }, t('lightbox.download'));
    this.favourite = h('button', { type: 'button', class: 'favourite', 'aria-pressed': 'false', hidden: options.favourites !== true }, h('span', { class: 'label' }, t('lightbox.favourite')));
    this.note = h('p', { class: 'note', role: 'status' });
    const close = h('button', { type: 'button', class: 'close', 'aria-label': t('lightbox.close') }, '×');
    this.dialog = h(
      'dialog',
      { class: 'lightbox', 'aria-label': t('lightbox.label'), tabindex: '-1' },
      this.stage,
      this.previous,
      this.next,
      h('div', { class: 'toolbar' }, this.position, this.note, this.favourite, this.download, close),
    );
    document.body.append(this.dialog);

    close.addEventListener('click', () => this.dialog.close());
    this.previous.addEventListener('click', () => void this.move(-1));
    this.next.addEventListener('click', () => void this.move(1));
    this.download.addEventListener('click', () => void this.save());
    this.favourite.addEventListener('click', () => void this.toggleFavourite());
    this.dialog.addEventListener('close', () => {
      this.stop();
      // After the browser's own focus restoring (to the cell that opened the dialog): the reader's place is the last one shown.
      setTimeout(() => this.grid.focus(this.index), 0);
    });
    this.dialog.addEventListener('keydown', (event) => {
      if (event.key === 'ArrowLeft') void this.move(-1);
      else if (event.key === 'ArrowRight') void this.move(1);
      else return;
      event.preventDefault();
    });
    let startX: number | undefined;
    this.stage.addEventListener('pointerdown', (event) => {
      startX = event.clientX;
    });
    this.stage.addEventListener('pointerup', (event) => {
      if (startX === undefined) return;
      const travel = event.clientX - startX;
      startX = undefined;
      if (Math.abs(travel) >= SWIPE) void this.move(travel < 0 ? 1 : -1);
    });
  }

  /** Opens on item `index` of the grid. */
  open(index: number): void {
    // Shown first, so the dialog's initial focus never lands on a button about to be disabled (‹ on the first photo).
    this.show(index);
    if (!this.dialog.open) this.dialog.showModal();
  }

  /** Removes the dialog from the page (the page is being left). */
  destroy(): void {
    this.stop();
    this.dialog.remove();
  }

  private async move(step: number): Promise<void> {
    const target = this.index + step;
    if (target < 0) return;
    if (!(await this.grid.ensure(target))) return;
    this.show(target);
  }

  private stop(): void {
    for (const video of this.stage.querySelectorAll('video')) video.pause();
  }

  private show(index: number): void {
    const item = this.grid.items[index];
    if (item === undefined) return;
    this.stop();
    this.index = index;
    const ticket = ++this.showing;
    const total = this.grid.complete ? String(this.grid.items.length) : `${this.grid.items.length}+`;
    this.position.textContent = t('lightbox.position', { position: index + 1, total });
    this.previous.disabled = index === 0;
    this.next.disabled = this.grid.complete && index === this.grid.items.length - 1;
    this.download.textContent = t(item.variants.original === undefined ? 'lightbox.download' : 'lightbox.downloadOriginal');
    this.favourite.setAttribute('aria-pressed', String(item.favourite === true));
    this.note.textContent = '';
    this.stage.dataset.assetId = item.assetId;
    reportViewWhenSeen(this.stage, this.schoolId, this.eventId, item.assetId);
    this.stage.replaceChildren(item.kind === 'video' ? this.video(item, ticket) : this.photo(item, index));
    // A disabled button (‹ on the first item) or a replaced video drops the focus to the page, where the arrow
    // keys no longer reach the dialog: keep it inside.
    const focused = document.activeElement;
    if (this.dialog.open && (focused === null || !this.dialog.contains(focused) || (focused instanceof HTMLButtonElement && focused.disabled))) this.dialog.focus();
  }

  private photo(item: GalleryMedia, index: number): HTMLElement {
    const placeholder = placeholderUrl(item.thumbhash);
    const image = h('img', { class: 'preview', alt: t('lightbox.photo', { position: index + 1 }), src: item.variants.preview?.url ?? item.variants.thumb?.url });
    // A listing's URL may have run out while the page stayed open: ask for a fresh one, once.
    image.addEventListener('error', () => void this.fresh(item, 'preview').then((url) => url !== undefined && image.src !== url && (image.src = url)), { once: true });
    return h('figure', {}, placeholder === undefined ? null : h('img', { class: 'placeholder', src: placeholder, alt: '', 'aria-hidden': 'true' }), image);
  }

  private video(item: GalleryMedia, ticket: number): HTMLElement {
    const video = h('video', {
      class: 'preview',
      controls: true,
      playsinline: true,
      preload: 'none',
      'aria-label': t('lightbox.video', { position: this.index + 1 }),
      poster: item.variants.poster?.url ?? item.variants.thumb?.url,
    });
    if (item.variants.proxy !== undefined) {
      void this.fresh(item, 'proxy').then((url) => {
        if (url !== undefined && ticket === this.showing) video.src = url;
      });
    }
    return h('figure', {}, video);
  }

  private async fresh(item: GalleryMedia, variant: string, download = false): Promise<string | undefined> {
    try {
      return (await mediaUrl(this.schoolId, this.eventId, item.assetId, variant, download)).url;
    } catch {
      return undefined;
    }
  }

  /** Marks or unmarks the photo shown; the grid's cell follows, and a failure puts the switch back. */
  private async toggleFavourite(): Promise<void> {
    const index = this.index;
    const item = this.grid.items[index];
    if (item === undefined || this.saving) return;
    const on = item.favourite !== true;
    this.favourite.setAttribute('aria-pressed', String(on));
    this.favourite.setAttribute('aria-busy', 'true');
    this.saving = true;
    try {
      await setFavourite(this.schoolId, this.eventId, item.assetId, on);
      item.favourite = on;
      this.grid.refresh(index);
    } catch {
      if (index === this.index) {
        this.favourite.setAttribute('aria-pressed', String(!on));
        this.note.textContent = t('lightbox.favouriteFailed');
      }
    } finally {
      this.saving = false;
      this.favourite.removeAttribute('aria-busy');
    }
  }

  /** Saves the original when the event has one, else the preview (the URL makes the browser download it). */
  private async save(): Promise<void> {
    const item = this.grid.items[this.index];
    if (item === undefined) return;
    const variant = item.variants.original !== undefined ? 'original' : item.variants.preview !== undefined ? 'preview' : 'thumb';
    const url = await this.fresh(item, variant, true);
    if (url === undefined) return;
    const link = h('a', { href: url, rel: 'noopener' });
    document.body.append(link);
    link.click();
    link.remove();
  }
}
