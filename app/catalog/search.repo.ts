import type { Database, Statement } from 'better-sqlite3';
import type { IsValue, SearchQuery } from '../search/query-parser.ts';
import { toAsset, type AssetPage, type AssetRow, type PageCursor } from './assets.repo.ts';
import type { LibraryRepo } from './library.repo.ts';

/**
 * Version of the index format: the FTS definition, the document, the facet tokens and the key scheme.
 * Bump it with any change to them; an index of another version is dropped and rebuilt from the catalog.
 */
export const SEARCH_INDEX_VERSION = '1';
/** The `meta` key holding the version of the index on disk. */
export const SEARCH_VERSION_KEY = 'search_version';

// The FTS rowid is a time key, sort_time * SLOTS + slot, so FTS5 itself yields matches newest first and a
// LIMIT stops the scan early however common the terms are (a probe per row from the time index costs ~150 µs,
// and sorting every match of a common term costs 100+ ms at 1M assets). Assets sharing a millisecond get
// consecutive slots in the order they are indexed, which is id order except after a capture-time edit.
// FTS5 (3.53) reaches a rowid bound by stepping through the postings before it (~45 ns each, its doclist
// index is not used for that), so a date range far in the past or a page deep in the matches of a very
// common word costs in proportion to the newer postings of the wanted terms.
const SLOTS = 64;
// Keys stay exact in a JS number: |sort_time| up to ±4,400 years around 1970.
const MAX_TIME = Math.floor(Number.MAX_SAFE_INTEGER / SLOTS) - 1;
const MIN_KEY = -Number.MAX_SAFE_INTEGER;
const MAX_KEY = Number.MAX_SAFE_INTEGER;

const TOKENIZER = 'unicode61 remove_diacritics 2';
const TEXT_COLUMNS = '{event title description tags people file_name camera}';
// A prefix becomes an OR of the indexed terms it starts, which FTS5 walks lazily in rowid order (~15 µs per
// term to set up); FTS5's own `"x"*` first reads and merges every matching doclist (60–140 ms for a two-letter
// prefix at 1M assets). A prefix standing for more terms than this is too unspecific to expand and matches
// only the word itself until more letters are typed.
const EXPANSION_LIMIT = 512;
// An event-name prefix naming more events than this is filtered in SQL only, not through the index.
const FACET_ID_LIMIT = 256;
const FLUSH_BATCH = 2000;
// FTS5 reaches a rowid bound by stepping over every posting before it, in either direction (~45 ns each), and
// does not stop at an upper bound. A narrow date window (fewer than WINDOW_LIMIT assets) is therefore searched
// from the side with fewer postings to skip: filters alone along the time index, text forwards from the
// window's start when the window lies in the older half of the library, else newest first as usual.
const WINDOW_LIMIT = 20_000;
// Keys of a forward read are checked against the catalog newest first, this many per statement.
const WINDOW_CHUNK = 256;
const STATEMENT_CACHE_LIMIT = 128;

const INDEX_TABLES = ['search_fts', 'search_fts_data', 'search_fts_idx', 'search_fts_config', 'search_fts_docsize', 'search_docs', 'search_terms'];

// The same definition as migration 0002 at index version 1; from here on this copy is the one that counts.
const INDEX_DDL = `
  CREATE VIRTUAL TABLE search_fts USING fts5 (
    event, title, description, tags, people, file_name, camera, facets,
    content = '',
    contentless_delete = 1,
    tokenize = '${TOKENIZER}'
  );
  CREATE TABLE search_docs (
    doc_key INTEGER PRIMARY KEY,
    asset_id INTEGER NOT NULL UNIQUE
  );
  CREATE TABLE search_terms (term TEXT PRIMARY KEY) WITHOUT ROWID;`;

// A scratch index in the connection's temp schema whose vocabulary gives the exact terms FTS5 made of a batch.
const SCRATCH_DDL = `
  CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_scratch USING fts5 (text, content = '', detail = none, tokenize = '${TOKENIZER}');
  CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_scratch_vocab USING fts5vocab (temp, search_scratch, row);`;

/** Outcome of {@link SearchRepo.ensureFresh}. */
export interface IndexCheck {
  rebuilt: boolean;
  /** Why the index was rebuilt, for the log. */
  reason: string | null;
}

/** Options of {@link SearchRepo.search}. */
export interface SearchPageOptions {
  limit: number;
  after?: PageCursor | null;
}

