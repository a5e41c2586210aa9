import path from 'node:path';
import { restoreCatalog } from '../catalog/backups.ts';
import { KEEPSAKE_DIR } from '../catalog/database.ts';
import type { PublishPlan } from '../cloud/publisher.ts';
import { STORAGE_CLASSES, type CloudSettings } from '../cloud/settings.ts';
import type { UploadProgress } from '../cloud/uploader.ts';
import { openEngine, resolveLibraryPath, type Engine } from '../engine.ts';
import type { SchoolEvent } from '../shared/domain.ts';
import { AppError, isAppError } from '../shared/errors.ts';
import type { EventId } from '../shared/ids.ts';
import { formatBytes, formatDuration, ProgressLine } from './progress.ts';

/** Exit codes shared with the rest of the CLI. */
export interface CloudExitCodes {
  ok: number;
  usage: number;
  partial: number;
  cancelled: number;
}

/** The options the cloud commands read. */
export interface CloudValues {
  library?: string;
  json: boolean;
  watch: boolean;
  'no-wait': boolean;
  originals: boolean;
  'limit-kbps'?: string;
  keep?: string;
  endpoint?: string;
  region?: string;
  bucket?: string;
  'path-style'?: boolean;
  school?: string;
  'allow-originals'?: boolean;
  'storage-class'?: string;
  concurrency?: string;
  'part-size-mib'?: string;
  checksums?: string;
  'archive-after-days'?: string;
  'archive-class'?: string;
}

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  isTTY: boolean;
}

const UPLOAD_KINDS = ['publish', 'manifest'] as const;

/** `keepsake publish <event> [--originals] [--limit-kbps N] [--no-wait]` */
export async function publishCommand(engine: Engine, args: string[], values: CloudValues, io: Io, exit: CloudExitCodes): Promise<number> {
  const event = findEvent(engine, args.join(' '), 'publish');
  await engine.cloud.check();
  await abortStale(engine, io);
  const plan = await engine.cloud.publisher.publish(event.id, { originals: values.originals });
  if (values['no-wait']) {
    report(io, values.json, { plan: planJson(plan) }, describePlan(plan));
    return exit.ok;
  }
  if (!values.json) io.out(describePlan(plan));
  const outcome = await workUploads(engine, io);
  const publications = engine.catalog.cloud.publicationCounts(event.id as EventId);
  if (values.json) io.out(`${JSON.stringify({ plan: planJson(plan), ...outcome, publications })}\n`);
  else io.out(describeOutcome(outcome, publications));
  if (!outcome.finished) return exit.cancelled;
  return outcome.failed.length > 0 ? exit.partial : exit.ok;
}

/** `keepsake unpublish <event> [--no-wait]`: removes what the bucket holds of an event. */
export async function unpublishCommand(engine: Engine, args: string[], values: CloudValues, io: Io, exit: CloudExitCodes): Promise<number> {
  const event = findEvent(engine, args.join(' '), 'unpublish');
  const { removing } = engine.cloud.publisher.unpublish(event.id);
  if (values['no-wait']) {
    report(io, values.json, { removing }, `Removing ${removing} asset(s) of "${event.name}" from the bucket.\n`);
    return exit.ok;
  }
  const outcome = await workUploads(engine, io);
  report(io, values.json, { removing, ...outcome }, `Removed ${removing} asset(s) of "${event.name}" from the bucket.\n${describeFailures(outcome.failed)}`);
  if (!outcome.finished) return exit.cancelled;
  return outcome.failed.length > 0 ? exit.partial : exit.ok;
}

