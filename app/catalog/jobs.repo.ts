import type { Database, Statement } from 'better-sqlite3';
import type { Job, JobState } from '../shared/domain.ts';
import type { AssetId, JobId } from '../shared/ids.ts';

interface JobRow {
  id: number;
  kind: string;
  asset_id: number | null;
  priority: number;
  state: JobState;
  attempts: number;
  next_run_at: number;
  error: string | null;
  progress: number;
  payload: string | null;
}

function toJob(row: JobRow): Job {
  return {
    id: row.id as JobId,
    kind: row.kind,
    assetId: row.asset_id as AssetId | null,
    priority: row.priority,
    state: row.state,
    attempts: row.attempts,
    nextRunAt: row.next_run_at,
    error: row.error,
    progress: row.progress,
    payload: row.payload === null ? null : (JSON.parse(row.payload) as unknown),
  };
}

/** Jobs per state, for one kind or all. */
export type JobCounts = Record<JobState, number>;

/** A job that failed for good, with its asset's file, for reports. */
export interface FailedJob {
  id: JobId;
  kind: string;
  assetId: AssetId | null;
  path: string | null;
  error: string | null;
  attempts: number;
}

function emptyCounts(): JobCounts {
  return { queued: 0, running: 0, done: 0, failed: 0, cancelled: 0 };
}

/**
 * The only place that reads and writes the persistent `jobs` queue. A running job belongs to an owner
 * (`host:pid`) and holds a lease it renews; a job whose owner died, or whose lease ran out, is queued again.
 */
export class JobsRepo {
  private readonly claimStmt: Statement;
  private readonly completeStmt: Statement;
  private readonly failStmt: Statement;
  private readonly renewStmt: Statement;
  private readonly countsStmt: Statement;
  private readonly nextDueStmt: Statement;

  constructor(private readonly db: Database) {
    this.claimStmt = db.prepare(
      `UPDATE jobs SET state = 'running', attempts = attempts + 1, owner = @owner, lease_until = @leaseUntil, updated_at = @now
       WHERE id = (
         SELECT id FROM jobs INDEXED BY jobs_ready
         WHERE state = 'queued' AND next_run_at <= @nowMs AND (@kinds IS NULL OR kind IN (SELECT value FROM json_each(@kinds)))
         ORDER BY priority DESC, next_run_at, id LIMIT 1)
       RETURNING *`,
    );
    this.completeStmt = db.prepare(
      `UPDATE jobs SET state = 'done', progress = 1, error = NULL, owner = NULL, finished_at = @nowMs, updated_at = @now
       WHERE id = @id AND state = 'running'`,
    );
    this.failStmt = db.prepare(
      `UPDATE jobs SET state = @state, error = @error, next_run_at = coalesce(@retryAt, next_run_at), owner = NULL,
         finished_at = CASE WHEN @retryAt IS NULL THEN @nowMs ELSE NULL END, updated_at = @now
       WHERE id = @id AND state = 'running'`,
    );
    this.renewStmt = db.prepare(
      "UPDATE jobs SET lease_until = @leaseUntil, progress = coalesce(@progress, progress) WHERE id = @id AND state = 'running' AND owner = @owner",
    );
    this.countsStmt = db.prepare('SELECT kind, state, count(*) AS n FROM jobs GROUP BY kind, state');
    this.nextDueStmt = db.prepare(
      "SELECT min(next_run_at) AS at FROM jobs WHERE state = 'queued' AND (@kinds IS NULL OR kind IN (SELECT value FROM json_each(@kinds)))",
    );
  }

  /** Queues a job; an identical job already queued or running is kept (its priority raised if needed). */
  enqueue(kind: string, assetId: AssetId | null, options: { priority?: number; payload?: unknown } = {}): void {
    this.db
      .prepare(
        `INSERT INTO jobs (kind, asset_id, priority, state, payload, created_at, updated_at)
         VALUES (@kind, @assetId, @priority, 'queued', @payload, @now, @now)
         ON CONFLICT (kind, asset_id) WHERE state IN ('queued', 'running') DO UPDATE SET priority = max(priority, excluded.priority)`,
      )
      .run({
        kind,
        assetId,
        priority: options.priority ?? 0,
        payload: options.payload === undefined ? null : JSON.stringify(options.payload),
        now: new Date().toISOString(),
      });
  }

