import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewAsset } from '../catalog/assets.repo.ts';
import { Catalog } from '../catalog/catalog.ts';
import { SEARCH_VERSION_KEY } from '../catalog/search.repo.ts';
import type { Asset } from '../shared/domain.ts';
import { AppError } from '../shared/errors.ts';
import type { AssetId, ContentHash, EventId } from '../shared/ids.ts';
import { SearchService } from './search.service.ts';

let dir: string;
let catalog: Catalog;
let service: SearchService;
let hashes = 0;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'keepsake-search-'));
  catalog = Catalog.open(dir);
  service = new SearchService({ catalog });
});
afterEach(async () => {
  catalog.close();
  await rm(dir, { recursive: true, force: true });
});

function reopen(): void {
  catalog.close();
  catalog = Catalog.open(dir);
  service = new SearchService({ catalog });
}

function addAsset(fields: Partial<NewAsset> = {}): Asset {
  hashes += 1;
  return catalog.assets.insert({
    hash: `hash${hashes}` as ContentHash,
    eventId: null,
    path: `misc/file-${hashes}.jpg`,
    originalName: `FILE${hashes}.JPG`,
    size: 1000,
    mtimeMs: 0,
    kind: 'photo',
    mime: 'image/jpeg',
    sortTime: Date.UTC(2026, 4, 14, 10, 0, 0) + hashes * 1000,
    ...fields,
  });
}

function ids(text: string, limit = 100): AssetId[] {
  return service.search(text, { limit }).items.map((asset) => asset.id);
}

/** A little library: the relay photo carries every searchable field, the others are decoys. */
function library(): { relay: Asset; choir: Asset; video: Asset; sportsDay: EventId } {
  const sportsDay = catalog.events.create({ name: 'Sports Day 2026', folder: 'events/sports-day' }).id;
  const concert = catalog.events.create({ name: 'Spring Concert', folder: 'events/spring-concert' }).id;
  const relay = addAsset({
    eventId: sportsDay,
    path: 'events/sports-day/20260514-sports-day-0001.jpg',
    originalName: 'IMG_4821.JPG',
    title: 'Relay final',
    description: 'Last leg of the under 11 relay, photo finish',
    cameraMake: 'Canon',
    cameraModel: 'Canon EOS R5',
    lens: 'RF24-70mm F2.8',
    rating: 4,
    flag: 'pick',
    sortTime: Date.UTC(2026, 4, 14, 10, 30),
  });
  catalog.tags.tagAsset(relay.id, ['final', 'under 11']);
  catalog.people.tagAsset(relay.id, catalog.people.upsert({ name: 'Ana Lima', classGroup: '4B' }).person.id);
  const choir = addAsset({
    eventId: concert,
    path: 'events/spring-concert/20260320-spring-concert-0001.jpg',
    originalName: 'DSC_0007.NEF',
    kind: 'raw',
    title: 'Choir warm-up',
    cameraMake: 'NIKON CORPORATION',
    cameraModel: 'NIKON Z 6_2',
    rating: 2,
    flag: 'reject',
    sortTime: Date.UTC(2026, 2, 20, 18, 0),
  });
  catalog.tags.tagAsset(choir.id, ['choir']);
  catalog.people.tagAsset(choir.id, catalog.people.upsert({ name: 'Ben Okafor', classGroup: '5A' }).person.id);
  const video = addAsset({
    eventId: sportsDay,
    path: 'events/sports-day/20260514-sports-day-0002.mp4',
    originalName: 'MVI_0001.MP4',
    kind: 'video',
    mime: 'video/mp4',
    status: 'missing',
    sortTime: Date.UTC(2026, 4, 14, 11, 0),
  });
  return { relay, choir, video, sportsDay };
}

