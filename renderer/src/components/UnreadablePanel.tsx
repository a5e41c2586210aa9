import { useRef } from 'react';
import { useJobsStore } from '../stores/jobs.store.ts';
import { useDialogFocus } from './dialog-focus.ts';
import { ErrorNote } from './ErrorNote.tsx';

/** The engine's reason without its "unreadable:" prefix (the panel's title says it), as a sentence. */
export function reasonText(reason: string | null): string {
  const text = (reason ?? '').replace(/^unreadable:\s*/i, '').trim();
  return text === '' ? 'Keepsake could not say why.' : `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
}

/** The files Keepsake cannot read, with why, in a dialog opened from the status bar. */
export function UnreadablePanel(): React.JSX.Element | null {
  const open = useJobsStore((s) => s.panelOpen);
  const items = useJobsStore((s) => s.unreadable);
  const status = useJobsStore((s) => s.unreadableStatus);
  const error = useJobsStore((s) => s.unreadableError);
  const closePanel = useJobsStore((s) => s.closePanel);
  const closeButton = useRef<HTMLButtonElement>(null);
  const dialog = useRef<HTMLDivElement>(null);
  useDialogFocus(dialog, closeButton, open);
  if (!open) return null;
  return (
    <div className="overlay" onKeyDown={(event) => event.key === 'Escape' && closePanel()}>
      <div ref={dialog} className="dialog unreadable-panel" role="dialog" aria-modal="true" aria-labelledby="unreadable-title">
        <div className="dialog-head">
          <h2 id="unreadable-title">Files Keepsake cannot read</h2>
          <button ref={closeButton} type="button" className="ghost" onClick={closePanel} aria-label="Close">
            ×
          </button>
        </div>
        <p className="muted">These files are in the library but could not be opened. Copy them again from the card if you still have it.</p>
        {error ? <ErrorNote error={error} /> : null}
        {status === 'loading' && items.length === 0 ? <p className="muted">Loading…</p> : null}
        {status === 'ready' && items.length === 0 ? <p>Every file could be read.</p> : null}
        {items.length > 0 ? (
          <table aria-label="Unreadable files">
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col">Where</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <tr key={item.id}>
                  <th scope="row">{item.originalName}</th>
                  <td className="path">{item.path}</td>
                  <td>{reasonText(item.reason)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </div>
    </div>
  );
}
