import { mkdir, readdir, realpath, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Catalog } from '../catalog/catalog.ts';
import type { NewAsset } from '../catalog/assets.repo.ts';
import type { ImportItem } from '../catalog/imports.repo.ts';
import type { Logger } from '../log/logger.ts';
import type { MediaMetadata } from '../media/metadata/metadata.types.ts';
import type { AssetKind, ImportSession, ImportState, SchoolEvent } from '../shared/domain.ts';
import { AppError, isAppError, toAppError } from '../shared/errors.ts';
import type { AssetId, ContentHash, ImportId } from '../shared/ids.ts';
import { hashFile } from './content-hash.ts';
import { EventFolders } from './event-folders.ts';
import { MEDIA_EXTENSIONS, sniffFormat } from './formats.ts';
import { DEFAULT_RENAME_TEMPLATE, RenameTemplate } from './rename-template.ts';
import type { ScannedFile, ScannedSource } from './source-scanner.ts';
import { copyVerified, isTempFile, writeFileAtomic } from './verified-copy.ts';
import { fileExists } from '../fs/durable-files.ts';

/** Reads what a media file says about itself; failures are reported, never fatal to an import. */
export interface MetadataSource {
  read(file: string, kind: AssetKind, sidecarPath?: string): Promise<MediaMetadata>;
}

/** Walks a folder or card for media. */
export type SourceScanner = (root: string, options: { signal?: AbortSignal }) => Promise<ScannedSource>;

/** What to import and how. */
export interface ImportRequest {
  source: string;
  /** Event name; the event is created if it does not exist. */
  event: string;
  renameTemplate?: string;
  /** A second destination: every file is copied and verified there too. */
  backupDir?: string;
  /** Report what would happen without copying or recording anything. */
  dryRun?: boolean;
  /** Write an `xxhsum -H2` compatible checksum manifest next to the copies. */
  manifest?: boolean;
  /** Tags given to every imported asset. */
  tags?: readonly string[];
  signal?: AbortSignal;
  onProgress?: (progress: ImportProgress) => void;
}

/** The names an import would give, from {@link ImportService.previewNames}. */
export interface NamePreview {
  event: string;
  names: Array<{ source: string; destination: string }>;
  /** Media files found on the source (all of them, not only those named). */
  total: number;
  failed: FailedFile[];
}

/** Progress of a running import, emitted at most a few times a second and at each file's end. */
export interface ImportProgress {
  importId: ImportId | null;
  phase: 'scanning' | 'copying' | 'done';
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  bytesPerSec: number;
  etaSec: number | null;
  current: string | null;
}

/** One file's outcome. */
export interface ImportedFile {
  source: string;
  destination: string;
  assetId: AssetId | null;
  hash: ContentHash | null;
}
/** A file that was already in the library. */
export interface DuplicateFile {
  source: string;
  /** Null in a dry run when the twin is another file of the same source. */
  existingAssetId: AssetId | null;
  existingPath: string;
}
/** A file that could not be imported, and why. */
export interface FailedFile {
  source: string;
  reason: string;
}

/** What an import did, for the UI, the CLI and scripts. */
export interface ImportReport {
  importId: ImportId | null;
  state: ImportState | 'dry-run';
  /** Set when the whole import stopped early (full disk, card pulled out); re-running it resumes. */
  error: string | null;
  resumed: boolean;
  event: { id: number | null; name: string; folder: string };
  source: string;
  imported: ImportedFile[];
  duplicates: DuplicateFile[];
  failed: FailedFile[];
  unsupported: FailedFile[];
  /** Bytes copied (each byte once, however many destinations). */
  bytes: number;
  durationMs: number;
  manifest: string | null;
}

/** What {@link ImportService.addInPlace} did. */
export interface InPlaceReport {
  added: ImportedFile[];
  duplicates: DuplicateFile[];
  failed: FailedFile[];
}

