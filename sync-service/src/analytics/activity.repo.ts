/**
 * The gallery's activity records (`media_activity`, migration 0012) and the sums the admin screens
 * read from them. A row is one family's (or the staff's) view or download of one asset on one UTC
 * day; writing it again is a no-op, so every count here is a count of rows: "families × days".
 */
import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool, type Transaction } from 'kysely';
import type { ActivityAudience, ActivityKind, Database } from '../db/schema.ts';

/** One view or download to record. */
export interface Activity {
  schoolId: string;
  eventId: string;
  assetId: string;
  /** Whose family it counts for: a parent's (looked up in the same statement); null for staff and students. */
  parentUserId: string | null;
  audience: ActivityAudience;
  kind: ActivityKind;
  /** `YYYY-MM-DD`, UTC. */
  day: string;
}

/** Which rows a report reads: a school's, optionally within days (inclusive) and one event. */
export interface ActivityFilter {
  schoolId: string;
  from: string | undefined;
  to: string | undefined;
  eventId: string | undefined;
}

/** An asset's family views and downloads. */
export interface AssetActivity {
  eventId: string;
  assetId: string;
  views: number;
  downloads: number;
}

/** An event's activity, families' and staff's apart. */
export interface EventActivity {
  eventId: string;
  views: number;
  downloads: number;
  staffViews: number;
  staffDownloads: number;
  activeFamilies: number;
}

/** Bytes and objects of one variant of one event's published media. */
export interface VariantStorage {
  eventId: string;
  variant: string;
  bytes: number;
  objects: number;
}

/**
 * Records one activity in one statement: the insert itself finds the parent's family (the first of
 * theirs in the school, by id, when they are in several), and a row already there for the same asset,
 * day, kind and family makes it a no-op (the unique index `media_activity_once`).
 */
export async function recordActivity(db: Kysely<Database>, activity: Activity): Promise<void> {
  const { parentUserId } = activity;
  await db
    .insertInto('media_activity')
    .values((eb) => ({
      school_id: activity.schoolId,
      event_id: activity.eventId,
      asset_id: activity.assetId,
      family_id:
        parentUserId === null
          ? null
          : eb
              .selectFrom('family_members')
              .innerJoin('families', 'families.id', 'family_members.family_id')
              .select((inner) => inner.fn.min('family_members.family_id').as('family_id'))
              .where('family_members.user_id', '=', parentUserId)
              .where('families.school_id', '=', activity.schoolId),
      audience: activity.audience,
      kind: activity.kind,
      day: activity.day,
    }))
    .onConflict((oc) => oc.doNothing())
    .execute();
}

function inFilter(eb: ExpressionBuilder<Database, 'media_activity'>, filter: ActivityFilter): Expression<SqlBool> {
  const terms: Array<Expression<SqlBool>> = [eb('media_activity.school_id', '=', filter.schoolId)];
  if (filter.from !== undefined) terms.push(eb('media_activity.day', '>=', filter.from));
  if (filter.to !== undefined) terms.push(eb('media_activity.day', '<=', filter.to));
  if (filter.eventId !== undefined) terms.push(eb('media_activity.event_id', '=', filter.eventId));
  return eb.and(terms);
}

/** 1 for rows matching, else 0: summed, a conditional count that reads the same on both engines. */
function countIf(audience: ActivityAudience, kind: ActivityKind) {
  return sql<number | string>`sum(case when audience = ${audience} and kind = ${kind} then 1 else 0 end)`;
}

/** The `limit` assets with the most family views (`by: 'views'`) or downloads, each with both counts; ties by asset id. */
export async function topAssets(db: Kysely<Database>, filter: ActivityFilter, by: 'views' | 'downloads', limit: number): Promise<AssetActivity[]> {
  const views = countIf('family', 'view');
  const downloads = countIf('family', 'download');
  const [first, second] = by === 'views' ? [views, downloads] : [downloads, views];
  const rows = await db
    .selectFrom('media_activity')
    .select(['event_id', 'asset_id', views.as('views'), downloads.as('downloads')])
    .where((eb) => inFilter(eb, filter))
    .where('audience', '=', 'family')
    .groupBy(['event_id', 'asset_id'])
    .having(first, '>', 0)
    .orderBy(first, 'desc')
    .orderBy(second, 'desc')
    .orderBy('asset_id')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ eventId: row.event_id, assetId: row.asset_id, views: Number(row.views), downloads: Number(row.downloads) }));
}

