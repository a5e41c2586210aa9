/**
 * An erased student's published media: every asset tagged with them goes, all its variants, in the
 * erasure's own transaction (the gallery stops showing them at the commit), the school's usage drops by
 * their size, and their objects are queued for deletion from the bucket once the erasure commits
 * (see `object-deletions.ts`); the gallery analytics of those assets go with them. Registered as a
 * {@link StudentErasedHook} on the people service.
 *
 * Only the erasure deletes objects on the server's side. A new manifest that leaves assets out deletes
 * nothing: the desktop owns its uploads and removes what it no longer publishes itself.
 */
import { sql, type Transaction } from 'kysely';
import { recordAudit } from '../audit.ts';
import { eraseAssetActivity } from '../analytics/activity.repo.ts';
import type { Database } from '../db/schema.ts';
import { bumpMediaVersion } from './media-pages.ts';
import { enqueueObjectDeletions } from './object-deletions.ts';
import type { ErasedStudent, StudentErasedHook } from './people.ts';

/** Ids per `in (…)` list: well under SQLite's and PostgreSQL's parameter limits. */
const CHUNK = 500;

/** What an erasure took off the gallery and the bucket. */
export interface ErasedMedia {
  assets: number;
  objects: number;
  bytes: number;
  /** Gallery analytics rows (views and downloads) of those assets. */
  activityRows: number;
}

function taggedWith(people: string, studentId: string): boolean {
  try {
    const value: unknown = JSON.parse(people);
    return Array.isArray(value) && value.includes(studentId);
  } catch {
    return false;
  }
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/** Removes the student's tagged assets (see the module comment) and audits `media.erased` with counts. */
export async function eraseStudentMedia(trx: Transaction<Database>, erased: ErasedStudent): Promise<ErasedMedia> {
  const { schoolId, studentId } = erased;
  // LIKE narrows the school's rows to a superset (a wildcard also matches itself); the JSON decides.
  const pattern = `%${JSON.stringify(studentId).replaceAll('\\', '_')}%`;
  const candidates = await trx
    .selectFrom('media')
    .select(['event_id', 'asset_id', 'people'])
    .where('school_id', '=', schoolId)
    .where('people', 'like', pattern)
    .execute();
  const assetsByEvent = new Map<string, Set<string>>();
  for (const row of candidates) {
    if (!taggedWith(row.people, studentId)) continue;
    const assets = assetsByEvent.get(row.event_id) ?? new Set<string>();
    assets.add(row.asset_id);
    assetsByEvent.set(row.event_id, assets);
  }
  const result: ErasedMedia = { assets: 0, objects: 0, bytes: 0, activityRows: 0 };
  if (assetsByEvent.size === 0) return result;

  const keys = new Set<string>();
  for (const [eventId, assets] of assetsByEvent) {
    for (const ids of chunks([...assets])) {
      const rows = await trx.selectFrom('media').select(['object_key', 'size']).where('event_id', '=', eventId).where('asset_id', 'in', ids).execute();
      await trx.deleteFrom('media').where('event_id', '=', eventId).where('asset_id', 'in', ids).execute();
      result.activityRows += await eraseAssetActivity(trx, schoolId, eventId, ids);
      for (const row of rows) {
        keys.add(row.object_key);
        result.bytes += Number(row.size);
      }
      result.objects += rows.length;
      result.assets += ids.length;
    }
  }
  await bumpMediaVersion(trx, schoolId, [...assetsByEvent.keys()]);
  await trx
    .updateTable('usage')
    .set({ used_bytes: sql`case when used_bytes > ${result.bytes} then used_bytes - ${result.bytes} else 0 end` })
    .where('school_id', '=', schoolId)
    .execute();

  // An object another event's manifest still names (a key is not bound to its event) stays in the bucket.
  const stillNamed = new Set<string>();
  for (const list of chunks([...keys])) {
    const rows = await trx.selectFrom('media').select('object_key').where('school_id', '=', schoolId).where('object_key', 'in', list).execute();
    for (const row of rows) stillNamed.add(row.object_key);
  }
  const doomed = [...keys].filter((key) => !stillNamed.has(key));
  await enqueueObjectDeletions(trx, schoolId, doomed, 'student.erased');
  await recordAudit(trx, {
    action: 'media.erased',
    subject: `student:${studentId}`,
    schoolId,
    actorUserId: erased.actorUserId,
    detail: { assets: result.assets, objects: result.objects, bytes: result.bytes, events: assetsByEvent.size, objectsToDelete: doomed.length, activityRows: result.activityRows },
  });
  return result;
}

/** {@link eraseStudentMedia} as the people service's erasure hook. */
export const mediaErasureHook: StudentErasedHook = async (trx, erased) => {
  await eraseStudentMedia(trx, erased);
};