/** Dependencies of {@link ImportService}. */
export interface ImportServiceDeps {
  catalog: Catalog;
  libraryRoot: string;
  scanSource: SourceScanner;
  metadata: MetadataSource;
  log: Logger;
  /** Files copied at once: flash cards and SSDs read fastest with a few requests in flight (measured: 4 ≈ 2× 1). */
  concurrency?: number;
}

type FileOutcome =
  | { kind: 'imported'; file: ImportedFile; bytes: number }
  | { kind: 'duplicate'; file: DuplicateFile }
  | { kind: 'failed'; file: FailedFile };

/** Errors that stop the whole import rather than one file: every later file would fail the same way. */
class ImportHalted extends Error {
  constructor(readonly reason: AppError) {
    super(reason.message);
  }
}

/**
 * Imports media from a card or folder into an event: hash while reading, skip what the library already
 * has, copy (and back up) with verification, record it. Every step is recorded in an import session so
 * that running the same import again after a crash finishes it without duplicates or losses.
 */
export class ImportService {
  private readonly folders: EventFolders;

  constructor(private readonly deps: ImportServiceDeps) {
    this.folders = new EventFolders(deps.catalog);
  }

  /** Runs (or resumes) an import and reports what happened to every file. */
  async run(request: ImportRequest): Promise<ImportReport> {
    const started = performance.now();
    const { catalog, log } = this.deps;
    const template = RenameTemplate.parse(request.renameTemplate ?? DEFAULT_RENAME_TEMPLATE);
    const source = await resolveSource(request.source);
    const backupDir = request.backupDir ? path.resolve(request.backupDir) : null;
    if (!request.dryRun) catalog.assertWritable();
    const progress = new ProgressMeter(request.onProgress);
    progress.phase('scanning');
    const scanned = await this.deps.scanSource(source, { signal: request.signal });
    throwIfAborted(request.signal);

    const target = request.dryRun ? this.folders.peek(request.event) : this.folders.ensure(request.event);
    const report: ImportReport = {
      importId: null,
      state: request.dryRun ? 'dry-run' : 'running',
      error: null,
      resumed: false,
      event: { id: target.id, name: target.name, folder: target.folder },
      source,
      imported: [],
      duplicates: [],
      // A file named like a photo or video that is empty or unrecognisable is a loss the photographer must
      // hear about (the camera may not have finished writing it); anything else is merely not media.
      failed: scanned.unsupported.filter((entry) => looksLikeMedia(entry.path)).map(describeUnreadable),
      unsupported: scanned.unsupported
        .filter((entry) => !looksLikeMedia(entry.path))
        .map((entry) => ({ source: entry.path, reason: entry.reason })),
      bytes: 0,
      durationMs: 0,
      manifest: null,
    };
    const byPath = new Map(scanned.files.map((file) => [file.path, file]));
    const eventDir = path.join(this.deps.libraryRoot, target.folder);

    if (request.dryRun || target.id === null) {
      const seq = new Sequence(0);
      const planned = new Map<string, string>();
      for (const file of scanned.files) {
        throwIfAborted(request.signal);
        const outcome = await this.planDryRun(file, template, target, seq, planned, eventDir);
        this.record(report, outcome);
      }
      report.durationMs = Math.round(performance.now() - started);
      return report;
    }

    const event = target as SchoolEvent;
    const session = this.session(source, event, template, backupDir);
    report.importId = session.id;
    report.resumed = session.resumed;
    catalog.imports.addItems(
      session.id,
      scanned.files.map((file) => ({ sourcePath: file.path, size: file.size })),
    );
    const items = catalog.imports.items(session.id);
    // Files finished by an earlier run of this session count in this report too.
    for (const item of items) {
      if (item.state === 'imported' && item.destPath) {
        report.imported.push({ source: item.sourcePath, destination: item.destPath, assetId: item.assetId, hash: item.hash });
      } else if (item.state === 'duplicate' && item.assetId !== null) {
        const existing = catalog.assets.get(item.assetId);
        report.duplicates.push({ source: item.sourcePath, existingAssetId: item.assetId, existingPath: existing?.path ?? '' });
      }
    }
    const todo = items.filter((item) => item.state === 'pending' || item.state === 'copying' || item.state === 'failed');
    await mkdir(eventDir, { recursive: true });
    if (backupDir) await mkdir(path.join(backupDir, event.folder), { recursive: true });
    await removeTempFiles([eventDir, ...(backupDir ? [path.join(backupDir, event.folder)] : [])]);

    progress.start(
      session.id,
      todo.length,
      todo.reduce((sum, item) => sum + item.size, 0),
    );
    const context: RunContext = {
      session,
      event,
      eventDir,
      template,
      backupDir,
      tags: request.tags ?? [],
      seq: new Sequence(catalog.imports.maxSeq(session.id)),
      signal: request.signal,
      progress,
    };

    let halt: AppError | null = null;
    const queue = [...todo];
    const inFlight = new Map<number, Promise<void>>();
    const worker = async (): Promise<void> => {
      while (queue.length > 0 && !halt) {
        const item = queue.shift()!;
        const file = byPath.get(item.sourcePath);
        // Files of the same size may be the same content: the later one waits for the earlier to be recorded,
        // so it is recognised as a duplicate before it is copied, and the earlier file always wins.
        const sameSize = inFlight.get(item.size);
        const done = (async () => {
          await sameSize;
          try {
            const outcome = file
              ? await this.importOne(item, file, context)
              : this.fail(item, 'The file is no longer on the source.');
            this.record(report, outcome);
          } catch (error) {
            halt = error instanceof ImportHalted ? error.reason : toAppError(error);
          }
        })();
        inFlight.set(item.size, done);
        await done;
        if (inFlight.get(item.size) === done) inFlight.delete(item.size);
        progress.fileDone(item.sourcePath);
      }
    };
    await Promise.all(Array.from({ length: this.deps.concurrency ?? 4 }, worker));

    if (request.manifest && report.imported.length > 0) {
      report.manifest = await this.writeManifest(session.id, eventDir, report.imported);
    }
    const stoppedBy = halt as AppError | null;
    const state: ImportState = stoppedBy === null ? 'completed' : stoppedBy.code === 'cancelled' ? 'cancelled' : 'interrupted';
    catalog.imports.finishSession(session.id, state, stoppedBy?.message ?? null);
    report.state = state;
    report.error = stoppedBy?.message ?? null;
    report.durationMs = Math.round(performance.now() - started);
    progress.phase('done');
    log.info('import finished', {
      importId: session.id,
      state,
      imported: report.imported.length,
      duplicates: report.duplicates.length,
      failed: report.failed.length,
      bytes: report.bytes,
      ms: report.durationMs,
    });
    return report;
  }

