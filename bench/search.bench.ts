import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { catalogPath, KEEPSAKE_DIR } from '../app/catalog/database.ts';
import { seededRandom } from '../app/shared/random.ts';
import { ensureSyntheticLibrary, type SyntheticLibrary } from './catalog.bench.ts';
import { checkRow, compareRow, formatBytes, runNodeChild, type BenchOptions, type BenchReport, type ResultRow } from './lib/harness.ts';
import type { QuerySample, SearchChildPlan, SearchChildResult } from './search.child.ts';

const CHILD = new URL('./search.child.ts', import.meta.url).pathname;
const P95_TARGET_MS = 20;
const MEMORY_TARGET_BYTES = 300 * 1024 * 1024;
const PAGE = 100;

/** How each kind of query is drawn: varied per sample, so no run repeats one query and its pages. */
type Draw = (rnd: () => number) => QuerySample;

function quoted(text: string): string {
  return /\s/.test(text) ? `"${text}"` : text;
}

function kinds(library: SyntheticLibrary): Array<{ kind: string; draw: Draw }> {
  const pick = <T>(list: readonly T[], rnd: () => number, from = 0, to = list.length): T => list[from + Math.floor(rnd() * (to - from))]!;
  const month = (rnd: () => number): string => {
    const time = library.firstTime + rnd() * (library.lastTime - library.firstTime);
    return new Date(time).toISOString().slice(0, 7);
  };
  const eventWord = (rnd: () => number): string => pick(library.eventNames, rnd).split(' ')[0]!.toLowerCase();
  return [
    { kind: 'common tag', draw: (rnd) => { const tag = pick(library.tags, rnd, 0, 5); return { ours: `tag:${quoted(tag)}`, reference: tag }; } },
    { kind: 'rare tag', draw: (rnd) => { const tag = pick(library.tags, rnd, 100); return { ours: `tag:${quoted(tag)}`, reference: tag }; } },
    { kind: 'person "First Last"', draw: (rnd) => { const name = pick(library.people, rnd); return { ours: `person:"${name}"`, reference: name }; } },
    { kind: 'common word', draw: (rnd) => { const word = pick(library.words, rnd, 0, 50); return { ours: word, reference: word }; } },
    { kind: 'rare word', draw: (rnd) => { const word = pick(library.words, rnd, 5000); return { ours: word, reference: word }; } },
    {
      kind: 'prefix (3 letters)',
      draw: (rnd) => {
        const prefix = rnd() < 0.2 ? 'abc' : pick(library.words, rnd, 0, 2000).slice(0, 3);
        return { ours: prefix, reference: prefix };
      },
    },
    { kind: 'tag + event word', draw: (rnd) => { const text = `${pick(library.tags, rnd, 0, 30)} ${eventWord(rnd)}`; return { ours: text, reference: text }; } },
    { kind: 'phrase', draw: (rnd) => { const text = pick(library.eventNames, rnd).split(' ').slice(0, 2).join(' '); return { ours: `"${text}"`, reference: text }; } },
    { kind: 'rating>=4', draw: (rnd) => ({ ours: rnd() < 0.5 ? 'rating>=4' : 'rating=5', reference: null }) },
    { kind: 'is:video / is:pick', draw: (rnd) => ({ ours: rnd() < 0.5 ? 'is:video' : 'is:pick rating>=3', reference: null }) },
    { kind: 'date month', draw: (rnd) => ({ ours: `date:${month(rnd)}`, reference: null }) },
    { kind: 'date month + common tag', draw: (rnd) => ({ ours: `date:${month(rnd)} tag:${quoted(pick(library.tags, rnd, 0, 5))}`, reference: null }) },
    { kind: 'date month + common word', draw: (rnd) => ({ ours: `date:${month(rnd)} ${pick(library.words, rnd, 0, 20)}`, reference: null }) },
    {
      kind: 'date year + common tag',
      draw: (rnd) => ({ ours: `date:${month(rnd).slice(0, 4)} tag:${quoted(pick(library.tags, rnd, 0, 5))}`, reference: null }),
    },
    { kind: 'camera:', draw: (rnd) => ({ ours: `camera:${pick(['nikon', 'canon', 'sony', 'iphone', 'fujifilm'], rnd)}`, reference: null }) },
    { kind: 'event: prefix', draw: (rnd) => ({ ours: `event:"${pick(library.eventNames, rnd).split(' ').slice(0, 2).join(' ')}"`, reference: null }) },
    {
      kind: 'brief example (6 clauses)',
      draw: (rnd) => ({
        ours: `${eventWord(rnd)} tag:${quoted(pick(library.tags, rnd, 0, 10))} person:"${pick(library.people, rnd)}" rating>=4 is:video date:${month(rnd)}`,
        reference: null,
      }),
    },
    { kind: 'negation', draw: (rnd) => ({ ours: `tag:${quoted(pick(library.tags, rnd, 0, 5))} -is:reject -tag:portrait`, reference: null }) },
    { kind: 'everything (timeline)', draw: () => ({ ours: '', reference: null }) },
  ];
}

