import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Catalog } from '../catalog/catalog.ts';
import type { Publication } from '../catalog/cloud.repo.ts';
import { writeFileAtomic } from '../fs/durable-files.ts';
import type { JobContext } from '../jobs/job-runner.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { derivativeDir, type DerivativeVariant } from '../media/derivatives/derivative-paths.ts';
import type { DerivativeService } from '../media/derivatives/derivative.service.ts';
import type { Asset, Job, SchoolEvent } from '../shared/domain.ts';
import { AppError } from '../shared/errors.ts';
import type { AssetId, EventId } from '../shared/ids.ts';
import { VARIANT_TAG, type ObjectStore } from './object-store.ts';
import type { CloudSettings } from './settings.ts';
import { canStripOriginal, stripOriginal } from './strip-original.ts';
import { MEDIA_VARIANTS, type ManifestAssetInput, type MediaVariant } from '../sync/protocol.ts';
import type { Uploader } from './uploader.ts';

/** What goes to the bucket for an asset. */
export type PublishedVariant = DerivativeVariant | 'original';

const VARIANT_FILES: Record<DerivativeVariant, { ext: string; type: string }> = {
  thumb: { ext: 'webp', type: 'image/webp' },
  preview: { ext: 'jpg', type: 'image/jpeg' },
  poster: { ext: 'jpg', type: 'image/jpeg' },
  proxy: { ext: 'mp4', type: 'video/mp4' },
};

const ORIGINAL_EXT: Record<string, string> = { 'image/jpeg': 'jpg', 'image/png': 'png', 'video/mp4': 'mp4', 'video/quicktime': 'mov' };

/** Asks the sync service for room before a publish; refusing throws `quota-exceeded`. */
export interface QuotaReserver {
  reserve(request: { eventId: EventId; bytes: number; objects: number }): Promise<{ id: string; bytes: number }>;
}

/** Where an event's manifest goes once its uploads are done: the school's sync service, which shows the gallery. */
export interface GallerySink {
  publishManifest(eventId: EventId, assets: ManifestAssetInput[], reservationId: string | null): Promise<void>;
}

/** An asset held back from publishing, and why: shown in the report and the UI. */
export interface HeldAsset {
  assetId: AssetId;
  name: string;
  reason: string;
}

/** The kind of a {@link Publisher.holdReason}, for a UI that groups them (its wording stays beside it). */
export function holdKind(reason: string): 'consent' | 'unreadable' | 'missing' {
  if (reason.startsWith('tagged with')) return 'consent';
  return reason.includes('missing') ? 'missing' : 'unreadable';
}

/** What `publish` decided for an event. */
export interface PublishPlan {
  event: SchoolEvent;
  /** Assets whose upload is queued (new or modified). */
  queued: number;
  /** Already published and unchanged. */
  unchanged: number;
  /** Published before, now to be removed from the bucket (rejected in culling, or consent withdrawn). */
  removing: number;
  held: HeldAsset[];
  /** Rejected in culling: not published. */
  rejected: number;
  /** Estimated bytes to send, as reserved with the sync service (when one is configured). */
  estimatedBytes: number;
  reservation: { id: string; bytes: number } | null;
}

/** {@link Publisher.preview}: the plan, with the queued assets split into new and modified. */
export interface PublishPreview extends PublishPlan {
  newCount: number;
  modifiedCount: number;
}

interface Decision {
  plan: PublishPlan;
  toQueue: Array<{ asset: Asset; state: 'new' | 'modified' }>;
  toRemove: AssetId[];
  toHold: Array<{ asset: Asset; reason: string }>;
}

export interface PublisherOptions {
  catalog: Catalog;
  libraryRoot: string;
  derivatives: DerivativeService;
  /** Built on first use: a library without cloud settings can still open and work. */
  cloud: () => { settings: CloudSettings; store: ObjectStore; uploader: Uploader };
  quota?: QuotaReserver | null;
  gallery?: GallerySink | null;
  log?: Logger;
}

/**
 * Stateful publishing of events to the bucket. `plan` applies the rules (consent, rejects, the school's
 * plan for originals) and queues a `publish` job per asset to send; the job handler sends what changed,
 * deletes what should no longer be there and records the result; a `manifest` job per event writes the
 * event's published list (what a gallery reads) once the event's uploads settle.
 *
 * Privacy: only derivatives (re-encoded without metadata) and stripped copies of originals leave the
 * machine, under keys made of ids and content hashes, never the camera's file name.
 */