  /**
   * Catalogues files where they are, without copying: for watched event folders, where a teacher drops
   * phone photos or a tethered camera writes frames. Content already in the library is reported as a duplicate.
   */
  async addInPlace(files: readonly string[], eventName: string, options: { signal?: AbortSignal } = {}): Promise<InPlaceReport> {
    const { catalog } = this.deps;
    catalog.assertWritable();
    const event = this.folders.ensure(eventName);
    const report: InPlaceReport = { added: [], duplicates: [], failed: [] };
    for (const file of files) {
      throwIfAborted(options.signal);
      const absolute = path.resolve(file);
      try {
        const format = await sniffFormat(absolute);
        if (!format) throw new AppError('unsupported-media', `${absolute} is not a photo or video Keepsake can import.`);
        const info = await stat(absolute);
        const { hash, size } = await hashFile(absolute, { signal: options.signal });
        const existing = catalog.assets.getByHash(hash);
        if (existing) {
          report.duplicates.push({ source: absolute, existingAssetId: existing.id, existingPath: existing.path });
          continue;
        }
        const metadata = await this.readMetadata({ path: absolute, kind: format.kind, sidecars: [] });
        const inside = !path.relative(this.deps.libraryRoot, absolute).startsWith('..');
        const asset = catalog.transaction(() => {
          const added = catalog.assets.insert({
            ...assetFields(metadata, info.mtimeMs),
            hash,
            eventId: event.id,
            path: inside ? path.relative(this.deps.libraryRoot, absolute) : absolute,
            originalName: path.basename(absolute),
            size,
            mtimeMs: info.mtimeMs,
            kind: format.kind,
            mime: format.mime,
          });
          catalog.tags.tagAsset(added.id, metadata.keywords ?? []);
          return added;
        });
        report.added.push({ source: absolute, destination: asset.path, assetId: asset.id, hash });
      } catch (error) {
        if (isAppError(error, 'cancelled')) throw error;
        report.failed.push({ source: absolute, reason: toAppError(error, absolute).message });
      }
    }
    return report;
  }

