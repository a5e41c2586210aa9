import { useState } from 'react';
import type { AdminEvent, AdminPeople } from '../../../../app/ipc/admin-contract.ts';
import { asCallError, CallError } from '../../bridge/keepsake.ts';
import { useAdminEventsStore, type SchoolEventDraft } from '../../stores/admin-events.store.ts';
import { ErrorNote } from '../ErrorNote.tsx';

const FIELD_NAMES: Readonly<Record<string, string>> = { name: 'Name', startsOn: 'First day', endsOn: 'Last day', galleryExpiresOn: 'Gallery open until', audience: 'Who sees it' };

/** The contract names fields ("startsOn"); the form says them as its labels do. */
function inFormWords(error: CallError): CallError {
  const message = error.message.replace(/"(\w+)(?:\.\w+)*"/g, (whole, field: string) => (FIELD_NAMES[field] ? `“${FIELD_NAMES[field]}”` : whole));
  return new CallError({ code: error.code, message, ...(error.hint ? { hint: error.hint } : {}) });
}

function draftOf(event: AdminEvent | null): SchoolEventDraft {
  return {
    name: event?.name ?? '',
    startsOn: event?.startsOn ?? '',
    endsOn: event?.endsOn ?? null,
    location: event?.location ?? null,
    state: event?.state ?? 'draft',
    audience: event?.audience ?? { scope: 'school' },
    galleryExpiresOn: event?.galleryExpiresOn ?? null,
  };
}

/** Creates a school event or edits one: dates, state, who sees its gallery (classes and families) and until when. */
export function SchoolEventForm({ event, people, onClose }: { event: AdminEvent | null; people: AdminPeople | null; onClose: () => void }): React.JSX.Element {
  const save = useAdminEventsStore((s) => s.save);
  const [draft, setDraft] = useState<SchoolEventDraft>(() => draftOf(event));
  const [error, setError] = useState<CallError | null>(null);
  const [saving, setSaving] = useState(false);
  const some = draft.audience.scope === 'some' ? draft.audience : { scope: 'some' as const, classIds: [], familyIds: [] };

  const toggle = (kind: 'classIds' | 'familyIds', id: string) => (e: React.ChangeEvent<HTMLInputElement>) => {
    const list = new Set(some[kind]);
    if (e.target.checked) list.add(id);
    else list.delete(id);
    setDraft((d) => ({ ...d, audience: { ...some, [kind]: [...list] } }));
  };
  const text = (field: 'endsOn' | 'location' | 'galleryExpiresOn') => (e: React.ChangeEvent<HTMLInputElement>) => setDraft((d) => ({ ...d, [field]: e.target.value === '' ? null : e.target.value }));

  const submit = async (e: React.FormEvent): Promise<void> => {
    e.preventDefault();
    if (!draft.name.trim() || !draft.startsOn) {
      setError(new CallError({ code: 'invalid-input', message: !draft.name.trim() ? 'Give the event a name.' : 'Give the event its first day.' }));
      return;
    }
    if (draft.endsOn && draft.endsOn < draft.startsOn) {
      setError(new CallError({ code: 'invalid-input', message: 'The last day is before the first day.', hint: 'Swap the dates, or leave the last day empty for a one-day event.' }));
      return;
    }
    setSaving(true);
    setError(null);
    try {
      await save(draft, event);
      onClose();
    } catch (failure) {
      setError(inFormWords(asCallError(failure)));
    } finally {
      setSaving(false);
    }
  };

  return (
    <form className="event-form" aria-label={event ? `Edit ${event.name}` : 'New school event'} onSubmit={(e) => void submit(e)}>
      <h2>{event ? `Edit ${event.name}` : 'New school event'}</h2>
      {error ? <ErrorNote error={error} onDismiss={() => setError(null)} /> : null}
      <div className="form-grid">
        <label className="wide">
          Name
          <input value={draft.name} maxLength={200} onChange={(e) => setDraft((d) => ({ ...d, name: e.target.value }))} />
        </label>
        <label>
          First day
          <input type="date" value={draft.startsOn} onChange={(e) => setDraft((d) => ({ ...d, startsOn: e.target.value }))} />
        </label>
        <label>
          Last day
          <input type="date" value={draft.endsOn ?? ''} onChange={text('endsOn')} />
        </label>
        <label>
          Place
          <input value={draft.location ?? ''} maxLength={200} onChange={text('location')} />
        </label>
        <label>
          State
          <select value={draft.state} onChange={(e) => setDraft((d) => ({ ...d, state: e.target.value as SchoolEventDraft['state'] }))}>
            <option value="draft">Draft (staff only)</option>
            <option value="published">Published</option>
            <option value="archived">Archived</option>
          </select>
        </label>
        <label>
          Gallery open until
          <input type="date" value={draft.galleryExpiresOn ?? ''} onChange={text('galleryExpiresOn')} />
        </label>
        <fieldset className="wide audience">
          <legend>Who sees it</legend>
          <label className="inline">
            <input type="radio" name="scope" checked={draft.audience.scope === 'school'} onChange={() => setDraft((d) => ({ ...d, audience: { scope: 'school' } }))} />
            The whole school
          </label>
          <label className="inline">
            <input type="radio" name="scope" checked={draft.audience.scope === 'some'} onChange={() => setDraft((d) => ({ ...d, audience: some }))} />
            Some classes and families
          </label>
          {draft.audience.scope === 'some' ? (
            <div className="audience-lists">
              <div role="group" aria-label="Classes">
                {(people?.classes ?? []).map((c) => (
                  <label key={c.id} className="inline">
                    <input type="checkbox" checked={some.classIds.includes(c.id)} onChange={toggle('classIds', c.id)} />
                    {c.name}
                  </label>
                ))}
                {people && people.classes.length === 0 ? <p className="muted">No classes yet.</p> : null}
              </div>
              <div role="group" aria-label="Families">
                {(people?.families ?? []).map((f) => (
                  <label key={f.id} className="inline">
                    <input type="checkbox" checked={some.familyIds.includes(f.id)} onChange={toggle('familyIds', f.id)} />
                    {f.name}
                  </label>
                ))}
              </div>
            </div>
          ) : null}
        </fieldset>
      </div>
      <div className="form-actions">
        <button type="submit" className="primary" disabled={saving}>
          {event ? 'Save event' : 'Create event'}
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </form>
  );
}
