/**
 * First-party view counting: the lightbox tells the sync service which photo or video is on screen,
 * through the same same-origin API as everything else (no third-party script, nothing beyond the
 * CSP's `connect-src 'self'`, no cookie or storage of its own). The service counts a family once a
 * day per asset; this side only keeps quick flicking and repeats from costing requests.
 */
import { api } from './api.ts';

/** How long an item must stay on screen to count as seen: paging past it with the arrow keys is not a view. */
const DWELL_MS = 1000;

/** Assets reported since the page loaded (the service would ignore a repeat the same day anyway). */
const reported = new Set<string>();

/**
 * Reports a view of `assetId` if it is still what `stage` shows, inside an open dialog, after
 * {@link DWELL_MS}. Failures are dropped: counting must never disturb looking.
 */
export function reportViewWhenSeen(stage: HTMLElement, schoolId: string, eventId: string, assetId: string): void {
  const key = `${schoolId}/${eventId}/${assetId}`;
  if (reported.has(key)) return;
  setTimeout(() => {
    const shown = stage.isConnected && stage.dataset.assetId === assetId && (stage.closest('dialog')?.open ?? false);
    if (!shown || reported.has(key)) return;
    reported.add(key);
    const path = `/v1/schools/${encodeURIComponent(schoolId)}/events/${encodeURIComponent(eventId)}/media/${encodeURIComponent(assetId)}/views`;
    api<void>('POST', path).catch(() => undefined);
  }, DWELL_MS);
}
