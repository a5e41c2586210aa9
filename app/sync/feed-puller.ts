import { randomUUID } from 'node:crypto';
import type { Catalog } from '../catalog/catalog.ts';
import { EventFolders } from '../ingest/event-folders.ts';
import type { PersonId } from '../shared/ids.ts';
import type { LinkedSchool } from './school-link.ts';
import type { SyncClient } from './sync-client.ts';

const SEQ_KEY = 'sync.feed.seq';
const DEVICE_KEY = 'sync.deviceId';
const PAGE = 500;

/** One entry of the service's change feed (`GET /v1/schools/:id/changes`). */
interface Change {
  seq: number;
  entity: 'event' | 'student' | 'class' | 'family' | 'consent' | 'membership';
  id: string;
  op: 'upsert' | 'delete';
  data: unknown;
}

interface FeedPage {
  changes: Change[];
  next: number;
  more: boolean;
}

interface RemoteEventData {
  name: string;
  startsOn: string | null;
  endsOn: string | null;
  location: string | null;
  description: string | null;
}

interface RemoteStudentData {
  name: string;
  className: string | null;
}

type RemoteConsentData = Record<'publish' | 'yearbook', { granted: boolean; setBy: string | null }>;

/** What one pull changed in the catalog. */
export interface PullReport {
  events: number;
  people: number;
  consents: number;
  erased: number;
  /** The feed position now stored (and sent to the server as this device's checkpoint). */
  seq: number;
  /** Each change applied, in feed order: what it was, and who made it when the feed says (consent carries it). */
  activity: FeedActivity[];
}

/** One change the feed brought, worded for the activity list. */
export interface FeedActivity {
  entity: 'event' | 'student' | 'consent';
  /** The event's or the student's name. */
  name: string;
  /** What changed: "new event", "renamed or rescheduled", "consent to publish withdrawn", … */
  change: string;
  /** Who made the change, when the feed carries it. */
  by: string | null;
}

/**
 * Brings the school's shared state into the library from the service's change feed: events (so a second
 * photographer's laptop sees a new event on its next poll), students and their consent. Idempotent: each
 * page is applied in one catalog transaction with the feed position, so a crash mid-pull repeats at most a
 * page, and applying a page twice changes nothing. A consent withdrawn on the server marks the student's
 * published media `modified` (catalog triggers), which takes them down on the next upload run; an erased
 * student's media are unpublished and the person removed.
 */
export class FeedPuller {
  constructor(
    private readonly client: SyncClient,
    private readonly catalog: Catalog,
    private readonly school: LinkedSchool,
  ) {}

  async pull(): Promise<PullReport> {
    const report: PullReport = { events: 0, people: 0, consents: 0, erased: 0, activity: [], seq: Number(this.catalog.library.getMeta(SEQ_KEY) || 0) };
    for (;;) {
      const page = await this.client.request<FeedPage>('GET', `/v1/schools/${this.school.id}/changes?since=${report.seq}&limit=${PAGE}`);
      this.catalog.db.transaction(() => {
        for (const change of page.changes) this.apply(change, report);
        this.catalog.library.setMeta(SEQ_KEY, String(page.next));
      })();
      report.seq = page.next;
      if (!page.more || page.changes.length === 0) break;
    }
    await this.client.request('PUT', `/v1/schools/${this.school.id}/devices/${this.deviceId()}/checkpoint`, { seq: report.seq });
    return report;
  }

  private apply(change: Change, report: PullReport): void {
    switch (change.entity) {
      case 'event':
        if (change.op === 'upsert') report.events += this.applyEvent(change.id, change.data as RemoteEventData, report.activity);
        return;
      case 'student':
        if (change.op === 'upsert') report.people += this.applyStudent(change.id, change.data as RemoteStudentData, report.activity);
        else report.erased += this.eraseStudent(change.id, report.activity);
        return;
      case 'consent':
        if (change.op === 'upsert') report.consents += this.applyConsent(change.id, change.data as RemoteConsentData, report.activity);
        return;
      default:
        // Classes, families and memberships are the service's business (galleries, access); the desktop
        // only needs the people it tags and their consent.
        return;
    }
  }

