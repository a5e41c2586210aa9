import { useAdminPeopleStore } from '../../stores/admin-people.store.ts';

const PURPOSE: Record<string, string> = { publish: 'Publish', yearbook: 'Yearbook' };
const answer = (granted: boolean | null): string => (granted === null ? 'no answer' : granted ? 'given' : 'withdrawn');

/** Every change of one student's consent, newest first, with who made it and how. */
export function ConsentHistoryDrawer(): React.JSX.Element | null {
  const history = useAdminPeopleStore((s) => s.history);
  const close = useAdminPeopleStore((s) => s.closeHistory);
  if (!history) return null;
  return (
    <aside className="drawer" role="dialog" aria-label={`Consent history of ${history.name}`}>
      <header className="drawer-bar">
        <h2>Consent history of {history.name}</h2>
        <button type="button" className="ghost" aria-label="Close" onClick={close}>
          ×
        </button>
      </header>
      {history.changes === null ? <p className="muted">Reading the history…</p> : null}
      {history.changes?.length === 0 ? <p className="muted">Consent was never set: it counts as not given.</p> : null}
      <ol className="history">
        {(history.changes ?? []).map((change, i) => (
          <li key={`${change.at}-${i}`}>
            <strong>
              {PURPOSE[change.purpose] ?? change.purpose}: {answer(change.before)} → {answer(change.after)}
            </strong>
            <span className="muted">
              {' '}
              {new Date(change.at).toLocaleString()} · {change.by ?? 'the service'}
              {change.via === 'roster' ? ' · from a roster import' : ''}
            </span>
          </li>
        ))}
      </ol>
    </aside>
  );
}
