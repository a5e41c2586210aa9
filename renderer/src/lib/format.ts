import type { Asset } from '../../../app/shared/domain.ts';

/** "★★★★☆" for a rating of 4; empty for 0. */
export function stars(rating: number): string {
  return rating > 0 ? '★'.repeat(rating) + '☆'.repeat(5 - rating) : '';
}

/** A capture time as the reader's locale writes it ("14 May 2026, 10:01"); a time without offset is shown as the camera's clock read it. */
export function formatCaptured(capturedAt: string | null): string {
  if (!capturedAt) return 'Unknown';
  const date = new Date(capturedAt);
  return Number.isNaN(date.getTime()) ? capturedAt : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A calendar date (YYYY-MM-DD) as "14 May 2026", without any time-zone shift. */
export function formatDay(day: string | null): string {
  if (!day) return '';
  const [y, m, d] = day.slice(0, 10).split('-').map(Number);
  if (!y || !m || !d) return day;
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString(undefined, { dateStyle: 'medium', timeZone: 'UTC' });
}

/** "1:05" for 65 seconds. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) return '';
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
}

/** "12.4 MB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** "3 photos", "1 video": a count with its noun. */
export function plural(count: number, noun: string): string {
  return `${count.toLocaleString()} ${noun}${count === 1 ? '' : 's'}`;
}

/** What a screen reader says for a tile: its name and how it was culled. */
export function describeAsset(asset: Asset): string {
  const parts = [asset.title || asset.originalName];
  if (asset.kind === 'video') parts.push('video');
  if (asset.rating > 0) parts.push(`${asset.rating} star${asset.rating === 1 ? '' : 's'}`);
  if (asset.flag === 'pick') parts.push('picked');
  if (asset.flag === 'reject') parts.push('rejected');
  if (asset.colorLabel) parts.push(`${asset.colorLabel} label`);
  if (asset.status !== 'ok') parts.push(asset.status);
  return parts.join(', ');
}