export class Publisher {
  private readonly catalog: Catalog;
  private readonly libraryRoot: string;
  private readonly derivatives: DerivativeService;
  private readonly cloud: PublisherOptions['cloud'];
  private quota: QuotaReserver | null;
  private gallery: GallerySink | null;
  private readonly log: Logger;

  constructor(options: PublisherOptions) {
    this.catalog = options.catalog;
    this.libraryRoot = options.libraryRoot;
    this.derivatives = options.derivatives;
    this.cloud = options.cloud;
    this.quota = options.quota ?? null;
    this.gallery = options.gallery ?? null;
    this.log = options.log ?? createLogger('publish');
  }

  /** The bucket key of one variant of an asset. */
  keyOf(event: SchoolEvent, asset: Pick<Asset, 'hash' | 'mime'>, variant: PublishedVariant): string {
    const ext = variant === 'original' ? (ORIGINAL_EXT[asset.mime] ?? 'bin') : VARIANT_FILES[variant].ext;
    return `${this.eventPrefix(event)}/${asset.hash}/${variant}.${ext}`;
  }

  /** `schools/{school}/events/{event}`: the event's remote id once the sync service gave it one, else one made of the library's id. */
  eventPrefix(event: SchoolEvent): string {
    const { settings } = this.cloud();
    const library = this.catalog.library.get();
    const id = event.remoteId ?? `${(library?.uuid ?? 'library').slice(0, 8)}-${event.id}`;
    return `schools/${settings.school}/events/${id}`;
  }

  /** Publishes an event: decides each asset's state and queues the uploads. See {@link PublishPlan}. */
  async publish(eventId: EventId, options: { originals?: boolean } = {}): Promise<PublishPlan> {
    const { plan, toQueue, toRemove, toHold } = await this.decide(eventId, options.originals === true);
    const originals = options.originals === true;
    const { event } = plan;
    if (this.quota && plan.estimatedBytes > 0) {
      // Nothing is queued unless the school has room for all of it.
      plan.reservation = await this.quota.reserve({ eventId, bytes: plan.estimatedBytes, objects: toQueue.length });
      // Committed by the manifest the sync service receives once the uploads are done.
      this.catalog.library.setMeta(reservationKey(eventId), plan.reservation.id);
    }
    this.catalog.db.transaction(() => {
      for (const { asset, state } of toQueue) {
        this.catalog.cloud.setPublication(asset.id, eventId, state, { originals, reason: null });
        this.catalog.jobs.enqueue('publish', asset.id, { priority: 5 });
      }
      for (const { asset, reason } of toHold) {
        const wasOut = this.catalog.cloud.objectsOfAsset(asset.id).length > 0;
        this.catalog.cloud.setPublication(asset.id, eventId, 'blocked', { reason });
        if (wasOut) this.catalog.jobs.enqueue('publish', asset.id, { priority: 5 });
      }
      for (const assetId of toRemove) {
        this.catalog.cloud.setPublication(assetId, eventId, 'deleted', { reason: 'rejected in culling' });
        this.catalog.jobs.enqueue('publish', assetId, { priority: 5 });
      }
      this.catalog.cloud.queueManifest(eventId);
    })();
    this.log.info('publish planned', { event: event.name, queued: plan.queued, unchanged: plan.unchanged, held: plan.held.length, removing: plan.removing });
    return plan;
  }

  /**
   * What {@link publish} would do now, without queueing or reserving anything: for the publish panel.
   * `newCount`/`modifiedCount` split the queued assets by whether the bucket had them before.
   */
  async preview(eventId: EventId, options: { originals?: boolean } = {}): Promise<PublishPreview> {
    const { plan, toQueue } = await this.decide(eventId, options.originals === true);
    const modifiedCount = toQueue.filter((item) => item.state === 'modified').length;
    return { ...plan, queued: toQueue.length, newCount: toQueue.length - modifiedCount, modifiedCount };
  }

  /** Connects publishing to the school's sync service (after sign-in), or disconnects it (null). */
  link(school: (QuotaReserver & GallerySink) | null): void {
    this.quota = school;
    this.gallery = school;
  }