  private session(
    source: string,
    event: SchoolEvent,
    template: RenameTemplate,
    backupDir: string | null,
  ): ImportSession & { resumed: boolean } {
    const { imports } = this.deps.catalog;
    const previous = imports.findResumable(source, event.id);
    if (previous && previous.renameTemplate === template.source && previous.backupDir === backupDir) {
      imports.finishSession(previous.id, 'running');
      return { ...previous, state: 'running', resumed: true };
    }
    return { ...imports.createSession({ source, eventId: event.id, renameTemplate: template.source, backupDir, inPlace: false }), resumed: false };
  }

  private async importOne(item: ImportItem, file: ScannedFile, context: RunContext): Promise<FileOutcome> {
    const { catalog } = this.deps;
    throwIfAborted(context.signal);

    let known: ContentHash | null = item.hash;
    // A file can only be a duplicate of an asset of the same size: hash first only then, so that a new
    // card is read once (hashing while copying) and a card imported before is never copied again.
    if (known === null && catalog.assets.hasSize(file.size)) {
      try {
        known = (await hashFile(file.path, { signal: context.signal })).hash;
      } catch (error) {
        return this.failOrHalt(item, error, context);
      }
    }
    if (known !== null) {
      const existing = catalog.assets.getByHash(known);
      if (existing && existing.id !== item.assetId) return this.duplicate(item, known, existing.id, existing.path);
    }

    const metadata = await this.readMetadata(file);
    const destination =
      item.destPath && item.seq !== null
        ? path.join(this.deps.libraryRoot, item.destPath)
        : await this.reserve(context, item, file, metadata, known);
    const relative = path.relative(this.deps.libraryRoot, destination);

    const backup = context.backupDir ? path.join(context.backupDir, context.event.folder, path.basename(destination)) : null;
    let copied: { hash: ContentHash; size: number; copiedBytes: number };
    try {
      copied = await this.copyOrAdopt(file, destination, backup, known, context);
      await this.copySidecars(file, destination, backup, context);
    } catch (error) {
      return this.failOrHalt(item, error, context);
    }

    const outcome = catalog.transaction((): FileOutcome => {
      const existing = catalog.assets.getByHash(copied.hash);
      if (existing) {
        catalog.imports.updateItem(item.id, { state: 'duplicate', hash: copied.hash, assetId: existing.id, error: null });
        return { kind: 'duplicate', file: { source: file.path, existingAssetId: existing.id, existingPath: existing.path } };
      }
      const asset = catalog.assets.insert({
        ...assetFields(metadata, file.mtimeMs),
        hash: copied.hash,
        eventId: context.event.id,
        path: relative,
        originalName: path.basename(file.path),
        size: copied.size,
        mtimeMs: file.mtimeMs,
        kind: file.kind,
        mime: file.mime,
      });
      for (const sidecar of file.sidecars) {
        catalog.assets.addSidecar(asset.id, path.relative(this.deps.libraryRoot, sidecarDestination(destination, sidecar.path)), sidecar.kind);
      }
      catalog.tags.tagAsset(asset.id, [...(metadata.keywords ?? []), ...context.tags]);
      catalog.imports.updateItem(item.id, { state: 'imported', hash: copied.hash, assetId: asset.id, error: null });
      return { kind: 'imported', file: { source: file.path, destination: relative, assetId: asset.id, hash: copied.hash }, bytes: copied.copiedBytes };
    });
    if (outcome.kind === 'duplicate') {
      // Another import recorded the same content meanwhile: this copy must not stay in the event folder.
      const copies = [destination, ...(backup ? [backup] : [])];
      const sidecars = copies.flatMap((copy) => file.sidecars.map((sidecar) => sidecarDestination(copy, sidecar.path)));
      await Promise.all([...copies, ...sidecars].map((copy) => rm(copy, { force: true })));
    }
    return outcome;
  }