interface DocumentRow {
  asset_id: number;
  present: number | null;
  old_key: number | null;
  sort_time: number | null;
  event_id: number | null;
  event_name: string | null;
  title: string | null;
  description: string | null;
  original_name: string | null;
  path: string | null;
  camera_make: string | null;
  camera_model: string | null;
  lens: string | null;
  rating: number | null;
  flag: string | null;
  kind: string | null;
  status: string | null;
  tag_names: string | null;
  tag_ids: string | null;
  people_names: string | null;
  person_ids: string | null;
}

interface FlushStatements {
  batch: Statement;
  ftsInsert: Statement;
  ftsDelete: Statement;
  docsInsert: Statement;
  docsDelete: Statement;
  groupMax: Statement;
  keyTaken: Statement;
  dirtyDelete: Statement;
  scratchInsert: Statement;
  scratchHarvest: Statement;
  scratchClear: Statement;
}

interface QueryStatements {
  dirtyCount: Statement;
  expand: Statement;
  tagIds: Statement;
  personIds: Statement;
  eventIds: Statement;
  docKey: Statement;
  countTimes: Statement;
  forward: Statement;
  timeSpan: Statement;
  maxId: Statement;
  facetCount: Record<'tag' | 'person' | 'event', Statement>;
}

/** The SQL of one search and its parameters; `null` when the query cannot match anything. */
interface SearchPlan {
  sql: string;
  params: Record<string, unknown>;
  limit: number;
  /** For an FTS search bounded below in time: what {@link SearchRepo.searchWindow} needs to read the window forwards. */
  window: { match: string; minTime: number; maxTime: number; extra: string; extraParams: Record<string, unknown> } | null;
}

/**
 * How `is:` values map to a column and the values they accept there, and to facet tokens. Only minority
 * values have tokens (FTS5 skips postings one by one when it starts below the newest, so a token in 90 % of
 * documents would make date ranges and deep pages slow): a majority value is searched as NOT the others.
 */
const IS_FILTERS: Record<IsValue, { column: 'flag' | 'kind' | 'status'; values: string[]; tokens: string[]; inverted: boolean }> = {
  pick: { column: 'flag', values: ['pick'], tokens: ['fpick'], inverted: false },
  reject: { column: 'flag', values: ['reject'], tokens: ['freject'], inverted: false },
  video: { column: 'kind', values: ['video'], tokens: ['kvideo'], inverted: false },
  // A raw file is a photo too, as in the event summaries' photo count.
  photo: { column: 'kind', values: ['photo', 'raw'], tokens: ['kvideo'], inverted: true },
  raw: { column: 'kind', values: ['raw'], tokens: ['kraw'], inverted: false },
  unreadable: { column: 'status', values: ['unreadable'], tokens: ['sunreadable'], inverted: false },
  missing: { column: 'status', values: ['missing'], tokens: ['smissing'], inverted: false },
};
/** Values that get no facet token because most assets have them. */
const MAJORITY = { rating: 0, flag: 'none', kind: 'photo', status: 'ok' } as const;
/** A token every document carries, the base of a query made only of negated words. */
const ANY_TOKEN = 'any';
const EVERY_DOCUMENT = `facets : "${ANY_TOKEN}"`;

/**
 * Full-text and filtered search over the catalog through a contentless FTS5 index kept as a cache:
 * triggers queue changed assets in `search_dirty`, {@link flushDirty} re-indexes them, and
 * {@link ensureFresh} rebuilds the whole index when its version differs or it is damaged.
 */
export class SearchRepo {
  private flushStatements: FlushStatements | null = null;
  private queryStatements: QueryStatements | null = null;
  private readonly searchStatements = new Map<string, Statement>();

  constructor(
    private readonly db: Database,
    private readonly library: LibraryRepo,
  ) {}