  /** The decision for each asset of an event (the rules of {@link publish}); changes nothing. */
  private async decide(eventId: EventId, originals: boolean): Promise<Decision> {
    const event = this.requireEvent(eventId);
    const { settings } = this.cloud();
    if (originals && !settings.allowOriginals) {
      throw new AppError('forbidden', "The school's plan does not allow publishing originals (cloud setting allowOriginals is off).");
    }
    const plan: PublishPlan = { event, queued: 0, unchanged: 0, removing: 0, held: [], rejected: 0, estimatedBytes: 0, reservation: null };
    const toQueue: Decision['toQueue'] = [];
    const toRemove: AssetId[] = [];
    const toHold: Decision['toHold'] = [];
    for (const asset of this.eventAssets(eventId)) {
      const current = this.catalog.cloud.getPublication(asset.id);
      const wasOut = current?.state === 'published' || current?.state === 'modified' || this.catalog.cloud.objectsOfAsset(asset.id).length > 0;
      if (asset.flag === 'reject') {
        plan.rejected += 1;
        if (wasOut) toRemove.push(asset.id);
        continue;
      }
      const reason = this.holdReason(asset);
      if (reason) {
        toHold.push({ asset, reason });
        if (wasOut) plan.removing += 1;
        continue;
      }
      if (current?.state === 'published' && current.originals === originals) {
        plan.unchanged += 1;
        continue;
      }
      toQueue.push({ asset, state: current?.state === 'published' || current?.state === 'modified' ? 'modified' : 'new' });
      plan.estimatedBytes += await this.estimate(asset, originals);
    }
    plan.removing += toRemove.length;
    plan.queued = toQueue.length;
    plan.held = toHold.map(({ asset, reason }) => ({ assetId: asset.id, name: asset.originalName, reason }));
    return { plan, toQueue, toRemove, toHold };
  }

  /** Takes an event off the bucket: every published asset is marked deleted and its objects removed by the queue. */
  unpublish(eventId: EventId): { removing: number } {
    this.requireEvent(eventId);
    let removing = 0;
    this.catalog.db.transaction(() => {
      for (const publication of this.catalog.cloud.publicationsOf(eventId)) {
        this.catalog.cloud.setPublication(publication.assetId, eventId, 'deleted', { reason: 'unpublished' });
        this.catalog.jobs.enqueue('publish', publication.assetId, { priority: 5 });
        removing += 1;
      }
      this.catalog.cloud.queueManifest(eventId);
    })();
    return { removing };
  }

  /** The `publish` job: sends an asset's variants (what changed), or removes its objects. Idempotent. */
  async runPublishJob(job: Job, context: JobContext): Promise<void> {
    const assetId = job.assetId;
    if (assetId === null) return;
    const publication = this.catalog.cloud.getPublication(assetId);
    if (!publication) return;
    const asset = this.catalog.assets.get(assetId);
    // Rejected in culling after it was published: it comes down by itself, as a withdrawn consent does.
    if (!asset || publication.state === 'deleted' || asset.flag === 'reject') {
      await this.removeRemote(assetId, context.signal);
      this.catalog.cloud.deletePublication(assetId);
      this.catalog.cloud.queueManifest(publication.eventId);
      return;
    }
    // Consent is checked again right before sending: it may have been withdrawn since the plan.
    const reason = publication.state === 'blocked' ? publication.reason : this.holdReason(asset);
    if (reason) {
      await this.removeRemote(assetId, context.signal);
      this.catalog.cloud.setPublication(assetId, publication.eventId, 'blocked', { reason });
      this.catalog.cloud.queueManifest(publication.eventId);
      return;
    }
    if (publication.state === 'published') return;
    const event = this.requireEvent(publication.eventId);
    const { settings, uploader } = this.cloud();
    const cancelled = () => this.catalog.cloud.jobState(job.id) === 'cancelled';
    const sent = new Set<string>();
    const notes: string[] = [];
    const variants: PublishedVariant[] = [...this.derivatives.variantsOf(asset)];
    if (publication.originals && settings.allowOriginals) {
      if (canStripOriginal(asset.mime)) variants.push('original');
      else notes.push(`original not published: ${asset.mime} originals cannot be stripped of their metadata without re-encoding`);
    }
    for (const [i, variant] of variants.entries()) {
      const file = variant === 'original' ? await this.strippedOriginal(asset, context.signal) : await this.derivatives.ensure(asset.id, variant, { signal: context.signal });
      const key = this.keyOf(event, asset, variant);
      if (await this.unchangedSinceUpload(key, file)) {
        // A re-publish for a rating or a tag must not re-read every proxy to find it unchanged.
        sent.add(key);
        context.progress((i + 1) / variants.length);
        continue;
      }
      const fingerprint = await uploader.fingerprint(file, context.signal);
      await uploader.upload({
        file,
        key,
        fingerprint,
        contentType: variant === 'original' ? asset.mime : VARIANT_FILES[variant].type,
        assetId,
        eventId: event.id,
        variant,
        ...(variant === 'original'
          ? { storageClass: settings.originalsStorageClass, tags: { [VARIANT_TAG]: 'original' }, contentDisposition: `attachment; filename="${path.basename(key)}"` }
          : {}),
        signal: context.signal,
        cancelled,
      });
      sent.add(key);
      context.progress((i + 1) / variants.length);
    }
    // What was there before and is no longer wanted (originals turned off, a variant renamed) goes.
    const stale = this.catalog.cloud.objectsOfAsset(assetId).filter((o) => !sent.has(o.key));
    if (stale.length > 0) await this.deleteObjects(stale.map((o) => o.key), context.signal);
    if (!this.catalog.cloud.markPublished(assetId, notes.length > 0 ? notes.join('; ') : null)) {
      this.log.info('asset changed while being published; left for its next run', { assetId });
    }
    this.catalog.cloud.queueManifest(event.id);
  }

