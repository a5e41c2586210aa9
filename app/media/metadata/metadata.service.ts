import { basename } from 'node:path';
import { isAppError } from '../../shared/errors.ts';
import type { MediaMetadata } from './metadata.types.ts';
import { readPhotoMetadata, type ReadPhotoOptions } from './photo-metadata.ts';
import { mergeMetadata, readXmpSidecar, type XmpMetadata } from './sidecar.ts';
import { readVideoMetadata, type ReadVideoOptions } from './video-metadata.ts';

/** What a file is, as the importer classified it. */
export type MediaKind = 'photo' | 'video' | 'raw';

/** The readers {@link MetadataReader} dispatches to; tests pass fakes. */
export interface MetadataReaderDeps {
  readPhoto?: (path: string, options: ReadPhotoOptions) => Promise<MediaMetadata>;
  readVideo?: (path: string, options: ReadVideoOptions) => Promise<MediaMetadata>;
  readSidecar?: (path: string, options: { signal?: AbortSignal }) => Promise<XmpMetadata>;
}

/** Per-call options for {@link MetadataReader.read}. */
export interface ReadMetadataOptions {
  signal?: AbortSignal;
  /** Reject damaged photo metadata instead of returning what could be read (see `ReadPhotoOptions.strict`). */
  strict?: boolean;
}

/** Reads a media file's metadata by kind and overlays its XMP sidecar, which wins field by field. */
export class MetadataReader {
  private readonly readPhoto: NonNullable<MetadataReaderDeps['readPhoto']>;
  private readonly readVideo: NonNullable<MetadataReaderDeps['readVideo']>;
  private readonly readSidecar: NonNullable<MetadataReaderDeps['readSidecar']>;

  constructor(deps: MetadataReaderDeps = {}) {
    this.readPhoto = deps.readPhoto ?? readPhotoMetadata;
    this.readVideo = deps.readVideo ?? readVideoMetadata;
    this.readSidecar = deps.readSidecar ?? readXmpSidecar;
  }

  /** Reads `path` as `kind`; a sidecar that cannot be read is reported in `warnings`, not thrown. */
  async read(path: string, kind: MediaKind, sidecarPath?: string, options: ReadMetadataOptions = {}): Promise<MediaMetadata> {
    const { signal } = options;
    const embedded =
      kind === 'video'
        ? await this.readVideo(path, { signal })
        : await this.readPhoto(path, { signal, strict: options.strict, raw: kind === 'raw' });
    if (sidecarPath === undefined) return embedded;
    try {
      return mergeMetadata(embedded, await this.readSidecar(sidecarPath, { signal }));
    } catch (error) {
      if (isAppError(error, 'cancelled')) throw error;
      // The photo is still worth importing; its sidecar edits are what is lost, and the warning says so.
      const reason = error instanceof Error ? error.message : String(error);
      return { ...embedded, warnings: [...(embedded.warnings ?? []), `The sidecar "${basename(sidecarPath)}" was ignored: ${reason}`] };
    }
  }
}