  /** Copies a file, or adopts a copy an interrupted run already renamed into place. */
  private async copyOrAdopt(
    file: ScannedFile,
    destination: string,
    backup: string | null,
    known: ContentHash | null,
    context: RunContext,
  ): Promise<{ hash: ContentHash; size: number; copiedBytes: number }> {
    const candidates = backup ? [destination, backup] : [destination];
    const present = await Promise.all(candidates.map(fileExists));
    let sourceHash = known;
    if (sourceHash === null && present.some(Boolean)) sourceHash = (await hashFile(file.path, { signal: context.signal })).hash;
    const targets: string[] = [];
    for (const [index, target] of candidates.entries()) {
      if (present[index] && sourceHash !== null) {
        const present = await hashFile(target, { signal: context.signal });
        if (present.hash === sourceHash) continue;
        throw new AppError('conflict', `${target} already exists with other content; nothing was overwritten.`);
      }
      targets.push(target);
    }
    if (targets.length === 0) {
      context.progress.bytes(file.size);
      return { hash: sourceHash!, size: file.size, copiedBytes: 0 };
    }
    const copy = await copyVerified(file.path, targets, {
      signal: context.signal,
      onBytes: (bytes) => context.progress.bytes(bytes),
      ...(sourceHash ? { expectedHash: sourceHash } : {}),
    });
    return { ...copy, copiedBytes: copy.size };
  }

  private async copySidecars(file: ScannedFile, destination: string, backup: string | null, context: RunContext): Promise<void> {
    for (const sidecar of file.sidecars) {
      const targets = [sidecarDestination(destination, sidecar.path), ...(backup ? [sidecarDestination(backup, sidecar.path)] : [])];
      await copyVerified(sidecar.path, targets, { signal: context.signal });
    }
  }

  private async readMetadata(file: Pick<ScannedFile, 'path' | 'kind' | 'sidecars'>): Promise<MediaMetadata> {
    const xmp = file.sidecars.find((sidecar) => sidecar.kind === 'xmp');
    try {
      return await this.deps.metadata.read(file.path, file.kind, xmp?.path);
    } catch (error) {
      // Malformed metadata never stops an import: the file is kept and catalogued with what is known.
      this.deps.log.warn('metadata unreadable', { file: file.path, error });
      return {};
    }
  }

  /**
   * Picks a free destination name (the template's, or with -2, -3… when taken on disk or reserved by another
   * copy in any import) and records it on the item before any byte is copied, so a resume reuses it.
   */
  private async reserve(context: RunContext, item: ImportItem, file: ScannedFile, metadata: MediaMetadata, known: ContentHash | null): Promise<string> {
    const { catalog } = this.deps;
    const seq = context.seq.next();
    const name = context.template.render({
      capturedAt: metadata.capturedAt ?? localIso(file.mtimeMs),
      eventName: context.event.name,
      seq,
      cameraModel: metadata.cameraModel ?? null,
      originalName: path.basename(file.path),
    });
    const extension = path.extname(name);
    const base = name.slice(0, name.length - extension.length);
    for (let attempt = 1; ; attempt += 1) {
      const candidate = path.join(context.eventDir, attempt === 1 ? name : `${base}-${attempt}${extension}`);
      const relative = path.relative(this.deps.libraryRoot, candidate);
      const backupTaken = context.backupDir !== null && (await fileExists(path.join(context.backupDir, context.event.folder, path.basename(candidate))));
      if (backupTaken || (await fileExists(candidate))) continue;
      // No await between the check and the claim: the reservation is atomic for every import of this library.
      const claimed = catalog.transaction(() => {
        if (catalog.imports.isReserved(relative)) return false;
        catalog.imports.updateItem(item.id, { state: 'copying', seq, destPath: relative, ...(known ? { hash: known } : {}) });
        return true;
      });
      if (claimed) return candidate;
    }
  }

