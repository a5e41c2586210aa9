/** The events the family may see (the service filters by audience), newest first, across their schools. */
import { listEvents, type GalleryEvent, type Membership } from '../api.ts';
import { h } from '../dom.ts';
import { formatDate, plural, t } from '../i18n/index.ts';

/** Newest first: by start date, then by name. */
export function newestFirst(events: GalleryEvent[]): GalleryEvent[] {
  return [...events].sort((a, b) => b.startsOn.localeCompare(a.startsOn) || a.name.localeCompare(b.name));
}

function dates(event: GalleryEvent): string {
  const start = formatDate(event.startsOn);
  return event.endsOn !== null && event.endsOn !== event.startsOn ? `${start} – ${formatDate(event.endsOn)}` : start;
}

function card(event: GalleryEvent, schoolName: string | undefined): HTMLElement {
  const href = `/events/${encodeURIComponent(event.id)}?school=${encodeURIComponent(event.schoolId)}`;
  const expired = event.expired === true;
  return h(
    'li',
    { class: `event${expired ? ' expired' : ''}`, 'data-event-id': event.id },
    h(
      'a',
      { href, 'data-link': true },
      h('span', { class: 'event-name' }, event.name),
      h('span', { class: 'event-dates' }, dates(event)),
      schoolName === undefined ? null : h('span', { class: 'event-school' }, schoolName),
      event.location === null ? null : h('span', { class: 'event-location' }, event.location),
      typeof event.mediaCount === 'number' ? h('span', { class: 'event-count' }, plural('events.photos', event.mediaCount)) : null,
      expired
        ? h('span', { class: 'badge', 'data-expired': true }, t('events.expired'))
        : typeof event.galleryExpiresOn === 'string'
          ? h('span', { class: 'event-until' }, t('events.openUntil', { date: formatDate(event.galleryExpiresOn) }))
          : null,
    ),
  );
}

export async function eventsPage(memberships: Membership[]): Promise<HTMLElement> {
  const lists = await Promise.all(memberships.map((m) => listEvents(m.schoolId).then((answer) => answer.events)));
  const events = newestFirst(lists.flat());
  const names = new Map(memberships.map((m) => [m.schoolId, m.schoolName]));
  const several = memberships.length > 1;
  return h(
    'section',
    { class: 'events', 'data-page': 'events' },
    h('h1', { tabindex: '-1' }, t('events.title')),
    events.length === 0 ? h('p', { class: 'empty' }, t('events.empty')) : h('ul', { class: 'event-list' }, ...events.map((e) => card(e, several ? names.get(e.schoolId) : undefined))),
  );
}
