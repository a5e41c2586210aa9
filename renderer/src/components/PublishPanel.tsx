import { useEffect } from 'react';
import type { BlockKind } from '../../../app/ipc/publish-contract.ts';
import { formatBytes } from '../lib/format.ts';
import { useNavStore } from '../stores/nav.store.ts';
import { usePublishStore } from '../stores/publish.store.ts';
import { ErrorNote } from './ErrorNote.tsx';
import { QuotaBar } from './QuotaBar.tsx';

const KIND_LABEL: Record<BlockKind, string> = { consent: 'No consent', unreadable: 'Unreadable', missing: 'Missing file' };

/** Opens an event's publish panel: for the event's grid header and the dashboard. */
export function PublishButton({ eventId }: { eventId: number }): React.JSX.Element {
  const go = useNavStore((s) => s.go);
  return (
    <button type="button" onClick={() => go({ name: 'publish', eventId })}>
      Publish…
    </button>
  );
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n.toLocaleString()} ${n === 1 ? one : many}`;

/** An event's publish panel: what goes out, what is held back and why, originals, the school's storage; publish or unpublish. */
export function PublishPanel({ eventId }: { eventId: number }): React.JSX.Element {
  const plan = usePublishStore((s) => (s.eventId === eventId ? s.plan : null));
  const loading = usePublishStore((s) => s.loading);
  const busy = usePublishStore((s) => s.busy);
  const error = usePublishStore((s) => s.error);
  const started = usePublishStore((s) => s.started);
  const removing = usePublishStore((s) => s.removing);
  const originals = usePublishStore((s) => s.originals);
  const open = usePublishStore((s) => s.open);
  const setOriginals = usePublishStore((s) => s.setOriginals);
  const publish = usePublishStore((s) => s.publish);
  const unpublish = usePublishStore((s) => s.unpublish);
  const go = useNavStore((s) => s.go);

  useEffect(() => {
    void open(eventId);
  }, [eventId, open]);

  if (!plan) {
    return (
      <section className="screen publish-panel" aria-label="Publish" aria-busy={loading}>
        <h1>Publish</h1>
        {error ? <ErrorNote error={error} /> : <p className="muted">Working out what to publish…</p>}
      </section>
    );
  }

  const sending = plan.newCount + plan.modifiedCount;
  const nothingToDo = sending === 0 && plan.removingCount === 0;
  return (
    <section className="screen publish-panel" aria-label={`Publish ${plan.event.name}`} aria-busy={loading}>
      <h1>Publish “{plan.event.name}”</h1>
      {error ? <ErrorNote error={error} /> : null}
      {!plan.configured ? (
        <p role="status">
          No storage is set up for this library yet.{' '}
          <button type="button" onClick={() => go({ name: 'settings' })}>
            Open settings
          </button>
        </p>
      ) : (
        <>
          <ul className="publish-counts" aria-label="What will be published">
            <li data-kind="new">{plural(plan.newCount, 'new item')}</li>
            <li data-kind="modified">{plural(plan.modifiedCount, 'changed item')}</li>
            <li data-kind="removing">{plural(plan.removingCount, 'item')} to remove</li>
            <li data-kind="unchanged" className="muted">{plural(plan.unchangedCount, 'item')} already published</li>
            {plan.rejectedCount > 0 ? <li className="muted">{plural(plan.rejectedCount, 'rejected item')} (not published)</li> : null}
          </ul>
          {sending > 0 ? <p className="muted">About {formatBytes(plan.estimatedBytes)} to send.</p> : null}

          {plan.blocked.length > 0 ? (
            <div className="publish-blocked">
              <h2>Not published ({plan.blocked.length})</h2>
              <table aria-label="Not published">
                <tbody>
                  {plan.blocked.map((item) => (
                    <tr key={item.assetId}>
                      <td>{item.name}</td>
                      <td>
                        <span className={`block-kind ${item.kind}`}>{KIND_LABEL[item.kind]}</span>
                      </td>
                      <td className="muted">{item.reason}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}

          <label className="checkbox">
            <input type="checkbox" checked={originals} disabled={!plan.originals.allowed || loading} onChange={(event) => void setOriginals(event.target.checked)} />
            Publish originals too (stripped of location and camera details)
          </label>
          {plan.originals.why ? <p className="muted field-note">{plan.originals.why}</p> : null}

          {plan.quota ? <QuotaBar quota={plan.quota} /> : <p className="muted">Not signed in to the school: storage is not counted against a plan.</p>}
          {plan.overQuota ? <p className="bad" role="alert">This publish does not fit in the school's storage: remove some items or ask the school for more room.</p> : null}

          <div className="actions">
            <button type="button" className="primary" disabled={busy !== null || loading || plan.overQuota || nothingToDo} onClick={() => void publish()}>
              {busy === 'publishing' ? 'Publishing…' : sending > 0 ? `Publish ${plural(sending, 'item')}` : 'Publish'}
            </button>
            {plan.publishedCount > 0 ? (
              <button type="button" disabled={busy !== null} onClick={() => void unpublish()}>
                {busy === 'unpublishing' ? 'Unpublishing…' : 'Unpublish the event'}
              </button>
            ) : null}
          </div>
          {started ? (
            <p role="status">
              {plural(started.queued, 'item')} queued for upload{started.reservedBytes !== null ? `; ${formatBytes(started.reservedBytes)} reserved with the school` : ''}.{' '}
              <button type="button" onClick={() => go({ name: 'uploads' })}>
                Show uploads
              </button>
            </p>
          ) : null}
          {removing !== null ? <p role="status">{plural(removing, 'item')} being removed from the gallery.</p> : null}
        </>
      )}
    </section>
  );
}
