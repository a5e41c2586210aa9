import { access } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { backupCatalog, DEFAULT_BACKUPS_KEPT, defaultBackupDir, listBackups, restoreCatalog } from '../catalog/backups.ts';
import { catalogPath } from '../catalog/database.ts';
import { openEngine, resolveLibraryPath, type Engine } from '../engine.ts';
import type { ImportReport } from '../ingest/import.service.ts';
import { AppError, toAppError, type ErrorCode } from '../shared/errors.ts';
import type { QueueProgress } from '../jobs/job-runner.ts';
import { cliCredentials } from '../cloud/credentials.ts';
import {
  cloudBackupCommand,
  cloudCommand,
  cloudOverrides,
  cloudRestoreCommand,
  publishCommand,
  unpublishCommand,
  uploadsCommand,
  type CloudValues,
} from './cloud.commands.ts';
import { formatBytes, formatDuration, ProgressLine } from './progress.ts';
import { linkedSchool } from '../sync/school-link.ts';
import { feedPullerFor, sessionFile, syncClientFor, syncCommand, type SyncValues } from './sync.commands.ts';
import { fileExists } from '../fs/durable-files.ts';
import { runWatchCommand } from './watch.command.ts';
import { runWebCommand } from './web.command.ts';

/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  internal: 1,
  usage: 2,
  partial: 3,
  notFound: 4,
  interrupted: 5,
  damaged: 6,
  cancelled: 130,
} as const;

const HELP = `keepsake — media manager for school events

Usage: keepsake <command> [options]

Commands:
  init [DIR]                      create a library (DIR, or the chosen library)
  import <source> --event NAME    copy, verify and catalogue a card or folder
        [--rename TEMPLATE]       e.g. "{date:YYYYMMDD}-{event}-{seq:4}"; tokens {date:FMT} {time} {event} {seq:N} {camera} {original}
        [--backup DIR]            also copy (and verify) every file to DIR
        [--tag NAME]...           tag every imported file
        [--manifest]              write an xxhsum -H2 checksum manifest next to the copies
        [--dry-run]               show what would happen; change nothing
        [--no-wait]               return once copied; thumbnails and proxies are made later (status --wait)
  events                          list events with their counts
  search <query>                  e.g. soccer tag:final person:"Ana Lima" rating>=4 is:video date:2026-05
        [--limit N]
  status                          what the library holds, and the job queue (thumbnails, video proxies)
        [--watch]                 follow the job queue's progress until Ctrl-C
        [--wait]                  work the job queue here until it is empty, then report
  roster import <csv>             import a class roster (name, class, family email, consent columns)
  backup [--to DIR] [--keep N]    an online backup of the catalog (default: .keepsake/backups, newest 10 kept)
        [--cloud]                 …and upload it to the bucket, keeping the newest N there
  restore <backup.db>             put a backup in place of the catalog (the current one is kept beside it)
  restore --cloud [KEY]           …from the bucket: the newest backup of this library, or KEY
  publish <event>                 send an event's thumbnails, previews, posters and proxies to the bucket
        [--originals]             also stripped copies of the originals (if the school's plan allows)
        [--limit-kbps N]          bandwidth limit for this run (KB/s)
        [--no-wait]               queue the uploads and return (keepsake start or status --wait sends them)
  unpublish <event>               remove an event's objects from the bucket
  uploads [--watch]               the upload queue: in flight, queued, failed
  uploads pause|resume|cancel     pause, resume or cancel the uploads of every process on this library
  cloud config [--bucket B] [--school ID] [--endpoint URL] [--region R] [--path-style]
        [--allow-originals] [--storage-class STANDARD_IA] [--concurrency N] [--part-size-mib N]
        [--limit-kbps N] [--checksums auto|off]
                                  where and how to publish (credentials: $KEEPSAKE_S3_ACCESS_KEY_ID and
                                  $KEEPSAKE_S3_SECRET_ACCESS_KEY, or --profile NAME of ~/.aws/credentials)
  cloud check                     check the bucket and the credentials
  sync sign-in --server URL --email ADDRESS [--password-stdin]
                                  sign in to the school's sync service (the password from stdin or
                                  $KEEPSAKE_SYNC_PASSWORD; only a refresh token is kept)
  sync sign-out | status          end the session / show it
  sync pull                       bring the school's events, students and consent into the library
                                  (keepsake start does it every 30 s while signed in)
  sync push-roster                send the library's students the school does not know yet (not consent:
                                  the school and the parents own it)
  cloud lifecycle --archive-after-days N [--archive-class GLACIER]
                                  archive originals after N days; abort unfinished uploads after 7 days
  start                           open the library and offer to import camera cards as they are inserted
  watch                           catalogue files dropped into event folders as they arrive
  web [--port N] [--open-url-file F]
                                  serve the app to a browser on 127.0.0.1 (prints a URL with a one-time token);
                                  without --library or $KEEPSAKE_LIBRARY it reopens the last library, or the
                                  page starts on first run to choose or create one

Options:
  --library DIR   the library (else $KEEPSAKE_LIBRARY, else ~/Pictures/Keepsake)
  --json          machine-readable output on stdout
  -h, --help      this help

Exit codes: 0 ok, 1 internal error, 2 bad usage or input, 3 finished with some files failed,
4 not found, 5 interrupted (run it again to resume), 6 catalog damaged (read-only), 130 cancelled.`;