  /** Why the index cannot be used as it is (missing, another version, damaged), or null when it can. */
  staleReason(options: { thorough?: boolean } = {}): string | null {
    const version = this.library.getMeta(SEARCH_VERSION_KEY);
    if (version === undefined) return 'the search index has not been built yet';
    if (version !== SEARCH_INDEX_VERSION) return `the search index format changed (${version} → ${SEARCH_INDEX_VERSION})`;
    const present = new Set(
      (this.db.prepare('SELECT name FROM sqlite_schema WHERE name LIKE @pattern').all({ pattern: 'search_%' }) as Array<{ name: string }>).map(
        (row) => row.name,
      ),
    );
    const missing = INDEX_TABLES.filter((name) => !present.has(name));
    if (missing.length > 0) return `the search index is incomplete (${missing.join(', ')} missing)`;
    try {
      // Reading the newest document walks the structure record and a leaf of every segment: cheap, and it fails
      // on a lost or scrambled index. 'integrity-check' reads the whole index (seconds at 1M), so only on request.
      const newest = this.db.prepare('SELECT rowid FROM search_fts WHERE search_fts MATCH @match ORDER BY rowid DESC LIMIT 1').get({
        match: EVERY_DOCUMENT,
      });
      const anyDocument = this.db.prepare('SELECT 1 FROM search_docs LIMIT 1').get();
      if (newest === undefined && anyDocument !== undefined) return 'the search index lost its contents';
      if (options.thorough) this.db.prepare("INSERT INTO search_fts (search_fts) VALUES ('integrity-check')").run();
    } catch (error) {
      return `the search index is damaged (${error instanceof Error ? error.message : String(error)})`;
    }
    return null;
  }

  /** True when the index must be rebuilt before it can answer. */
  isStale(): boolean {
    return this.staleReason() !== null;
  }

  /** Rebuilds the index if it is stale (see {@link staleReason}); the rebuild only queues the work for {@link flushDirty}. */
  ensureFresh(options: { thorough?: boolean } = {}): IndexCheck {
    const reason = this.staleReason(options);
    if (reason === null) return { rebuilt: false, reason: null };
    this.rebuild();
    return { rebuilt: true, reason };
  }

  /** Drops and recreates the index tables and queues every asset; {@link flushDirty} then fills the index. */
  rebuild(): void {
    this.flushStatements = null;
    this.queryStatements = null;
    this.searchStatements.clear();
    this.db
      .transaction(() => {
        this.db.exec('DROP TABLE IF EXISTS search_fts; DROP TABLE IF EXISTS search_docs; DROP TABLE IF EXISTS search_terms;');
        this.db.exec(INDEX_DDL);
        this.db.exec('DELETE FROM search_dirty; INSERT INTO search_dirty (asset_id) SELECT id FROM assets;');
        this.library.setMeta(SEARCH_VERSION_KEY, SEARCH_INDEX_VERSION);
      })
      .immediate();
  }

  /** Number of assets waiting to be (re-)indexed. */
  pendingCount(): number {
    return (this.stmts().dirtyCount.get() as { n: number }).n;
  }

  /**
   * Re-indexes every queued asset (and drops the documents of deleted ones), `batchSize` per transaction so
   * other writers get their turn; returns how many were processed.
   */
  flushDirty(batchSize: number = FLUSH_BATCH): number {
    const size = Math.max(1, Math.floor(batchSize));
    let total = 0;
    for (;;) {
      const done = this.db.transaction(() => this.flushBatch(size)).immediate();
      total += done;
      if (done < size) return total;
    }
  }

  /**
   * One page of the assets matching `query`, newest first, with the cursor of the next page. Runs a single
   * statement: FTS5 ordered by its time key when the query has any text or filter, else the time index.
   */
  search(query: SearchQuery, options: SearchPageOptions): AssetPage {
    const plan = this.plan(query, options);
    if (plan === null) return { items: [], next: null };
    const rows = (plan.window && this.searchWindow(plan, options.after ?? null)) || (this.prepareSearch(plan.sql).all(plan.params) as AssetRow[]);
    const items = rows.slice(0, plan.limit).map(toAsset);
    const last = items.at(-1);
    return { items, next: rows.length > plan.limit && last ? { sortTime: last.sortTime, id: last.id } : null };
  }

  /**
   * True when the facet is on at least one asset in WINDOW_LIMIT / (limit + 1), so a scan along the time index
   * meets a page of them within about WINDOW_LIMIT rows. Counts stop at that share; max(id) stands for the
   * number of assets (never fewer, so deletions only make this answer no more often).
   */
  private isCommon(facet: { field: 'tag' | 'person' | 'event'; ids: number[] }, limit: number): boolean {
    const s = this.stmts();
    const assets = (s.maxId.get() as { id: number | null }).id ?? 0;
    const cap = Math.ceil((assets * (limit + 1)) / WINDOW_LIMIT);
    const count = s.facetCount[facet.field].get({ ids: JSON.stringify(facet.ids), cap }) as { n: number };
    return count.n >= cap;
  }

  /** True when fewer than WINDOW_LIMIT assets were captured in [from, to). */
  private narrowWindow(from: number, to: number): boolean {
    return (this.stmts().countTimes.get({ from, to, cap: WINDOW_LIMIT }) as { n: number }).n < WINDOW_LIMIT;
  }