  private applyEvent(remoteId: string, data: RemoteEventData, activity: FeedActivity[]): number {
    const fields = { name: data.name, startsOn: data.startsOn, endsOn: data.endsOn, location: data.location, description: data.description };
    const linked = this.catalog.db.prepare('SELECT id FROM events WHERE remote_id = ?').get(remoteId) as { id: number } | undefined;
    // An event made here and on the server under the same name is one event.
    const local = linked ? this.catalog.events.get(linked.id as never) : this.catalog.events.findByName(data.name);
    if (!local) {
      const created = new EventFolders(this.catalog).ensure(data.name);
      this.catalog.events.update(created.id, created.version, { ...fields, remoteId });
      activity.push({ entity: 'event', name: data.name, change: 'new event', by: null });
      return 1;
    }
    const same = local.remoteId === remoteId && local.name === data.name && local.startsOn === data.startsOn && local.endsOn === data.endsOn &&
      local.location === data.location && local.description === data.description;
    if (same) return 0;
    this.catalog.events.update(local.id, local.version, { ...fields, remoteId });
    activity.push({ entity: 'event', name: data.name, change: local.name === data.name ? 'details changed' : `renamed from ${local.name}`, by: null });
    return 1;
  }

  private personByRemote(remoteId: string): { id: PersonId; name: string; class_group: string | null } | undefined {
    return this.catalog.db.prepare('SELECT id, name, class_group FROM people WHERE remote_id = ?').get(remoteId) as
      | { id: PersonId; name: string; class_group: string | null }
      | undefined;
  }

  private applyStudent(remoteId: string, data: RemoteStudentData, activity: FeedActivity[]): number {
    const existing = this.personByRemote(remoteId);
    if (existing) {
      if (existing.name === data.name && existing.class_group === data.className) return 0;
      activity.push({ entity: 'student', name: data.name, change: existing.class_group === data.className ? `renamed from ${existing.name}` : `moved to ${data.className ?? 'no class'}`, by: null });
      this.catalog.db
        .prepare('UPDATE people SET name = ?, class_group = ?, updated_at = ? WHERE id = ?')
        .run(data.name, data.className, new Date().toISOString(), existing.id);
      return 1;
    }
    // The same child from this desktop's own roster import (same name and class) is linked, not duplicated.
    this.catalog.people.upsert({ name: data.name, classGroup: data.className, remoteId });
    activity.push({ entity: 'student', name: data.name, change: `added${data.className ? ` to ${data.className}` : ''}`, by: null });
    return 1;
  }

  private applyConsent(remoteId: string, data: RemoteConsentData, activity: FeedActivity[]): number {
    const person = this.personByRemote(remoteId);
    if (!person) return 0;
    const current = this.catalog.people.get(person.id)!;
    let changed = 0;
    for (const purpose of ['publish', 'yearbook'] as const) {
      const granted = data[purpose]?.granted === true;
      if (current.consent[purpose] === granted) continue;
      this.catalog.people.setConsent(person.id, purpose, granted, data[purpose]?.setBy ?? 'sync service');
      activity.push({ entity: 'consent', name: person.name, change: `consent to ${purpose === 'publish' ? 'publish' : 'the yearbook'} ${granted ? 'given' : 'withdrawn'}`, by: data[purpose]?.setBy ?? null });
      changed += 1;
    }
    return changed;
  }

  /** A student erased on the server: everything they are tagged in comes down, and the person goes. */
  private eraseStudent(remoteId: string, activity: FeedActivity[]): number {
    const person = this.personByRemote(remoteId);
    if (!person) return 0;
    const assets = this.catalog.db.prepare('SELECT asset_id AS id FROM asset_people WHERE person_id = ?').all(person.id) as Array<{ id: number }>;
    for (const { id } of assets) {
      const publication = this.catalog.cloud.getPublication(id as never);
      if (!publication) continue;
      this.catalog.cloud.setPublication(publication.assetId, publication.eventId, 'deleted', { reason: 'a student tagged in it was erased' });
      this.catalog.jobs.enqueue('publish', publication.assetId, { priority: 5 });
    }
    this.catalog.db.prepare('DELETE FROM people WHERE id = ?').run(person.id);
    activity.push({ entity: 'student', name: person.name, change: 'erased, with their published media', by: null });
    return 1;
  }

  private deviceId(): string {
    let id = this.catalog.library.getMeta(DEVICE_KEY);
    if (!id) {
      id = randomUUID();
      this.catalog.library.setMeta(DEVICE_KEY, id);
    }
    return id;
  }
}
