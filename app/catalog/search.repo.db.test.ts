import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseQuery } from '../search/query-parser.ts';
import type { Asset } from '../shared/domain.ts';
import type { AssetId, ContentHash } from '../shared/ids.ts';
import type { NewAsset } from './assets.repo.ts';
import { Catalog } from './catalog.ts';
import { SearchRepo, tokenize } from './search.repo.ts';

let dir: string;
let catalog: Catalog;
let made = 0;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'keepsake-search-repo-'));
  catalog = Catalog.open(dir);
  catalog.search.ensureFresh();
});
afterEach(async () => {
  catalog.close();
  await rm(dir, { recursive: true, force: true });
});

function addAsset(fields: Partial<NewAsset> = {}): Asset {
  made += 1;
  return catalog.assets.insert({
    hash: `h${made}` as ContentHash,
    eventId: null,
    path: `p/${made}.jpg`,
    originalName: `F${made}.JPG`,
    size: 1,
    mtimeMs: 0,
    kind: 'photo',
    mime: 'image/jpeg',
    sortTime: Date.UTC(2026, 4, 14) + made * 1000,
    ...fields,
  });
}

function search(text: string, limit = 100): AssetId[] {
  catalog.search.flushDirty();
  return catalog.search.search(parseQuery(text), { limit }).items.map((asset) => asset.id);
}

function plan(text: string): string {
  catalog.search.flushDirty();
  return catalog.search.explain(parseQuery(text), { limit: 100, after: { sortTime: Date.UTC(2026, 4, 15), id: 50 } }).join('\n');
}

/** A few hundred assets with tags, people and events, analysed, so the planner sees realistic statistics. */
function populate(): void {
  const events = [catalog.events.create({ name: 'Sports Day', folder: 'a' }).id, catalog.events.create({ name: 'Concert', folder: 'b' }).id];
  const ana = catalog.people.upsert({ name: 'Ana Lima' }).person.id;
  for (let i = 0; i < 400; i++) {
    const asset = addAsset({ eventId: events[i % 2]!, title: i % 3 === 0 ? 'relay final' : 'portrait', rating: i % 6, flag: i % 4 === 0 ? 'pick' : 'none' });
    catalog.tags.tagAsset(asset.id, i % 5 === 0 ? ['final', 'team'] : ['team']);
    if (i % 7 === 0) catalog.people.tagAsset(asset.id, ana);
  }
  catalog.db.exec('ANALYZE');
}