const OPTIONS = {
  library: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', default: false },
  event: { type: 'string' },
  rename: { type: 'string' },
  backup: { type: 'string' },
  tag: { type: 'string', multiple: true },
  manifest: { type: 'boolean', default: false },
  'dry-run': { type: 'boolean', default: false },
  limit: { type: 'string' },
  watch: { type: 'boolean', default: false },
  to: { type: 'string' },
  keep: { type: 'string' },
  wait: { type: 'boolean', default: false },
  'no-wait': { type: 'boolean', default: false },
  cloud: { type: 'boolean', default: false },
  profile: { type: 'string' },
  originals: { type: 'boolean', default: false },
  'limit-kbps': { type: 'string' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
  bucket: { type: 'string' },
  'path-style': { type: 'boolean' },
  school: { type: 'string' },
  'allow-originals': { type: 'boolean' },
  'storage-class': { type: 'string' },
  concurrency: { type: 'string' },
  'part-size-mib': { type: 'string' },
  checksums: { type: 'string' },
  'archive-after-days': { type: 'string' },
  'archive-class': { type: 'string' },
  server: { type: 'string' },
  email: { type: 'string' },
  'password-stdin': { type: 'boolean', default: false },
  port: { type: 'string' },
  'open-url-file': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

type Values = CloudValues & SyncValues & {
  library?: string;
  json: boolean;
  help: boolean;
  version: boolean;
  event?: string;
  rename?: string;
  backup?: string;
  tag?: string[];
  manifest: boolean;
  'dry-run': boolean;
  limit?: string;
  watch: boolean;
  to?: string;
  keep?: string;
  wait: boolean;
  'no-wait': boolean;
  cloud: boolean;
  profile?: string;
  port?: string;
  'open-url-file'?: string;
};

/** Where the CLI writes; injectable so tests can read what a person would see. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  isTTY: boolean;
}

const defaultIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  isTTY: Boolean(process.stderr.isTTY),
};

/** Runs one CLI command and returns its exit code. */
export async function main(argv: readonly string[], io: Io = defaultIo): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    values = parsed.values as Values;
    positionals = parsed.positionals;
  } catch (error) {
    io.err(`keepsake: ${(error as Error).message}\nRun "keepsake --help" for usage.\n`);
    return EXIT.usage;
  }
  const [command, ...args] = positionals;
  if (values.help || command === 'help') {
    io.out(`${HELP}\n`);
    return EXIT.ok;
  }
  if (values.version) {
    io.out('keepsake 0.1.0\n');
    return EXIT.ok;
  }
  const json = values.json;
  try {
    switch (command) {
      case 'init':
        return await init(args[0] ?? values.library, values, io);
      case 'import':
        return await withEngine(values, { create: true }, (engine) => runImport(engine, args, values, io));
      case 'events':
        return await withEngine(values, { create: false }, (engine) => listEvents(engine, json, io));
      case 'search':
        return await withEngine(values, { create: false }, (engine) => search(engine, args, values, io));
      case 'status':
        return await withEngine(values, { create: false }, (engine) => statusCommand(engine, values, io));
      case 'roster':
        if (args[0] !== 'import' || !args[1]) throw new AppError('invalid-input', 'Usage: keepsake roster import <file.csv>');
        return await withEngine(values, { create: false }, (engine) => rosterImport(engine, args[1]!, json, io));
      case 'backup':
        if (values.cloud) return await withEngine(values, { create: false }, (engine) => cloudBackupCommand(engine, values, io, EXIT));
        return await withEngine(values, { create: false }, (engine) => backupCommand(engine, values, io));
      case 'restore':
        if (values.cloud) return await cloudRestoreCommand(args[0], values, io, EXIT);
        return await restoreCommand(args[0], values, io);
      case 'publish':
        return await withEngine(values, { create: false }, (engine) => publishCommand(engine, args, values, io, EXIT));
      case 'unpublish':
        return await withEngine(values, { create: false }, (engine) => unpublishCommand(engine, args, values, io, EXIT));
      case 'uploads':
        return await withEngine(values, { create: false }, (engine) => uploadsCommand(engine, args, values, io, EXIT));
      case 'cloud':
        return await withEngine(values, { create: false }, (engine) => cloudCommand(engine, args, values, io, EXIT));
      case 'sync':
        return await withEngine(values, { create: false }, (engine) => syncCommand(engine, args, values, io, EXIT));
      case 'start':
        return await withEngine(values, { create: true }, (engine) => start(engine, io));
      case 'watch':
        return await withEngine(values, { create: false }, async (engine) => {
          const controller = new AbortController();
          const onSignal = (): void => controller.abort();
          process.once('SIGINT', onSignal);
          process.once('SIGTERM', onSignal);
          try {
            return await runWatchCommand(engine, io, { json, signal: controller.signal });
          } finally {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
          }
        });
      case 'web': {
        // Without a library named on the command line the page opens the last one, or starts on first run.
        const web = async (engine: Engine | null): Promise<number> => {
          const controller = new AbortController();
          const onSignal = (): void => controller.abort();
          process.once('SIGINT', onSignal);
          process.once('SIGTERM', onSignal);
          try {
            return await runWebCommand(engine, io, {
              signal: controller.signal,
              ...(values.port !== undefined ? { port: values.port } : {}),
              ...(values['open-url-file'] !== undefined ? { openUrlFile: values['open-url-file'] } : {}),
              ...(process.env.KEEPSAKE_WEB_STATIC ? { staticDir: process.env.KEEPSAKE_WEB_STATIC } : {}),
            });
          } finally {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
          }
        };
        return values.library || process.env.KEEPSAKE_LIBRARY ? await withEngine(values, { create: true }, web) : await web(null);
      }
      case undefined:
        io.out(`${HELP}\n`);
        return EXIT.usage;
      default:
        throw new AppError('invalid-input', `Unknown command "${command}". Run "keepsake --help" for the list.`);
    }
  } catch (error) {
    const appError = toAppError(error);
    if (json) io.out(`${JSON.stringify({ error: appError.toJSON() })}\n`);
    io.err(`keepsake: ${appError.message}\n`);
    return exitFor(appError.code);
  }
}

