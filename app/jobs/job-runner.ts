import { EventEmitter } from 'node:events';
import os from 'node:os';
import type { Catalog } from '../catalog/catalog.ts';
import type { JobCounts } from '../catalog/jobs.repo.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import type { Job } from '../shared/domain.ts';
import type { AssetId } from '../shared/ids.ts';
import { AppError, toAppError, type ErrorCode } from '../shared/errors.ts';
import type { KindProgress, QueueProgress } from '../shared/views.ts';
export type { KindProgress, QueueProgress } from '../shared/views.ts';

/** What a handler gets besides the job: a signal that aborts it (pause is not abort; stop and cancel are) and a progress reporter. */
export interface JobContext {
  signal: AbortSignal;
  progress(fraction: number): void;
}

/** Runs one job; throws an AppError to fail it. Handlers must be idempotent: a job may run again after a crash. */
export type JobHandler = (job: Job, context: JobContext) => Promise<void>;

/** A kind of job: its handler and how many may run at once. */
export interface JobKind {
  run: JobHandler;
  concurrency: number;
}

/** Events of a {@link JobRunner}. */
export interface JobRunnerEvents {
  progress: [QueueProgress];
  /** A job failed for good (or will be retried when `retryAt` is set). */
  failure: [{ job: Job; error: AppError; retryAt: number | null }];
  idle: [];
  /** A job finished successfully (a thumbnail set made: the grid can show it). */
  done: [Job];
}

/** Options of {@link JobRunner}. */
export interface JobRunnerOptions {
  catalog: Catalog;
  kinds: Record<string, JobKind>;
  log?: Logger;
  /** Tries before a retryable failure is final (default 5). */
  maxAttempts?: number;
  /** First retry delay, doubled each time, with ±50 % jitter (default 2 s). */
  backoffMs?: number;
  /** How long a claimed job stays ours without renewal (default 60 s); renewed every third of it. */
  leaseMs?: number;
  /** Called when a job fails for good because of its asset's file (corrupt, unsupported, missing). */
  onAssetFailure?: (job: Job, error: AppError) => void;
}

// These say something about the file, not the moment: trying again cannot help.
const PERMANENT: readonly ErrorCode[] = ['corrupt-media', 'unsupported-media', 'not-found', 'invalid-input'];
const PROGRESS_INTERVAL_MS = 500;
const RATE_WINDOW_MS = 10_000;
const FINISHED_KEPT_MS = 7 * 24 * 3600 * 1000;
// Above the thumbnails' own priority (10, set by the catalog's trigger) and any proxy's.
const VIEWED_PRIORITY = 100;

/**
 * Works the persistent job queue of the catalog: claims the most urgent due job of each kind while that kind
 * has a free slot, runs its handler, and records the outcome. Retries with exponential backoff and jitter;
 * a job that fails because of its file fails for good at once. Pause (finish what runs, start nothing),
 * resume, cancel, stop. Several runners (processes) may share one queue: claims are atomic, and each runner
 * renews its leases, so a crashed runner's jobs are taken back by the next one that starts.
 */