  /**
   * The names the first `limit` files would get, without hashing anything: fast enough to rerun as the
   * photographer types a rename template. Duplicates are not known (they are found while the import copies),
   * so a file that is already in the library is listed here too.
   */
  async previewNames(request: { source: string; event: string; renameTemplate?: string; limit: number; signal?: AbortSignal }): Promise<NamePreview> {
    const template = RenameTemplate.parse(request.renameTemplate ?? DEFAULT_RENAME_TEMPLATE);
    const source = await resolveSource(request.source);
    const scanned = await this.deps.scanSource(source, { signal: request.signal });
    throwIfAborted(request.signal);
    const target = this.folders.peek(request.event);
    const eventDir = path.join(this.deps.libraryRoot, target.folder);
    const seq = new Sequence(0);
    const taken = new Set<string>();
    const names: NamePreview['names'] = [];
    for (const file of scanned.files.slice(0, request.limit)) {
      throwIfAborted(request.signal);
      const name = await this.freeName(file, template, target.name, seq, taken, eventDir);
      taken.add(name);
      names.push({ source: file.path, destination: path.relative(this.deps.libraryRoot, path.join(eventDir, name)) });
    }
    return { event: target.name, names, total: scanned.files.length, failed: scanned.unsupported.filter((entry) => looksLikeMedia(entry.path)).map(describeUnreadable) };
  }

  /**
   * The name `template` gives `file` in `eventDir`, with `-2`, `-3`… added while it is `taken` (by an earlier
   * file of this run) or already on disk. Reads the file's metadata for the template's date and camera.
   */
  private async freeName(file: ScannedFile, template: RenameTemplate, eventName: string, seq: Sequence, taken: ReadonlySet<string>, eventDir: string): Promise<string> {
    const metadata = await this.readMetadata(file);
    let name = template.render({
      capturedAt: metadata.capturedAt ?? localIso(file.mtimeMs),
      eventName,
      seq: seq.next(),
      cameraModel: metadata.cameraModel ?? null,
      originalName: path.basename(file.path),
    });
    const extension = path.extname(name);
    const base = name.slice(0, name.length - extension.length);
    for (let attempt = 2; taken.has(name) || (await fileExists(path.join(eventDir, name))); attempt += 1) name = `${base}-${attempt}${extension}`;
    return name;
  }

  private async planDryRun(
    file: ScannedFile,
    template: RenameTemplate,
    event: { name: string },
    seq: Sequence,
    planned: Map<string, string>,
    eventDir: string,
  ): Promise<FileOutcome> {
    try {
      const { hash } = await hashFile(file.path);
      const existing = this.deps.catalog.assets.getByHash(hash);
      if (existing) return { kind: 'duplicate', file: { source: file.path, existingAssetId: existing.id, existingPath: existing.path } };
      const twin = planned.get(hash);
      if (twin) return { kind: 'duplicate', file: { source: file.path, existingAssetId: null, existingPath: twin } };
      const taken = new Set([...planned.values()].map((planPath) => path.basename(planPath)));
      const name = await this.freeName(file, template, event.name, seq, taken, eventDir);
      const destination = path.relative(this.deps.libraryRoot, path.join(eventDir, name));
      planned.set(hash, destination);
      return {
        kind: 'imported',
        file: { source: file.path, destination, assetId: null, hash },
        bytes: file.size,
      };
    } catch (error) {
      return { kind: 'failed', file: { source: file.path, reason: toAppError(error, file.path).message } };
    }
  }

