import { readFile, stat } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { Index } from 'flexsearch';
import { Catalog } from '../app/catalog/catalog.ts';
import { catalogPath } from '../app/catalog/database.ts';
import { SearchService } from '../app/search/search.service.ts';
import { reportToParent, summarize, type SampleStats } from './lib/harness.ts';

/** One kind of query: `ours` in Keepsake's query language, `reference` the same words for flexsearch (null: it has no equivalent). */
export interface QuerySample {
  ours: string;
  reference: string | null;
}

/** What the bench asks a child to do: every kind of query with the samples to run, in order. */
export interface SearchChildPlan {
  kinds: Array<{ kind: string; samples: QuerySample[] }>;
  limit: number;
  warmup: number;
}

/** What a child reports. */
export interface SearchChildResult {
  buildSeconds: number;
  /** Opening the library and answering a first query with the index already built (ours), or loading the documents and building (reference). */
  startupSeconds: number;
  indexBytes: number | null;
  /** RSS growth from before the index was touched to after all queries. */
  rssGrowthBytes: number;
  latencies: Record<string, SampleStats>;
  /** Results of the first sample of each kind, so the parent can check both sides find things. */
  firstCounts: Record<string, number>;
}

const [mode, libraryRoot, planJson] = process.argv.slice(2);

function rss(): number {
  return process.memoryUsage.rss();
}

function sampleAll(plan: SearchChildPlan, runQuery: (sample: QuerySample) => number | null): Pick<SearchChildResult, 'latencies' | 'firstCounts'> {
  const latencies: Record<string, SampleStats> = {};
  const firstCounts: Record<string, number> = {};
  for (const { kind, samples } of plan.kinds) {
    if (samples[0]?.reference === null && mode === 'reference') continue;
    const times: number[] = [];
    samples.forEach((sample, index) => {
      const start = process.hrtime.bigint();
      const count = runQuery(sample);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (index === 0 && count !== null) firstCounts[kind] = count;
      if (index >= plan.warmup) times.push(ms);
    });
    latencies[kind] = summarize(times);
  }
  return { latencies, firstCounts };
}

/** Builds Keepsake's FTS5 index in a catalog copy that has none, then reopens it as the app would and queries it. */
async function ours(plan: SearchChildPlan): Promise<SearchChildResult> {
  const file = catalogPath(libraryRoot!);
  const before = (await stat(file)).size;
  const rssBefore = rss();
  let catalog = Catalog.open(libraryRoot!, { create: false });
  const buildStart = process.hrtime.bigint();
  catalog.search.rebuild();
  catalog.search.flushDirty();
  catalog.db.pragma('wal_checkpoint(TRUNCATE)');
  const buildSeconds = Number(process.hrtime.bigint() - buildStart) / 1e9;
  catalog.close();
  const indexBytes = (await stat(file)).size - before;

  const startupStart = process.hrtime.bigint();
  catalog = Catalog.open(libraryRoot!, { create: false });
  const service = new SearchService({ catalog });
  service.search('team', { limit: plan.limit });
  const startupSeconds = Number(process.hrtime.bigint() - startupStart) / 1e9;
  try {
    const measured = sampleAll(plan, (sample) => service.search(sample.ours, { limit: plan.limit }).items.length);
    return { buildSeconds, startupSeconds, indexBytes, rssGrowthBytes: rss() - rssBefore, ...measured };
  } finally {
    catalog.close();
  }
}

/** The reference: flexsearch's in-memory `forward` index over the same searchable text, built from the catalog. */
async function reference(plan: SearchChildPlan): Promise<SearchChildResult> {
  const rssBefore = rss();
  const startupStart = process.hrtime.bigint();
  const db = new Database(catalogPath(libraryRoot!), { readonly: true });
  const rows = db
    .prepare(
      `SELECT a.id, concat_ws(' ', e.name, a.title, a.description, a.original_name, a.camera_make, a.camera_model, a.lens,
         (SELECT group_concat(t.name, ' ') FROM asset_tags x JOIN tags t ON t.id = x.tag_id WHERE x.asset_id = a.id),
         (SELECT group_concat(p.name, ' ') FROM asset_people x JOIN people p ON p.id = x.person_id WHERE x.asset_id = a.id)) AS text
       FROM assets a LEFT JOIN events e ON e.id = a.event_id`,
    )
    .iterate() as IterableIterator<{ id: number; text: string }>;
  const index = new Index({ tokenize: 'forward' });
  const buildStart = process.hrtime.bigint();
  for (const row of rows) index.add(row.id, row.text);
  const buildSeconds = Number(process.hrtime.bigint() - buildStart) / 1e9;
  const startupSeconds = Number(process.hrtime.bigint() - startupStart) / 1e9;
  // Like ours, a search is done when the grid has its rows: the ids flexsearch returns are read from the catalog.
  const fetchRows = db.prepare('SELECT a.* FROM json_each(@ids) j JOIN assets a ON a.id = j.value');
  try {
    const measured = sampleAll(plan, (sample) => {
      if (sample.reference === null) return null;
      const ids = index.search(sample.reference, { limit: plan.limit }) as number[];
      return fetchRows.all({ ids: JSON.stringify(ids) }).length;
    });
    return { buildSeconds, startupSeconds, indexBytes: null, rssGrowthBytes: rss() - rssBefore, ...measured };
  } finally {
    db.close();
  }
}

await reportToParent(async (): Promise<SearchChildResult> => {
  if (!libraryRoot || !planJson || (mode !== 'ours' && mode !== 'reference')) {
    throw new Error('usage: search.child.ts ours|reference <libraryRoot> <plan.json>');
  }
  const plan = JSON.parse(await readFile(planJson, 'utf8')) as SearchChildPlan;
  return mode === 'ours' ? ours(plan) : reference(plan);
});
