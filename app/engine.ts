import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Catalog } from './catalog/catalog.ts';
import { KEEPSAKE_DIR } from './catalog/database.ts';
import { ImportService } from './ingest/import.service.ts';
import { RosterImporter } from './ingest/roster.ts';
import { scanSource } from './ingest/source-scanner.ts';
import { VolumeWatcher } from './ingest/volumes.ts';
import { JobRunner } from './jobs/job-runner.ts';
import { createLogger, fileSink, type Logger, type LogSink } from './log/logger.ts';
import { DerivativeService } from './media/derivatives/derivative.service.ts';
import { HeicDecoder } from './media/derivatives/heic-decoder.ts';
import { MAX_INPUT_PIXELS, PhotoPipeline } from './media/derivatives/photo-derivatives.ts';
import { MetadataReader } from './media/metadata/metadata.service.ts';
import * as video from './media/video/video-derivatives.ts';
import { SearchService } from './search/search.service.ts';

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
  const volumes = new VolumeWatcher();
  const heic = new HeicDecoder({ maxPixels: MAX_INPUT_PIXELS });
  const derivatives = new DerivativeService({ catalog, libraryRoot, photos: new PhotoPipeline({ heic }), video });
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
    },
    onAssetFailure: (job, error) => {
      if (job.assetId === null) return;
      if (error.code === 'not-found') catalog.assets.setStatus(job.assetId, 'missing', error.message);
      else catalog.assets.setStatus(job.assetId, 'unreadable', `unreadable: ${error.message}`);
    },
  });
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
    async close() {
      await volumes.stop();
      await jobs.stop();
      await heic.close();
      catalog.close();
      if ('flush' in sink && typeof sink.flush === 'function') await (sink.flush as () => Promise<void>)();
    },
  };
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
