/**
 * Deleting bucket objects the service itself must remove (an erased student's media) without ever
 * losing a deletion. The keys are written to `object_deletions` inside the transaction that decided
 * them ({@link enqueueObjectDeletions}); after the commit a worker deletes them with DeleteObjects,
 * 1,000 keys a request, and removes a row only once the store confirmed. While the store fails, rows
 * wait with exponential backoff (never given up: an erasure must reach the bucket); a process that
 * dies mid-batch leaves its claim to expire; at start-up everything waiting is due at once.
 *
 * Several instances may run a worker over one database: a row is claimed with a conditional UPDATE
 * before it is deleted, so two workers do not send the same keys (and if a claim outlives its lease,
 * deleting an object twice is harmless).
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema.ts';
import { asService } from '../db/tenant-scope.ts';
import { DELETE_BATCH, type ObjectStore } from './storage.ts';

/** Rows per INSERT when queueing (five parameters a row). */
const INSERT_CHUNK = 500;

/** What the worker logs through (Fastify's pino logger fits). */
export interface DeletionLog {
  info(detail: Record<string, unknown>, message: string): void;
  warn(detail: Record<string, unknown>, message: string): void;
}

export interface DeletionWorkerOptions {
  /** First wait after a failure; doubled for each further failure. Default 5 s. */
  baseDelayMs?: number;
  /** Longest wait between two attempts. Default 1 hour. */
  maxDelayMs?: number;
  /** How long a claimed batch is a worker's before another may take it. Default 5 minutes. */
  leaseMs?: number;
  /** How often the queue is looked at for rows whose wait is over. Default 30 s. */
  pollMs?: number;
  log?: DeletionLog;
}

/** What one pass over the queue did. */
export interface DrainResult {
  deleted: number;
  failed: number;
}

/** Queues `keys` for deletion from the bucket; call it inside the transaction that decided it. */
export async function enqueueObjectDeletions(trx: Transaction<Database>, schoolId: string, keys: readonly string[], reason: string): Promise<void> {
  const now = new Date().toISOString();
  const rows = [...new Set(keys)].map((object_key) => ({ id: randomUUID(), school_id: schoolId, object_key, reason, attempts: 0, next_attempt_at: now, created_at: now }));
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) await trx.insertInto('object_deletions').values(rows.slice(i, i + INSERT_CHUNK)).execute();
}