  /**
   * The rows of an FTS search within a narrow date window, read forwards from the window's start, or null
   * when the window lies in the newer half of the library, where the newest-first plan steps over less.
   */
  private searchWindow(plan: SearchPlan, after: PageCursor | null): AssetRow[] | null {
    const window = plan.window!;
    const s = this.stmts();
    let upperKey = window.maxTime >= MAX_TIME ? MAX_KEY : window.maxTime * SLOTS;
    if (after) {
      const cursorKey = (s.docKey.get({ assetId: after.id }) as { key: number } | undefined)?.key ?? clampTime(after.sortTime) * SLOTS;
      upperKey = Math.min(upperKey, cursorKey);
    }
    // Which side of the window holds fewer postings, estimated from the time span (libraries grow steadily).
    const span = s.timeSpan.get() as { first: number | null; last: number | null };
    if (span.first === null || span.last === null) return null;
    const upperTime = Math.min(span.last, Math.ceil(upperKey / SLOTS));
    if (window.minTime - span.first >= span.last - upperTime) return null;

    const keys: number[] = [];
    // One statement, left as soon as a key passes the window: each statement seeks from the doclists' start.
    for (const key of s.forward.iterate({ match: window.match, from: window.minTime * SLOTS }) as IterableIterator<number>) {
      if (key >= upperKey) break;
      keys.push(key);
    }
    const rows: AssetRow[] = [];
    const statement = this.prepareSearch(`SELECT a.* FROM json_each(@keys) j
  CROSS JOIN search_docs d ON d.doc_key = j.value
  CROSS JOIN assets a ON a.id = d.asset_id
WHERE 1${window.extra}`);
    for (let end = keys.length; end > 0 && rows.length <= plan.limit; end -= WINDOW_CHUNK) {
      const chunk = keys.slice(Math.max(0, end - WINDOW_CHUNK), end).reverse();
      rows.push(...(statement.all({ ...window.extraParams, keys: JSON.stringify(chunk) }) as AssetRow[]));
    }
    return rows.slice(0, plan.limit + 1);
  }

  /** The query plan (EXPLAIN QUERY PLAN details) of the statement {@link search} would run, for tests and diagnosis. */
  explain(query: SearchQuery, options: SearchPageOptions): string[] {
    const plan = this.plan(query, options);
    if (plan === null) return [];
    return (this.db.prepare(`EXPLAIN QUERY PLAN ${plan.sql}`).all(plan.params) as Array<{ detail: string }>).map((row) => row.detail);
  }

  /** Tag, people and event names starting with `prefix` (any case), for completing `tag:`, `person:` and `event:`. */
  suggest(prefix: string, limit = 10): { tags: string[]; people: string[]; events: string[] } {
    const params = { prefix: prefix.trim(), limit: Math.max(1, Math.min(100, Math.floor(limit))) };
    const names = (table: 'tags' | 'people' | 'events'): string[] =>
      (
        this.db
          .prepare(
            `SELECT DISTINCT name FROM ${table} WHERE substr(name, 1, length(@prefix)) = @prefix COLLATE NOCASE ORDER BY name COLLATE NOCASE LIMIT @limit`,
          )
          .all(params) as Array<{ name: string }>
      ).map((row) => row.name);
    return { tags: names('tags'), people: names('people'), events: names('events') };
  }