  private duplicate(item: ImportItem, hash: ContentHash, assetId: AssetId, existingPath: string): FileOutcome {
    this.deps.catalog.imports.updateItem(item.id, { state: 'duplicate', hash, assetId, error: null });
    return { kind: 'duplicate', file: { source: item.sourcePath, existingAssetId: assetId, existingPath } };
  }

  private fail(item: ImportItem, reason: string): FileOutcome {
    this.deps.catalog.imports.updateItem(item.id, { state: 'failed', error: reason });
    return { kind: 'failed', file: { source: item.sourcePath, reason } };
  }

  /** A per-file failure, unless it means every later file would fail too. */
  private async failOrHalt(item: ImportItem, error: unknown, context: RunContext): Promise<FileOutcome> {
    const appError = toAppError(error, item.sourcePath);
    if (appError.code === 'cancelled' || context.signal?.aborted) throw new ImportHalted(new AppError('cancelled', 'The import was cancelled; run it again to finish it.'));
    if (appError.code === 'disk-full') {
      throw new ImportHalted(new AppError('disk-full', `The destination disk is full (${appError.message}). Free some space and run the import again: it resumes where it stopped.`));
    }
    if (!(await fileExists(context.session.source))) {
      throw new ImportHalted(new AppError('io', `The source ${context.session.source} is no longer available (was the card pulled out?). Put it back and run the import again: it resumes where it stopped.`));
    }
    return this.fail(item, appError.message);
  }

  private record(report: ImportReport, outcome: FileOutcome): void {
    if (outcome.kind === 'imported') {
      report.imported.push(outcome.file);
      report.bytes += outcome.bytes;
    } else if (outcome.kind === 'duplicate') {
      report.duplicates.push(outcome.file);
    } else {
      report.failed.push(outcome.file);
    }
  }

  private async writeManifest(importId: ImportId, eventDir: string, files: readonly ImportedFile[]): Promise<string> {
    const file = path.join(eventDir, `keepsake-import-${importId}.xxh128`);
    const lines = files
      .filter((entry) => entry.hash !== null)
      .map((entry) => `${entry.hash}  ${path.relative(eventDir, path.join(this.deps.libraryRoot, entry.destination))}\n`)
      .join('');
    await writeFileAtomic(file, lines);
    return path.relative(this.deps.libraryRoot, file);
  }
}

interface RunContext {
  session: ImportSession;
  event: SchoolEvent;
  eventDir: string;
  template: RenameTemplate;
  backupDir: string | null;
  tags: readonly string[];
  seq: Sequence;
  signal: AbortSignal | undefined;
  progress: ProgressMeter;
}

class Sequence {
  constructor(private value: number) {}
  next(): number {
    this.value += 1;
    return this.value;
  }
}

/** Turns byte and file counts into throttled progress events with a rate and an ETA. */
class ProgressMeter {
  private state: ImportProgress = {
    importId: null,
    phase: 'scanning',
    filesDone: 0,
    filesTotal: 0,
    bytesDone: 0,
    bytesTotal: 0,
    bytesPerSec: 0,
    etaSec: null,
    current: null,
  };
  private startedAt = 0;
  private lastEmit = 0;

  constructor(private readonly emit?: (progress: ImportProgress) => void) {}

  phase(phase: ImportProgress['phase']): void {
    this.state.phase = phase;
    this.flush();
  }

  start(importId: ImportId, filesTotal: number, bytesTotal: number): void {
    this.startedAt = performance.now();
    Object.assign(this.state, { importId, phase: 'copying', filesTotal, bytesTotal });
    this.flush();
  }

  bytes(count: number): void {
    this.state.bytesDone += count;
    if (performance.now() - this.lastEmit > 200) this.flush();
  }

  fileDone(current: string): void {
    this.state.filesDone += 1;
    this.state.current = current;
    this.flush();
  }

