/**
 * One event: its name and dates, then its grid and lightbox; closed galleries and unknown events say so.
 * A parent also gets filters (links, so the address keeps them): the family's favourites, or the photos
 * of one of their children.
 */
import { ApiFailure, getEvent, listChildren, listMedia, type FamilyChild, type GalleryEvent, type MediaFilter, type Membership } from '../api.ts';
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

/** The filter links of a parent: everything, the favourites, each child; the current one marked. */
function filters(event: GalleryEvent, children: FamilyChild[], filter: MediaFilter): HTMLElement {
  const base = `/events/${encodeURIComponent(event.id)}?school=${encodeURIComponent(event.schoolId)}`;
  const link = (href: string, text: string, current: boolean, key: string) =>
    h('a', { href, 'data-link': true, class: 'chip', 'data-filter': key, 'aria-current': current ? 'true' : undefined }, text);
  return h(
    'nav',
    { class: 'filters', 'aria-label': t('filter.label') },
    link(base, t('filter.all'), filter.favourites !== true && filter.child === undefined, 'all'),
    link(`${base}&favourites=1`, t('filter.favourites'), filter.favourites === true, 'favourites'),
    ...children.map((child) => link(`${base}&child=${encodeURIComponent(child.id)}`, t('filter.child', { name: child.firstName }), filter.child === child.id, `child-${child.id}`)),
  );
}

/** What an empty grid says, by filter. */
function emptyText(children: FamilyChild[], filter: MediaFilter): string {
  if (filter.favourites === true) return t('event.emptyFavourites');
  const child = children.find((c) => c.id === filter.child);
  return child === undefined ? t('event.empty') : t('event.emptyChild', { name: child.firstName });
}

/** The event's page; `filter` (from the address) narrows a parent's grid. */
export async function eventPage(memberships: Membership[], eventId: string, schoolHint: string | null, filter: MediaFilter = {}): Promise<PageHandle> {
  const event = await findEvent(memberships, eventId, schoolHint);
  if (event === undefined) return { element: notFoundPage() };
  const parent = memberships.some((m) => m.schoolId === event.schoolId && m.role === 'parent');
  const dates = event.endsOn !== null && event.endsOn !== event.startsOn ? `${formatDate(event.startsOn)} – ${formatDate(event.endsOn)}` : formatDate(event.startsOn);
  const heading = h('header', { class: 'event-header' }, h('h1', { tabindex: '-1' }, event.name), h('p', { class: 'event-dates' }, dates));
  const section = h('section', { class: 'event-page', 'data-page': 'event', 'data-event-id': event.id }, heading);
  if (event.expired === true) {
    section.append(closed(event));
    return { element: section };
  }
  const children = parent ? (await listChildren(event.schoolId)).children : [];
  if (parent) section.append(filters(event, children, filter));

  let cursor: string | null = null;
  let first = true;
  const grid = new MediaGrid(
    {
      more: async () => {
        if (!first && cursor === null) return null;
        first = false;
        const page = await listMedia(event.schoolId, event.id, cursor, filter);
        cursor = page.nextCursor;
        return page.media;
      },
    },
    (index) => lightbox.open(index),
  );
  const lightbox = new Lightbox(grid, event.schoolId, event.id, { favourites: parent });
  section.append(grid.element);
  const ready = grid.start().then(
    () => {
      if (grid.items.length === 0 && grid.complete) section.append(h('p', { class: 'empty' }, emptyText(children, filter)));
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
