import { useEffect, useState } from 'react';
import type { AdminEvent, AdminPeople } from '../../../../app/ipc/admin-contract.ts';
import { useAdminEventsStore } from '../../stores/admin-events.store.ts';
import { useAdminPeopleStore } from '../../stores/admin-people.store.ts';
import { ErrorNote } from '../ErrorNote.tsx';
import { SchoolEventForm } from './SchoolEventForm.tsx';

/** "Whole school", or the classes and families named, by name. */
export function audienceText(event: AdminEvent, people: AdminPeople | null): string {
  if (event.audience.scope === 'school') return 'Whole school';
  const classes = event.audience.classIds.map((id) => people?.classes.find((c) => c.id === id)?.name ?? 'a class');
  const families = event.audience.familyIds.map((id) => people?.families.find((f) => f.id === id)?.name ?? 'a family');
  return [...classes, ...families].join(', ');
}

const STATE_LABEL: Record<AdminEvent['state'], string> = { draft: 'Draft', published: 'Published', archived: 'Archived' };

/** The school's events: state, audience and gallery expiry; create, edit, archive. */
export function EventsSection(): React.JSX.Element {
  const events = useAdminEventsStore((s) => s.events);
  const error = useAdminEventsStore((s) => s.error);
  const load = useAdminEventsStore((s) => s.load);
  const archive = useAdminEventsStore((s) => s.archive);
  const dismiss = useAdminEventsStore((s) => s.dismiss);
  const people = useAdminPeopleStore((s) => s.people);
  const loadPeople = useAdminPeopleStore((s) => s.load);
  const [editing, setEditing] = useState<AdminEvent | 'new' | null>(null);

  useEffect(() => {
    void load();
    if (!useAdminPeopleStore.getState().people) void loadPeople();
  }, [load, loadPeople]);

  return (
    <section aria-label="School events">
      <div className="events-bar">
        <h2>School events</h2>
        <button type="button" className="primary" onClick={() => setEditing('new')}>
          New school event
        </button>
      </div>
      {error ? <ErrorNote error={error} onDismiss={dismiss} /> : null}
      {editing ? <SchoolEventForm event={editing === 'new' ? null : editing} people={people} onClose={() => setEditing(null)} /> : null}
      {events && events.length === 0 ? <p className="muted">No school events yet.</p> : null}
      {events && events.length > 0 ? (
        <table className="admin-table" aria-label="Events of the school">
          <thead>
            <tr>
              <th>Event</th>
              <th>Dates</th>
              <th>State</th>
              <th>Who sees it</th>
              <th>Gallery open until</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {events.map((event) => (
              <tr key={event.id} aria-label={event.name}>
                <td>{event.name}</td>
                <td>{event.endsOn && event.endsOn !== event.startsOn ? `${event.startsOn} – ${event.endsOn}` : event.startsOn}</td>
                <td>
                  <span className={event.state === 'published' ? 'badge good' : 'badge'}>{STATE_LABEL[event.state]}</span>
                </td>
                <td>{audienceText(event, people)}</td>
                <td>{event.galleryExpiresOn ? `${event.galleryExpiresOn}${event.expired ? ' (closed)' : ''}` : 'No end'}</td>
                <td className="row-actions">
                  <button type="button" onClick={() => setEditing(event)}>
                    Edit
                  </button>
                  {event.state !== 'archived' ? (
                    <button type="button" onClick={() => void archive(event)}>
                      Archive
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
