import type { QuotaView } from '../../../app/ipc/publish-contract.ts';
import { formatBytes } from '../lib/format.ts';

const percent = (part: number, whole: number): number => (whole > 0 ? Math.min(100, (part / whole) * 100) : 100);

/**
 * The school's storage: what is used now, and what this publish adds (red past the plan's limit). Without a
 * publish (`usage`), what is used and what uploads under way have reserved.
 */
export function QuotaBar({ quota, usage = false }: { quota: QuotaView; usage?: boolean }): React.JSX.Element {
  const before = quota.usedBytes + quota.reservedBytes;
  const over = quota.afterBytes > quota.limitBytes;
  const summary = usage
    ? `${formatBytes(quota.usedBytes)} of ${formatBytes(quota.limitBytes)} used${quota.reservedBytes > 0 ? `, ${formatBytes(quota.reservedBytes)} reserved by uploads under way` : ''}${over ? ` — ${formatBytes(quota.afterBytes - quota.limitBytes)} over the plan` : ''}`
    : `${formatBytes(before)} of ${formatBytes(quota.limitBytes)} used now; ` +
      `${formatBytes(quota.afterBytes)} after this publish${over ? ` — ${formatBytes(quota.afterBytes - quota.limitBytes)} over the plan` : ''}`;
  return (
    <figure className="quota">
      <div
        className={over ? 'quota-bar over' : 'quota-bar'}
        role="meter"
        aria-label={usage ? 'School storage' : 'School storage after this publish'}
        aria-valuemin={0}
        aria-valuemax={quota.limitBytes}
        aria-valuenow={Math.min(quota.afterBytes, quota.limitBytes)}
        aria-valuetext={summary}
      >
        <span className="quota-before" style={{ width: `${percent(before, quota.limitBytes)}%` }} />
        <span className="quota-added" style={{ width: `${Math.max(0, percent(quota.afterBytes, quota.limitBytes) - percent(before, quota.limitBytes))}%` }} />
      </div>
      <figcaption className={over ? 'quota-text bad' : 'quota-text muted'}>{summary}</figcaption>
    </figure>
  );
}
