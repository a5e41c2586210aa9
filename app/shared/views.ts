/**
 * What the engine hands the UI (pages, progress, camera cards): plain data with no Node types, so the
 * contract and the renderer can use them. The modules that make them re-export them.
 */
import type { Asset } from './domain.ts';

/** A position in a list sorted by (sortTime, id), for keyset paging. */
export interface PageCursor {
  sortTime: number;
  id: number;
}

/** One page of assets and the cursor of the next page, if any. */
export interface AssetPage {
  items: Asset[];
  next: PageCursor | null;
}

/** Progress of one kind of job since the runner started, for the UI and the CLI. */
export interface KindProgress {
  kind: string;
  /** Finished by this runner since it started (done or failed for good). */
  done: number;
  failed: number;
  queued: number;
  running: number;
  /** done + queued + running: the work of this session. */
  total: number;
  /** Jobs per second over the last few seconds. */
  rate: number;
  /** Seconds to go at that rate; null while it is unknown. */
  etaSec: number | null;
}

/** A snapshot of the queue. */
export interface QueueProgress {
  paused: boolean;
  kinds: KindProgress[];
}

/** A mounted camera card, with a quick count of what its DCIM folder holds. */
export interface CameraCard {
  /** The volume's mount point, e.g. `/media/ana/EOS_DIGITAL` or `E:\`. */
  path: string;
  /** The mount folder's name (usually the card's label), or the drive (`E:`) on Windows. */
  label: string;
  /** Files under DCIM whose extension is a media one; an estimate for the import prompt, not a scan. */
  mediaCount: number;
  /** Their total size in bytes. */
  bytes: number;
  /** True when the count stopped at the walk's cap, so the figures are lower bounds. */
  partial: boolean;
}

/** A card that was unmounted or pulled out. */
export interface RemovedVolume {
  path: string;
  label: string;
}
