import { useEffect } from 'react';
import type { RankedAssetView } from '../../../../app/ipc/admin-contract.ts';
import { formatBytes } from '../../lib/format.ts';
import { useAdminReportsStore } from '../../stores/admin-reports.store.ts';
import { ErrorNote } from '../ErrorNote.tsx';
import { QuotaBar } from '../QuotaBar.tsx';

function Ranking({ title, assets, count }: { title: string; assets: RankedAssetView[]; count: 'views' | 'downloads' }): React.JSX.Element {
  return (
    <div>
      <h3>{title}</h3>
      {assets.length === 0 ? <p className="muted">Nothing yet.</p> : null}
      <ol className="ranking" aria-label={title}>
        {assets.map((asset) => (
          <li key={`${asset.eventId}/${asset.assetId}`}>
            {asset.eventName} · <span className="muted">{asset.assetId.slice(0, 10)}</span> — {asset[count]} {count}
          </li>
        ))}
      </ol>
    </div>
  );
}

/** The school's storage by event and variant against the plan, and what families view and download most. */
export function StorageSection(): React.JSX.Element {
  const storage = useAdminReportsStore((s) => s.storage);
  const error = useAdminReportsStore((s) => s.storageError);
  const load = useAdminReportsStore((s) => s.loadStorage);
  useEffect(() => {
    void load();
  }, [load]);
  if (error) return <ErrorNote error={error} />;
  if (!storage) return <p className="muted">Reading the school’s storage…</p>;
  const total = storage.usedBytes + storage.reservedBytes;
  return (
    <section aria-label="Storage and analytics">
      <h2>Storage · {storage.plan.name} plan</h2>
      <QuotaBar usage quota={{ limitBytes: storage.limitBytes, usedBytes: storage.usedBytes, reservedBytes: storage.reservedBytes, afterBytes: total }} />
      <table className="admin-table" aria-label="Storage by event">
        <thead>
          <tr>
            <th>Event</th>
            <th>Assets</th>
            <th>Used</th>
            <th>By variant</th>
          </tr>
        </thead>
        <tbody>
          {storage.byEvent.map((event) => (
            <tr key={event.eventId} aria-label={event.name}>
              <td>{event.name}</td>
              <td>{event.assets}</td>
              <td>{formatBytes(event.usedBytes)}{event.reservedBytes > 0 ? ` (+${formatBytes(event.reservedBytes)} reserved)` : ''}</td>
              <td className="muted">{event.byVariant.map((v) => `${v.variant} ${formatBytes(v.bytes)}`).join(' · ') || '—'}</td>
            </tr>
          ))}
          {storage.byEvent.length === 0 ? (
            <tr>
              <td colSpan={4} className="muted">
                Nothing published yet.
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
      <p className="muted" aria-label="Storage by variant">
        By variant: {storage.byVariant.map((v) => `${v.variant} ${formatBytes(v.bytes)} (${v.objects} files)`).join(' · ') || 'none yet'}
      </p>
      <h2>Analytics</h2>
      <p aria-label="Active families">
        <strong>{storage.families.active}</strong> of {storage.families.total} families active
        <span className="muted"> · {storage.families.withAccount} can sign in</span>
      </p>
      <div className="rankings">
        <Ranking title="Most viewed" assets={storage.mostViewed} count="views" />
        <Ranking title="Most downloaded" assets={storage.mostDownloaded} count="downloads" />
      </div>
    </section>
  );
}