  /** Takes the most urgent due job (of `kinds`, or any), marking it running for `owner` until `leaseMs` from now. */
  claim(options: { owner: string; leaseMs: number; kinds?: readonly string[] | null; nowMs?: number }): Job | undefined {
    const nowMs = options.nowMs ?? Date.now();
    const row = this.claimStmt.get({
      owner: options.owner,
      leaseUntil: nowMs + options.leaseMs,
      now: new Date(nowMs).toISOString(),
      nowMs,
      kinds: options.kinds ? JSON.stringify(options.kinds) : null,
    }) as JobRow | undefined;
    return row && toJob(row);
  }

  /** Extends the lease of a job `owner` runs, recording its progress (0–1); false when the job is no longer its own. */
  renew(id: JobId, owner: string, leaseUntil: number, progress: number | null = null): boolean {
    return this.renewStmt.run({ id, owner, leaseUntil, progress }).changes > 0;
  }

  /** Marks a running job done; false when it was not running (cancelled meanwhile, or taken back). */
  complete(id: JobId, nowMs = Date.now()): boolean {
    return this.completeStmt.run({ id, nowMs, now: new Date(nowMs).toISOString() }).changes > 0;
  }

  /** Records a failure: queued again at `retryAt`, or failed for good when `retryAt` is null. */
  fail(id: JobId, error: string, retryAt: number | null, nowMs = Date.now()): void {
    this.failStmt.run({ id, error, state: retryAt === null ? 'failed' : 'queued', retryAt, nowMs, now: new Date(nowMs).toISOString() });
  }

  /**
   * Queues again the running jobs whose owner is gone (`isOwnerAlive` says no) or whose lease has run out:
   * after a crash or `kill -9` nothing stays running forever. Returns how many.
   */
  requeueAbandoned(isOwnerAlive: (owner: string) => boolean, nowMs = Date.now()): number {
    const running = this.db.prepare("SELECT id, owner, lease_until FROM jobs WHERE state = 'running'").all() as Array<{
      id: number;
      owner: string | null;
      lease_until: number;
    }>;
    const abandoned = running.filter((row) => row.owner === null || row.lease_until < nowMs || !isOwnerAlive(row.owner)).map((row) => row.id);
    if (abandoned.length === 0) return 0;
    return this.db
      .prepare(
        `UPDATE jobs SET state = 'queued', owner = NULL, updated_at = @now
         WHERE state = 'running' AND id IN (SELECT value FROM json_each(@ids))`,
      )
      .run({ ids: JSON.stringify(abandoned), now: new Date(nowMs).toISOString() }).changes;
  }

  /** Deletes jobs that finished (done or cancelled) before `beforeMs`: the queue is work to do, not a history. Returns how many. */
  pruneFinished(beforeMs: number): number {
    return this.db
      .prepare("DELETE FROM jobs WHERE state IN ('done', 'cancelled') AND coalesce(finished_at, 0) < @beforeMs")
      .run({ beforeMs }).changes;
  }

  /** Raises the priority of the queued jobs of these assets (what the user is looking at); returns how many. */
  prioritize(assetIds: readonly AssetId[], priority: number): number {
    return this.db
      .prepare(
        `UPDATE jobs SET priority = max(priority, @priority)
         WHERE state = 'queued' AND asset_id IN (SELECT value FROM json_each(@ids))`,
      )
      .run({ ids: JSON.stringify(assetIds), priority }).changes;
  }

