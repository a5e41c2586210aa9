import { useEffect, useState } from 'react';
import type { EventCard } from '../../../app/ipc/contract.ts';
import { mediaUrl } from '../bridge/keepsake.ts';
import { ErrorNote } from '../components/ErrorNote.tsx';
import { EventForm } from '../components/EventForm.tsx';
import { PublishButton } from '../components/PublishPanel.tsx';
import { formatDay, plural } from '../lib/format.ts';
import { useEventsStore } from '../stores/events.store.ts';
import { useNavStore } from '../stores/nav.store.ts';

function dateRange(event: EventCard): string {
  const from = event.startsOn ?? event.firstCapturedAt?.slice(0, 10) ?? null;
  const to = event.endsOn ?? (event.startsOn ? null : (event.lastCapturedAt?.slice(0, 10) ?? null));
  if (!from) return 'No date yet';
  return to && to !== from ? `${formatDay(from)} – ${formatDay(to)}` : formatDay(from);
}

/** The events dashboard: a card per event (cover, dates, counts, what needs attention), and the event form. */
export function EventsView(): React.JSX.Element {
  const events = useEventsStore((s) => s.events);
  const status = useEventsStore((s) => s.status);
  const error = useEventsStore((s) => s.error);
  const load = useEventsStore((s) => s.load);
  const go = useNavStore((s) => s.go);
  const [editing, setEditing] = useState<EventCard | 'new' | null>(null);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <section className="screen events-screen" aria-labelledby="events-heading">
      <header className="events-bar">
        <h1 id="events-heading">Events</h1>
        <button type="button" className="primary" onClick={() => setEditing('new')}>
          New event
        </button>
      </header>
      {error ? <ErrorNote error={error} /> : null}
      {editing !== null ? <EventForm event={editing === 'new' ? null : editing} onClose={() => setEditing(null)} /> : null}
      {status === 'loading' ? <p className="muted">Loading events…</p> : null}
      {status === 'ready' && events.length === 0 ? <p className="muted">No events yet. Create one, or import a camera card into a new event.</p> : null}
      <ul className="event-cards" aria-label="Events">
        {events.map((event) => (
          <li key={event.id}>
            <article className="event-card" aria-label={event.name}>
              <button type="button" className="event-open" onClick={() => go({ name: 'grid', source: { kind: 'event', eventId: event.id } })} aria-label={`Open ${event.name}`}>
                <div className="event-cover">
                  {event.coverAssetId !== null ? <img src={mediaUrl(event.coverAssetId, 'thumb')} alt="" loading="lazy" decoding="async" /> : <span className="muted">No photos yet</span>}
                </div>
                <div className="event-text">
                  <h2>{event.name}</h2>
                  <p className="muted">
                    {dateRange(event)}
                    {event.location ? ` · ${event.location}` : ''}
                  </p>
                  <p className="event-counts">
                    {plural(event.photoCount, 'photo')} · {plural(event.videoCount, 'video')}
                  </p>
                </div>
              </button>
              <div className="event-badges">
                {event.unreadableCount > 0 ? (
                  <button
                    type="button"
                    className="badge bad"
                    title="Show the files that cannot be read"
                    onClick={() => go({ name: 'grid', source: { kind: 'search', query: `event:"${event.name.replace(/"/g, '')}" is:unreadable` } })}
                  >
                    {event.unreadableCount.toLocaleString()} unreadable
                  </button>
                ) : null}
                {event.missingCount > 0 ? <span className="badge warn">{event.missingCount.toLocaleString()} missing</span> : null}
                {event.unpublishedCount > 0 ? (
                  <span className="badge">{event.unpublishedCount.toLocaleString()} not published</span>
                ) : event.assetCount > 0 ? (
                  <span className="badge good">All published</span>
                ) : null}
                <span className="event-actions">
                  {event.assetCount > 0 ? <PublishButton eventId={event.id} /> : null}
                  <button type="button" className="ghost" onClick={() => setEditing(event)} aria-label={`Edit ${event.name}`}>
                    Edit
                  </button>
                </span>
              </div>
            </article>
          </li>
        ))}
      </ul>
    </section>
  );
}

