import type { Catalog } from '../catalog/catalog.ts';
import type { SchoolEvent } from '../shared/domain.ts';
import { AppError } from '../shared/errors.ts';
import type { EventId } from '../shared/ids.ts';
import type { ManifestAssetInput, Reservation } from './protocol.ts';
import type { SyncClient } from './sync-client.ts';

const SCHOOL_KEY = 'sync.school';
const ROSTER_BATCH = 1000;

/** The school a library publishes for, as the sync service knows it. */
export interface LinkedSchool {
  id: string;
  slug: string;
  name: string;
}

/** The school this library is linked to, or null. */
export function linkedSchool(catalog: Catalog): LinkedSchool | null {
  const raw = catalog.library.getMeta(SCHOOL_KEY);
  return raw ? (JSON.parse(raw) as LinkedSchool) : null;
}

/** Links the library to a school (after sign-in). */
export function linkSchool(catalog: Catalog, school: LinkedSchool | null): void {
  catalog.library.setMeta(SCHOOL_KEY, school ? JSON.stringify(school) : '');
}

interface RemoteEvent {
  id: string;
  version: number;
}

/**
 * What publishing needs from the school's sync service: the event's server id (created there on first
 * publish), a quota reservation before anything is uploaded, and the manifest once the uploads are done,
 * which is what makes the gallery appear for its audience.
 */
export class SchoolLink {
  constructor(
    private readonly client: SyncClient,
    private readonly catalog: Catalog,
    readonly school: LinkedSchool,
  ) {}

  /** The event's id on the server, creating it there the first time. */
  async remoteEventId(eventId: EventId): Promise<string> {
    const event = this.requireEvent(eventId);
    if (event.remoteId) return event.remoteId;
    const created = await this.client.request<RemoteEvent>('POST', `/v1/schools/${this.school.id}/events`, {
      name: event.name,
      startsOn: event.startsOn ?? new Date().toISOString().slice(0, 10),
      endsOn: event.endsOn,
      location: event.location,
      description: event.description,
    });
    this.catalog.events.update(event.id, event.version, { remoteId: created.id });
    return created.id;
  }

  /** A quota reservation for a publish; `quota-exceeded` (with the school's numbers) when there is no room. */
  async reserve(request: { eventId: EventId; bytes: number; objects: number }): Promise<{ id: string; bytes: number }> {
    const remote = await this.remoteEventId(request.eventId);
    const reservation = await this.client.request<Reservation>('POST', `/v1/schools/${this.school.id}/quota/reservations`, {
      eventId: remote,
      bytes: request.bytes,
      objects: request.objects,
    });
    return { id: reservation.id, bytes: reservation.bytes };
  }

  /**
   * Sends the event's manifest; the server checks every object in the bucket before it counts, and commits
   * the reservation against the real sizes. A reservation already spent (a retry after a lost answer) is
   * not needed again.
   */
  async publishManifest(eventId: EventId, assets: ManifestAssetInput[], reservationId: string | null): Promise<void> {
    const remote = await this.remoteEventId(eventId);
    const path = `/v1/schools/${this.school.id}/events/${remote}/manifest`;
    try {
      await this.client.request('PUT', path, { ...(reservationId ? { reservationId } : {}), assets });
    } catch (error) {
      if (!(reservationId && error instanceof AppError && error.code === 'conflict')) throw error;
      await this.client.request('PUT', path, { assets });
    }
  }

  /**
   * Sends the library's people that the school does not know yet (name, class, family email) as roster
   * rows, and records the server's id of each, so published media can name who is in them. Consent is not
   * sent: the school (and the parents) own it, and it comes back through the change feed. A child the
   * school already has under the same name and class (from the admin's roster file, say) is answered
   * with that student's id, so the person links to them; one whose name and class fit several students
   * is not answered and stays unlinked (sent again next time).
   */
  async pushRoster(): Promise<{ sent: number; linked: number }> {
    const library = this.catalog.library.get();
    const people = this.catalog.people.list().filter((person) => person.remoteId === null);
    let linked = 0;
    for (let i = 0; i < people.length; i += ROSTER_BATCH) {
      const batch = people.slice(i, i + ROSTER_BATCH);
      const refOf = (id: number) => `${library?.uuid ?? 'library'}:${id}`;
      const result = await this.client.request<{ students: Array<{ remoteRef: string; id: string }> }>('POST', `/v1/schools/${this.school.id}/roster`, {
        rows: batch.map((person) => ({ name: person.name, class: person.classGroup, remoteRef: refOf(person.id), familyEmail: person.familyEmail })),
      });
      const ids = new Map(result.students.map((student) => [student.remoteRef, student.id]));
      this.catalog.db.transaction(() => {
        for (const person of batch) {
          const remoteId = ids.get(refOf(person.id));
          if (!remoteId) continue;
          this.catalog.db.prepare('UPDATE people SET remote_id = ? WHERE id = ? AND remote_id IS NULL').run(remoteId, person.id);
          linked += 1;
        }
      })();
    }
    return { sent: people.length, linked };
  }

  private requireEvent(eventId: EventId): SchoolEvent {
    const event = this.catalog.events.get(eventId);
    if (!event) throw new AppError('not-found', `Event ${eventId} is not in the library.`);
    return event;
  }
}
