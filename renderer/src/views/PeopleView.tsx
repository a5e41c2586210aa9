import { useEffect, useId } from 'react';
import { ConsentBadges } from '../components/ConsentBadges.tsx';
import { ErrorNote } from '../components/ErrorNote.tsx';
import { peopleCount } from '../components/progress-text.ts';
import { plural } from '../lib/format.ts';
import { usePeopleStore } from '../stores/people.store.ts';

/** The roster: every student with class, family email and consent; roster import from a CSV file. */
export function PeopleView(): React.JSX.Element {
  const people = usePeopleStore((s) => s.people);
  const status = usePeopleStore((s) => s.status);
  const error = usePeopleStore((s) => s.error);
  const load = usePeopleStore((s) => s.load);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <section className="screen people-screen" aria-labelledby="people-title">
      <h1 id="people-title">People</h1>
      <RosterImport />
      {error ? <ErrorNote error={error} /> : null}
      {status === 'loading' ? <p className="muted">Loading the roster…</p> : null}
      {status === 'ready' && people.length === 0 ? <p className="muted">No one in the roster yet: import the school&apos;s CSV above.</p> : null}
      {people.length > 0 ? (
        <table className="roster" aria-label="Roster">
          <caption className="muted">{peopleCount(people.length)}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Class</th>
              <th scope="col">Family email</th>
              <th scope="col">Consent</th>
            </tr>
          </thead>
          <tbody>
            {people.map((person) => (
              <tr key={person.id}>
                <th scope="row">{person.name}</th>
                <td>{person.classGroup ?? '—'}</td>
                <td>{person.familyEmail ?? '—'}</td>
                <td>
                  <ConsentBadges person={person} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function RosterImport(): React.JSX.Element {
  const rosterPath = usePeopleStore((s) => s.rosterPath);
  const setRosterPath = usePeopleStore((s) => s.setRosterPath);
  const importRoster = usePeopleStore((s) => s.importRoster);
  const importing = usePeopleStore((s) => s.importing);
  const report = usePeopleStore((s) => s.report);
  const importError = usePeopleStore((s) => s.importError);
  const id = useId();
  return (
    <form
      className="roster-import"
      aria-label="Roster import"
      onSubmit={(event) => {
        event.preventDefault();
        void importRoster();
      }}
    >
      <label htmlFor={id}>Roster CSV file</label>
      <div className="row">
        <input id={id} value={rosterPath} onChange={(event) => setRosterPath(event.target.value)} placeholder="/home/you/roster.csv" spellCheck={false} />
        <button type="submit" className="primary" disabled={importing || rosterPath.trim() === ''}>
          {importing ? 'Importing…' : 'Import roster'}
        </button>
      </div>
      <p className="muted small">Columns: name (or first and last name), class, family email, and a yes/no column per consent (publish, yearbook).</p>
      {importError ? <ErrorNote error={importError} /> : null}
      {report ? (
        <div role="status" className="roster-report">
          <p>
            {peopleCount(report.created)} added, {report.updated} updated
            {report.errors.length > 0 ? `, ${plural(report.errors.length, 'line')} skipped:` : '.'}
          </p>
          {report.errors.length > 0 ? (
            <ul aria-label="Roster lines skipped">
              {report.errors.map((line) => (
                <li key={line.line}>
                  Line {line.line}: {line.message}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
    </form>
  );
}
