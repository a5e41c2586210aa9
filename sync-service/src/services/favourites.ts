/**
 * A family's favourite media in the gallery. Favourites belong to families, not to accounts: both
 * parents of a family see the same hearts. Only parents have a family, so staff and students are
 * refused (403) once the event itself is known to be visible to them (404 before that, as everywhere).
 */
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { ApiError } from '../errors.ts';
import type { Caller, EventService, PublicEvent } from './events.ts';
import { familyScope, publishableStudents, type MediaService } from './media.ts';

const ONLY_PARENTS = 'Favourites belong to a family: only parents have them.';

/** The favourites of the caller's family in one event, in the gallery's order. */
export interface FavouriteList {
  eventId: string;
  assetIds: string[];
}

export class FavouriteService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly events: EventService,
    private readonly media: MediaService,
  ) {}

  /** The assets of the event the caller's family marked and may still see (consent applies here too). */
  async list(caller: Caller, eventId: string): Promise<FavouriteList> {
    const { families } = await this.open(caller, eventId);
    const rows = await this.db
      .selectFrom('favourites')
      .innerJoin('media', (join) => join.onRef('media.event_id', '=', 'favourites.event_id').onRef('media.asset_id', '=', 'favourites.asset_id'))
      .select(['media.asset_id', 'media.position', 'media.people'])
      .distinct()
      .where('favourites.event_id', '=', eventId)
      .where('favourites.school_id', '=', caller.schoolId)
      .where('media.school_id', '=', caller.schoolId)
      .where('favourites.family_id', 'in', families)
      .orderBy('media.position')
      .execute();
    const tags = rows.map((row) => parseIds(row.people));
    const publishable = await publishableStudents(this.db, caller.schoolId, tags.flat());
    const assetIds = rows.filter((_, i) => (tags[i] ?? []).every((id) => publishable.has(id))).map((row) => row.asset_id);
    return { eventId, assetIds };
  }

  /** Marks an asset the caller may see; marking it again changes nothing. */
  async add(caller: Caller, eventId: string, assetId: string): Promise<{ assetId: string; favourite: true }> {
    const { event, families } = await this.open(caller, eventId);
    if (!(await this.media.viewable(caller, event, assetId))) throw new ApiError('not-found', 'No such media in this event.');
    const now = new Date().toISOString();
    await this.db
      .insertInto('favourites')
      .values(families.map((familyId) => ({ school_id: caller.schoolId, event_id: eventId, asset_id: assetId, family_id: familyId, created_by: caller.userId, created_at: now })))
      .onConflict((oc) => oc.columns(['family_id', 'event_id', 'asset_id']).doNothing())
      .execute();
    return { assetId, favourite: true };
  }

  /** Unmarks an asset; unmarking one that was not marked (or is gone) is not an error. */
  async remove(caller: Caller, eventId: string, assetId: string): Promise<void> {
    const { families } = await this.open(caller, eventId);
    await this.db
      .deleteFrom('favourites')
      .where('school_id', '=', caller.schoolId)
      .where('event_id', '=', eventId)
      .where('asset_id', '=', assetId)
      .where('family_id', 'in', families)
      .execute();
  }

  /** The event (404 unless the caller may open its gallery) and the caller's families (403 when none). */
  private async open(caller: Caller, eventId: string): Promise<{ event: PublicEvent; families: string[] }> {
    const event = await this.events.gallery(caller, eventId);
    if (caller.role !== 'parent') throw new ApiError('forbidden', ONLY_PARENTS);
    const { familyIds } = await familyScope(this.db, caller);
    if (familyIds.length === 0) throw new ApiError('forbidden', 'Your account is not linked to a family yet: ask the school to add it.');
    return { event, families: familyIds };
  }
}

function parseIds(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}