  private stmts(): QueryStatements {
    // Prepared on first use, not in the constructor: the index tables may be missing until ensureFresh() runs.
    this.queryStatements ??= {
      dirtyCount: this.db.prepare('SELECT count(*) AS n FROM search_dirty'),
      expand: this.db.prepare('SELECT term FROM search_terms WHERE term >= @prefix AND term < @end ORDER BY term LIMIT @limit'),
      tagIds: this.db.prepare('SELECT id FROM tags WHERE name = @name COLLATE NOCASE'),
      personIds: this.db.prepare('SELECT id FROM people WHERE name = @name COLLATE NOCASE LIMIT @limit'),
      eventIds: this.db.prepare('SELECT id FROM events WHERE substr(name, 1, length(@prefix)) = @prefix COLLATE NOCASE LIMIT @limit'),
      docKey: this.db.prepare('SELECT doc_key AS key FROM search_docs WHERE asset_id = @assetId'),
      countTimes: this.db.prepare(
        'SELECT count(*) AS n FROM (SELECT 1 FROM assets INDEXED BY assets_time WHERE sort_time >= @from AND sort_time < @to LIMIT @cap)',
      ),
      // No upper bound: FTS5 does not stop at one but goes on to the end of its doclists; the caller stops.
      forward: this.db.prepare('SELECT rowid FROM search_fts WHERE search_fts MATCH @match AND rowid >= @from ORDER BY rowid ASC').pluck(),
      // Two subqueries: min() and max() in one SELECT would scan the table instead of reading the index's ends.
      maxId: this.db.prepare('SELECT max(id) AS id FROM assets'),
      facetCount: {
        tag: this.db.prepare('SELECT count(*) AS n FROM (SELECT 1 FROM asset_tags WHERE tag_id IN (SELECT value FROM json_each(@ids)) LIMIT @cap)'),
        person: this.db.prepare(
          'SELECT count(*) AS n FROM (SELECT 1 FROM asset_people WHERE person_id IN (SELECT value FROM json_each(@ids)) LIMIT @cap)',
        ),
        event: this.db.prepare(
          'SELECT count(*) AS n FROM (SELECT 1 FROM assets INDEXED BY assets_event_time WHERE event_id IN (SELECT value FROM json_each(@ids)) LIMIT @cap)',
        ),
      },
      timeSpan: this.db.prepare('SELECT (SELECT min(sort_time) FROM assets) AS first, (SELECT max(sort_time) FROM assets) AS last'),
    };
    return this.queryStatements;
  }

  private writer(): FlushStatements {
    this.flushStatements ??= this.prepareFlush();
    return this.flushStatements;
  }

  private prepareFlush(): FlushStatements {
    const db = this.db;
    db.exec(SCRATCH_DDL);
    return {
      batch: db.prepare(`
        SELECT q.asset_id, a.id AS present, d.doc_key AS old_key, a.sort_time, a.event_id, e.name AS event_name,
          a.title, a.description, a.original_name, a.path, a.camera_make, a.camera_model, a.lens,
          a.rating, a.flag, a.kind, a.status,
          (SELECT group_concat(t.name, char(10)) FROM asset_tags x JOIN tags t ON t.id = x.tag_id WHERE x.asset_id = q.asset_id) AS tag_names,
          (SELECT group_concat(x.tag_id, ' ') FROM asset_tags x WHERE x.asset_id = q.asset_id) AS tag_ids,
          (SELECT group_concat(p.name, char(10)) FROM asset_people x JOIN people p ON p.id = x.person_id WHERE x.asset_id = q.asset_id) AS people_names,
          (SELECT group_concat(x.person_id, ' ') FROM asset_people x WHERE x.asset_id = q.asset_id) AS person_ids
        FROM (SELECT asset_id FROM search_dirty ORDER BY asset_id LIMIT @limit) q
        LEFT JOIN assets a ON a.id = q.asset_id
        LEFT JOIN events e ON e.id = a.event_id
        LEFT JOIN search_docs d ON d.asset_id = q.asset_id`),
      ftsInsert: db.prepare(`
        INSERT INTO search_fts (rowid, event, title, description, tags, people, file_name, camera, facets)
        VALUES (@key, @event, @title, @description, @tags, @people, @fileName, @camera, @facets)`),
      ftsDelete: db.prepare('DELETE FROM search_fts WHERE rowid = @key'),
      docsInsert: db.prepare('INSERT INTO search_docs (doc_key, asset_id) VALUES (@key, @assetId)'),
      docsDelete: db.prepare('DELETE FROM search_docs WHERE doc_key = @key'),
      groupMax: db.prepare('SELECT max(doc_key) AS key FROM search_docs WHERE doc_key BETWEEN @low AND @high'),
      keyTaken: db.prepare('SELECT 1 FROM search_docs WHERE doc_key = @key'),
      dirtyDelete: db.prepare('DELETE FROM search_dirty WHERE asset_id = @assetId'),
      scratchInsert: db.prepare('INSERT INTO temp.search_scratch (text) VALUES (@text)'),
      scratchHarvest: db.prepare('INSERT OR IGNORE INTO search_terms (term) SELECT term FROM temp.search_scratch_vocab'),
      scratchClear: db.prepare("INSERT INTO temp.search_scratch (search_scratch) VALUES ('delete-all')"),
    };
  }