describe(SearchService.name, () => {
  it('finds an asset by each searchable field', () => {
    const { relay } = library();
    for (const text of [
      'sports', // event name
      'relay', // title
      'photo finish', // description
      'final', // tag
      'under', // tag with a space
      'lima', // person
      'img_4821', // original file name
      '20260514-sports-day-0001', // base name of the path
      'canon', // camera make
      'eos r5', // camera model
      'rf24', // lens
    ]) {
      expect(ids(text), text).toContain(relay.id);
    }
  });

  it('matches each filter', () => {
    const { relay, choir, video } = library();
    expect(ids('tag:final')).toEqual([relay.id]);
    expect(ids('tag:"UNDER 11"')).toEqual([relay.id]);
    expect(ids('person:"ana lima"')).toEqual([relay.id]);
    expect(ids('event:"Sports Day 2026"')).toEqual([video.id, relay.id]);
    expect(ids('event:sports')).toEqual([video.id, relay.id]);
    expect(ids('camera:canon')).toEqual([relay.id]);
    expect(ids('camera:"z 6"')).toEqual([choir.id]);
    expect(ids('rating>=4')).toEqual([relay.id]);
    expect(ids('rating<=2')).toEqual([video.id, choir.id]);
    expect(ids('rating=0')).toEqual([video.id]);
    expect(ids('is:pick')).toEqual([relay.id]);
    expect(ids('is:reject')).toEqual([choir.id]);
    expect(ids('is:video')).toEqual([video.id]);
    expect(ids('is:raw')).toEqual([choir.id]);
    expect(ids('is:photo')).toEqual([relay.id, choir.id]);
    expect(ids('is:missing')).toEqual([video.id]);
    expect(ids('is:unreadable')).toEqual([]);
    expect(ids('date:2026-05')).toEqual([video.id, relay.id]);
    expect(ids('date:2026-03-20')).toEqual([choir.id]);
    expect(ids('date:2026-03-21..2026-05-14')).toEqual([video.id, relay.id]);
    expect(ids('date:2025')).toEqual([]);
  });

  it('combines clauses with AND and applies negations', () => {
    const { relay, choir, video } = library();
    expect(ids('final tag:final person:"Ana Lima" rating>=4 is:photo date:2026-05')).toEqual([relay.id]);
    expect(ids('sports -tag:final')).toEqual([video.id]);
    expect(ids('-relay')).toEqual([video.id, choir.id]);
    expect(ids('-"relay final"')).toEqual([video.id, choir.id]);
    expect(ids('-is:photo')).toEqual([video.id]);
    expect(ids('-person:"Ana Lima" -event:spring')).toEqual([video.id]);
    expect(ids('date:2026-05 -is:video')).toEqual([relay.id]);
  });

  it('matches free words as prefixes but phrases and one-letter words exactly', () => {
    const { relay } = library();
    expect(ids('rel fin')).toEqual([relay.id]);
    expect(ids('"rel fin"')).toEqual([]);
    expect(ids('"relay final"')).toEqual([relay.id]);
    expect(ids('"final relay"')).toEqual([]);
    addAsset({ title: 'a b c' });
    expect(ids('r')).toEqual([]);
  });

  it('returns nothing for a tag, person or event that does not exist', () => {
    library();
    expect(ids('tag:nonexistent')).toEqual([]);
    expect(ids('person:"No Body"')).toEqual([]);
    expect(ids('event:nowhere')).toEqual([]);
    expect(ids('rating>=4 rating<=2')).toEqual([]);
    expect(ids('date:2026 date:2025')).toEqual([]);
  });

  it('finds an asset again after its tag, person or event is renamed', () => {
    const { relay, sportsDay } = library();
    catalog.db.prepare("UPDATE tags SET name = 'grand final' WHERE name = 'final'").run();
    expect(ids('tag:"grand final"')).toEqual([relay.id]);
    expect(ids('tag:final')).toEqual([]);
    expect(ids('grand')).toEqual([relay.id]);
    catalog.db.prepare("UPDATE people SET name = 'Ana Lima-Souza' WHERE name = 'Ana Lima'").run();
    expect(ids('souza')).toEqual([relay.id]);
    expect(ids('person:"Ana Lima-Souza"')).toEqual([relay.id]);
    const event = catalog.events.get(sportsDay)!;
    catalog.events.update(sportsDay, event.version, { name: 'Athletics Day' });
    expect(ids('athletics')).toHaveLength(2);
    expect(ids('event:sports')).toEqual([]);
  });

  it('follows culling, retitling and retagging', () => {
    const { relay, choir } = library();
    catalog.assets.setCulling(choir.id, { rating: 5, flag: 'pick' });
    expect(ids('rating=5 is:pick')).toEqual([choir.id]);
    catalog.assets.setText(relay.id, { title: 'Baton handover' });
    expect(ids('baton')).toEqual([relay.id]);
    catalog.tags.untagAsset(relay.id, 'final');
    expect(ids('tag:final')).toEqual([]);
    catalog.assets.setStatus(choir.id, 'unreadable', 'truncated');
    expect(ids('is:unreadable')).toEqual([choir.id]);
  });

  it('forgets a deleted asset', () => {
    const { relay, video } = library();
    catalog.db.prepare('DELETE FROM assets WHERE id = @id').run({ id: relay.id });
    expect(ids('relay')).toEqual([]);
    expect(ids('event:sports')).toEqual([video.id]);
  });

  it('rebuilds a dropped index from the catalog at open', () => {
    const { relay } = library();
    expect(ids('relay')).toEqual([relay.id]);
    catalog.db.exec('DROP TABLE search_fts');
    reopen();
    expect(service.refresh()).toMatchObject({ rebuilt: true, reason: expect.stringMatching(/search_fts.* missing/), indexed: 3 });
    expect(ids('relay')).toEqual([relay.id]);
  });

  it('says the catalog is damaged when its integrity check at open found the index damaged', () => {
    library();
    expect(ids('relay')).toHaveLength(1);
    catalog.db.unsafeMode(true);
    // Keep the averages (1) and the structure record (10), lose every segment leaf.
    catalog.db.exec('DELETE FROM search_fts_data WHERE id NOT IN (1, 10)');
    catalog.db.unsafeMode(false);
    reopen();
    // The catalog's quick_check runs FTS5's own check too, so the whole catalog opens read-only and the
    // index cannot be rebuilt in place: the search says why instead of failing with an SQLite error.
    expect(catalog.readOnly).toBe(true);
    expect(() => service.search('relay')).toThrow(expect.objectContaining({ code: 'io', message: expect.stringMatching(/integrity check/) }));
  });

  it('rebuilds an index whose structure record was emptied', () => {
    const { relay } = library();
    expect(ids('relay')).toEqual([relay.id]);
    catalog.db.unsafeMode(true);
    catalog.db.exec("UPDATE search_fts_data SET block = x'0102' WHERE id = 10");
    catalog.db.unsafeMode(false);
    reopen();
    expect(service.refresh()).toMatchObject({ rebuilt: true, reason: 'the search index lost its contents' });
    expect(ids('relay')).toEqual([relay.id]);
  });

  it('rebuilds an index damaged while open when a search hits the damage', () => {
    const { relay } = library();
    expect(ids('relay')).toEqual([relay.id]);
    catalog.db.unsafeMode(true);
    catalog.db.exec('DELETE FROM search_fts_data WHERE id NOT IN (1, 10)');
    catalog.db.unsafeMode(false);
    expect(ids('relay')).toEqual([relay.id]);
  });

  it('rebuilds an index of another version at open', () => {
    const { relay } = library();
    expect(ids('relay')).toEqual([relay.id]);
    // An index of an older format that also misses a document: only a rebuild from the catalog brings it back.
    catalog.db.exec(`DELETE FROM search_fts WHERE rowid = (SELECT doc_key FROM search_docs WHERE asset_id = ${relay.id})`);
    catalog.library.setMeta(SEARCH_VERSION_KEY, '0');
    reopen();
    expect(ids('relay')).toEqual([relay.id]);
    expect(catalog.library.getMeta(SEARCH_VERSION_KEY)).not.toBe('0');
  });

  it('runs the full integrity check on request and keeps a healthy index', () => {
    library();
    service.refresh();
    expect(service.refresh({ thorough: true })).toEqual({ rebuilt: false, reason: null, indexed: 0 });
  });

  it('never lets FTS5 syntax in the query reach SQLite as syntax', () => {
    const { relay } = library();
    const inputs = [
      '"',
      '""',
      '*',
      'relay*',
      '*relay',
      'AND',
      'OR',
      'NOT',
      'relay AND',
      'relay OR final',
      'relay NOT final',
      'NEAR(',
      'NEAR(relay final, 2)',
      '-',
      '--',
      '-*',
      ':',
      'title:relay',
      '{title}:relay',
      '^relay',
      '(relay',
      'relay)',
      "'",
      '\\',
      '%',
      '_',
      'tag:"',
      'tag:"a" OR "b"',
      'person:*',
      'event:%',
      'camera:"NEAR("',
      'rel"ay',
      '"re"lay"',
      '+relay',
      'relay:',
      '🏃 relay',
      '\u0000',
      'a'.repeat(500),
    ];
    for (const text of inputs) {
      try {
        service.search(text, { limit: 10 });
      } catch (error) {
        expect(error, text).toBeInstanceOf(AppError);
        expect((error as AppError).code, text).toBe('invalid-input');
      }
    }
    expect(ids('relay*')).toEqual([relay.id]);
    expect(ids('relay NOT')).toEqual([]);
  });

  it('pages through every match exactly once, newest first', () => {
    const sportsDay = catalog.events.create({ name: 'Sports Day', folder: 'sd' }).id;
    const base = Date.UTC(2026, 4, 14, 9);
    const made: Asset[] = [];
    for (let i = 0; i < 230; i++) {
      // Bursts: five assets share each second, and some whole milliseconds.
      made.push(addAsset({ eventId: sportsDay, title: 'relay', sortTime: base + Math.floor(i / 5) * 1000 + (i % 3 === 0 ? 0 : i % 5) }));
    }
    const expected = [...made].sort((a, b) => b.sortTime - a.sortTime || b.id - a.id).map((asset) => asset.id);
    for (const text of ['relay', 'event:sports', 'date:2026-05-14', '']) {
      const seen: AssetId[] = [];
      let after = null;
      let pages = 0;
      do {
        const page = service.search(text, { limit: 17, after });
        seen.push(...page.items.map((asset) => asset.id));
        after = page.next;
        pages += 1;
      } while (after && pages < 100);
      expect(seen, text).toEqual(expected);
    }
  });

  it('keeps paging when the asset of the cursor was deleted in between', () => {
    const made = Array.from({ length: 30 }, () => addAsset({ title: 'relay' }));
    const first = service.search('relay', { limit: 10 });
    catalog.db.prepare('DELETE FROM assets WHERE id = @id').run({ id: first.next!.id });
    const second = service.search('relay', { limit: 10, after: first.next });
    expect(second.items).toHaveLength(10);
    expect(second.items[0]!.sortTime).toBeLessThan(first.next!.sortTime);
    expect(made).toHaveLength(30);
  });

  it('rejects a malformed query, page size or cursor with invalid-input', () => {
    expect(() => service.search('rating>=9')).toThrow(expect.objectContaining({ code: 'invalid-input', message: 'rating must be 0–5, got 9.' }));
    expect(() => service.search('relay', { limit: 0 })).toThrow(expect.objectContaining({ code: 'invalid-input' }));
    expect(() => service.search('relay', { after: { sortTime: Number.NaN, id: 1 } })).toThrow(expect.objectContaining({ code: 'invalid-input' }));
  });

  it('suggests tag, people and event names by prefix', () => {
    library();
    expect(service.suggest('un')).toEqual({ tags: ['under 11'], people: [], events: [] });
    expect(service.suggest('s')).toEqual({ tags: [], people: [], events: ['Sports Day 2026', 'Spring Concert'] });
    expect(service.suggest('a')).toEqual({ tags: [], people: ['Ana Lima'], events: [] });
  });
});
