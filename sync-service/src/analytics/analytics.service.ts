/**
 * First-party gallery analytics: views and downloads recorded by the service itself (no third-party
 * script, nothing stored about the browser), summed for the school's admins, beside the storage the
 * quota already counts. Also the operations counters of media and publishing (see `metrics.ts`).
 */
import type { Kysely } from 'kysely';
import type { ActivityAudience, ActivityKind, Database } from '../db/schema.ts';
import { ApiError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { STAFF_ROLES } from '../services/access.ts';
import type { Caller, EventService } from '../services/events.ts';
import type { MediaService } from '../services/media.ts';
import type { QuotaService } from '../services/quota.ts';
import {
  activeFamilies,
  eventActivity,
  eventNames,
  familyTotals,
  recordActivity,
  storageByVariant,
  topAssets,
  type ActivityFilter,
  type AssetActivity,
  type VariantStorage,
} from './activity.repo.ts';
import type { AnalyticsReport, ReportOptions } from './analytics.schemas.ts';

/** What {@link AnalyticsService} works with. */
export interface AnalyticsDeps {
  db: Kysely<Database>;
  events: EventService;
  media: MediaService;
  quota: QuotaService;
  metrics: Metrics;
  /** The clock that picks a record's day; the real one by default. */
  now?: () => Date;
}

const NO_SUCH_MEDIA = 'No such media in this event.';

function audienceOf(caller: Caller): ActivityAudience {
  return STAFF_ROLES.includes(caller.role) ? 'staff' : 'family';
}

function byVariant(rows: readonly VariantStorage[]): AnalyticsReport['storage']['byVariant'] {
  const totals = new Map<string, { variant: string; bytes: number; objects: number }>();
  for (const row of rows) {
    const total = totals.get(row.variant) ?? { variant: row.variant, bytes: 0, objects: 0 };
    total.bytes += row.bytes;
    total.objects += row.objects;
    totals.set(row.variant, total);
  }
  return [...totals.values()].sort((a, b) => b.bytes - a.bytes || a.variant.localeCompare(b.variant));
}

/** Records gallery views and downloads, counts publishes, and reports all of it to the school's admins. */
export class AnalyticsService {
  private readonly now: () => Date;

  constructor(private readonly deps: AnalyticsDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  private today(): string {
    return this.now().toISOString().slice(0, 10);
  }

  private async record(caller: Caller, eventId: string, assetId: string, kind: ActivityKind): Promise<ActivityAudience> {
    const audience = audienceOf(caller);
    await recordActivity(this.deps.db, {
      schoolId: caller.schoolId,
      eventId,
      assetId,
      parentUserId: caller.role === 'parent' ? caller.userId : null,
      audience,
      kind,
      day: this.today(),
    });
    return audience;
  }

  /**
   * Records that `caller` is looking at an asset, under the media URL's own rule: the event's gallery
   * must be open to them (audience, expiry) and the asset visible (consent of everyone tagged), or it is
   * the same 404 (410 for a closed gallery) the URL would give. Nothing is written then.
   */
  async recordView(caller: Caller, eventId: string, assetId: string): Promise<void> {
    const event = await this.deps.events.gallery(caller, eventId);
    if (!(await this.deps.media.viewable(caller, event, assetId))) throw new ApiError('not-found', NO_SUCH_MEDIA);
    const audience = await this.record(caller, eventId, assetId, 'view');
    this.deps.metrics.mediaViews.inc({ audience });
  }

  /** Records a download URL handed to `caller`, who has just passed the URL's authorisation check. */
  async recordDownload(caller: Caller, eventId: string, assetId: string, variant: string): Promise<void> {
    const audience = await this.record(caller, eventId, assetId, 'download');
    this.deps.metrics.mediaDownloads.inc({ audience, variant });
  }

  /** Counts a published manifest and its assets. */
  published(result: { assets: number }): void {
    this.deps.metrics.publishes.inc();
    this.deps.metrics.publishedAssets.inc(result.assets);
  }

  /**
   * The school's report for its admins (any other role: 403, as for the quota): the most viewed and
   * most downloaded media, how many families are looking, each event's activity, and storage by event
   * and variant against the plan. `eventId` narrows all but the school-wide storage totals; an event
   * of another school (or none) is a 404.
   */
  async report(caller: Caller, options: ReportOptions): Promise<AnalyticsReport> {
    if (caller.role !== 'admin') throw new ApiError('forbidden', "Only admins can see the school's analytics.");
    const { db } = this.deps;
    const names = await eventNames(db, caller.schoolId);
    if (options.eventId !== undefined && !names.has(options.eventId)) throw new ApiError('not-found', 'No such event in this school.');
    const filter: ActivityFilter = { schoolId: caller.schoolId, from: options.from, to: options.to, eventId: options.eventId };
    const [viewed, downloaded, active, families, activity, quota, variants] = await Promise.all([
      topAssets(db, filter, 'views', options.limit),
      topAssets(db, filter, 'downloads', options.limit),
      activeFamilies(db, filter),
      familyTotals(db, caller.schoolId),
      eventActivity(db, filter),
      this.deps.quota.summary(caller),
      storageByVariant(db, caller.schoolId),
    ]);
    const named = (asset: AssetActivity) => ({ eventId: asset.eventId, eventName: names.get(asset.eventId) ?? '', assetId: asset.assetId, views: asset.views, downloads: asset.downloads });
    const events = activity
      .map((entry) => ({ ...entry, name: names.get(entry.eventId) ?? '' }))
      .sort((a, b) => b.views - a.views || b.downloads - a.downloads || a.name.localeCompare(b.name));
    const byEvent = quota.byEvent
      .filter((entry) => options.eventId === undefined || entry.eventId === options.eventId)
      .map((entry) => ({ ...entry, byVariant: byVariant(variants.filter((row) => row.eventId === entry.eventId)) }));
    return {
      range: { from: options.from ?? null, to: options.to ?? null },
      eventId: options.eventId ?? null,
      mostViewed: viewed.map(named),
      mostDownloaded: downloaded.map(named),
      families: { active, ...families },
      events,
      storage: {
        plan: { id: quota.plan.id, name: quota.plan.name },
        limitBytes: quota.limitBytes,
        usedBytes: quota.usedBytes,
        reservedBytes: quota.reservedBytes,
        freeBytes: Math.max(0, quota.limitBytes - quota.usedBytes - quota.reservedBytes),
        byEvent,
        byVariant: byVariant(variants),
      },
    };
  }
}