  private flushBatch(limit: number): number {
    const s = this.writer();
    const rows = s.batch.all({ limit }) as DocumentRow[];
    for (const row of rows) {
      const time = row.sort_time === null ? null : clampTime(row.sort_time);
      // A document whose capture time did not change keeps its key, so re-indexing never reorders ties.
      const keep = row.old_key !== null && time !== null && Math.floor(row.old_key / SLOTS) === time;
      if (row.old_key !== null) {
        s.ftsDelete.run({ key: row.old_key });
        if (!keep) s.docsDelete.run({ key: row.old_key });
      }
      if (row.present !== null && time !== null) {
        const key = keep ? row.old_key! : this.freeKey(time);
        const document = toDocument(row);
        s.ftsInsert.run({ key, ...document });
        if (!keep) s.docsInsert.run({ key, assetId: row.asset_id });
        s.scratchInsert.run({ text: textOf(document) });
      }
      s.dirtyDelete.run({ assetId: row.asset_id });
    }
    if (rows.length > 0) {
      s.scratchHarvest.run();
      s.scratchClear.run();
    }
    return rows.length;
  }

  /** The next free key of the millisecond `time`; past SLOTS ties, the first free key after it. */
  private freeKey(time: number): number {
    const s = this.writer();
    const low = time * SLOTS;
    const high = low + SLOTS - 1;
    const max = (s.groupMax.get({ low, high }) as { key: number | null }).key;
    if (max === null) return low;
    if (max < high) return max + 1;
    let key = low;
    while (s.keyTaken.get({ key }) !== undefined) key += 1;
    return key;
  }

