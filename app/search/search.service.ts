import type { AssetPage, PageCursor } from '../catalog/assets.repo.ts';
import type { Catalog } from '../catalog/catalog.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import { AppError } from '../shared/errors.ts';
import { parseQuery } from './query-parser.ts';

/** Page size when the caller names none. */
export const DEFAULT_SEARCH_LIMIT = 100;
/** Largest page a caller may ask for. */
export const MAX_SEARCH_LIMIT = 1000;

/** Options of {@link SearchService.search}. */
export interface SearchOptions {
  limit?: number;
  /** The `next` cursor of the previous page. */
  after?: PageCursor | null;
}

/** What {@link SearchService.refresh} did. */
export interface IndexRefresh {
  rebuilt: boolean;
  reason: string | null;
  indexed: number;
}

/**
 * The search box: parses the query language, brings the catalog's search index up to date (it is a cache
 * fed by the catalog's triggers) and returns a page of matching assets, newest first.
 */
export class SearchService {
  private readonly catalog: Catalog;
  private readonly log: Logger;
  private checked = false;

  constructor(deps: { catalog: Catalog; log?: Logger }) {
    this.catalog = deps.catalog;
    this.log = deps.log ?? createLogger('search');
  }

  /** One page of the assets matching `text`; throws `invalid-input` with what is wrong in the query. */
  search(text: string, options: SearchOptions = {}): AssetPage {
    const query = parseQuery(text);
    const limit = options.limit ?? DEFAULT_SEARCH_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SEARCH_LIMIT) {
      throw new AppError('invalid-input', `The page size must be a whole number from 1 to ${MAX_SEARCH_LIMIT}, got ${limit}.`);
    }
    const after = options.after ?? null;
    if (after !== null && !(Number.isFinite(after.sortTime) && Number.isInteger(after.id))) {
      throw new AppError('invalid-input', 'The page cursor is not one this search returned; start again from the first page.');
    }
    this.refresh();
    try {
      return this.catalog.search.search(query, { limit, after });
    } catch (error) {
      if (this.catalog.damage !== null) throw new AppError('io', `Search is unavailable: ${this.catalog.damage}`, { cause: error });
      if (!isCorruption(error)) throw readError(error);
      // The index is a cache: a damaged one is rebuilt from the catalog rather than reported.
      this.log.warn('search index damaged; rebuilding', { error });
      this.catalog.search.rebuild();
      this.catalog.search.flushDirty();
      try {
        return this.catalog.search.search(query, { limit, after });
      } catch (retryError) {
        throw readError(retryError);
      }
    }
  }

  /**
   * Rebuilds the index if its version differs or it is damaged (checked once per service; `thorough` runs
   * FTS5's full integrity check, seconds at 1M assets), then indexes every asset queued since.
   */
  refresh(options: { thorough?: boolean } = {}): IndexRefresh {
    // A damaged catalog is read-only: search what the index holds, never write.
    if (this.catalog.readOnly) return { rebuilt: false, reason: null, indexed: 0 };
    let check: { rebuilt: boolean; reason: string | null } = { rebuilt: false, reason: null };
    if (!this.checked || options.thorough) {
      check = this.catalog.search.ensureFresh(options);
      this.checked = true;
      if (check.rebuilt) this.log.info('search index rebuilt', { reason: check.reason });
    }
    const indexed = this.catalog.search.flushDirty();
    return { ...check, indexed };
  }

  /** Tag, people and event names starting with `prefix`, for completing `tag:`, `person:` and `event:`. */
  suggest(prefix: string, limit = 10): { tags: string[]; people: string[]; events: string[] } {
    return this.catalog.search.suggest(prefix, limit);
  }
}

function isCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_CORRUPT');
}

function readError(error: unknown): unknown {
  if (error instanceof AppError) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('SQLITE_')) {
    const detail = error instanceof Error ? error.message : String(error);
    return new AppError('io', `The search index could not be read (${detail}).`, { cause: error });
  }
  return error;
}