/** `keepsake uploads [--watch] | pause | resume | cancel` */
export async function uploadsCommand(engine: Engine, args: string[], values: CloudValues, io: Io, exit: CloudExitCodes): Promise<number> {
  const action = args[0];
  switch (action) {
    case 'pause':
      engine.cloud.pause();
      report(io, values.json, { paused: true }, 'Uploads paused; what is in flight finishes. "keepsake uploads resume" goes on.\n');
      return exit.ok;
    case 'resume':
      engine.cloud.resume();
      report(io, values.json, { paused: false }, 'Uploads resumed.\n');
      return exit.ok;
    case 'cancel': {
      const { jobs, aborted } = await engine.cloud.cancel();
      report(io, values.json, { cancelled: jobs, aborted }, `Cancelled ${jobs} upload job(s); aborted ${aborted} multipart upload(s). Publish again to send them.\n`);
      return exit.ok;
    }
    case undefined:
      break;
    default:
      throw new AppError('invalid-input', 'Usage: keepsake uploads [--watch] | pause | resume | cancel');
  }
  if (!values.watch) {
    const status = engine.cloud.status();
    report(io, values.json, status, describeStatus(status));
    return exit.ok;
  }
  // --watch: follow whichever process uploads, from the catalog, once a second.
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let previous: { at: number; bytes: number } | null = null;
  try {
    while (!controller.signal.aborted) {
      const status = engine.cloud.status();
      const bytes = status.inFlight.reduce((sum, u) => sum + u.bytesDone, 0);
      const at = performance.now();
      const rate = previous && at > previous.at ? Math.max(0, ((bytes - previous.bytes) / (at - previous.at)) * 1000) : 0;
      previous = { at, bytes };
      if (values.json) io.out(`${JSON.stringify({ time: new Date().toISOString(), ...status, rate })}\n`);
      else {
        const line = `${status.paused ? 'paused  ' : ''}${status.queue.running} uploading, ${status.queue.queued} queued, ${status.queue.failed} failed` +
          `${status.inFlight.map((u) => `  ${path.basename(path.dirname(u.key))}/${path.basename(u.key)} ${u.partsDone}/${u.parts} parts`).join('')}` +
          `${rate > 0 ? `  ${formatBytes(rate)}/s` : ''}`;
        io.err(`${io.isTTY ? '\r\x1b[2K' : ''}${line}${io.isTTY ? '' : '\n'}`);
      }
      if (status.queue.queued + status.queue.running === 0 && !io.isTTY && !values.json) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    return exit.ok;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** `keepsake cloud config|check|lifecycle` */
export async function cloudCommand(engine: Engine, args: string[], values: CloudValues, io: Io, exit: CloudExitCodes): Promise<number> {
  switch (args[0]) {
    case 'config': {
      const changes = settingsFrom(values);
      const settings = Object.keys(changes).length > 0 || !engine.cloud.configured ? engine.cloud.configure(changes) : engine.cloud.settings();
      report(io, values.json, { settings }, describeSettings(settings));
      return exit.ok;
    }
    case 'check': {
      await engine.cloud.check();
      const settings = engine.cloud.settings();
      report(io, values.json, { ok: true }, `The bucket ${settings.bucket} is reachable and the credentials work.\n`);
      return exit.ok;
    }
    case 'lifecycle': {
      const days = Number(values['archive-after-days'] ?? '');
      if (!Number.isInteger(days) || days < 1) throw new AppError('invalid-input', 'Usage: keepsake cloud lifecycle --archive-after-days N [--archive-class GLACIER]');
      const rules = await engine.cloud.applyLifecycle({ archiveAfterDays: days, ...(values['archive-class'] ? { archiveClass: values['archive-class'] } : {}) });
      report(io, values.json, { rules }, `Lifecycle rules set: originals move to ${values['archive-class'] ?? 'GLACIER'} after ${days} day(s); incomplete uploads are aborted after 7 days.\n`);
      return exit.ok;
    }
    default:
      throw new AppError('invalid-input', 'Usage: keepsake cloud config [--bucket B --school S --endpoint URL …] | check | lifecycle --archive-after-days N');
  }
}

/** `keepsake backup --cloud [--keep N]` */
export async function cloudBackupCommand(engine: Engine, values: CloudValues, io: Io, exit: CloudExitCodes): Promise<number> {
  const keep = values.keep === undefined ? undefined : Number(values.keep);
  if (keep !== undefined && (!Number.isInteger(keep) || keep < 1)) throw new AppError('invalid-input', '--keep must be a whole number, at least 1.');
  const result = await engine.cloud.backupToCloud(keep === undefined ? {} : { keep });
  report(io, values.json, result, `Backed up the catalog to the bucket as ${result.key} (${formatBytes(result.bytes)})${result.deleted.length ? `; ${result.deleted.length} older backup(s) deleted` : ''}.\n`);
  return exit.ok;
}

/** `keepsake restore --cloud [KEY]`: the newest backup of this library in the bucket, or the one named. */
export async function cloudRestoreCommand(key: string | undefined, values: CloudValues, io: Io, exit: CloudExitCodes): Promise<number> {
  const libraryPath = resolveLibraryPath(values.library);
  const download = path.join(libraryPath, KEEPSAKE_DIR, 'restore');
  let file: string;
  {
    const engine = await openEngine({ libraryPath, create: false });
    try {
      file = await engine.cloud.downloadBackup(download, key && key !== 'latest' ? { key } : {});
    } finally {
      await engine.close();
    }
  }
  const { replaced } = await restoreCatalog(libraryPath, file);
  const engine = await openEngine({ libraryPath, create: false });
  const assets = engine.catalog.assets.count();
  await engine.close();
  report(io, values.json, { library: libraryPath, restored: file, replaced, assets }, `Restored ${libraryPath} from the bucket's ${path.basename(file)} (${assets} assets).${replaced ? ` The catalog it replaced is kept as ${replaced}.` : ''}\n`);
  return exit.ok;
}

/** Cloud settings of this process given on the command line (`--limit-kbps`). */
export function cloudOverrides(values: CloudValues): Partial<CloudSettings> {
  if (values['limit-kbps'] === undefined) return {};
  const kbps = Number(values['limit-kbps']);
  if (!Number.isInteger(kbps) || kbps < 0) throw new AppError('invalid-input', '--limit-kbps must be a whole number of KB/s (0 for no limit).');
  return { limitKbps: kbps === 0 ? null : kbps };
}

// --- helpers --------------------------------------------------------------------------------------

interface UploadOutcome {
  finished: boolean;
  published: number;
  bytesSent: number;
  durationSec: number;
  failed: Array<{ path: string | null; error: string | null }>;
}

/** Works the upload jobs in this process until none is left (or Ctrl-C), showing progress. */
async function workUploads(engine: Engine, io: Io): Promise<UploadOutcome> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const line = new ProgressLine(io);
  const { uploader } = engine.cloud.connection();
  const queued = engine.catalog.jobs.countsByKind().publish;
  uploader.expect(queued ? queued.queued + queued.running : 0, 0);
  const onProgress = (progress: UploadProgress): void => line.updateUploads(progress);
  const onOffline = (): void => line.updateUploads(uploader.progress(), true);
  uploader.on('progress', onProgress);
  uploader.on('offline', onOffline);
  const startedAt = Date.now();
  engine.jobs.start();
  try {
    await Promise.race([engine.jobs.whenIdle(UPLOAD_KINDS), new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }))]);
  } finally {
    uploader.off('progress', onProgress);
    uploader.off('offline', onOffline);
    line.updateUploads(uploader.progress(), true);
    line.done();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  const progress = uploader.progress();
  const done = engine.jobs.progress().kinds.find((k) => k.kind === 'publish')?.done ?? 0;
  return {
    finished: !controller.signal.aborted,
    published: done,
    bytesSent: progress.bytesSent,
    durationSec: (Date.now() - startedAt) / 1000,
    failed: engine.catalog.jobs
      .listFailed({ limit: 1000, sinceMs: startedAt })
      .filter((job) => (UPLOAD_KINDS as readonly string[]).includes(job.kind))
      .map((job) => ({ path: job.path, error: job.error })),
  };
}