  private plan(query: SearchQuery, options: SearchPageOptions): SearchPlan | null {
    const s = this.stmts();
    const limit = Math.max(1, Math.min(1000, Math.floor(options.limit)));
    const params: Record<string, unknown> = {};
    const positive: string[] = [];
    const negative: string[] = [];
    // Facet expressions are kept apart from text: facets alone never need the FTS index (see below).
    const facetsWanted: string[] = [];
    const facetsUnwanted: string[] = [];
    const checks: string[] = [];
    let ratingMin = 0;
    let ratingMax = 5;
    let minTime = -MAX_TIME;
    let maxTime = MAX_TIME;
    // Wanted tags, people and events with their ids: if one is common, a wide date window is scanned in SQL.
    const countable: Array<{ field: 'tag' | 'person' | 'event'; ids: number[] }> = [];
    let uncountable = 0;
    let counter = 0;
    const param = (value: unknown): string => {
      const name = `p${counter++}`;
      params[name] = value;
      return `@${name}`;
    };

    for (const clause of query.clauses) {
      switch (clause.field) {
        case 'text':
        case 'camera': {
          const columns = clause.field === 'text' ? TEXT_COLUMNS : 'camera';
          const prefix = clause.field === 'text' ? !clause.phrase : true;
          const expression = this.textExpression(clause.value, columns, prefix);
          if (expression === null) continue;
          (clause.negated ? negative : positive).push(expression);
          break;
        }
        case 'tag':
        case 'person': {
          const ids =
            clause.field === 'tag'
              ? (s.tagIds.all({ name: clause.value }) as Array<{ id: number }>)
              : (s.personIds.all({ name: clause.value, limit: FACET_ID_LIMIT }) as Array<{ id: number }>);
          if (ids.length === 0) {
            if (clause.negated) continue;
            return null;
          }
          (clause.negated ? facetsUnwanted : facetsWanted).push(facetExpression(ids.map((row) => `${clause.field === 'tag' ? 't' : 'p'}${row.id}`)));
          if (!clause.negated) countable.push({ field: clause.field, ids: ids.map((row) => row.id) });
          const [link, table, column] = clause.field === 'tag' ? ['asset_tags', 'tags', 'tag_id'] : ['asset_people', 'people', 'person_id'];
          checks.push(
            `${clause.negated ? 'NOT ' : ''}EXISTS (SELECT 1 FROM ${link} x JOIN ${table} n ON n.id = x.${column}` +
              ` WHERE x.asset_id = a.id AND n.name = ${param(clause.value)} COLLATE NOCASE)`,
          );
          break;
        }
        case 'event': {
          const ids = s.eventIds.all({ prefix: clause.value, limit: FACET_ID_LIMIT + 1 }) as Array<{ id: number }>;
          if (ids.length === 0) {
            if (clause.negated) continue;
            return null;
          }
          if (ids.length <= FACET_ID_LIMIT) {
            (clause.negated ? facetsUnwanted : facetsWanted).push(facetExpression(ids.map((row) => `e${row.id}`)));
            if (!clause.negated) countable.push({ field: 'event', ids: ids.map((row) => row.id) });
          }
          const events = `(SELECT id FROM events WHERE substr(name, 1, length(${param(clause.value)})) = ${param(clause.value)} COLLATE NOCASE)`;
          checks.push(clause.negated ? `(a.event_id IS NULL OR a.event_id NOT IN ${events})` : `a.event_id IN ${events}`);
          break;
        }
        case 'is': {
          const filter = IS_FILTERS[clause.value];
          const wanted = clause.negated === filter.inverted;
          (wanted ? facetsWanted : facetsUnwanted).push(facetExpression(filter.tokens));
          if (wanted) uncountable += 1;
          checks.push(`a.${filter.column} ${clause.negated ? 'NOT IN' : 'IN'} (${filter.values.map((value) => param(value)).join(', ')})`);
          break;
        }
        case 'rating':
          ratingMin = Math.max(ratingMin, clause.min);
          ratingMax = Math.min(ratingMax, clause.max);
          break;
        case 'date':
          if (clause.from !== null) minTime = Math.max(minTime, clause.from);
          if (clause.to !== null) maxTime = Math.min(maxTime, clause.to);
          break;
      }
    }
    if (ratingMin > ratingMax || minTime >= maxTime) return null;
    if (ratingMin > 0 || ratingMax < 5) {
      const stars = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, index) => `r${from + index}`);
      // Zero stars has no token: a range from 0 is "none of the higher ratings".
      if (ratingMin > 0) {
        facetsWanted.push(facetExpression(stars(ratingMin, ratingMax)));
        uncountable += 1;
      }
      else facetsUnwanted.push(facetExpression(stars(ratingMax + 1, 5)));
      checks.push(`a.rating BETWEEN ${param(ratingMin)} AND ${param(ratingMax)}`);
    }
    const after = options.after ?? null;
    const extra = checks.map((check) => `\n  AND ${check}`).join('');

    // Structured filters alone are checked in SQL along the time index: without a wanted token the index has
    // nothing selective to offer, and the checks hold for most rows, so the scan stops after about a page. With
    // a narrow date window that holds however selective the filters are: the scan never leaves the window.
    const textless = positive.length === 0 && negative.length === 0;
    const narrow = minTime > -MAX_TIME && this.narrowWindow(minTime, maxTime);
    // In a wide window, a common wanted tag, person or event (and no other wanted filter, whose frequency is
    // unknown) means a page is found within WINDOW_LIMIT rows of the time index, where FTS5 would step over all
    // its newer postings first.
    const common = textless && !narrow && minTime > -MAX_TIME && uncountable === 0 && countable.some((facet) => this.isCommon(facet, limit));
    positive.push(...facetsWanted);
    if (textless && (positive.length === 0 || narrow || common)) {
      Object.assign(params, {
        minTime,
        maxTime,
        afterTime: after ? after.sortTime : MAX_KEY,
        afterId: after ? after.id : MAX_KEY,
        limit: limit + 1,
      });
      const sql = `SELECT a.* FROM assets a INDEXED BY assets_time
WHERE a.sort_time >= @minTime AND a.sort_time < @maxTime
  AND (a.sort_time, a.id) < (@afterTime, @afterId)${extra}
ORDER BY a.sort_time DESC, a.id DESC
LIMIT @limit`;
      return { sql, params, limit, window: null };
    }

    negative.push(...facetsUnwanted);
    if (positive.length === 0) positive.push(EVERY_DOCUMENT);
    const match = `(${positive.join(') AND (')})${negative.map((expression) => ` NOT (${expression})`).join('')}`;
    const window = narrow ? { match, minTime, maxTime, extra, extraParams: { ...params } } : null;
    Object.assign(params, {
      match,
      minKey: minTime <= -MAX_TIME ? MIN_KEY : minTime * SLOTS,
      maxKey: maxTime >= MAX_TIME ? MAX_KEY : maxTime * SLOTS,
      afterId: after ? after.id : null,
      // Used only when the cursor's asset has left the index since: continue below its millisecond.
      afterKey: after ? clampTime(after.sortTime) * SLOTS : MAX_KEY,
      limit: limit + 1,
    });
    // CROSS JOIN pins the FTS table as the outer loop: its rowid order is the result order, so there is no sort.
    const sql = `SELECT a.* FROM search_fts
  CROSS JOIN search_docs d ON d.doc_key = search_fts.rowid
  CROSS JOIN assets a ON a.id = d.asset_id
WHERE search_fts MATCH @match
  AND search_fts.rowid >= @minKey
  AND search_fts.rowid < min(@maxKey, coalesce((SELECT doc_key FROM search_docs WHERE asset_id = @afterId), @afterKey))${extra}
ORDER BY search_fts.rowid DESC
LIMIT @limit`;
    return { sql, params, limit, window };
  }

  /**
   * The FTS5 expression of a free word or phrase in `columns`. Every token is re-quoted from its letters and
   * digits, so nothing the user types can act as FTS5 syntax. For a prefix, the last token is expanded to the
   * indexed terms it starts (see EXPANSION_LIMIT); a one-character last token is matched as a whole word, as
   * every term would match it.
   */
  private textExpression(text: string, columns: string, prefix: boolean): string | null {
    const tokens = tokenize(text);
    const last = tokens.at(-1);
    if (last === undefined) return null;
    const head = tokens.slice(0, -1);
    const phrase = (end: string, star = ''): string => `"${[...head, end].join(' ').replaceAll('"', '""')}"${star}`;
    if (!prefix || [...last].length < 2) return `${columns} : ${phrase(last)}`;
    const terms = (this.stmts().expand.all({ prefix: last, end: `${last}\u{10FFFF}`, limit: EXPANSION_LIMIT + 1 }) as Array<{ term: string }>).map(
      (row) => row.term,
    );
    // No known term: the tokenizers may disagree on an exotic script, so let FTS5 expand the prefix itself.
    if (terms.length === 0) return `${columns} : ${phrase(last, '*')}`;
    if (terms.length > EXPANSION_LIMIT) return `${columns} : ${phrase(last)}`;
    return `${columns} : (${terms.map((term) => phrase(term)).join(' OR ')})`;
  }

  private prepareSearch(sql: string): Statement {
    let statement = this.searchStatements.get(sql);
    if (!statement) {
      if (this.searchStatements.size >= STATEMENT_CACHE_LIMIT) this.searchStatements.clear();
      statement = this.db.prepare(sql);
      this.searchStatements.set(sql, statement);
    }
    return statement;
  }
}

