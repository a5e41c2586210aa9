/**
 * The retention of gallery analytics: activity rows (`media_activity`) of days more than
 * `ANALYTICS_RETENTION_DAYS` ago are deleted, for every school. The default, 400 days, keeps a whole
 * school year beside the same weeks of the last one. A row names a family and what it looked at on a
 * day, so it is not kept longer than the comparison needs.
 *
 * Runs on every instance: the delete is one idempotent statement, so two instances running it at once
 * delete each row once between them. The report needs nothing of the deleted days: a range reaching
 * before the retention counts the days still kept.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { asService } from '../db/tenant-scope.ts';
import type { OutboxLog } from '../mail/outbox.ts';
import { deleteActivityBefore } from './activity.repo.ts';

/** How the retention runs. */
export interface ActivityRetentionOptions {
  /** `ANALYTICS_RETENTION_DAYS`: the days kept before today (UTC), today included. */
  retentionDays: number;
  /** How often it runs; rows are daily, so a few times a day is plenty. Default 6 h. */
  everyMs?: number;
  now?: () => Date;
  log?: OutboxLog;
}

/** Deletes gallery activity older than the retention, at start and then every `everyMs`. */
export class ActivityRetention {
  private readonly everyMs: number;
  private readonly now: () => Date;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: ActivityRetentionOptions,
  ) {
    this.everyMs = options.everyMs ?? 6 * 3_600_000;
    this.now = options.now ?? (() => new Date());
  }

  /** The first day kept (`YYYY-MM-DD`, UTC): `retentionDays` days back from today, today counted. */
  keptSince(): string {
    return new Date(this.now().getTime() - (this.options.retentionDays - 1) * 86_400_000).toISOString().slice(0, 10);
  }

  /** One pass over every school's rows; returns how many were deleted. */
  async runOnce(): Promise<number> {
    const since = this.keptSince();
    const deleted = await asService(() => deleteActivityBefore(this.db, since));
    if (deleted > 0) this.options.log?.info({ deleted, keptSince: since, retentionDays: this.options.retentionDays }, 'old gallery activity deleted');
    return deleted;
  }

  /** Runs now and every `everyMs` until {@link stop}; a failed pass is logged and tried again at the next. */
  start(): void {
    if (this.timer !== undefined) return;
    const pass = () => {
      this.running ??= this.runOnce()
        .catch((error: unknown) => this.options.log?.warn({ err: error }, 'gallery activity retention failed; retrying at the next pass'))
        .finally(() => {
          this.running = undefined;
        });
    };
    this.timer = setInterval(pass, this.everyMs);
    this.timer.unref();
    pass();
  }

  /** Stops the passes and waits for the one in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