  /**
   * The `manifest` job: writes `manifest.json` of an event with what is published (ids, time, size,
   * rating, title, caption, tags and each variant's key and hash; no GPS, no people, no file names).
   * Waits for the event's uploads to settle so a big publish writes it once, not per photo.
   */
  async runManifestJob(job: Job, context: JobContext): Promise<void> {
    const eventId = (job.payload as { eventId?: number } | null)?.eventId as EventId | undefined;
    if (eventId === undefined) return;
    const event = this.catalog.events.get(eventId);
    if (!event) return;
    if (this.catalog.cloud.pendingPublishJobs(eventId) > 0) {
      // Uploads of the event are still going: look again shortly (the last one may be finishing right now).
      this.catalog.cloud.queueManifest(eventId, 500);
      return;
    }
    const key = `${this.eventPrefix(event)}/manifest.json`;
    const manifest = this.manifestOf(event);
    if (manifest.assets.length === 0) {
      if (this.catalog.cloud.getObject(key)) await this.deleteObjects([key], context.signal);
    } else {
      await this.uploadManifest(event, key, manifest, context);
    }
    if (this.gallery) {
      const reservation = this.catalog.library.getMeta(reservationKey(eventId)) || null;
      await this.gallery.publishManifest(eventId, manifest.assets.map((asset) => ({ ...asset, people: this.remotePeopleOf(asset.id) })), reservation);
      this.catalog.library.setMeta(reservationKey(eventId), '');
    }
  }

  /**
   * True when the bucket has this key from this very file: same size, and the file not written since the
   * upload (a re-made derivative is written anew, so its mtime is later and it is hashed again).
   */
  private async unchangedSinceUpload(key: string, file: string): Promise<boolean> {
    const known = this.catalog.cloud.getObject(key);
    if (!known || this.catalog.cloud.getUpload(key)) return false;
    const info = await stat(file).catch(() => null);
    return info !== null && info.size === known.size && info.mtimeMs < Date.parse(known.uploadedAt);
  }

  /** The sync service's ids of the people tagged in an asset (those not synced yet have none and are left out). */
  private remotePeopleOf(hash: string): string[] {
    const asset = this.catalog.assets.getByHash(hash as Asset['hash']);
    if (!asset) return [];
    return this.catalog.people.forAsset(asset.id).flatMap((person) => (person.remoteId ? [person.remoteId] : []));
  }

  private async uploadManifest(event: SchoolEvent, key: string, manifest: EventManifest, context: JobContext): Promise<void> {
    const { uploader } = this.cloud();
    const eventId = event.id;
    const dir = path.join(this.libraryRoot, '.keepsake', 'cloud');
    await mkdir(dir, { recursive: true });
    const file = path.join(dir, `manifest-${eventId}.json`);
    await writeFileAtomic(file, `${JSON.stringify(manifest, null, 1)}\n`);
    const fingerprint = await uploader.fingerprint(file, context.signal);
    await uploader.upload({ file, key, fingerprint, contentType: 'application/json', assetId: null, eventId, variant: 'manifest', signal: context.signal });
  }

