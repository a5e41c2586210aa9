import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Catalog } from './catalog/catalog.ts';
import { KEEPSAKE_DIR } from './catalog/database.ts';
import { CloudService } from './cloud/cloud.service.ts';
import type { CredentialsProvider } from './cloud/credentials.ts';
import type { QuotaReserver } from './cloud/publisher.ts';
import { loadCloudSettings, type CloudSettings } from './cloud/settings.ts';
import { ImportService } from './ingest/import.service.ts';
import { RosterImporter } from './ingest/roster.ts';
import { scanSource } from './ingest/source-scanner.ts';
import { VolumeWatcher, type VolumeWatcherOptions } from './ingest/volumes.ts';
import { JobRunner } from './jobs/job-runner.ts';
import { createLogger, fileSink, type Logger, type LogSink } from './log/logger.ts';
import { DerivativeService } from './media/derivatives/derivative.service.ts';
import { HeicDecoder } from './media/derivatives/heic-decoder.ts';
import { MAX_INPUT_PIXELS, PhotoPipeline } from './media/derivatives/photo-derivatives.ts';
import { MetadataReader } from './media/metadata/metadata.service.ts';
import * as video from './media/video/video-derivatives.ts';
import { SearchService } from './search/search.service.ts';
import { linkedSchool, SchoolLink } from './sync/school-link.ts';
import type { SyncClient } from './sync/sync-client.ts';

/** The engine of one library, built in one place for the CLI, Electron's main process and the web host. */
export interface Engine {
  readonly libraryRoot: string;
  readonly catalog: Catalog;
  readonly imports: ImportService;
  readonly search: SearchService;
  readonly roster: RosterImporter;
  /** Thumbnails, previews, placeholders, posters and proxies, by asset. */
  readonly derivatives: DerivativeService;
  /**
   * The persistent job queue's runner (derivatives for now). Not started until asked: a command that only
   * reads the catalog must not start encoding videos.
   */
  readonly jobs: JobRunner;
  /** Watches for camera cards being mounted; emits `card` so the UI can offer an import. Not started until asked. */
  readonly volumes: VolumeWatcher;
  /** Publishing to the bucket, uploads, lifecycle and catalog backups; usable once the library has cloud settings. */
  readonly cloud: CloudService;
  readonly log: Logger;
  close(): Promise<void>;
}

/** Options of {@link openEngine}. */
export interface EngineOptions {
  libraryPath: string;
  /** Create the library if it does not exist (default true). */
  create?: boolean;
  /** Where log lines go; by default `<library>/.keepsake/logs/engine.log`. */
  logSink?: LogSink;
  /** Where the store's access key comes from (default: the environment). */
  credentials?: CredentialsProvider;
  /** The sync service's quota reservations; without one, publishing goes to the bucket alone. */
  quota?: QuotaReserver | null;
  /**
   * The school's sync service: when the library is linked to a school and signed in, publishing reserves
   * quota there and sends it each event's manifest. Without it, publishing goes to the bucket alone.
   */
  sync?: { client: SyncClient } | null;
  /** Cloud settings of this process over the stored ones (the CLI's `--limit-kbps`). */
  cloudOverrides?: Partial<CloudSettings>;
  /** Where and how often camera cards are looked for (tests point it at a temp folder). */
  volumes?: VolumeWatcherOptions;
  /** Uploader retry timing (tests shorten it). */
  uploaderTiming?: { maxRetries?: number; backoffMs?: number; offlineProbeMs?: number };
}