function exitFor(code: ErrorCode): number {
  switch (code) {
    case 'invalid-input':
    case 'unsupported-media':
    case 'conflict':
      return EXIT.usage;
    case 'not-found':
      return EXIT.notFound;
    case 'forbidden':
    case 'unauthorized':
    case 'quota-exceeded':
      return EXIT.usage;
    case 'cancelled':
      return EXIT.cancelled;
    case 'disk-full':
    case 'io':
    case 'network':
      return EXIT.interrupted;
    default:
      return EXIT.internal;
  }
}

async function withEngine(values: Values, options: { create: boolean }, run: (engine: Engine) => Promise<number>): Promise<number> {
  const libraryPath = resolveLibraryPath(values.library);
  if (!options.create && !(await access(catalogPath(libraryPath)).then(() => true, () => false))) {
    throw new AppError('not-found', `There is no Keepsake library at ${libraryPath}. Create one with "keepsake init ${libraryPath}" or choose one with --library.`);
  }
  const engine = await openEngine({
    libraryPath,
    create: options.create,
    credentials: cliCredentials(values.profile),
    cloudOverrides: cloudOverrides(values),
    ...uploaderTimingFromEnv(),
    ...((await fileExists(sessionFile(libraryPath))) ? { sync: { client: syncClientFor(libraryPath) } } : {}),
  });
  try {
    return await run(engine);
  } finally {
    await engine.close();
  }
}

