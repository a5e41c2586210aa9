/**
 * What the admin analytics API takes and answers, as zod schemas: the route parses its query with
 * them, the OpenAPI document is built from them, and the service's return type is derived from them.
 */
import { z } from 'zod';
import { idSchema } from '../../../app/sync/protocol.ts';

/** Most assets one ranking lists. */
export const MAX_TOP = 100;
/** Assets a ranking lists when the query names no `limit`. */
export const DEFAULT_TOP = 10;

/** `YYYY-MM-DD` that names a real calendar day. */
const Day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date as YYYY-MM-DD')
  .refine((text) => {
    // The refinement runs even when the pattern failed: an unparsable text is an Invalid Date, not a throw.
    const date = new Date(`${text}T00:00:00.000Z`);
    return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(text);
  }, 'is not a calendar date');

/** `?from=&to=&eventId=&limit=` of the report; days are UTC and both ends are included. */
export const ReportQuery = z
  .strictObject({
    from: Day.optional(),
    to: Day.optional(),
    eventId: idSchema.optional(),
    limit: z
      .string()
      .regex(/^\d+$/, `must be a whole number from 1 to ${MAX_TOP}`)
      .transform(Number)
      .pipe(z.number().int().min(1, `must be from 1 to ${MAX_TOP}`).max(MAX_TOP, `must be from 1 to ${MAX_TOP}`))
      .default(DEFAULT_TOP),
  })
  .refine((query) => query.from === undefined || query.to === undefined || query.from <= query.to, { message: 'must not be after to', path: ['from'] });

/** The query once parsed. */
export type ReportOptions = z.output<typeof ReportQuery>;

const Count = z.number().int().nonnegative();

/** An asset in a ranking; counts are families × days (a family opening a photo ten times in a day is one view). */
export const RankedAsset = z.object({
  eventId: z.string(),
  eventName: z.string(),
  assetId: z.string(),
  views: Count,
  downloads: Count,
});

/** One event's activity in the range. */
export const EventActivitySchema = z.object({
  eventId: z.string(),
  name: z.string(),
  /** Families' views and downloads (parents and students). */
  views: Count,
  downloads: Count,
  /** The school's own staff, counted once a day per asset whoever of them it was. */
  staffViews: Count,
  staffDownloads: Count,
  /** Distinct families with a view of this event in the range. */
  activeFamilies: Count,
});

/** What one variant (thumb, preview, poster, proxy, original) takes. */
export const VariantBytes = z.object({ variant: z.string(), bytes: Count, objects: Count });

/** One event's storage, as the quota counts it, split by variant. */
export const EventStorage = z.object({
  eventId: z.string(),
  name: z.string(),
  usedBytes: Count,
  reservedBytes: Count,
  assets: Count,
  byVariant: z.array(VariantBytes),
});

/** `GET /v1/schools/:schoolId/analytics`. */
export const AnalyticsReportSchema = z.object({
  range: z.object({ from: z.string().nullable(), to: z.string().nullable() }),
  eventId: z.string().nullable(),
  mostViewed: z.array(RankedAsset),
  mostDownloaded: z.array(RankedAsset),
  families: z.object({
    /** Distinct families with a view in the range. */
    active: Count,
    /** The school's families. */
    total: Count,
    /** Families with at least one parent account, who can sign in to the gallery. */
    withAccount: Count,
  }),
  events: z.array(EventActivitySchema),
  /** Always the whole school's against its plan; with `eventId`, `byEvent` holds that event only. */
  storage: z.object({
    plan: z.object({ id: z.string(), name: z.string() }),
    limitBytes: Count,
    usedBytes: Count,
    reservedBytes: Count,
    freeBytes: Count,
    byEvent: z.array(EventStorage),
    byVariant: z.array(VariantBytes),
  }),
});

/** The report the admin screens show. */
export type AnalyticsReport = z.infer<typeof AnalyticsReportSchema>;
