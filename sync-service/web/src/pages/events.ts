/**
 * The events the family may see (the service filters by audience), newest first, across their schools,
 * each with how many photos the family may see in it and its first photo's thumbhash as a cover.
 */
import { listEvents, mediaCounts, type EventMediaCount, type GalleryEvent, type Membership } from '../api.ts';
import { h } from '../dom.ts';
import { formatDate, plural, t } from '../i18n/index.ts';
import { placeholderUrl } from '../placeholder.ts';

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
  const cover = placeholderUrl(event.coverThumbhash);
  return h(
    'li',
    { class: `event${expired ? ' expired' : ''}`, 'data-event-id': event.id },
    h(
      'a',
      { href, 'data-link': true },
      cover === undefined ? null : h('img', { class: 'event-cover', src: cover, alt: '', 'aria-hidden': 'true' }),
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

/** The school's counts, or none when the service cannot give them: the list still shows without. */
async function countsOf(schoolId: string): Promise<Map<string, EventMediaCount>> {
  try {
    return new Map((await mediaCounts(schoolId)).events.map((count) => [count.eventId, count]));
  } catch {
    return new Map();
  }
}

/** The events page of a family (or anyone signed in) across all their schools. */
export async function eventsPage(memberships: Membership[]): Promise<HTMLElement> {
  const lists = await Promise.all(
    memberships.map(async (m) => {
      const [answer, counts] = await Promise.all([listEvents(m.schoolId), countsOf(m.schoolId)]);
      return answer.events.map((event) => {
        const count = counts.get(event.id);
        return count === undefined ? event : { ...event, mediaCount: count.mediaCount, coverThumbhash: count.coverThumbhash };
      });
    }),
  );
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