/** Each event with any activity in the filter's range. */
export async function eventActivity(db: Kysely<Database>, filter: ActivityFilter): Promise<EventActivity[]> {
  const rows = await db
    .selectFrom('media_activity')
    .select((eb) => [
      'event_id',
      countIf('family', 'view').as('views'),
      countIf('family', 'download').as('downloads'),
      countIf('staff', 'view').as('staff_views'),
      countIf('staff', 'download').as('staff_downloads'),
      eb.fn.count<number | string>(eb.case().when('kind', '=', 'view').then(eb.ref('family_id')).end()).distinct().as('active_families'),
    ])
    .where((eb) => inFilter(eb, filter))
    .groupBy('event_id')
    .execute();
  return rows.map((row) => ({
    eventId: row.event_id,
    views: Number(row.views),
    downloads: Number(row.downloads),
    staffViews: Number(row.staff_views),
    staffDownloads: Number(row.staff_downloads),
    activeFamilies: Number(row.active_families),
  }));
}

/** How many distinct families viewed anything in the filter's range. */
export async function activeFamilies(db: Kysely<Database>, filter: ActivityFilter): Promise<number> {
  const row = await db
    .selectFrom('media_activity')
    .select((eb) => eb.fn.count<number | string>('family_id').distinct().as('families'))
    .where((eb) => inFilter(eb, filter))
    .where('kind', '=', 'view')
    .executeTakeFirst();
  return Number(row?.families ?? 0);
}

/** The school's families, and how many of them have at least one parent account (who can sign in to the gallery). */
export async function familyTotals(db: Kysely<Database>, schoolId: string): Promise<{ total: number; withAccount: number }> {
  const total = await db
    .selectFrom('families')
    .select((eb) => eb.fn.countAll<number | string>().as('families'))
    .where('school_id', '=', schoolId)
    .executeTakeFirst();
  const withAccount = await db
    .selectFrom('family_members')
    .innerJoin('families', 'families.id', 'family_members.family_id')
    .select((eb) => eb.fn.count<number | string>('family_members.family_id').distinct().as('families'))
    .where('families.school_id', '=', schoolId)
    .executeTakeFirst();
  return { total: Number(total?.families ?? 0), withAccount: Number(withAccount?.families ?? 0) };
}

/** The bytes and objects of each variant of each event's published media. */
export async function storageByVariant(db: Kysely<Database>, schoolId: string): Promise<VariantStorage[]> {
  const rows = await db
    .selectFrom('media')
    .select((eb) => ['event_id', 'variant', eb.fn.sum<number | string>('size').as('bytes'), eb.fn.countAll<number | string>().as('objects')])
    .where('school_id', '=', schoolId)
    .groupBy(['event_id', 'variant'])
    .execute();
  return rows.map((row) => ({ eventId: row.event_id, variant: row.variant, bytes: Number(row.bytes), objects: Number(row.objects) }));
}

/** The names of the school's events, by id. */
export async function eventNames(db: Kysely<Database>, schoolId: string): Promise<Map<string, string>> {
  const rows = await db.selectFrom('events').select(['id', 'name']).where('school_id', '=', schoolId).execute();
  return new Map(rows.map((row) => [row.id, row.name]));
}

/** Ids per `in (…)` list: well under SQLite's and PostgreSQL's parameter limits. */
const ERASE_CHUNK = 500;

/**
 * Deletes the activity of erased media (an erased student's assets of `eventId`), in the erasure's
 * transaction: a ranking must not keep naming an asset the gallery no longer has. Returns the rows deleted.
 */
export async function eraseAssetActivity(trx: Transaction<Database>, schoolId: string, eventId: string, assetIds: readonly string[]): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < assetIds.length; i += ERASE_CHUNK) {
    const result = await trx
      .deleteFrom('media_activity')
      .where('school_id', '=', schoolId)
      .where('event_id', '=', eventId)
      .where('asset_id', 'in', assetIds.slice(i, i + ERASE_CHUNK))
      .executeTakeFirst();
    deleted += Number(result.numDeletedRows);
  }
  return deleted;
}

/**
 * Deletes a family's activity, in the family's erasure: its rows say what that family looked at and
 * when. Explicit rather than left to the foreign key's cascade, so the erasure can count it. Returns the rows deleted.
 */
export async function eraseFamilyActivity(trx: Transaction<Database>, schoolId: string, familyId: string): Promise<number> {
  const result = await trx.deleteFrom('media_activity').where('school_id', '=', schoolId).where('family_id', '=', familyId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** Deletes every school's activity of days before `day` (`YYYY-MM-DD`, UTC): the retention. Returns the rows deleted. */
export async function deleteActivityBefore(db: Kysely<Database>, day: string): Promise<number> {
  const result = await db.deleteFrom('media_activity').where('day', '<', day).executeTakeFirst();
  return Number(result.numDeletedRows);
}