describe(SearchRepo.name, () => {
  it('queues every asset and indexes the queue on flush', () => {
    addAsset({ title: 'relay' });
    addAsset({ title: 'relay' });
    expect(catalog.search.pendingCount()).toBe(2);
    expect(catalog.search.flushDirty(1)).toBe(2);
    expect(catalog.search.pendingCount()).toBe(0);
    expect(catalog.db.prepare('SELECT count(*) AS n FROM search_docs').get()).toEqual({ n: 2 });
  });

  it('builds the index at first use and reports why', () => {
    catalog.close();
    catalog = Catalog.open(dir);
    expect(catalog.search.ensureFresh()).toEqual({ rebuilt: false, reason: null });
    catalog.library.setMeta('search_version', 'old');
    expect(catalog.search.isStale()).toBe(true);
    expect(catalog.search.ensureFresh()).toEqual({ rebuilt: true, reason: 'the search index format changed (old → 1)' });
    expect(catalog.search.isStale()).toBe(false);
  });

  it('drops the document of a deleted asset', () => {
    const kept = addAsset({ title: 'relay' });
    const gone = addAsset({ title: 'relay' });
    expect(search('relay')).toEqual([gone.id, kept.id]);
    catalog.db.prepare('DELETE FROM assets WHERE id = @id').run({ id: gone.id });
    expect(search('relay')).toEqual([kept.id]);
    expect(catalog.db.prepare('SELECT asset_id FROM search_docs').all()).toEqual([{ asset_id: kept.id }]);
  });

  it('plans words and filters as one walk down the FTS index in time order, with no sort', () => {
    populate();
    for (const text of ['relay', 'relay tag:final', 'tag:team', 'person:"Ana Lima" rating>=4', 'rating>=4 is:pick', 'relay event:sports date:2026', '-relay']) {
      const detail = plan(text);
      expect(detail, text).toMatch(/^SCAN search_fts VIRTUAL TABLE INDEX \d+:M/m);
      expect(detail, text).toMatch(/SEARCH d USING INTEGER PRIMARY KEY \(rowid=\?\)/);
      expect(detail, text).toMatch(/SEARCH a USING INTEGER PRIMARY KEY \(rowid=\?\)/);
      expect(detail, text).not.toMatch(/TEMP B-TREE/);
    }
  });

  it('plans dates and majority-value filters, and any filters within a narrow date window, as a backwards range of the time index, with no sort', () => {
    populate();
    for (const text of ['', 'date:2026-05', 'is:photo rating<=3', '-tag:final date:2026', 'event:sports date:2026', 'tag:team person:"Ana Lima" date:2026-05']) {
      const detail = plan(text);
      expect(detail, text).toMatch(/^SEARCH a USING INDEX assets_time \(/m);
      expect(detail, text).not.toMatch(/search_fts|TEMP B-TREE/);
    }
  });

  it('finds the same assets in a date window far in the past as a full scan would, page by page', () => {
    // Four years of a tag common everywhere: a window in the oldest year is read forwards from its start.
    const events = [catalog.events.create({ name: 'Sports Day', folder: 'a' }).id, catalog.events.create({ name: 'Concert', folder: 'b' }).id];
    for (let i = 0; i < 1200; i++) {
      const asset = addAsset({
        eventId: events[i % 2]!,
        sortTime: Date.UTC(2022, 0, 1) + Math.floor(i / 3) * 3 * 86_400_000 + (i % 3) * 1000,
        title: i % 2 === 0 ? 'relay final' : 'portrait',
        rating: i % 6,
      });
      catalog.tags.tagAsset(asset.id, i % 3 === 0 ? ['final', 'team'] : ['team']);
    }
    catalog.db.exec('ANALYZE');
    const from = Date.UTC(2022, 2, 1);
    const to = Date.UTC(2022, 5, 1);
    const expected = (where: string): number[] =>
      (
        catalog.db
          .prepare(`SELECT a.id FROM assets a WHERE a.sort_time >= @from AND a.sort_time < @to AND ${where} ORDER BY a.sort_time DESC, a.id DESC`)
          .all({ from, to }) as Array<{ id: number }>
      ).map((row) => row.id);
    const titled = "a.title LIKE '%relay%'";
    const tagged = (name: string): string => `EXISTS (SELECT 1 FROM asset_tags x JOIN tags t ON t.id = x.tag_id WHERE x.asset_id = a.id AND t.name = '${name}')`;
    const cases: Array<[string, string]> = [
      ['relay date:2022-03-01..2022-05-31', titled],
      ['relay tag:final date:2022-03-01..2022-05-31', `${titled} AND ${tagged('final')}`],
      ['tag:team date:2022-03-01..2022-05-31', tagged('team')],
      ['relay -tag:final rating>=2 date:2022-03-01..2022-05-31', `${titled} AND NOT ${tagged('final')} AND a.rating >= 2`],
    ];
    catalog.search.flushDirty();
    for (const [text, where] of cases) {
      const want = expected(where);
      expect(want.length, text).toBeGreaterThan(10);
      const got: number[] = [];
      let after = null;
      do {
        const page = catalog.search.search(parseQuery(text), { limit: 7, after });
        got.push(...page.items.map((asset) => asset.id));
        after = page.next;
      } while (after);
      expect(got, text).toEqual(want);
    }
  });

  it('scans a wide date window along the time index for a common tag, and through the FTS index for a rare one', () => {
    // A window wider than the FTS path's limit (20,000 assets), the whole library here.
    catalog.transaction(() => {
      for (let i = 0; i < 20_500; i++) {
        const asset = addAsset({ sortTime: Date.UTC(2023, 0, 1) + i * 60_000 });
        catalog.tags.tagAsset(asset.id, i % 500 === 0 ? ['rare', 'common'] : i % 3 === 0 ? ['common'] : []);
      }
    });
    catalog.db.exec('ANALYZE');
    const window = 'date:2023-01-01..2023-12-31';
    expect(plan(`tag:common ${window}`)).toMatch(/^SEARCH a USING INDEX assets_time \(/m);
    expect(plan(`tag:rare ${window}`)).toMatch(/^SCAN search_fts VIRTUAL TABLE/m);
    expect(plan(`tag:common is:pick ${window}`), 'a wanted flag of unknown frequency').toMatch(/^SCAN search_fts VIRTUAL TABLE/m);
    const newest = (name: string): number[] =>
      (
        catalog.db
          .prepare(
            'SELECT a.id FROM assets a JOIN asset_tags x ON x.asset_id = a.id JOIN tags t ON t.id = x.tag_id WHERE t.name = @name ORDER BY a.sort_time DESC LIMIT 30',
          )
          .all({ name }) as Array<{ id: number }>
      ).map((row) => row.id);
    expect(search(`tag:common ${window}`, 30)).toEqual(newest('common'));
    expect(search(`tag:rare ${window}`, 30)).toEqual(newest('rare'));
  });

  it('orders assets of the same millisecond by id, newest first', () => {
    const time = Date.UTC(2026, 4, 14, 12);
    const burst = Array.from({ length: 5 }, () => addAsset({ title: 'burst', sortTime: time }));
    const later = addAsset({ title: 'burst', sortTime: time + 1 });
    expect(search('burst')).toEqual([later.id, ...burst.map((asset) => asset.id).reverse()]);
  });

  it('keeps an asset in its place among ties when it is re-indexed', () => {
    const time = Date.UTC(2026, 4, 14, 12);
    const burst = Array.from({ length: 3 }, () => addAsset({ title: 'burst', sortTime: time }));
    const order = search('burst');
    catalog.assets.setCulling(burst[0]!.id, { rating: 5 });
    catalog.assets.setText(burst[0]!.id, { title: 'burst winner' });
    expect(search('burst')).toEqual(order);
  });

  it('gives distinct keys to more assets than a millisecond has slots', () => {
    const time = Date.UTC(2026, 4, 14, 12);
    const ties = Array.from({ length: 70 }, () => addAsset({ title: 'tie', sortTime: time }));
    const seen: AssetId[] = [];
    catalog.search.flushDirty();
    let after = null;
    do {
      const page = catalog.search.search(parseQuery('tie'), { limit: 9, after });
      seen.push(...page.items.map((asset) => asset.id));
      after = page.next;
    } while (after);
    expect([...seen].sort((a, b) => a - b)).toEqual(ties.map((asset) => asset.id));
    expect(new Set(seen).size).toBe(70);
  });

  it('moves an asset when its capture time changes', () => {
    const early = addAsset({ title: 'relay', sortTime: Date.UTC(2026, 0, 1) });
    const late = addAsset({ title: 'relay', sortTime: Date.UTC(2026, 5, 1) });
    expect(search('relay')).toEqual([late.id, early.id]);
    catalog.db.prepare('UPDATE assets SET sort_time = @time WHERE id = @id').run({ id: early.id, time: Date.UTC(2026, 11, 1) });
    expect(search('relay')).toEqual([early.id, late.id]);
    expect(search('relay date:2026-12')).toEqual([early.id]);
  });

  it('expands a prefix to the indexed words it starts', () => {
    const relay = addAsset({ title: 'relay' });
    const relic = addAsset({ title: 'relic' });
    addAsset({ title: 'reef' });
    expect(search('rel')).toEqual([relic.id, relay.id]);
    expect(search('reli')).toEqual([relic.id]);
    expect(search('tag rel')).toEqual([]);
  });

  it('matches a prefix of more than 512 indexed words as the word itself', () => {
    const words = Array.from({ length: 520 }, (_, index) => `qx${index.toString(36)}a`);
    catalog.transaction(() => {
      for (const word of words) addAsset({ title: word });
    });
    const exact = addAsset({ title: 'qx' });
    expect(search('qx')).toEqual([exact.id]);
    expect(search('qx1')).toHaveLength(words.filter((word) => word.startsWith('qx1')).length);
  });

  it('keeps a one-letter word whole', () => {
    const a = addAsset({ title: 'a' });
    addAsset({ title: 'apple' });
    expect(search('a')).toEqual([a.id]);
  });

  it('matches diacritics and case loosely, as the tokenizer folds them', () => {
    const jose = addAsset({ title: 'José Ñúñez' });
    expect(search('jose')).toEqual([jose.id]);
    expect(search('NUNEZ')).toEqual([jose.id]);
    expect(search('"josé ñúñez"')).toEqual([jose.id]);
  });

  it('suggests names by prefix in any case', () => {
    populate();
    expect(catalog.search.suggest('TE')).toEqual({ tags: ['team'], people: [], events: [] });
    expect(catalog.search.suggest('c', 1)).toEqual({ tags: [], people: [], events: ['Concert'] });
  });
});

describe(tokenize.name, () => {
  it('splits and folds text exactly as the FTS5 unicode61 tokenizer does', () => {
    const text = "e\u0301cole École naïve Ærø straße İstanbul हिन्दी 日本語テキスト O'Brien t-shirt a_b 3.14 ½ ① IMG_4821.JPG";
    catalog.db.exec(`
      CREATE VIRTUAL TABLE temp.probe USING fts5 (text, tokenize = 'unicode61 remove_diacritics 2');
      CREATE VIRTUAL TABLE temp.probe_terms USING fts5vocab (temp, probe, instance);`);
    catalog.db.prepare('INSERT INTO temp.probe (text) VALUES (@text)').run({ text });
    const fts = (catalog.db.prepare('SELECT term FROM temp.probe_terms ORDER BY offset').all() as Array<{ term: string }>).map((row) => row.term);
    expect(tokenize(text)).toEqual(fts);
  });
});
