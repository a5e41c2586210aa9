import type { ImportProgress } from '../ingest/import.service.ts';
import type { UploadProgress } from '../cloud/uploader.ts';
import type { QueueProgress } from '../jobs/job-runner.ts';

/** 1536 → "1.5 KB": decimal units, as file managers show sizes. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** 75 → "1:15"; 3700 → "1:01:40". */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

const KIND_LABELS: Record<string, string> = { thumbs: 'thumbnails', proxy: 'video proxies' };

/** A progress bar on a terminal (redrawn in place on stderr), or a plain line every few seconds otherwise. */
export class ProgressLine {
  private lastPlain = 0;
  private drawn = false;

  constructor(private readonly io: { err: (text: string) => void; isTTY: boolean }) {}

  /** Shows the latest progress. */
  update(progress: ImportProgress): void {
    if (progress.phase === 'scanning') {
      if (this.io.isTTY) this.draw('Scanning the source…');
      return;
    }
    if (progress.phase !== 'copying') return;
    const text =
      `${progress.filesDone}/${progress.filesTotal} files  ${formatBytes(progress.bytesDone)}/${formatBytes(progress.bytesTotal)}` +
      `  ${formatBytes(progress.bytesPerSec)}/s${progress.etaSec === null ? '' : `  ETA ${formatDuration(progress.etaSec)}`}`;
    if (this.io.isTTY) {
      const fraction = progress.bytesTotal > 0 ? progress.bytesDone / progress.bytesTotal : progress.filesTotal > 0 ? progress.filesDone / progress.filesTotal : 1;
      const width = 24;
      const filled = Math.min(width, Math.round(fraction * width));
      this.draw(`[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}`);
    } else if (performance.now() - this.lastPlain > 2000 || progress.filesDone === progress.filesTotal) {
      this.lastPlain = performance.now();
      this.io.err(`import: ${text}\n`);
    }
  }

  /** Shows the job queue's progress: per kind, done/total, rate and ETA. */
  updateQueue(progress: QueueProgress, force = false): void {
    const parts = progress.kinds
      .filter((kind) => kind.total > 0)
      .map(
        (kind) =>
          `${KIND_LABELS[kind.kind] ?? kind.kind} ${kind.done}/${kind.total}${kind.failed ? ` (${kind.failed} failed)` : ''}` +
          `${kind.rate > 0 ? `  ${kind.rate.toFixed(1)}/s` : ''}${kind.etaSec ? `  ETA ${formatDuration(kind.etaSec)}` : ''}`,
      );
    if (parts.length === 0) return;
    const text = `${progress.paused ? 'paused  ' : ''}${parts.join('   ')}`;
    if (this.io.isTTY) this.draw(text);
    else if (force || performance.now() - this.lastPlain > 2000) {
      this.lastPlain = performance.now();
      this.io.err(`jobs: ${text}\n`);
    }
  }

  /** Shows the uploads' progress: files, bytes, rate and ETA, and whether they wait (paused, offline). */
  updateUploads(progress: UploadProgress, force = false): void {
    const state = progress.offline ? 'offline, waiting for the network  ' : progress.paused ? 'paused  ' : '';
    const text =
      `${state}${progress.filesDone}/${progress.filesTotal} files  ${formatBytes(progress.bytesSent)}/${formatBytes(progress.bytesTotal)}` +
      `${progress.rate > 0 ? `  ${formatBytes(progress.rate)}/s` : ''}${progress.etaSec !== null && progress.rate > 0 ? `  ETA ${formatDuration(progress.etaSec)}` : ''}`;
    if (this.io.isTTY) this.draw(`upload: ${text}`);
    else if (force || performance.now() - this.lastPlain > 2000) {
      this.lastPlain = performance.now();
      this.io.err(`upload: ${text}\n`);
    }
  }

  /** Leaves the terminal on a fresh line. */
  done(): void {
    if (this.drawn) this.io.err('\n');
    this.drawn = false;
  }

  private draw(text: string): void {
    this.drawn = true;
    this.io.err(`\r\x1b[2K${text}`);
  }
}