async function abortStale(engine: Engine, io: Io): Promise<void> {
  try {
    const aborted = await engine.cloud.abortStaleUploads();
    if (aborted > 0) io.err(`Aborted ${aborted} stale multipart upload(s) left in the bucket.\n`);
  } catch (error) {
    // Cleaning up is not worth failing a publish for (some stores cannot list uploads).
    if (!isAppError(error)) throw error;
    engine.log.warn('could not list stale multipart uploads', { error: error.message });
  }
}

function findEvent(engine: Engine, name: string, verb: string): SchoolEvent {
  if (!name) throw new AppError('invalid-input', `Usage: keepsake ${verb} <event>`);
  const event = engine.catalog.events.findByName(name) ?? (/^\d+$/.test(name) ? engine.catalog.events.get(Number(name) as EventId) : undefined);
  if (!event) throw new AppError('not-found', `There is no event "${name}" in this library. "keepsake events" lists them.`);
  return event;
}

function settingsFrom(values: CloudValues): Partial<CloudSettings> {
  const changes: Partial<CloudSettings> = {};
  if (values.endpoint !== undefined) changes.endpoint = values.endpoint === '' ? null : values.endpoint;
  if (values.region !== undefined) changes.region = values.region;
  if (values.bucket !== undefined) changes.bucket = values.bucket;
  if (values['path-style'] !== undefined) changes.pathStyle = values['path-style'];
  if (values.school !== undefined) changes.school = values.school;
  if (values['allow-originals'] !== undefined) changes.allowOriginals = values['allow-originals'];
  if (values['storage-class'] !== undefined) {
    if (!(STORAGE_CLASSES as readonly string[]).includes(values['storage-class'])) throw new AppError('invalid-input', `--storage-class is one of ${STORAGE_CLASSES.join(', ')}.`);
    changes.originalsStorageClass = values['storage-class'] as CloudSettings['originalsStorageClass'];
  }
  if (values.concurrency !== undefined) changes.concurrency = Number(values.concurrency);
  if (values['part-size-mib'] !== undefined) changes.partSizeMiB = Number(values['part-size-mib']);
  if (values['limit-kbps'] !== undefined) changes.limitKbps = Number(values['limit-kbps']) === 0 ? null : Number(values['limit-kbps']);
  if (values.checksums !== undefined) {
    if (values.checksums !== 'auto' && values.checksums !== 'off') throw new AppError('invalid-input', '--checksums is auto or off.');
    changes.checksums = values.checksums;
  }
  return changes;
}

