import { useEffect, useId } from 'react';
import { ErrorNote } from '../components/ErrorNote.tsx';
import { baseName, count, formatEta, formatRate } from '../components/progress-text.ts';
import { formatBytes, plural } from '../lib/format.ts';
import { useImportStore, type ImportForm } from '../stores/import.store.ts';
import { useLibraryStore } from '../stores/library.store.ts';
import { useNavStore } from '../stores/nav.store.ts';

/** The import screen: a form with a live preview of the names, then progress, then a summary. */
export function ImportView({ source, eventName }: { source?: string | undefined; eventName?: string | undefined }): React.JSX.Element {
  const phase = useImportStore((s) => s.phase);
  const prefill = useImportStore((s) => s.prefill);
  const loadEvents = useImportStore((s) => s.loadEvents);
  const listen = useImportStore((s) => s.listen);

  useEffect(() => listen(), [listen]);
  useEffect(() => {
    void loadEvents();
  }, [loadEvents]);
  useEffect(() => {
    const values: Partial<ImportForm> = {};
    if (source !== undefined) values.source = source;
    if (eventName !== undefined) values.eventName = eventName;
    if (Object.keys(values).length > 0) prefill(values);
  }, [source, eventName, prefill]);

  return (
    <section className="screen import-screen" aria-labelledby="import-title">
      <h1 id="import-title">Import</h1>
      {phase === 'idle' || phase === 'starting' ? <ImportFormPanel /> : null}
      {phase === 'running' ? <ImportProgressPanel /> : null}
      {phase === 'finished' ? <ImportSummary /> : null}
    </section>
  );
}

function Field({ label, field, placeholder, list, hint }: { label: string; field: keyof ImportForm; placeholder?: string; list?: string; hint?: string }): React.JSX.Element {
  const id = useId();
  const value = useImportStore((s) => s.form[field]);
  const setField = useImportStore((s) => s.setField);
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} value={value} placeholder={placeholder} list={list} spellCheck={false} onChange={(event) => setField(field, event.target.value)} />
      {hint ? <span className="muted small">{hint}</span> : null}
    </div>
  );
}

function ImportFormPanel(): React.JSX.Element {
  const form = useImportStore((s) => s.form);
  const events = useImportStore((s) => s.events);
  const phase = useImportStore((s) => s.phase);
  const error = useImportStore((s) => s.error);
  const start = useImportStore((s) => s.start);
  const eventsId = useId();
  const ready = form.source.trim() !== '' && form.eventName.trim() !== '';
  return (
    <div className="import-layout">
      <form
        className="import-form"
        aria-label="Import settings"
        onSubmit={(event) => {
          event.preventDefault();
          if (ready) void start();
        }}
      >
        <Field label="Source folder or card" field="source" placeholder="/media/you/EOS_DIGITAL" />
        <Field label="Event" field="eventName" placeholder="Sports Day 2026" list={eventsId} hint="Choose an event or type a new name: a new event is created." />
        <datalist id={eventsId}>
          {events.map((event) => (
            <option key={event.id} value={event.name} />
          ))}
        </datalist>
        <Field
          label="Rename template"
          field="template"
          placeholder="{original}"
          hint="Empty keeps the camera's names. Tokens: {date:YYYYMMDD} {time} {event} {seq:4} {camera} {original}."
        />
        <Field label="Backup folder (optional)" field="backupDir" placeholder="/media/you/Backup" hint="Every file is also copied there and verified." />
        <Field label="Tags (optional, comma-separated)" field="tags" placeholder="sports, 2026" />
        {error ? <ErrorNote error={error} /> : null}
        <div className="row">
          <button type="submit" className="primary" disabled={!ready || phase === 'starting'}>
            {phase === 'starting' ? 'Starting…' : 'Start import'}
          </button>
        </div>
      </form>
      <NamePreview />
    </div>
  );
}

function NamePreview(): React.JSX.Element {
  const preview = useImportStore((s) => s.preview);
  const previewError = useImportStore((s) => s.previewError);
  const previewing = useImportStore((s) => s.previewing);
  return (
    <aside className="name-preview" aria-label="Name preview" aria-busy={previewing}>
      <h2>Names after import</h2>
      {previewError ? <ErrorNote error={previewError} /> : null}
      {!preview && !previewError ? <p className="muted">Give a source and an event to see the names the files will get.</p> : null}
      {preview ? (
        <>
          <p className="muted">
            {plural(preview.total, 'file')} into <strong>{preview.event}</strong>
            {preview.duplicates === null ? ' · duplicates are checked when the import runs' : ` · ${plural(preview.duplicates, 'duplicate')} skipped`}
          </p>
          <ol className="preview-names">
            {preview.names.map((name) => (
              <li key={name.source}>
                <span className="muted">{baseName(name.source)}</span> → <span className="new-name">{baseName(name.destination)}</span>
              </li>
            ))}
          </ol>
          {preview.total > preview.names.length ? <p className="muted small">…and {count(preview.total - preview.names.length)} more</p> : null}
          {preview.failed.length > 0 ? <FileErrors title="Files that cannot be imported" files={preview.failed} /> : null}
        </>
      ) : null}
    </aside>
  );
}