/** Deletes queued objects in the background; see the module comment. */
export class ObjectDeletionWorker {
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly log: DeletionLog | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly store: ObjectStore,
    options: DeletionWorkerOptions = {},
  ) {
    this.baseDelayMs = options.baseDelayMs ?? 5_000;
    this.maxDelayMs = options.maxDelayMs ?? 3_600_000;
    this.leaseMs = options.leaseMs ?? 300_000;
    this.pollMs = options.pollMs ?? 30_000;
    this.log = options.log;
  }

  /**
   * Makes every waiting, unclaimed row due now (the store may be back since the last process gave up
   * waiting), deletes what it can, then keeps looking every `pollMs`. Resolves when the first pass is
   * done; never rejects (a failing store or database is logged and retried).
   */
  async start(): Promise<void> {
    if (this.stopped || this.timer !== undefined) return;
    this.timer = setInterval(() => this.wake(), this.pollMs);
    this.timer.unref();
    try {
      const now = new Date().toISOString();
      // The queue holds every school's deletions: the worker works in the service's scope.
      await asService(() =>
        this.db
          .updateTable('object_deletions')
          .set({ next_attempt_at: now })
          .where('next_attempt_at', '>', now)
          .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
          .execute(),
      );
    } catch (error) {
      this.log?.warn({ err: error }, 'could not read the object deletion queue at start-up; will retry');
    }
    this.wake();
    await this.idle();
  }

  /** Looks at the queue soon (after an erasure commits); cheap to call often. */
  wake(): void {
    if (this.stopped) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .then(
        (result) => {
          if (result.deleted > 0 || result.failed > 0) this.log?.info({ ...result }, 'object deletion queue worked');
        },
        (error: unknown) => this.log?.warn({ err: error }, 'could not work the object deletion queue; will retry'),
      )
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Resolves once no pass is running (and none was asked for meanwhile). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  /** Stops looking at the queue and waits for the batch in hand; what is left waits for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.idle();
  }

  /** Works batches of due rows until none is left or the store refuses a whole request. */
  async drain(): Promise<DrainResult> {
    // Every school's rows, whichever request woke the worker.
    return asService(() => this.drainAll());
  }

  private async drainAll(): Promise<DrainResult> {
    const total: DrainResult = { deleted: 0, failed: 0 };
    for (;;) {
      const batch = await this.runBatch();
      total.deleted += batch.deleted;
      total.failed += batch.failed;
      if (batch.claimed === 0 || batch.storeDown) return total;
    }
  }

  private async runBatch(): Promise<DrainResult & { claimed: number; storeDown: boolean }> {
    const now = new Date();
    const nowIso = now.toISOString();
    const claimable = this.db
      .selectFrom('object_deletions')
      .select('id')
      .where('next_attempt_at', '<=', nowIso)
      .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', nowIso)]))
      .orderBy('next_attempt_at')
      .limit(DELETE_BATCH);
    const claimed = await this.db
      .updateTable('object_deletions')
      .set({ claimed_until: new Date(now.getTime() + this.leaseMs).toISOString() })
      .where('id', 'in', claimable)
      // Again, for PostgreSQL: a row another worker claimed since the subquery read it is skipped.
      .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', nowIso)]))
      .returning(['id', 'object_key', 'attempts'])
      .execute();
    if (claimed.length === 0) return { deleted: 0, failed: 0, claimed: 0, storeDown: false };

    const keys = [...new Set(claimed.map((row) => row.object_key))];
    let failures: Map<string, string>;
    let storeDown = false;
    try {
      const outcome = await this.store.deleteMany(keys);
      failures = new Map(outcome.failed.map((f) => [f.key, f.reason]));
    } catch (error) {
      storeDown = true;
      const reason = `The object store refused the deletion request: ${(error as Error).message}`;
      failures = new Map(keys.map((key) => [key, reason]));
    }

    const done = claimed.filter((row) => !failures.has(row.object_key)).map((row) => row.id);
    for (let i = 0; i < done.length; i += DELETE_BATCH) await this.db.deleteFrom('object_deletions').where('id', 'in', done.slice(i, i + DELETE_BATCH)).execute();
    const failed = claimed.filter((row) => failures.has(row.object_key));
    // One UPDATE per (attempts, reason): a refused request is one statement for the whole batch.
    const groups = new Map<string, { attempts: number; reason: string; ids: string[] }>();
    for (const row of failed) {
      const reason = (failures.get(row.object_key) ?? '').slice(0, 500);
      const key = `${row.attempts}\n${reason}`;
      const group = groups.get(key) ?? { attempts: row.attempts + 1, reason, ids: [] };
      group.ids.push(row.id);
      groups.set(key, group);
    }
    for (const { attempts, reason, ids } of groups.values()) {
      const delay = Math.min(this.baseDelayMs * 2 ** Math.min(attempts - 1, 30), this.maxDelayMs);
      await this.db
        .updateTable('object_deletions')
        .set({ attempts, next_attempt_at: new Date(Date.now() + delay).toISOString(), claimed_until: null, last_error: reason })
        .where('id', 'in', ids)
        .execute();
    }
    if (failed.length > 0) {
      this.log?.warn({ failed: failed.length, firstKey: failed[0]?.object_key, reason: failures.get(failed[0]?.object_key ?? '') }, 'objects could not be deleted from the bucket; will retry');
    }
    return { deleted: done.length, failed: failed.length, claimed: claimed.length, storeDown };
  }
}
