import { useState } from 'react';
import type { EventCard } from '../../../app/ipc/contract.ts';
import { asCallError, CallError } from '../bridge/keepsake.ts';
import { useEventsStore, type EventDraft } from '../stores/events.store.ts';
import { ErrorNote } from './ErrorNote.tsx';

const FIELD_NAMES: Readonly<Record<string, string>> = { name: 'Name', startsOn: 'First day', endsOn: 'Last day', location: 'Place', description: 'Description' };

/** The engine names fields as the contract does ("startsOn"); the form says them as its labels do. */
function inFormWords(error: CallError): CallError {
  const message = error.message.replace(/"(\w+)"/g, (whole, field: string) => (FIELD_NAMES[field] ? `“${FIELD_NAMES[field]}”` : whole));
  return new CallError({ code: error.code, message, ...(error.hint ? { hint: error.hint } : {}) });
}

function draftOf(event: EventCard | null): EventDraft {
  return { name: event?.name ?? '', startsOn: event?.startsOn ?? null, endsOn: event?.endsOn ?? null, location: event?.location ?? null, description: event?.description ?? null };
}

/**
 * Creates an event or edits one. The engine's validation errors are shown in the form's words; when someone
 * else saved the event meanwhile (a conflict), the form offers to take their version as the new base and keeps
 * what was typed, so saving again applies it on top.
 */
export function EventForm({ event, onClose }: { event: EventCard | null; onClose: () => void }): React.JSX.Element {
  const create = useEventsStore((s) => s.create);
  const update = useEventsStore((s) => s.update);
  const load = useEventsStore((s) => s.load);
  const [draft, setDraft] = useState<EventDraft>(() => draftOf(event));
  const [version, setVersion] = useState(event?.version ?? 0);
  const [error, setError] = useState<CallError | null>(null);
  const [saving, setSaving] = useState(false);

  const change = (field: keyof EventDraft) => (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) =>
    setDraft((d) => ({ ...d, [field]: field === 'name' ? e.target.value : e.target.value === '' ? null : e.target.value }));

  const submit = async (e: React.FormEvent): Promise<void> => {
    e.preventDefault();
    if (draft.startsOn && draft.endsOn && draft.endsOn < draft.startsOn) {
      setError(new CallError({ code: 'invalid-input', message: 'The last day is before the first day.', hint: 'Swap the dates, or leave the last day empty for a one-day event.' }));
      return;
    }
    setSaving(true);
    setError(null);
    try {
      if (event === null) await create(draft);
      else await update(event.id, version, draft);
      onClose();
    } catch (failure) {
      const engineError = inFormWords(asCallError(failure));
      // A taken name is not a stale edit: what helps is another name, not a reload.
      setError(
        engineError.code === 'conflict' && event === null
          ? new CallError({ code: 'conflict', message: engineError.message, hint: 'Pick another name, or open the existing event from the dashboard.' })
          : engineError,
      );
    } finally {
      setSaving(false);
    }
  };

  const takeLatest = async (): Promise<void> => {
    await load();
    const latest = useEventsStore.getState().events.find((e) => e.id === event?.id);
    if (!latest) {
      setError(new CallError({ code: 'not-found', message: 'This event is no longer in the library.', hint: 'Close the form; the list shows what is there now.' }));
      return;
    }
    setVersion(latest.version);
    setError(null);
  };

  return (
    <form className="event-form" aria-label={event ? `Edit ${event.name}` : 'New event'} onSubmit={(e) => void submit(e)} noValidate>
      <h2>{event ? `Edit “${event.name}”` : 'New event'}</h2>
      {error ? <ErrorNote error={error} onDismiss={() => setError(null)} /> : null}
      {error?.code === 'conflict' && event ? (
        <p>
          <button type="button" onClick={() => void takeLatest()}>
            Keep my changes over the latest version
          </button>
        </p>
      ) : null}
      <div className="form-grid">
        <label>
          Name
          <input type="text" value={draft.name} onChange={change('name')} required maxLength={200} autoFocus />
        </label>
        <label>
          Place
          <input type="text" value={draft.location ?? ''} onChange={change('location')} maxLength={500} />
        </label>
        <label>
          First day
          <input type="date" value={draft.startsOn ?? ''} onChange={change('startsOn')} />
        </label>
        <label>
          Last day
          <input type="date" value={draft.endsOn ?? ''} onChange={change('endsOn')} />
        </label>
        <label className="wide">
          Description
          <textarea rows={2} value={draft.description ?? ''} onChange={change('description')} maxLength={10_000} />
        </label>
      </div>
      <div className="form-actions">
        <button type="submit" className="primary" disabled={saving}>
          {event ? 'Save' : 'Create event'}
        </button>
        <button type="button" onClick={onClose}>
          Cancel
        </button>
      </div>
    </form>
  );
}
