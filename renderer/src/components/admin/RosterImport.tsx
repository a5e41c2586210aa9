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
      {roster?.sent && roster.ambiguous && roster.ambiguous.length > 0 ? (
        <LineNotes title={`${plural(roster.ambiguous.length, 'line')} could not be matched to one student:`} lines={roster.ambiguous} />
      ) : null}
      {roster && roster.errors.length > 0 ? (
        <LineNotes title={`Nothing was imported: ${plural(roster.errors.length, 'line')} of the file need fixing.`} lines={roster.errors} />
      ) : null}
    </form>
  );
}

/** A note naming lines of the file, each with what the app has to say about it. */
function LineNotes({ title, lines }: { title: string; lines: ReadonlyArray<{ line: number; message: string }> }) {
  return (
    <div className="error-note" role="alert">
      <p>
        <strong>{title}</strong>
      </p>
      <ul className="line-errors">
        {lines.map((line) => (
          <li key={line.line}>
            Line {line.line}: {line.message}
          </li>
        ))}
      </ul>
    </div>
  );
}
