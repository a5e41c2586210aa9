import { useEffect, useId, useState } from 'react';
import { ErrorNote } from '../components/ErrorNote.tsx';
import { useLibraryStore } from '../stores/library.store.ts';
import { useNavStore } from '../stores/nav.store.ts';

/** First run (no library open): reopen a recent library, open one by its folder, or create a new one. */
export function FirstRunView(): React.JSX.Element {
  const recent = useLibraryStore((s) => s.recent);
  const suggested = useLibraryStore((s) => s.suggested);
  const opening = useLibraryStore((s) => s.opening);
  const openError = useLibraryStore((s) => s.openError);
  const loadRecent = useLibraryStore((s) => s.loadRecent);
  const open = useLibraryStore((s) => s.open);
  const go = useNavStore((s) => s.go);
  const current = useLibraryStore((s) => s.info);
  const stayHere = useLibraryStore((s) => s.stayHere);
  // Null until the user types: the field shows the suggested folder meanwhile.
  const [typedCreatePath, setCreatePath] = useState<string | null>(null);
  const createPath = typedCreatePath ?? suggested;
  const [openPath, setOpenPath] = useState('');
  const createId = useId();
  const openId = useId();

  useEffect(() => {
    void loadRecent();
  }, [loadRecent]);

  const submit = async (path: string, create: boolean): Promise<void> => {
    if (await open(path, create)) go(create ? { name: 'import' } : { name: 'events' });
  };

  return (
    <section className="screen first-run" aria-labelledby="first-run-title">
      <div className="first-run-card">
        <h1 id="first-run-title">{current ? 'Open another library' : 'Welcome to Keepsake'}</h1>
        <p className="muted">A library is the folder where Keepsake keeps the school&apos;s photos and videos, sorted by event, with its catalog.</p>
        {current ? (
          <p>
            <button type="button" onClick={stayHere}>
              Back to {current.name}
            </button>
          </p>
        ) : null}
        {openError ? <ErrorNote error={openError} /> : null}

        {recent.length > 0 ? (
          <>
            <h2>Recent libraries</h2>
            <ul className="recent-libraries" aria-label="Recent libraries">
              {recent.map((library) => (
                <li key={library.path}>
                  <button type="button" disabled={!library.available || opening || library.path === current?.root} onClick={() => void submit(library.path, false)}>
                    <strong>{library.name}</strong> <span className="muted">{library.path}</span>
                  </button>
                  {library.available ? null : <span className="muted"> — not found (is its drive connected?)</span>}
                </li>
              ))}
            </ul>
          </>
        ) : null}

        <form
          className="first-run-form"
          onSubmit={(event) => {
            event.preventDefault();
            void submit(createPath, true);
          }}
        >
          <h2>Create a new library</h2>
          <label htmlFor={createId}>Folder for the new library</label>
          <div className="row">
            <input id={createId} value={createPath} onChange={(event) => setCreatePath(event.target.value)} placeholder="/home/you/Pictures/Keepsake" spellCheck={false} />
            <button type="submit" className="primary" disabled={opening || createPath.trim() === ''}>
              Create library
            </button>
          </div>
          <p className="muted small">An empty or new folder; Keepsake creates it if needed.</p>
        </form>

        <form
          className="first-run-form"
          onSubmit={(event) => {
            event.preventDefault();
            void submit(openPath, false);
          }}
        >
          <h2>Open an existing library</h2>
          <label htmlFor={openId}>Library folder</label>
          <div className="row">
            <input id={openId} value={openPath} onChange={(event) => setOpenPath(event.target.value)} placeholder="/media/you/Photos/Keepsake" spellCheck={false} />
            <button type="submit" disabled={opening || openPath.trim() === ''}>
              Open library
            </button>
          </div>
        </form>
        {opening ? <p aria-live="polite" className="muted">Opening the library…</p> : null}
      </div>
    </section>
  );
}