/** The composition root: opens a library's catalog and wires every service to it. */
export async function openEngine(options: EngineOptions): Promise<Engine> {
  const libraryRoot = path.resolve(options.libraryPath);
  if (options.create !== false) await mkdir(path.join(libraryRoot, KEEPSAKE_DIR), { recursive: true });
  const sink = options.logSink ?? fileSink(path.join(libraryRoot, KEEPSAKE_DIR, 'logs', 'engine.log'));
  const log = createLogger('engine', sink);
  const catalog = Catalog.open(libraryRoot, { create: options.create !== false });
  if (!catalog.readOnly) catalog.library.ensure(path.basename(libraryRoot));
  if (catalog.damage) log.error('catalog damaged', { file: catalog.file, damage: catalog.damage });
  catalog.onDamage((damage) => log.error('catalog damaged', { file: catalog.file, damage }));
  const metadata = new MetadataReader();
  const volumes = new VolumeWatcher(options.volumes);
  const heic = new HeicDecoder({ maxPixels: MAX_INPUT_PIXELS });
  const derivatives = new DerivativeService({ catalog, libraryRoot, photos: new PhotoPipeline({ heic }), video });
  const school = options.sync && !catalog.readOnly ? linkedSchool(catalog) : null;
  const link = school && options.sync ? new SchoolLink(options.sync.client, catalog, school) : null;
  const cloud = new CloudService({
    catalog,
    libraryRoot,
    derivatives,
    log: log.child('cloud'),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    quota: options.quota ?? link,
    gallery: link,
    ...(options.cloudOverrides ? { overrides: options.cloudOverrides } : {}),
    ...(options.uploaderTiming ? { uploader: options.uploaderTiming } : {}),
  });
  // Files sent at once; each file's parts share the uploader's request slots.
  const uploadConcurrency = (catalog.readOnly ? null : loadCloudSettingsSafely(catalog))?.concurrency ?? 4;
  const jobs = new JobRunner({
    catalog,
    log: log.child('jobs'),
    kinds: {
      // sharp decodes in libuv's threads: one photo per core keeps both busy (measured: 2 in flight on 2 cores).
      thumbs: { concurrency: Math.max(1, os.availableParallelism()), run: (job, context) => derivatives.makeThumbs(job.assetId!, context).then(() => undefined) },
      // ffmpeg uses every core by itself.
      proxy: {
        concurrency: 1,
        run: (job, context) => derivatives.makeProxy(job.assetId!, { signal: context.signal, onProgress: context.progress }).then(() => undefined),
      },
      publish: { concurrency: uploadConcurrency, run: (job, context) => cloud.publisher.runPublishJob(job, context) },
      manifest: { concurrency: 1, run: (job, context) => cloud.publisher.runManifestJob(job, context) },
    },
    onAssetFailure: (job, error) => {
      // Only a derivative's failure says something about the file; a publish failure is about the store.
      if (job.assetId === null || (job.kind !== 'thumbs' && job.kind !== 'proxy')) return;
      if (error.code === 'not-found') catalog.assets.setStatus(job.assetId, 'missing', error.message);
      else catalog.assets.setStatus(job.assetId, 'unreadable', `unreadable: ${error.message}`);
    },
  });
  cloud.attachRunner(jobs);
  return {
    libraryRoot,
    catalog,
    log,
    imports: new ImportService({ catalog, libraryRoot, scanSource, metadata, log: log.child('import') }),
    search: new SearchService({ catalog }),
    roster: new RosterImporter({ catalog }),
    derivatives,
    jobs,
    volumes,
    cloud,
    async close() {
      await volumes.stop();
      await jobs.stop();
      cloud.close();
      await heic.close();
      catalog.close();
      if ('flush' in sink && typeof sink.flush === 'function') await (sink.flush as () => Promise<void>)();
    },
  };
}

function loadCloudSettingsSafely(catalog: Catalog): CloudSettings | null {
  try {
    return loadCloudSettings(catalog.library);
  } catch {
    // Invalid settings are reported when publishing; they must not keep the library from opening.
    return null;
  }
}

/**
 * The library to use: `--library`, else `KEEPSAKE_LIBRARY`, else the per-user default
 * (`~/Pictures/Keepsake`, where photographers expect their pictures).
 */
export function resolveLibraryPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return path.resolve(flag);
  if (env.KEEPSAKE_LIBRARY) return path.resolve(env.KEEPSAKE_LIBRARY);
  return path.join(os.homedir(), 'Pictures', 'Keepsake');
}