  /** Cancels queued and running jobs, of one kind or all; returns the ids of those that were running. */
  cancel(kind: string | null = null): JobId[] {
    const now = new Date().toISOString();
    const running = (
      this.db.prepare("SELECT id FROM jobs WHERE state = 'running' AND (@kind IS NULL OR kind = @kind)").all({ kind }) as Array<{ id: number }>
    ).map((row) => row.id as JobId);
    this.db
      .prepare(
        "UPDATE jobs SET state = 'cancelled', owner = NULL, finished_at = @nowMs, updated_at = @now WHERE state IN ('queued', 'running') AND (@kind IS NULL OR kind = @kind)",
      )
      .run({ kind, now, nowMs: Date.now() });
    return running;
  }

  /**
   * Queues again the jobs that failed for good or were cancelled (of one kind or all); with `ids`, only
   * those of them that failed for good (other ids are ignored). Returns how many.
   */
  retryFailed(kind: string | null = null, ids: readonly number[] | null = null): number {
    return this.db
      .prepare(
        `UPDATE jobs SET state = 'queued', attempts = 0, next_run_at = 0, error = NULL, finished_at = NULL, updated_at = @now
         WHERE state IN ('failed', 'cancelled') AND (@kind IS NULL OR kind = @kind)
           AND (@ids IS NULL OR (state = 'failed' AND id IN (SELECT value FROM json_each(@ids))))
           AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.kind = jobs.kind AND j.asset_id IS jobs.asset_id AND j.state IN ('queued', 'running'))`,
      )
      .run({ kind, ids: ids ? JSON.stringify(ids) : null, now: new Date().toISOString() }).changes;
  }

  /** Number of jobs per state, optionally for one kind. */
  counts(kind?: string): JobCounts {
    const result = emptyCounts();
    for (const [jobKind, counts] of Object.entries(this.countsByKind())) {
      if (kind !== undefined && jobKind !== kind) continue;
      for (const state of Object.keys(result) as JobState[]) result[state] += counts[state];
    }
    return result;
  }

  /** Number of jobs per kind and state. */
  countsByKind(): Record<string, JobCounts> {
    const result: Record<string, JobCounts> = {};
    for (const row of this.countsStmt.all() as Array<{ kind: string; state: JobState; n: number }>) {
      (result[row.kind] ??= emptyCounts())[row.state] = row.n;
    }
    return result;
  }

  /** When the next queued job (of `kinds`, or any) is due, in ms; null when none is queued. */
  nextDueAt(kinds: readonly string[] | null = null): number | null {
    return (this.nextDueStmt.get({ kinds: kinds ? JSON.stringify(kinds) : null }) as { at: number | null }).at;
  }

  /** Jobs that failed for good (since `sinceMs`, if given), newest first, with the reason. */
  listFailed(options: { limit?: number; sinceMs?: number } = {}): FailedJob[] {
    const rows = this.db
      .prepare(
        `SELECT j.id, j.kind, j.asset_id, a.path, j.error, j.attempts FROM jobs j LEFT JOIN assets a ON a.id = j.asset_id
         WHERE j.state = 'failed' AND j.finished_at >= @since ORDER BY j.finished_at DESC, j.id DESC LIMIT @limit`,
      )
      .all({ limit: options.limit ?? 100, since: options.sinceMs ?? 0 }) as Array<{ id: number; kind: string; asset_id: number | null; path: string | null; error: string | null; attempts: number }>;
    return rows.map((row) => ({
      id: row.id as JobId,
      kind: row.kind,
      assetId: row.asset_id as AssetId | null,
      path: row.path,
      error: row.error,
      attempts: row.attempts,
    }));
  }

  /** How many jobs of `kind` were finished (done) per asset, for crash tests: a job must run to completion once. */
  completionsPerAsset(kind: string): Map<AssetId, number> {
    const rows = this.db.prepare("SELECT asset_id, count(*) AS n FROM jobs WHERE kind = @kind AND state = 'done' GROUP BY asset_id").all({ kind }) as Array<{
      asset_id: number;
      n: number;
    }>;
    return new Map(rows.map((row) => [row.asset_id as AssetId, row.n]));
  }
}