function FileErrors({ title, files }: { title: string; files: Array<{ source: string; reason: string }> }): React.JSX.Element {
  return (
    <div className="file-errors">
      <h3>{title}</h3>
      <ul aria-label={title}>
        {files.map((file) => (
          <li key={file.source}>
            <strong title={file.source}>{baseName(file.source)}</strong>: {file.reason}
          </li>
        ))}
      </ul>
    </div>
  );
}

function ImportProgressPanel(): React.JSX.Element {
  const progress = useImportStore((s) => s.progress);
  const cancelling = useImportStore((s) => s.cancelling);
  const cancel = useImportStore((s) => s.cancel);
  const error = useImportStore((s) => s.error);
  const eventId = useImportStore((s) => s.eventId);
  const go = useNavStore((s) => s.go);
  const fraction = progress && progress.bytesTotal > 0 ? progress.bytesDone / progress.bytesTotal : 0;
  return (
    <div className="import-progress" aria-label="Import progress">
      <p className="progress-headline" aria-live="polite">
        {progress === null || progress.phase === 'scanning'
          ? 'Looking at the card…'
          : `${count(progress.filesDone)} of ${plural(progress.filesTotal, 'file')} · ${formatBytes(progress.bytesDone)} of ${formatBytes(progress.bytesTotal)}`}
      </p>
      <progress max={1} value={fraction} aria-label="Copied" />
      {progress && progress.phase !== 'scanning' ? (
        <p className="muted">
          {[formatRate(progress.bytesPerSec), formatEta(progress.etaSec), progress.current ? `copying ${baseName(progress.current)}` : ''].filter(Boolean).join(' · ')}
        </p>
      ) : null}
      <div className="row">
        <span className="muted small">Thumbnails appear in the event&apos;s photos while the card copies.</span>
        {eventId !== null ? (
          <button type="button" className="ghost" onClick={() => go({ name: 'grid', source: { kind: 'event', eventId } })}>
            Watch them arrive
          </button>
        ) : null}
      </div>
      {error ? <ErrorNote error={error} /> : null}
      {progress && progress.errors.length > 0 ? <FileErrors title="Files not imported" files={progress.errors} /> : null}
      <button type="button" onClick={() => void cancel()} disabled={cancelling}>
        {cancelling ? 'Cancelling…' : 'Cancel import'}
      </button>
    </div>
  );
}

const STATE_TEXT: Record<string, string> = {
  completed: 'Import finished',
  cancelled: 'Import cancelled',
  interrupted: 'Import stopped',
  failed: 'Import failed',
};

function ImportSummary(): React.JSX.Element {
  const finished = useImportStore((s) => s.finished)!;
  const eventId = useImportStore((s) => s.eventId);
  const eventName = useImportStore((s) => s.preview?.event ?? s.form.eventName);
  const reset = useImportStore((s) => s.reset);
  const go = useNavStore((s) => s.go);
  const refreshStatus = useLibraryStore((s) => s.refreshStatus);
  useEffect(() => {
    void refreshStatus();
  }, [refreshStatus]);
  return (
    <div className="import-summary" role="status" aria-label="Import summary">
      <h2>{STATE_TEXT[finished.state] ?? 'Import ended'}</h2>
      <p>
        {plural(finished.imported, 'file')} imported into <strong>{eventName}</strong>
        {finished.duplicates > 0 ? `, ${plural(finished.duplicates, 'duplicate')} skipped (already in the library)` : ''}
        {finished.failed.length > 0 ? `, ${finished.failed.length} not imported` : ''}.
      </p>
      {finished.state === 'cancelled' ? <p className="muted">Start it again to finish it: the files already copied are kept and not copied twice.</p> : null}
      {finished.error && finished.state !== 'cancelled' ? (
        <p className="muted">
          {finished.error.message} {finished.error.hint ?? ''}
        </p>
      ) : null}
      {finished.failed.length > 0 ? <FileErrors title="Files not imported" files={finished.failed} /> : null}
      <div className="row">
        {eventId !== null ? (
          <button type="button" className="primary" onClick={() => go({ name: 'grid', source: { kind: 'event', eventId } })}>
            Open {eventName}
          </button>
        ) : null}
        <button type="button" onClick={reset}>
          Import more
        </button>
      </div>
    </div>
  );
}