function report(io: Io, json: boolean, data: unknown, text: string): void {
  io.out(json ? `${JSON.stringify(data)}\n` : text);
}

function planJson(plan: PublishPlan) {
  const { event, ...rest } = plan;
  return { event: { id: event.id, name: event.name }, ...rest };
}

function describePlan(plan: PublishPlan): string {
  const lines = [`Publishing "${plan.event.name}": ${plan.queued} to send, ${plan.unchanged} unchanged${plan.removing ? `, ${plan.removing} to remove` : ''}${plan.rejected ? `, ${plan.rejected} rejected in culling (not published)` : ''}.`];
  if (plan.reservation) lines.push(`Reserved ${formatBytes(plan.reservation.bytes)} of the school's storage.`);
  if (plan.held.length > 0) {
    lines.push(`Not published (${plan.held.length}):`);
    for (const held of plan.held) lines.push(`  ${held.name}: ${held.reason}`);
  }
  return `${lines.join('\n')}\n`;
}

function describeOutcome(outcome: UploadOutcome, publications: Record<string, number>): string {
  const lines = [
    `Sent ${formatBytes(outcome.bytesSent)} in ${formatDuration(outcome.durationSec)}; ${publications.published ?? 0} asset(s) of the event are published.`,
  ];
  if (!outcome.finished) lines.push('Stopped: run the same command again to resume; finished parts are not sent again.');
  return `${lines.join('\n')}\n${describeFailures(outcome.failed)}`;
}

function describeFailures(failed: UploadOutcome['failed']): string {
  if (failed.length === 0) return '';
  return `Failed (${failed.length}):\n${failed.map((f) => `  ${f.path ?? '(event manifest)'}: ${f.error ?? 'failed'}`).join('\n')}\n`;
}

function describeStatus(status: ReturnType<Engine['cloud']['status']>): string {
  if (!status.configured) return 'No cloud storage set up: keepsake cloud config --bucket NAME --school ID [--endpoint URL]\n';
  const lines = [
    `${status.paused ? 'Paused. ' : ''}${status.queue.running} uploading, ${status.queue.queued} queued, ${status.queue.failed} failed; ` +
      `${status.stored.objects} object(s), ${formatBytes(status.stored.bytes)} in the bucket.`,
  ];
  for (const upload of status.inFlight) lines.push(`  ${upload.key}: ${upload.partsDone}/${upload.parts} parts, ${formatBytes(upload.bytesDone)} of ${formatBytes(upload.bytes)}`);
  for (const failure of status.failures) lines.push(`  failed: ${failure.path ?? '(event manifest)'}: ${failure.error ?? ''}`);
  return `${lines.join('\n')}\n`;
}

function describeSettings(settings: CloudSettings): string {
  return (
    `Bucket ${settings.bucket}${settings.endpoint ? ` at ${settings.endpoint}` : ''} (${settings.region}${settings.pathStyle ? ', path-style' : ''}); school ${settings.school}.\n` +
    `Originals ${settings.allowOriginals ? `allowed, stored as ${settings.originalsStorageClass}` : 'not published'}; ${settings.concurrency} request(s) at once, ` +
    `${settings.partSizeMiB} MiB parts, ${settings.limitKbps ? `limited to ${settings.limitKbps} KB/s` : 'no bandwidth limit'}; checksums ${settings.checksums}.\n`
  );
}