/** `KEEPSAKE_UPLOAD_BACKOFF_MS` / `KEEPSAKE_UPLOAD_RETRIES`: the uploader's retry timing, for slow links and tests. */
function uploaderTimingFromEnv(env: NodeJS.ProcessEnv = process.env): { uploaderTiming?: { backoffMs?: number; maxRetries?: number; offlineProbeMs?: number } } {
  const timing: { backoffMs?: number; maxRetries?: number; offlineProbeMs?: number } = {};
  if (env.KEEPSAKE_UPLOAD_BACKOFF_MS) timing.backoffMs = Number(env.KEEPSAKE_UPLOAD_BACKOFF_MS);
  if (env.KEEPSAKE_UPLOAD_RETRIES) timing.maxRetries = Number(env.KEEPSAKE_UPLOAD_RETRIES);
  if (env.KEEPSAKE_UPLOAD_PROBE_MS) timing.offlineProbeMs = Number(env.KEEPSAKE_UPLOAD_PROBE_MS);
  return Object.keys(timing).length > 0 ? { uploaderTiming: timing } : {};
}

async function init(dir: string | undefined, values: Values, io: Io): Promise<number> {
  const libraryPath = resolveLibraryPath(dir);
  const existed = await access(catalogPath(libraryPath)).then(() => true, () => false);
  const engine = await openEngine({ libraryPath });
  await engine.close();
  if (values.json) io.out(`${JSON.stringify({ library: libraryPath, created: !existed })}\n`);
  else io.out(existed ? `A library already exists at ${libraryPath}.\n` : `Created a library at ${libraryPath}.\n`);
  return EXIT.ok;
}

