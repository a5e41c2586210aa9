/** One event: its name and dates, then its grid and lightbox; closed galleries and unknown events say so. */
import { ApiFailure, getEvent, listMedia, type GalleryEvent, type Membership } from '../api.ts';
import { h } from '../dom.ts';
import { formatDate, t } from '../i18n/index.ts';
import { MediaGrid } from './grid.ts';
import { Lightbox } from './lightbox.ts';
import { notFoundPage } from './not-found.ts';

/** What the page leaves running (window listeners, the dialog), stopped when the reader moves on. */
export interface PageHandle {
  element: HTMLElement;
  ready?: Promise<void>;
  destroy?: () => void;
}

/** The event in the first of the schools that has it for this family (the link's school tried first). */
async function findEvent(memberships: Membership[], eventId: string, schoolHint: string | null): Promise<GalleryEvent | undefined> {
  const schools = memberships.map((m) => m.schoolId).sort((a, b) => Number(b === schoolHint) - Number(a === schoolHint));
  for (const schoolId of schools) {
    try {
      return await getEvent(schoolId, eventId);
    } catch (error) {
      if (!(error instanceof ApiFailure) || error.status !== 404) throw error;
    }
  }
  return undefined;
}

function closed(event: GalleryEvent): HTMLElement {
  return h('p', { class: 'closed', 'data-expired': true }, t('event.closed', { date: formatDate(event.galleryExpiresOn ?? event.startsOn) }));
}

export async function eventPage(memberships: Membership[], eventId: string, schoolHint: string | null): Promise<PageHandle> {
  const event = await findEvent(memberships, eventId, schoolHint);
  if (event === undefined) return { element: notFoundPage() };
  const dates = event.endsOn !== null && event.endsOn !== event.startsOn ? `${formatDate(event.startsOn)} – ${formatDate(event.endsOn)}` : formatDate(event.startsOn);
  const heading = h('header', { class: 'event-header' }, h('h1', { tabindex: '-1' }, event.name), h('p', { class: 'event-dates' }, dates));
  const section = h('section', { class: 'event-page', 'data-page': 'event', 'data-event-id': event.id }, heading);
  if (event.expired === true) {
    section.append(closed(event));
    return { element: section };
  }

  let cursor: string | null = null;
  let first = true;
  const grid = new MediaGrid(
    {
      more: async () => {
        if (!first && cursor === null) return null;
        first = false;
        const page = await listMedia(event.schoolId, event.id, cursor);
        cursor = page.nextCursor;
        return page.media;
      },
    },
    (index) => lightbox.open(index),
  );
  const lightbox = new Lightbox(grid, event.schoolId, event.id);
  section.append(grid.element);
  const ready = grid.start().then(
    () => {
      if (grid.items.length === 0 && grid.complete) section.append(h('p', { class: 'empty' }, t('event.empty')));
    },
    (error: unknown) => {
      grid.element.remove();
      if (error instanceof ApiFailure && error.status === 410) section.append(closed(event));
      else if (error instanceof ApiFailure && error.status === 404) section.replaceChildren(notFoundPage());
      else section.append(h('p', { class: 'error', role: 'alert' }, t('error.generic', { message: error instanceof Error ? error.message : String(error) })));
    },
  );
  return {
    element: section,
    ready,
    destroy: () => {
      grid.destroy();
      lightbox.destroy();
    },
  };
}