  /** The manifest of an event as it would be published now. */
  manifestOf(event: SchoolEvent): EventManifest {
    const { settings } = this.cloud();
    const assets: EventManifest['assets'] = [];
    for (const publication of this.catalog.cloud.publicationsOf(event.id)) {
      if (publication.state !== 'published' && publication.state !== 'modified') continue;
      const asset = this.catalog.assets.get(publication.assetId);
      if (!asset) continue;
      const variants: EventManifest['assets'][number]['variants'] = {};
      for (const object of this.catalog.cloud.objectsOfAsset(asset.id)) {
        if ((MEDIA_VARIANTS as readonly string[]).includes(object.variant)) variants[object.variant as MediaVariant] = { key: object.key, size: object.size, hash: object.hash };
      }
      if (Object.keys(variants).length === 0) continue;
      assets.push({
        id: asset.hash,
        kind: asset.kind,
        capturedAt: asset.capturedAt,
        width: asset.width,
        height: asset.height,
        durationSec: asset.durationSec,
        rating: asset.rating,
        title: asset.title,
        description: asset.description,
        tags: this.catalog.tags.forAsset(asset.id),
        thumbhash: asset.thumbhash,
        variants,
      });
    }
    assets.sort((a, b) => (a.capturedAt ?? '').localeCompare(b.capturedAt ?? '') || a.id.localeCompare(b.id));
    return { version: 1, school: settings.school, event: { name: event.name, startsOn: event.startsOn, endsOn: event.endsOn }, assets };
  }

  /** Why an asset may not be published, or null: a person tagged without publish consent, a file that is gone. */
  holdReason(asset: Asset): string | null {
    const without = this.catalog.cloud.withoutPublishConsent(asset.id);
    if (without.length > 0) {
      const who = without.map((p) => `${p.name}${p.classGroup ? ` (${p.classGroup})` : ''}: ${p.denied ? 'consent to publish denied' : 'no consent to publish on record'}`);
      return `tagged with ${who.join('; ')}`;
    }
    if (asset.status === 'missing') return 'the file is missing from the library';
    if (asset.status === 'unreadable') return 'the file cannot be read';
    return null;
  }

  /** Publish states of an event's assets. */
  publications(eventId: EventId): Publication[] {
    return this.catalog.cloud.publicationsOf(eventId);
  }

  private async strippedOriginal(asset: Asset, signal: AbortSignal): Promise<string> {
    const file = path.join(derivativeDir(this.libraryRoot, asset.hash), `original.${ORIGINAL_EXT[asset.mime] ?? 'bin'}`);
    const existing = await stat(file).catch(() => null);
    if (existing && existing.size > 0) return file;
    const source = path.isAbsolute(asset.path) ? asset.path : path.join(this.libraryRoot, asset.path);
    await mkdir(path.dirname(file), { recursive: true });
    await stripOriginal(source, file, { mime: asset.mime, signal });
    return file;
  }

  private async removeRemote(assetId: AssetId, signal: AbortSignal): Promise<void> {
    const keys = this.catalog.cloud.objectsOfAsset(assetId).map((o) => o.key);
    if (keys.length > 0) await this.deleteObjects(keys, signal);
  }

  private async deleteObjects(keys: string[], signal: AbortSignal): Promise<void> {
    const { store } = this.cloud();
    await store.delete(keys, signal);
    this.catalog.cloud.deleteObjects(keys);
  }

  private async estimate(asset: Asset, originals: boolean): Promise<number> {
    let bytes = 0;
    for (const variant of this.derivatives.variantsOf(asset)) {
      const size = (await stat(this.derivatives.pathOf(asset, variant)).catch(() => null))?.size;
      // Typical sizes when a derivative is not made yet: 30 KB thumbnail, 700 KB preview, 300 KB poster, 2.5 Mbit/s proxy.
      bytes += size ?? { thumb: 30_000, preview: 700_000, poster: 300_000, proxy: Math.ceil((asset.durationSec ?? 60) * 312_500) }[variant];
    }
    if (originals && canStripOriginal(asset.mime)) bytes += asset.size;
    return bytes;
  }

  private *eventAssets(eventId: EventId): Generator<Asset> {
    let after = null;
    for (;;) {
      const page = this.catalog.assets.listEventPage(eventId, { limit: 500, after });
      yield* page.items;
      if (!page.next) return;
      after = page.next;
    }
  }

  private requireEvent(eventId: EventId): SchoolEvent {
    const event = this.catalog.events.get(eventId);
    if (!event) throw new AppError('not-found', `Event ${eventId} is not in the library.`);
    return event;
  }
}

function reservationKey(eventId: EventId): string {
  return `publish.reservation.${eventId}`;
}

/**
 * What a gallery reads for a published event: `manifest.json` in the bucket. Its assets are the sync
 * protocol's manifest assets without the people tagged (those go to the sync service only, never into a
 * file in the bucket).
 */
export interface EventManifest {
  version: 1;
  school: string;
  event: { name: string; startsOn: string | null; endsOn: string | null };
  assets: Array<Omit<ManifestAssetInput, 'people'>>;
}
