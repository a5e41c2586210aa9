import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

// Slices through a limit are small so the rate is smooth; without one they are large so a part costs few writes.
const SLICE = 64 * 1024;
const UNLIMITED_SLICE = 1024 * 1024;

/**
 * A token bucket shared by every request of an uploader: at most `rate` bytes per second leave, with a
 * burst of a quarter second. `rate` null means unlimited. Waiters are served in order, so one large part
 * cannot starve the others.
 */
export class Throttle {
  private rate: number | null;
  private tokens = 0;
  private last = performance.now();
  private queue: Promise<void> = Promise.resolve();

  constructor(bytesPerSecond: number | null) {
    this.rate = bytesPerSecond;
  }

  /** Changes the limit (bytes per second, null for none); takes effect at the next slice. */
  setRate(bytesPerSecond: number | null): void {
    this.rate = bytesPerSecond;
    this.tokens = 0;
    this.last = performance.now();
  }

  get bytesPerSecond(): number | null {
    return this.rate;
  }

  /** Resolves when `bytes` may be sent. */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.rate === null) return Promise.resolve();
    const turn = this.queue.then(() => this.wait(bytes, signal));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async wait(bytes: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const rate = this.rate;
      if (rate === null) return;
      const now = performance.now();
      this.tokens = Math.min(rate / 4 + bytes, this.tokens + ((now - this.last) / 1000) * rate);
      this.last = now;
      if (this.tokens >= bytes) {
        this.tokens -= bytes;
        return;
      }
      await sleep(Math.max(1, ((bytes - this.tokens) / rate) * 1000), undefined, signal ? { signal } : undefined);
    }
  }
}

/**
 * A request body over bytes already read: handed to the HTTP layer in 64 KiB slices through the throttle,
 * reporting each slice as it goes. A new one is made for every attempt, so a retry sends from the start.
 */
export function throttledBody(bytes: Buffer, throttle: Throttle, onSent: (n: number) => void, signal?: AbortSignal): Readable {
  let offset = 0;
  return new Readable({
    highWaterMark: UNLIMITED_SLICE,
    read() {
      if (offset >= bytes.length) {
        this.push(null);
        return;
      }
      if (throttle.bytesPerSecond === null) {
        const slice = bytes.subarray(offset, Math.min(bytes.length, offset + UNLIMITED_SLICE));
        offset += slice.length;
        onSent(slice.length);
        this.push(slice);
        return;
      }
      const slice = bytes.subarray(offset, Math.min(bytes.length, offset + SLICE));
      offset += slice.length;
      throttle.take(slice.length, signal).then(
        () => {
          onSent(slice.length);
          this.push(slice);
        },
        // Aborted: whoever sends the body was aborted by the same signal and has stopped reading, so an
        // 'error' here would have no listener and crash the process.
        (error: unknown) => (signal?.aborted ? this.destroy() : this.destroy(error as Error)),
      );
    },
  });
}