  private flush(): void {
    if (!this.emit) return;
    const seconds = (performance.now() - this.startedAt) / 1000;
    this.state.bytesPerSec = seconds > 0 ? Math.round(this.state.bytesDone / seconds) : 0;
    const remaining = this.state.bytesTotal - this.state.bytesDone;
    this.state.etaSec = this.state.bytesPerSec > 0 ? Math.round(remaining / this.state.bytesPerSec) : null;
    this.lastEmit = performance.now();
    this.emit({ ...this.state });
  }
}

function looksLikeMedia(file: string): boolean {
  return MEDIA_EXTENSIONS.has(path.extname(file).slice(1).toLowerCase());
}

function describeUnreadable(entry: { path: string; reason: string }): FailedFile {
  const reason = /empty/.test(entry.reason)
    ? 'The file is empty (0 bytes): the camera may not have finished writing it.'
    : `${entry.reason.charAt(0).toUpperCase()}${entry.reason.slice(1)}.`;
  return { source: entry.path, reason };
}

async function resolveSource(source: string): Promise<string> {
  try {
    const resolved = await realpath(path.resolve(source));
    if (!(await stat(resolved)).isDirectory()) throw new AppError('invalid-input', `${source} is a file; give the folder or card to import from.`);
    return resolved;
  } catch (error) {
    if (isAppError(error)) throw error;
    throw new AppError('not-found', `The source ${source} does not exist or cannot be read (is the card inserted?).`, { cause: error });
  }
}

async function removeTempFiles(directories: readonly string[]): Promise<void> {
  for (const directory of directories) {
    const names = await readdir(directory).catch(() => [] as string[]);
    await Promise.all(names.filter(isTempFile).map((name) => rm(path.join(directory, name), { force: true })));
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AppError('cancelled', 'The import was cancelled; run it again to finish it.');
}

/** A sidecar keeps its own extension next to the renamed media: IMG_0001.XMP → 20260514-0001.XMP. */
function sidecarDestination(mediaDestination: string, sidecarSource: string): string {
  const base = mediaDestination.slice(0, mediaDestination.length - path.extname(mediaDestination).length);
  return `${base}${path.extname(sidecarSource)}`;
}

/** The catalog fields that come from a file's metadata. */
function assetFields(metadata: MediaMetadata, mtimeMs: number): Omit<NewAsset, 'hash' | 'eventId' | 'path' | 'originalName' | 'size' | 'mtimeMs' | 'kind' | 'mime'> {
  return {
    width: metadata.width ?? null,
    height: metadata.height ?? null,
    orientation: metadata.orientation ?? null,
    durationSec: metadata.durationSec ?? null,
    capturedAt: metadata.capturedAt ?? null,
    captureOffsetMin: metadata.captureOffsetMin ?? null,
    sortTime: sortTimeOf(metadata, mtimeMs),
    cameraMake: metadata.cameraMake ?? null,
    cameraModel: metadata.cameraModel ?? null,
    lens: metadata.lens ?? null,
    gps: metadata.gps ?? null,
    rating: metadata.rating ?? 0,
    flag: metadata.rejected ? 'reject' : 'none',
    title: metadata.title ?? null,
    description: metadata.description ?? null,
  };
}

/**
 * The sort key: the wall-clock time the photo was taken, read as if it were UTC. Cameras rarely record
 * their offset, phones do; sorting everything by wall-clock time interleaves both correctly at one event.
 */
export function sortTimeOf(metadata: MediaMetadata, mtimeMs: number): number {
  const wallClock = metadata.capturedAt?.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?/)?.[0];
  const parsed = wallClock ? Date.parse(`${wallClock}Z`) : Number.NaN;
  return Number.isFinite(parsed) ? parsed : Date.parse(`${localIso(mtimeMs)}Z`);
}

/** A UTC instant as this machine's local wall-clock time, ISO-8601 without an offset. */
export function localIso(ms: number): string {
  const date = new Date(ms);
  return new Date(ms - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
}
