import { useEffect, useState } from 'react';
import { ErrorNote } from '../components/ErrorNote.tsx';
import { PublishButton } from '../components/PublishPanel.tsx';
import { formatEta, formatRate } from '../components/progress-text.ts';
import { call } from '../bridge/keepsake.ts';
import { formatBytes } from '../lib/format.ts';
import { useNavStore } from '../stores/nav.store.ts';
import { useUploadsStore } from '../stores/uploads.store.ts';

const ratio = (done: number, total: number): number => (total > 0 ? Math.min(1, done / total) : 0);

/** The upload queue: overall and per-file progress, pause/resume/cancel, the bandwidth limit, failures and retry. */
export function UploadsView(): React.JSX.Element {
  const view = useUploadsStore((s) => s.view);
  const error = useUploadsStore((s) => s.error);
  const message = useUploadsStore((s) => s.message);
  const load = useUploadsStore((s) => s.load);
  const follow = useUploadsStore((s) => s.follow);
  const pause = useUploadsStore((s) => s.pause);
  const resume = useUploadsStore((s) => s.resume);
  const cancel = useUploadsStore((s) => s.cancel);
  const retry = useUploadsStore((s) => s.retry);
  const setLimit = useUploadsStore((s) => s.setLimit);
  const go = useNavStore((s) => s.go);
  const [limit, setLimitText] = useState('');
  const [limitError, setLimitError] = useState<string | null>(null);

  useEffect(() => {
    const stop = follow();
    void load();
    return stop;
  }, [follow, load]);
  useEffect(() => {
    setLimitText(view?.limitKbps ? String(view.limitKbps) : '');
  }, [view?.limitKbps]);

  const applyLimit = (event: React.FormEvent): void => {
    event.preventDefault();
    const text = limit.trim();
    if (text !== '' && !/^\d+$/.test(text)) {
      setLimitError('Enter a whole number of KB/s, or leave it empty for no limit.');
      return;
    }
    const kbps = text === '' || Number(text) === 0 ? null : Number(text);
    if (kbps !== null && kbps > 10_000_000) {
      setLimitError('At most 10,000,000 KB/s.');
      return;
    }
    setLimitError(null);
    void setLimit(kbps);
  };

  if (view && !view.configured) {
    return (
      <section className="screen uploads" aria-label="Uploads">
        <h1>Uploads</h1>
        <p>
          No storage is set up yet.{' '}
          <button type="button" onClick={() => go({ name: 'settings' })}>
            Open settings
          </button>
        </p>
        <EventsToPublish refresh={0} />
      </section>
    );
  }

  const overall = view?.overall;
  const active = view ? view.queue.queued + view.queue.running : 0;
  const state = !view ? 'Loading…' : view.paused ? 'Paused' : view.offline ? 'Offline: waiting for the store' : active > 0 ? 'Uploading' : 'Nothing to upload';
  return (
    <section className="screen uploads" aria-label="Uploads">
      <h1>Uploads</h1>
      {error ? <ErrorNote error={error} /> : null}
      {message ? (
        <p role="status" className="muted">
          {message}
        </p>
      ) : null}
      <div className="uploads-overall" aria-label="Overall progress">
        <p className="progress-headline" aria-live="polite">
          <span className="upload-state">{state}</span>
          {overall && overall.assetsTotal > 0 ? ` · ${overall.assetsDone.toLocaleString()} of ${overall.assetsTotal.toLocaleString()} items` : ''}
          {overall && overall.bytesTotal > 0 ? ` · ${formatBytes(overall.bytesSent)} of ${formatBytes(overall.bytesTotal)}` : overall && overall.bytesSent > 0 ? ` · ${formatBytes(overall.bytesSent)} sent` : ''}
          {overall && active > 0 && overall.rate > 0 ? ` · ${formatRate(overall.rate)}` : ''}
          {overall && active > 0 && formatEta(overall.etaSec) ? ` · ${formatEta(overall.etaSec)}` : ''}
        </p>
        <progress aria-label="Items uploaded" max={1} value={overall ? ratio(overall.assetsDone, overall.assetsTotal) : 0} />
      </div>
      <div className="actions">
        {view?.paused ? (
          <button type="button" className="primary" onClick={() => void resume()}>
            Resume
          </button>
        ) : (
          <button type="button" disabled={!view} onClick={() => void pause()}>
            Pause
          </button>
        )}
        <button type="button" disabled={active === 0} onClick={() => void cancel()}>
          Cancel uploads
        </button>
        <form className="limit-form" onSubmit={applyLimit} aria-label="Bandwidth limit">
          <label>
            Limit (KB/s)
            <input name="limit" inputMode="numeric" value={limit} placeholder="none" aria-invalid={limitError ? true : undefined} onChange={(e) => setLimitText(e.target.value)} />
          </label>
          <button type="submit">Apply</button>
          {limitError ? <span className="field-error">{limitError}</span> : null}
        </form>
      </div>

      {view && view.files.length > 0 ? (
        <table className="upload-files" aria-label="Files being sent">
          <tbody>
            {view.files.map((file) => (
              <tr key={file.key}>
                <td>{file.label}</td>
                <td>
                  <progress aria-label={`${file.label} sent`} max={1} value={ratio(file.bytes, file.total)} />
                </td>
                <td className="muted">{file.bytes === 0 ? `waiting · ${formatBytes(file.total)}` : `${formatBytes(file.bytes)} of ${formatBytes(file.total)}`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}

      {view && view.failures.length > 0 ? (
        <div className="upload-failures">
          <h2>Failed ({view.failures.length})</h2>
          <table aria-label="Failed uploads">
            <tbody>
              {view.failures.map((failure) => (
                <tr key={failure.id}>
                  <td>{failure.name}</td>
                  <td className="muted">{failure.reason}</td>
                  <td>
                    <button type="button" aria-label={`Retry ${failure.name}`} onClick={() => void retry([failure.id])}>
                      Retry
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <button type="button" onClick={() => void retry()}>
            Retry all
          </button>
        </div>
      ) : null}
      {view ? (
        <p className="muted">
          In the bucket: {view.stored.objects.toLocaleString()} object(s), {formatBytes(view.stored.bytes)}. Uploads go on after Keepsake restarts.
        </p>
      ) : null}
      <EventsToPublish refresh={view?.queue.done ?? 0} />
    </section>
  );
}

/**
 * The library's events, each with its publish panel: the queue screen's way into publishing. Read again
 * whenever `refresh` changes (the uploads done), so the counts of what is not published follow the queue.
 */
function EventsToPublish({ refresh }: { refresh: number }): React.JSX.Element | null {
  const [events, setEvents] = useState<Array<{ id: number; name: string; assetCount: number; unpublishedCount: number }>>([]);
  useEffect(() => {
    let live = true;
    call('events:list', {}).then(
      (list) => live && setEvents(list),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [refresh]);
  if (events.length === 0) return null;
  return (
    <section aria-labelledby="to-publish-heading">
      <h2 id="to-publish-heading">Events</h2>
      <table className="events-to-publish" aria-label="Events to publish">
        <tbody>
          {events.map((event) => (
            <tr key={event.id}>
              <td>{event.name}</td>
              <td className="muted">
                {event.assetCount.toLocaleString()} item(s), {event.unpublishedCount.toLocaleString()} not published
              </td>
              <td>
                <PublishButton eventId={event.id} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
