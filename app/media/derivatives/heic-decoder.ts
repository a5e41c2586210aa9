import { Worker } from 'node:worker_threads';
import { AppError } from '../../shared/errors.ts';

/** Pixels of a decoded image: RGBA, 8 bits per channel. */
export interface RgbaImage {
  width: number;
  height: number;
  pixels: Uint8Array;
}

interface Pending {
  resolve: (image: RgbaImage) => void;
  reject: (error: unknown) => void;
}

type WorkerReply =
  | { id: number; width: number; height: number; pixels: Uint8Array; error?: undefined }
  | { id: number; error: { code: string; message: string } };

/**
 * Decodes HEIC/HEIF photos (HEVC-coded, as iPhones write them, which sharp's prebuilt libvips cannot read)
 * with libheif compiled to WebAssembly, in one worker thread: decoding takes seconds of CPU and must not
 * stall the engine's event loop. One worker is enough: phones' HEICs are a small share of an import, and
 * libheif's decoder is single-threaded anyway. The worker is started on first use and stopped by close().
 */
export class HeicDecoder {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly options: { maxPixels: number }) {}

  /** The primary image of `file`; rejects with `corrupt-media` or `unsupported-media` saying why. */
  decode(file: string): Promise<RgbaImage> {
    const worker = this.start();
    worker.ref();
    const id = this.nextId++;
    return new Promise<RgbaImage>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, file, maxPixels: this.options.maxPixels });
    });
  }

  /** Stops the worker; pending decodes are rejected. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    // libheif prints its own diagnostics for damaged files; the reply carries the reason, so they are dropped
    // rather than written over a terminal's progress bar.
    const worker = new Worker(new URL('./heic.worker.mjs', import.meta.url), { stdout: true, stderr: true });
    worker.stdout.resume();
    worker.stderr.resume();
    // An idle worker must not keep a CLI process alive.
    worker.unref();
    worker.on('message', (reply: WorkerReply) => this.settle(reply));
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = null;
      this.failAll(new AppError('internal', 'The HEIC decoder stopped unexpectedly.'));
    });
    this.worker = worker;
    return worker;
  }

  private settle(reply: WorkerReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker?.unref();
    if (reply.error === undefined) {
      pending.resolve({ width: reply.width, height: reply.height, pixels: reply.pixels });
      return;
    }
    const { code, message } = reply.error;
    if (code === 'ENOENT') pending.reject(new AppError('not-found', 'The HEIC file is gone.'));
    else if (code === 'too-large') {
      pending.reject(new AppError('unsupported-media', `The HEIC image is too large to open safely (${message} pixels).`));
    } else pending.reject(new AppError('corrupt-media', `The HEIC image cannot be decoded (${message}).`));
  }

  private failAll(error: unknown): void {
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.reject(error);
    }
  }
}
