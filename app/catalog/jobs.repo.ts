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

/** The only place that reads and writes the persistent `jobs` queue. */
export class JobsRepo {
  private readonly claimStmt: Statement;

  constructor(private readonly db: Database) {
    this.claimStmt = db.prepare(
      `UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = @now
       WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND next_run_at <= @nowMs ORDER BY priority DESC, next_run_at, id LIMIT 1)
       RETURNING *`,
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

  /** Takes the most urgent job that is due, marking it running. */
  claim(nowMs = Date.now()): Job | undefined {
    const row = this.claimStmt.get({ now: new Date(nowMs).toISOString(), nowMs }) as JobRow | undefined;
    return row && toJob(row);
  }

  /** Marks a job done. */
  complete(id: JobId): void {
    this.db.prepare("UPDATE jobs SET state = 'done', progress = 1, error = NULL, updated_at = @now WHERE id = @id").run({
      id,
      now: new Date().toISOString(),
    });
  }

  /** Records a failure: requeued at `retryAt`, or failed for good when `retryAt` is null. */
  fail(id: JobId, error: string, retryAt: number | null): void {
    this.db
      .prepare('UPDATE jobs SET state = @state, error = @error, next_run_at = coalesce(@retryAt, next_run_at), updated_at = @now WHERE id = @id')
      .run({ id, error, state: retryAt === null ? 'failed' : 'queued', retryAt, now: new Date().toISOString() });
  }

  /** After a crash, jobs left `running` go back to the queue; returns how many. */
  requeueInterrupted(): number {
    return this.db.prepare("UPDATE jobs SET state = 'queued', updated_at = @now WHERE state = 'running'").run({
      now: new Date().toISOString(),
    }).changes;
  }

  /** Number of jobs per state, optionally for one kind. */
  counts(kind?: string): Record<JobState, number> {
    const rows = this.db
      .prepare('SELECT state, count(*) AS n FROM jobs WHERE @kind IS NULL OR kind = @kind GROUP BY state')
      .all({ kind: kind ?? null }) as Array<{ state: JobState; n: number }>;
    const result: Record<JobState, number> = { queued: 0, running: 0, done: 0, failed: 0, cancelled: 0 };
    for (const row of rows) result[row.state] = row.n;
    return result;
  }
}
