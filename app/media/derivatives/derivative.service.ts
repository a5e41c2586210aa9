import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Catalog } from '../../catalog/catalog.ts';
import type { Asset } from '../../shared/domain.ts';
import { AppError, isAppError } from '../../shared/errors.ts';
import type { AssetId } from '../../shared/ids.ts';
import { derivativePath, type DerivativeVariant } from './derivative-paths.ts';
import type { PhotoPipeline } from './photo-derivatives.ts';

/** The video half of the pipeline (ffmpeg), as {@link DerivativeService} uses it. */
export interface VideoMaker {
  makeVideoPoster(request: { source: string; posterPath: string; signal?: AbortSignal; timeoutMs?: number }): Promise<{ posterPath: string; width: number; height: number }>;
  makeVideoProxy(request: {
    source: string;
    proxyPath: string;
    signal?: AbortSignal;
    onProgress?: (fraction: number) => void;
    timeoutMs?: number;
  }): Promise<{ proxyPath: string; proxyBytes: number; durationSec: number; width: number; height: number }>;
}

/** What a derivative job did. */
export type DerivativeOutcome = 'made' | 'valid';

/** Options of the make methods. */
export interface MakeOptions {
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

/**
 * Makes and finds the derivatives of assets: for a photo its thumbnail, preview and placeholder; for a video
 * its poster (which is its preview), a thumbnail and placeholder made from the poster, and its 720p proxy.
 * Derivatives live in the cache keyed by content hash; what is there and whole is never made again, and a
 * deleted cache is made again on demand.
 */
export class DerivativeService {
  private readonly catalog: Catalog;
  private readonly libraryRoot: string;
  private readonly photos: PhotoPipeline;
  private readonly video: VideoMaker;
  // One maker per asset and kind at a time: the thumbnail job and a publish (or the media protocol) asking
  // for the same preview share one encode instead of racing on the same temp file.
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(deps: { catalog: Catalog; libraryRoot: string; photos: PhotoPipeline; video: VideoMaker }) {
    this.catalog = deps.catalog;
    this.libraryRoot = deps.libraryRoot;
    this.photos = deps.photos;
    this.video = deps.video;
  }

  /** The variants an asset of this kind has. */
  variantsOf(asset: Pick<Asset, 'kind'>): DerivativeVariant[] {
    return asset.kind === 'video' ? ['thumb', 'poster', 'proxy'] : ['thumb', 'preview'];
  }

  /** Where a derivative of an asset lives in the cache (whether or not it has been made). */
  pathOf(asset: Pick<Asset, 'hash'>, variant: DerivativeVariant): string {
    return derivativePath(this.libraryRoot, asset.hash, variant);
  }

  /** Makes what the grid needs (thumbnail, placeholder, and the preview or the poster) unless it is already there. */
  async makeThumbs(assetId: AssetId, options: MakeOptions = {}): Promise<DerivativeOutcome> {
    const asset = this.load(assetId);
    const previewPath = this.pathOf(asset, asset.kind === 'video' ? 'poster' : 'preview');
    if (asset.thumbhash !== null && (await isWhole(this.pathOf(asset, 'thumb'))) && (await isWhole(previewPath))) return 'valid';
    await this.remakeThumbs(asset, options);
    return 'made';
  }

  /** Makes a video's 720p proxy unless it is already there. Photos have none: nothing to do. */
  async makeProxy(assetId: AssetId, options: MakeOptions = {}): Promise<DerivativeOutcome> {
    const asset = this.load(assetId);
    if (asset.kind !== 'video') return 'valid';
    const proxyPath = this.pathOf(asset, 'proxy');
    if (await isWhole(proxyPath)) return 'valid';
    await this.once(`proxy:${asset.id}`, options, async () => {
      await this.video.makeVideoProxy({ source: this.sourceOf(asset), proxyPath, ...signalOf(options), ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
    });
    return 'made';
  }

  /**
   * The file of a derivative, made first if the cache lost it (for the media protocol and the gallery upload).
   * Throws `not-found` for an asset or variant that does not exist.
   */
  async ensure(assetId: AssetId, variant: DerivativeVariant, options: MakeOptions = {}): Promise<string> {
    const asset = this.load(assetId);
    if (!this.variantsOf(asset).includes(variant)) throw new AppError('not-found', `A ${asset.kind} has no ${variant}.`);
    const file = this.pathOf(asset, variant);
    if (await isWhole(file)) return file;
    if (variant === 'proxy') await this.makeProxy(assetId, options);
    else await this.remakeThumbs(asset, options);
    return file;
  }

  private remakeThumbs(asset: Asset, options: MakeOptions): Promise<void> {
    return this.once(`thumbs:${asset.id}`, options, () => this.makeThumbFiles(asset, options));
  }

  private async once(key: string, options: MakeOptions, make: () => Promise<void>): Promise<void> {
    const running = this.inFlight.get(key);
    if (running) {
      try {
        return await running;
      } catch (error) {
        // The one we waited for was cancelled by its own caller, not by us: make it ourselves.
        if (!isAppError(error, 'cancelled') || options.signal?.aborted) throw error;
        return this.once(key, options, make);
      }
    }
    const made = make().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, made);
    return made;
  }

  private async makeThumbFiles(asset: Asset, options: MakeOptions): Promise<void> {
    const thumbPath = this.pathOf(asset, 'thumb');
    const source = this.sourceOf(asset);
    if (asset.kind === 'video') {
      const posterPath = this.pathOf(asset, 'poster');
      await this.video.makeVideoPoster({ source, posterPath, ...signalOf(options) });
      const made = await this.photos.make({ source: posterPath, kind: 'photo', mime: 'image/jpeg', orientation: null, thumbPath, previewPath: null, ...signalOf(options) });
      this.catalog.assets.setDerived(asset.id, { thumbhash: made.thumbhash, width: null, height: null });
    } else {
      const previewPath = this.pathOf(asset, 'preview');
      const made = await this.photos.make({ source, kind: asset.kind, mime: asset.mime, orientation: asset.orientation, thumbPath, previewPath, ...signalOf(options) });
      this.catalog.assets.setDerived(asset.id, { thumbhash: made.thumbhash, width: made.width, height: made.height });
    }
  }

  private load(assetId: AssetId): Asset {
    const asset = this.catalog.assets.get(assetId);
    if (!asset) throw new AppError('not-found', `Asset ${assetId} is not in the library.`);
    if (asset.status === 'missing') throw new AppError('not-found', `The file of ${asset.originalName} is missing (${asset.path}).`);
    return asset;
  }

  private sourceOf(asset: Asset): string {
    return path.isAbsolute(asset.path) ? asset.path : path.join(this.libraryRoot, asset.path);
  }
}

function signalOf(options: MakeOptions): { signal?: AbortSignal } {
  return options.signal ? { signal: options.signal } : {};
}

/** True when the file exists and is not empty: derivatives are renamed into place only once whole. */
async function isWhole(file: string): Promise<boolean> {
  try {
    return (await stat(file)).size > 0;
  } catch {
    return false;
  }
}