/** The searchable text and facet tokens of one asset, one property per FTS column. */
interface SearchDocument {
  event: string;
  title: string;
  description: string;
  tags: string;
  people: string;
  fileName: string;
  camera: string;
  facets: string;
}

// Every searchable column of an asset must reach this document, and the trigger in migration 0002 must list it.
function toDocument(row: DocumentRow): SearchDocument {
  const baseName = row.path?.split(/[\\/]/).at(-1) ?? '';
  const fileNames = [row.original_name ?? '', baseName].filter((name, index, all) => name !== '' && all.indexOf(name) === index);
  const ids = (list: string | null, letter: string): string[] => (list ? list.split(' ').map((id) => `${letter}${id}`) : []);
  const facets = [
    ANY_TOKEN,
    ...(row.event_id === null ? [] : [`e${row.event_id}`]),
    ...ids(row.tag_ids, 't'),
    ...ids(row.person_ids, 'p'),
    ...(row.rating === null || row.rating === MAJORITY.rating ? [] : [`r${row.rating}`]),
    ...(row.flag === null || row.flag === MAJORITY.flag ? [] : [`f${row.flag}`]),
    ...(row.kind === null || row.kind === MAJORITY.kind ? [] : [`k${row.kind}`]),
    ...(row.status === null || row.status === MAJORITY.status ? [] : [`s${row.status}`]),
  ];
  return {
    event: row.event_name ?? '',
    title: row.title ?? '',
    description: row.description ?? '',
    tags: row.tag_names ?? '',
    people: row.people_names ?? '',
    fileName: fileNames.join(' '),
    camera: [row.camera_make, row.camera_model, row.lens].filter((part) => part).join(' '),
    facets: facets.join(' '),
  };
}

function textOf(document: SearchDocument): string {
  return [document.event, document.title, document.description, document.tags, document.people, document.fileName, document.camera].join('\n');
}

/** `facets : ("a" OR "b")` for facet tokens (letters and digits only, made here). */
function facetExpression(tokens: string[]): string {
  return `facets : (${tokens.map((token) => `"${token}"`).join(' OR ')})`;
}

/**
 * Splits text into terms as FTS5's unicode61 tokenizer with remove_diacritics 2 does: Latin diacritics
 * (U+0300–U+036F once decomposed) dropped, case folded, letters, digits and private-use characters kept and
 * everything else, other combining marks included, a separator.
 */
export function tokenize(text: string): string[] {
  const folded = text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').normalize('NFC').toLowerCase();
  return folded.split(/[^\p{L}\p{N}\p{Co}]+/u).filter((token) => token !== '');
}

function clampTime(time: number): number {
  return Math.max(-MAX_TIME, Math.min(MAX_TIME, Math.round(time)));
}