export class JobRunner extends EventEmitter<JobRunnerEvents> {
  readonly owner = `${os.hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  private readonly catalog: Catalog;
  private readonly kinds: Record<string, JobKind>;
  private readonly log: Logger;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly leaseMs: number;
  private readonly onAssetFailure: ((job: Job, error: AppError) => void) | undefined;
  private readonly running = new Map<number, { job: Job; controller: AbortController; progress: number; done: Promise<void> }>();
  private readonly finished = new Map<string, { done: number; failed: number; times: number[] }>();
  private started = false;
  private paused = false;
  private stopping = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private leaseTimer: NodeJS.Timeout | null = null;
  private lastProgress = 0;
  private wasIdle = false;

  constructor(options: JobRunnerOptions) {
    super();
    this.catalog = options.catalog;
    this.kinds = options.kinds;
    this.log = options.log ?? createLogger('jobs');
    this.maxAttempts = options.maxAttempts ?? 5;
    this.backoffMs = options.backoffMs ?? 2000;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.onAssetFailure = options.onAssetFailure;
  }

  /** Takes back jobs abandoned by crashed runners, then starts working the queue. */
  start(): void {
    if (this.started || this.catalog.readOnly) return;
    this.started = true;
    const taken = this.catalog.jobs.requeueAbandoned(isOwnerAlive);
    if (taken > 0) this.log.info('jobs taken back from a runner that stopped', { count: taken });
    // Finished jobs are kept a week (for "what happened" questions), then dropped: a million done rows
    // would cost the catalog ~150 MB and slow every count of the queue.
    this.catalog.jobs.pruneFinished(Date.now() - FINISHED_KEPT_MS);
    this.leaseTimer = setInterval(() => this.renewLeases(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.leaseTimer.unref();
    this.loop = this.work();
  }

  /** Starts no new job until {@link resume}; running jobs finish. */
  pause(): void {
    this.paused = true;
    this.emitProgress(true);
  }

  /** Goes on after {@link pause}. */
  resume(): void {
    this.paused = false;
    this.notify();
    this.emitProgress(true);
  }

  /** Cancels the queued and running jobs of one kind, or all; running ones are aborted. */
  cancel(kind: string | null = null): void {
    const aborted = new Set<number>(this.catalog.jobs.cancel(kind));
    for (const [id, entry] of this.running) if (aborted.has(id)) entry.controller.abort(new AppError('cancelled', 'Cancelled.'));
    this.emitProgress(true);
  }

  /** Puts the jobs of these assets (what the user is looking at) ahead of the rest. */
  prioritize(assetIds: readonly AssetId[]): void {
    if (this.catalog.jobs.prioritize(assetIds, VIEWED_PRIORITY) > 0) this.notify();
  }

  /** Says new jobs may be due (the queue was written to): wakes the runner if it waits. */
  notify(): void {
    this.wake?.();
  }

  /** Resolves once no job of the runner's kinds (or of `kinds`) is queued or running, in any process. */
  async whenIdle(kinds?: readonly string[]): Promise<void> {
    while (!this.isIdle(kinds)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.off('idle', done);
          this.off('progress', done);
          resolve();
        };
        const timer = setTimeout(done, 250);
        this.once('idle', done);
        this.once('progress', done);
      });
    }
  }

  /** Aborts running jobs (they are queued again for the next start) and stops. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.stopping = true;
    for (const entry of this.running.values()) entry.controller.abort(new AppError('cancelled', 'The engine is stopping.'));
    this.notify();
    await this.loop;
    await Promise.all([...this.running.values()].map((entry) => entry.done));
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    this.started = false;
    this.stopping = false;
  }

  /** Progress of each kind: done and failed by this runner, queued and running in the whole queue. */
  progress(): QueueProgress {
    const counts = this.catalog.jobs.countsByKind();
    const now = Date.now();
    const kinds = Object.keys(this.kinds).map((kind): KindProgress => {
      const mine = this.finished.get(kind) ?? { done: 0, failed: 0, times: [] };
      const queue: JobCounts = counts[kind] ?? { queued: 0, running: 0, done: 0, failed: 0, cancelled: 0 };
      const recent = mine.times.filter((time) => time > now - RATE_WINDOW_MS);
      const windowMs = recent.length > 0 ? Math.max(1000, now - recent[0]!) : RATE_WINDOW_MS;
      const rate = recent.length / (windowMs / 1000);
      const left = queue.queued + queue.running;
      return {
        kind,
        done: mine.done,
        failed: mine.failed,
        queued: queue.queued,
        running: queue.running,
        total: mine.done + mine.failed + left,
        rate,
        etaSec: left === 0 ? 0 : rate > 0 ? left / rate : null,
      };
    });
    return { paused: this.paused, kinds };
  }

  private isIdle(kinds?: readonly string[]): boolean {
    const counts = this.catalog.jobs.countsByKind();
    const watched = kinds ?? Object.keys(this.kinds);
    const mineRunning = kinds ? [...this.running.values()].some((entry) => kinds.includes(entry.job.kind)) : this.running.size > 0;
    return watched.every((kind) => (counts[kind]?.queued ?? 0) + (counts[kind]?.running ?? 0) === 0) && !mineRunning;
  }

  private async work(): Promise<void> {
    // A catalog found damaged (by its background check) refuses writes: the queue stops until it is restored.
    while (!this.stopping && !this.catalog.readOnly) {
      let claimed = false;
      if (!this.paused) {
        for (const kind of this.freeKinds()) {
          const job = this.catalog.jobs.claim({ owner: this.owner, leaseMs: this.leaseMs, kinds: [kind] });
          if (!job) continue;
          claimed = true;
          this.wasIdle = false;
          this.launch(job);
        }
      }
      if (claimed) continue;
      const idle = this.running.size === 0 && !this.paused && this.isIdle();
      // The last snapshot of a batch is always sent, so a progress bar ends at 100 %.
      this.emitProgress(idle && !this.wasIdle);
      this.wasIdle = idle;
      if (idle) this.emit('idle');
      // Wait for a job to finish, new work, or the next retry to come due.
      const due = this.paused ? null : this.catalog.jobs.nextDueAt(Object.keys(this.kinds));
      const delay = due === null ? 1000 : Math.min(1000, Math.max(0, due - Date.now()));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  private freeKinds(): string[] {
    const busy = new Map<string, number>();
    for (const { job } of this.running.values()) busy.set(job.kind, (busy.get(job.kind) ?? 0) + 1);
    return Object.entries(this.kinds)
      .filter(([kind, definition]) => (busy.get(kind) ?? 0) < definition.concurrency)
      .map(([kind]) => kind);
  }

  private launch(job: Job): void {
    const controller = new AbortController();
    const entry = { job, controller, progress: 0, done: Promise.resolve() };
    entry.done = this.execute(job, controller, entry).finally(() => {
      this.running.delete(job.id);
      this.notify();
    });
    this.running.set(job.id, entry);
  }

  private async execute(job: Job, controller: AbortController, entry: { progress: number }): Promise<void> {
    const definition = this.kinds[job.kind]!;
    try {
      await definition.run(job, {
        signal: controller.signal,
        progress: (fraction) => {
          entry.progress = Math.max(0, Math.min(1, fraction));
        },
      });
      if (this.catalog.readOnly) throw new AppError('io', this.catalog.damage ?? 'The catalog is read-only.');
      this.catalog.jobs.complete(job.id);
      this.count(job.kind, 'done');
      this.emit('done', job);
    } catch (caught) {
      const error = controller.signal.aborted && this.stopping ? new AppError('cancelled', 'The engine is stopping.') : toAppError(caught);
      try {
        this.settleFailure(job, error);
      } catch (recordError) {
        // Only a catalog that cannot be written gets here; the job stays running and is taken back later.
        this.log.error('could not record a job failure', { kind: job.kind, assetId: job.assetId, error: toAppError(recordError) });
      }
    }
    this.emitProgress(false);
  }

  private settleFailure(job: Job, error: AppError): void {
    if (error.code === 'cancelled') {
      // Stopping puts the job back for the next start; a cancel already marked it cancelled.
      if (this.stopping) this.catalog.jobs.fail(job.id, error.message, Date.now());
      return;
    }
    const permanent = PERMANENT.includes(error.code) || job.attempts >= this.maxAttempts;
    const retryAt = permanent ? null : Date.now() + Math.round(this.backoffMs * 2 ** (job.attempts - 1) * (0.5 + Math.random()));
    this.catalog.jobs.fail(job.id, error.message, retryAt);
    if (permanent) this.count(job.kind, 'failed');
    if (permanent && PERMANENT.includes(error.code)) this.onAssetFailure?.(job, error);
    this.log.warn(permanent ? 'job failed' : 'job will be retried', { kind: job.kind, assetId: job.assetId, attempts: job.attempts, error });
    this.emit('failure', { job, error, retryAt });
  }

  private count(kind: string, outcome: 'done' | 'failed'): void {
    const entry = this.finished.get(kind) ?? { done: 0, failed: 0, times: [] };
    entry[outcome] += 1;
    const now = Date.now();
    entry.times.push(now);
    while (entry.times.length > 0 && entry.times[0]! < now - RATE_WINDOW_MS) entry.times.shift();
    this.finished.set(kind, entry);
  }

  private renewLeases(): void {
    const until = Date.now() + this.leaseMs;
    for (const [id, entry] of this.running) {
      // A job taken back from us (our lease ran out while the machine slept) is no longer ours to finish.
      if (!this.catalog.jobs.renew(entry.job.id, this.owner, until, entry.progress)) {
        entry.controller.abort(new AppError('cancelled', 'Another engine took this job over.'));
        this.running.delete(id);
      }
    }
  }

  private emitProgress(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastProgress < PROGRESS_INTERVAL_MS) return;
    this.lastProgress = now;
    this.emit('progress', this.progress());
  }
}

/** Whether the runner that owns a job still runs: a process on this machine is asked; others are trusted until their lease ends. */
export function isOwnerAlive(owner: string): boolean {
  const [host, pid] = owner.split(':');
  if (host !== os.hostname()) return true;
  if (Number(pid) === process.pid) return true;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