function plan(library: SyntheticLibrary, samples: number, warmup: number): SearchChildPlan {
  const rnd = seededRandom(library.assets);
  return {
    limit: PAGE,
    warmup,
    kinds: kinds(library).map(({ kind, draw }) => ({ kind, samples: Array.from({ length: samples + warmup }, () => draw(rnd)) })),
  };
}

function label(count: number): string {
  return count >= 1_000_000 ? `${count / 1_000_000}M` : `${count / 1000}k`;
}

/**
 * Search over synthetic libraries of 100,000 and 1,000,000 assets (`--quick`: 20,000): Keepsake's FTS5 index in
 * the catalog beside flexsearch's in-memory `forward` index over the same text, each in its own process.
 */
export async function run(options: BenchOptions): Promise<BenchReport> {
  const sizes = options.quick ? [20_000] : [100_000, 1_000_000];
  const samples = options.quick ? 60 : 300;
  const warmup = options.quick ? 5 : 20;
  const rows: ResultRow[] = [];
  const details: Record<string, unknown> = {};
  for (const count of sizes) {
    const library = await ensureSyntheticLibrary({ count, benchDir: options.benchDir, log: options.log });
    const scratch = path.join(options.benchDir, 'scratch', `search-${count}`);
    await rm(scratch, { recursive: true, force: true });
    await mkdir(path.join(scratch, KEEPSAKE_DIR), { recursive: true });
    await copyFile(catalogPath(library.root), catalogPath(scratch));
    const planFile = path.join(scratch, 'plan.json');
    const queries = plan(library, samples, warmup);
    await writeFile(planFile, JSON.stringify(queries));

    options.log(`search ${label(count)}: building Keepsake's index and querying (${samples} samples per kind)`);
    const ours = await runNodeChild<SearchChildResult>(CHILD, ['ours', scratch, planFile]);
    options.log(`search ${label(count)}: building flexsearch's index and querying`);
    const reference = await runNodeChild<SearchChildResult>(CHILD, ['reference', library.root, planFile]);
    await rm(scratch, { recursive: true, force: true });

    const size = label(count);
    const atScale = count >= 1_000_000;
    const o = ours.result;
    const r = reference.result;
    rows.push(
      compareRow({ what: `index build, ${size}`, unit: 's', ours: o.buildSeconds, reference: r.buildSeconds, better: 'lower' }),
      compareRow({
        what: `start-up to first answer, ${size}`,
        unit: 's',
        ours: o.startupSeconds,
        reference: r.startupSeconds,
        better: 'lower',
        note: 'ours: open the catalog and answer a query from the persisted index; flexsearch: load the documents and build in memory',
      }),
      {
        ...compareRow({ what: `index memory (RSS growth), ${size}`, unit: 'MiB', ours: o.rssGrowthBytes / 2 ** 20, reference: r.rssGrowthBytes / 2 ** 20, better: 'lower' }),
        target: atScale ? '< 300 MiB' : '–',
        pass: atScale ? o.rssGrowthBytes < MEMORY_TARGET_BYTES : null,
        note: `peak RSS of the process: ours ${formatBytes(ours.peakRssBytes)}, flexsearch ${formatBytes(reference.peakRssBytes)}`,
      },
      checkRow({ what: `index on disk, ${size}`, unit: 'MiB', ours: (o.indexBytes ?? 0) / 2 ** 20, target: '–', pass: null, note: 'growth of catalog.db' }),
    );
    for (const { kind } of queries.kinds) {
      const stats = o.latencies[kind]!;
      const ref = r.latencies[kind] ?? null;
      rows.push({
        ...compareRow({ what: `${kind}, ${size} p95`, unit: 'ms', ours: stats.p95, reference: ref?.p95 ?? null, better: 'lower' }),
        target: atScale ? `< ${P95_TARGET_MS} ms` : '–',
        pass: atScale ? stats.p95 < P95_TARGET_MS : null,
        note: `p50 ${stats.p50.toFixed(2)} / p99 ${stats.p99.toFixed(2)} ms; first sample: ${o.firstCounts[kind] ?? 0} hits` +
          (ref ? `; flexsearch p50 ${ref.p50.toFixed(2)} ms, first sample ${r.firstCounts[kind] ?? 0} hits` : '; flexsearch: no equivalent (structured filter)'),
      });
    }
    details[size] = { ours: o, reference: r, oursPeakRss: ours.peakRssBytes, referencePeakRss: reference.peakRssBytes, firstQueries: queries.kinds.map((k) => ({ kind: k.kind, query: k.samples[0] })) };
  }
  return { name: 'search', rows, cachesDropped: null, details };
}
