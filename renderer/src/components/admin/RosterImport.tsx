import { useState } from 'react';
import { useAdminPeopleStore } from '../../stores/admin-people.store.ts';
import { plural } from '../../lib/format.ts';

/**
 * Sends a roster CSV (name, class, family e-mail, consent columns) to the school. Nothing is sent while a
 * line is wrong; each wrong line is listed so the file can be fixed and imported again.
 */
export function RosterImport(): React.JSX.Element {
  const importRoster = useAdminPeopleStore((s) => s.importRoster);
  const roster = useAdminPeopleStore((s) => s.roster);
  const busy = useAdminPeopleStore((s) => s.busy);
  const [file, setFile] = useState<File | null>(null);

  const submit = async (e: React.FormEvent): Promise<void> => {
    e.preventDefault();
    if (file) await importRoster(await file.text());
  };

  return (
    <form className="roster-import" aria-label="Import a roster" onSubmit={(e) => void submit(e)}>
      <label>
        Roster CSV (name, class, family e-mail, publish, yearbook)
        <input type="file" accept=".csv,text/csv" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
      </label>
      <button type="submit" className="primary" disabled={!file || busy === 'importing'}>
        {busy === 'importing' ? 'Importing…' : 'Import roster'}
      </button>
      {roster?.sent ? (
        <p className="good" role="status">
          Roster imported: {plural(roster.created, 'student')} added, {roster.updated} updated, {roster.unchanged} unchanged.
        </p>
      ) : null}
      {roster && roster.errors.length > 0 ? (
        <div className="error-note" role="alert">
          <p>
            <strong>Nothing was imported: {plural(roster.errors.length, 'line')} of the file need fixing.</strong>
          </p>
          <ul className="line-errors">
            {roster.errors.map((error) => (
              <li key={error.line}>
                Line {error.line}: {error.message}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </form>
  );
}
