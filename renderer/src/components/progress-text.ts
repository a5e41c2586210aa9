import { formatBytes } from '../lib/format.ts';

/** "12.5 MB/s" for a byte rate; empty before there is one. */
export function formatRate(bytesPerSec: number): string {
  return bytesPerSec > 0 ? `${formatBytes(Math.round(bytesPerSec))}/s` : '';
}

/** "about 2 min left", "about 40 s left"; empty while unknown. */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '';
  if (seconds < 60) return `about ${Math.max(1, Math.round(seconds))} s left`;
  if (seconds < 3600) return `about ${Math.round(seconds / 60)} min left`;
  const hours = Math.floor(seconds / 3600);
  return `about ${hours} h ${Math.round((seconds % 3600) / 60)} min left`;
}

/** The last part of a path, for a file being copied. */
export function baseName(file: string): string {
  return file.split(/[\\/]/).filter(Boolean).at(-1) ?? file;
}

/** "1,204" with the reader's digit grouping. */
export function count(value: number): string {
  return value.toLocaleString();
}

/** "1 person", "12 people". */
export function peopleCount(value: number): string {
  return `${value.toLocaleString()} ${value === 1 ? 'person' : 'people'}`;
}