async function runImport(engine: Engine, args: string[], values: Values, io: Io): Promise<number> {
  const source = args[0];
  if (!source) throw new AppError('invalid-input', 'Usage: keepsake import <source> --event NAME');
  if (!values.event) throw new AppError('invalid-input', 'Say which event the files belong to: --event "Sports Day".');
  if (engine.catalog.damage) throw new AppError('io', engine.catalog.damage);
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const line = new ProgressLine(io);
  // Thumbnails are made while the card is still copying, so the grid fills as files arrive.
  const derive = !values['dry-run'];
  if (derive) engine.jobs.start();
  try {
    const report = await engine.imports.run({
      source,
      event: values.event,
      ...(values.rename ? { renameTemplate: values.rename } : {}),
      ...(values.backup ? { backupDir: values.backup } : {}),
      ...(values.tag ? { tags: values.tag } : {}),
      dryRun: values['dry-run'],
      manifest: values.manifest,
      signal: controller.signal,
      onProgress: (progress) => line.update(progress),
    });
    line.done();
    let derivatives: DerivativeSummary | null = null;
    if (derive && !values['no-wait'] && report.state !== 'cancelled' && report.state !== 'interrupted' && !controller.signal.aborted) {
      derivatives = await workQueue(engine, line, controller.signal, DERIVATIVE_KINDS);
    }
    if (values.json) io.out(`${JSON.stringify(derivatives ? { ...report, derivatives } : report)}\n`);
    else io.out(describeImport(report) + (derivatives ? describeDerivatives(derivatives) : ''));
    if (report.state === 'cancelled' || (derivatives && !derivatives.finished)) return EXIT.cancelled;
    if (report.state === 'interrupted') return EXIT.interrupted;
    return report.failed.length > 0 || (derivatives?.failed.length ?? 0) > 0 ? EXIT.partial : EXIT.ok;
  } finally {
    line.done();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function describeImport(report: ImportReport): string {
  const lines: string[] = [];
  const verb = report.state === 'dry-run' ? 'Would import' : 'Imported';
  lines.push(
    `${verb} ${report.imported.length} file(s) (${formatBytes(report.bytes)}) into "${report.event.name}" in ${formatDuration(report.durationMs / 1000)}` +
      `${report.resumed ? ' (resumed)' : ''}.`,
  );
  if (report.duplicates.length > 0) lines.push(`Skipped ${report.duplicates.length} file(s) already in the library.`);
  if (report.unsupported.length > 0) lines.push(`Ignored ${report.unsupported.length} file(s) that are not photos or videos.`);
  if (report.failed.length > 0) {
    lines.push(`Failed ${report.failed.length} file(s):`);
    for (const failure of report.failed) lines.push(`  ${failure.source}: ${failure.reason}`);
  }
  if (report.error) lines.push(`Stopped: ${report.error}`);
  if (report.manifest) lines.push(`Checksums: ${report.manifest} (check with: xxhsum -c)`);
  if (report.state === 'dry-run') for (const file of report.imported) lines.push(`  ${file.source} → ${file.destination}`);
  return `${lines.join('\n')}\n`;
}

async function listEvents(engine: Engine, json: boolean, io: Io): Promise<number> {
  const events = engine.catalog.events.listSummaries();
  if (json) {
    io.out(`${JSON.stringify({ events })}\n`);
    return EXIT.ok;
  }
  if (events.length === 0) {
    io.out('No events yet. Import a card with: keepsake import <card> --event "Sports Day"\n');
    return EXIT.ok;
  }
  for (const event of events) {
    const when = event.startsOn ?? event.firstCapturedAt?.slice(0, 10) ?? '';
    const problems = [
      event.unreadableCount ? `${event.unreadableCount} unreadable` : '',
      event.missingCount ? `${event.missingCount} missing` : '',
    ].filter(Boolean);
    io.out(`${when.padEnd(10)}  ${event.name}  ${plural(event.photoCount, 'photo')}, ${plural(event.videoCount, 'video')}${problems.length ? ` (${problems.join(', ')})` : ''}\n`);
  }
  return EXIT.ok;
}

function plural(count: number, noun: string): string {
  return `${count.toLocaleString('en')} ${noun}${count === 1 ? '' : 's'}`;
}

async function search(engine: Engine, args: string[], values: Values, io: Io): Promise<number> {
  const query = args.join(' ');
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new AppError('invalid-input', '--limit must be a whole number from 1 to 1000.');
  const result = engine.search.search(query, { limit });
  if (values.json) {
    io.out(`${JSON.stringify(result)}\n`);
    return EXIT.ok;
  }
  if (result.items.length === 0) io.out('Nothing matches.\n');
  for (const asset of result.items) {
    io.out(`${(asset.capturedAt ?? '').padEnd(25)}  ${asset.path}${asset.rating ? `  ${'★'.repeat(asset.rating)}` : ''}\n`);
  }
  if (result.next) io.out(`(more: raise --limit)\n`);
  return EXIT.ok;
}

/** What the job queue did for a command that waited for it. */
interface DerivativeSummary {
  finished: boolean;
  made: Record<string, number>;
  failed: Array<{ kind: string; path: string | null; error: string | null }>;
}

// What an import waits for: the grid's thumbnails and the proxies, never uploads (which may wait for a network).
const DERIVATIVE_KINDS = ['thumbs', 'proxy'] as const;

/**
 * Works the job queue in this process until the jobs of `kinds` (null: of every kind) are done, or `signal`
 * aborts, showing progress.
 */
async function workQueue(engine: Engine, line: ProgressLine, signal: AbortSignal, kinds: readonly string[] | null): Promise<DerivativeSummary> {
  const onProgress = (progress: QueueProgress): void => line.updateQueue(progress);
  const startedAt = Date.now();
  engine.jobs.on('progress', onProgress);
  engine.jobs.start();
  try {
    await Promise.race([engine.jobs.whenIdle(kinds ?? undefined), new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))]);
  } finally {
    engine.jobs.off('progress', onProgress);
    line.updateQueue(engine.jobs.progress(), true);
    line.done();
  }
  const progress = engine.jobs.progress();
  const reported = new Set<string>(kinds ?? DERIVATIVE_KINDS);
  return {
    finished: !signal.aborted,
    made: Object.fromEntries(progress.kinds.filter((kind) => reported.has(kind.kind) || (!kinds && kind.total > 0)).map((kind) => [kind.kind, kind.done])),
    failed: engine.catalog.jobs
      .listFailed({ limit: 1000, sinceMs: startedAt })
      .filter((job) => !kinds || kinds.includes(job.kind))
      .map((job) => ({ kind: job.kind, path: job.path, error: job.error })),
  };
}

function describeDerivatives(summary: DerivativeSummary): string {
  const lines = [`Made ${summary.made.thumbs ?? 0} thumbnail set(s) and ${summary.made.proxy ?? 0} video proxy(ies).`];
  for (const failure of summary.failed) lines.push(`  ${failure.path ?? '?'}: ${failure.error ?? 'failed'}`);
  if (!summary.finished) lines.push('Stopped before every thumbnail was made; "keepsake status --wait" finishes them.');
  return `${lines.join('\n')}\n`;
}

async function statusCommand(engine: Engine, values: Values, io: Io): Promise<number> {
  if (!values.watch && !values.wait) return status(engine, values.json, io);
  if (engine.catalog.readOnly) throw new AppError('io', engine.catalog.damage ?? 'The catalog is read-only.');
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const line = new ProgressLine(io);
  try {
    if (values.wait) {
      const summary = await workQueue(engine, line, controller.signal, null);
      const code = await status(engine, values.json, io);
      if (!summary.finished) return EXIT.cancelled;
      return code !== EXIT.ok ? code : summary.failed.length > 0 ? EXIT.partial : EXIT.ok;
    }
    // --watch: follow whichever process works the queue, reading the catalog once a second.
    while (!controller.signal.aborted) {
      const counts = engine.catalog.jobs.countsByKind();
      if (values.json) io.out(`${JSON.stringify({ time: new Date().toISOString(), jobs: counts })}\n`);
      else {
        const text = Object.entries(counts)
          .map(([kind, c]) => `${kind}: ${c.done} done, ${c.running} running, ${c.queued} queued${c.failed ? `, ${c.failed} failed` : ''}`)
          .join('   ');
        io.err(`${io.isTTY ? '\r\x1b[2K' : ''}${text || 'no jobs'}${io.isTTY ? '' : '\n'}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    line.done();
    return EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** How `keepsake status` words a job queue: derivatives are made, uploads are sent, by different commands. */
const JOB_WORDING: Record<string, { what: string; verb: string; how: string }> = {
  thumbs: { what: 'Thumbnails and previews', verb: 'to make', how: 'keepsake status --wait makes them' },
  proxy: { what: 'Video proxies', verb: 'to make', how: 'keepsake status --wait makes them' },
  publish: { what: 'Uploads', verb: 'to send', how: 'keepsake start or status --wait sends them; keepsake uploads lists them' },
  manifest: { what: 'Gallery updates', verb: 'to send', how: 'keepsake start or status --wait sends them' },
};

function jobLine(kind: string, pending: number, failed: number): string {
  const wording = JOB_WORDING[kind] ?? { what: kind, verb: 'to do', how: 'keepsake status --wait runs them' };
  return `${wording.what}: ${pending} ${wording.verb}, ${failed} failed (${wording.how})`;
}

async function status(engine: Engine, json: boolean, io: Io): Promise<number> {
  const { catalog } = engine;
  // Status is where damage is reported: wait for a large catalog's background check.
  await catalog.integrity;
  const byStatus = catalog.assets.countByStatus();
  const summary = {
    library: engine.libraryRoot,
    damaged: catalog.damage,
    assets: catalog.assets.count(),
    unreadable: byStatus.unreadable,
    missing: byStatus.missing,
    events: catalog.events.listSummaries().length,
    people: catalog.people.list().length,
    lastImport: catalog.imports.listSessions(1)[0] ?? null,
    jobs: catalog.jobs.countsByKind(),
  };
  if (json) {
    io.out(`${JSON.stringify(summary)}\n`);
  } else {
    io.out(`Library ${summary.library}\n`);
    if (summary.damaged) io.out(`WARNING: ${summary.damaged}\n`);
    io.out(`${summary.assets} assets in ${summary.events} events; ${summary.people} people\n`);
    if (summary.unreadable || summary.missing) io.out(`${summary.unreadable} unreadable, ${summary.missing} missing\n`);
    if (summary.lastImport) io.out(`Last import: ${summary.lastImport.source} (${summary.lastImport.state}, ${summary.lastImport.startedAt})\n`);
    for (const [kind, counts] of Object.entries(summary.jobs)) {
      if (counts.queued + counts.running + counts.failed === 0) continue;
      io.out(`${jobLine(kind, counts.queued + counts.running, counts.failed)}\n`);
    }
  }
  return catalog.damage ? EXIT.damaged : EXIT.ok;
}

async function backupCommand(engine: Engine, values: Values, io: Io): Promise<number> {
  const keep = values.keep === undefined ? DEFAULT_BACKUPS_KEPT : Number(values.keep);
  const dir = values.to ? path.resolve(values.to) : defaultBackupDir(engine.libraryRoot);
  const backup = await backupCatalog(engine.catalog, dir, { keep });
  const kept = await listBackups(dir);
  if (values.json) io.out(`${JSON.stringify({ ...backup, kept: kept.length })}\n`);
  else io.out(`Backed up the catalog to ${backup.file} (${formatBytes(backup.bytes)}); ${kept.length} backup(s) kept in ${dir}.\n`);
  return EXIT.ok;
}

async function restoreCommand(file: string | undefined, values: Values, io: Io): Promise<number> {
  if (!file) throw new AppError('invalid-input', 'Usage: keepsake restore <backup.db> [--library DIR]');
  const libraryPath = resolveLibraryPath(values.library);
  const { replaced } = await restoreCatalog(libraryPath, path.resolve(file));
  // Opening it brings an older backup's schema up to date, and proves it opens.
  const engine = await openEngine({ libraryPath, create: false });
  const assets = engine.catalog.assets.count();
  await engine.close();
  if (values.json) io.out(`${JSON.stringify({ library: libraryPath, restored: path.resolve(file), replaced, assets })}\n`);
  else io.out(`Restored ${libraryPath} from ${file} (${assets} assets).${replaced ? ` The catalog it replaced is kept as ${replaced}.` : ''}\n`);
  return EXIT.ok;
}

async function rosterImport(engine: Engine, file: string, json: boolean, io: Io): Promise<number> {
  const result = await engine.roster.import(path.resolve(file));
  if (json) io.out(`${JSON.stringify(result)}\n`);
  else {
    io.out(`Roster: ${result.created} added, ${result.updated} updated.\n`);
    for (const problem of result.errors) io.out(`  line ${problem.line}: ${problem.message}\n`);
  }
  return result.errors.length > 0 ? EXIT.partial : EXIT.ok;
}

async function start(engine: Engine, io: Io): Promise<number> {
  await status(engine, false, io);
  io.out('Waiting for a camera card (Ctrl-C to stop)…\n');
  engine.jobs.start();
  engine.volumes.on('card', (card) => {
    io.out(
      `Camera card ${card.label}: ${card.mediaCount.toLocaleString('en')} photos and videos. Import with:\n` +
        `  keepsake import ${JSON.stringify(card.path)} --event "Event name" --library ${JSON.stringify(engine.libraryRoot)}\n`,
    );
  });
  engine.volumes.on('error', (error) => io.err(`keepsake: ${error.message}\n`));
  engine.volumes.start();
  const stopPolling = await pollSyncService(engine, io);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  stopPolling();
  return EXIT.ok;
}

/** While signed in and linked, pulls the school's changes every `KEEPSAKE_SYNC_POLL_SEC` (30) seconds. */
async function pollSyncService(engine: Engine, io: Io): Promise<() => void> {
  if (!(await fileExists(sessionFile(engine.libraryRoot))) || !linkedSchool(engine.catalog)) return () => undefined;
  const puller = feedPullerFor(engine, syncClientFor(engine.libraryRoot));
  const seconds = Math.max(5, Number(process.env.KEEPSAKE_SYNC_POLL_SEC ?? 30) || 30);
  let running = false;
  const poll = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      const report = await puller.pull();
      if (report.events + report.people + report.consents + report.erased > 0) {
        io.out(`From the sync service: ${report.events} event(s), ${report.people} student(s), ${report.consents} consent change(s).\n`);
        engine.jobs.notify();
      }
    } catch (error) {
      // Offline or signed out: say it once per failure and try again at the next poll.
      io.err(`keepsake: sync: ${toAppError(error).message}\n`);
    } finally {
      running = false;
    }
  };
  void poll();
  const timer = setInterval(() => void poll(), seconds * 1000);
  return () => clearInterval(timer);
}
