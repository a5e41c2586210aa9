import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AssetId, ContentHash, EventId } from '../shared/ids.ts';
import type { NewAsset } from './assets.repo.ts';
import { Catalog } from './catalog.ts';

let dir: string;
let catalog: Catalog;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'keepsake-repo-'));
  catalog = Catalog.open(dir);
});
afterEach(async () => {
  catalog.close();
  await rm(dir, { recursive: true, force: true });
});

function asset(overrides: Partial<Omit<NewAsset, 'hash'>> & { hash: string }): NewAsset {
  return {
    eventId: null,
    path: `${overrides.hash}.jpg`,
    originalName: `${overrides.hash}.JPG`,
    size: 100,
    mtimeMs: 0,
    kind: 'photo',
    mime: 'image/jpeg',
    sortTime: 0,
    ...overrides,
    hash: overrides.hash as ContentHash,
  };
}

function plan(sql: string, params: Record<string, unknown>): string {
  return (catalog.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as Array<{ detail: string }>).map((row) => row.detail).join('\n');
}

describe('AssetsRepo', () => {
  it('keeps one asset per content hash', () => {
    catalog.assets.insert(asset({ hash: 'same' }));
    expect(() => catalog.assets.insert(asset({ hash: 'same', path: 'elsewhere.jpg' }))).toThrow(/UNIQUE/);
    expect(catalog.assets.count()).toBe(1);
  });

  it('round-trips every field, GPS included', () => {
    const stored = catalog.assets.insert(
      asset({
        hash: 'abc',
        width: 6000,
        height: 4000,
        orientation: 6,
        capturedAt: '2026-05-14T10:32:01+02:00',
        captureOffsetMin: 120,
        sortTime: Date.parse('2026-05-14T10:32:01Z'),
        cameraMake: 'Canon',
        cameraModel: 'Canon EOS R6',
        lens: 'RF24-105mm F4 L IS USM',
        gps: { latitude: 48.8584, longitude: 2.2945, altitude: 35 },
        rating: 4,
        flag: 'pick',
        title: 'Final',
        description: 'The 100 m final',
      }),
    );
    expect(catalog.assets.getByHash('abc' as ContentHash)).toEqual(stored);
    expect(stored).toMatchObject({
      orientation: 6,
      captureOffsetMin: 120,
      gps: { latitude: 48.8584, longitude: 2.2945, altitude: 35 },
      rating: 4,
      flag: 'pick',
      status: 'ok',
    });
  });

  it('rejects a rating outside 0–5', () => {
    expect(() => catalog.assets.insert(asset({ hash: 'x', rating: 6 }))).toThrow(/CHECK/);
  });

  it('pages an event by capture time, each asset exactly once, ties broken by id', () => {
    const event = catalog.events.create({ name: 'Play', folder: 'Play' });
    const other = catalog.events.create({ name: 'Trip', folder: 'Trip' });
    for (let i = 0; i < 53; i += 1) {
      catalog.assets.insert(asset({ hash: `p${i}`, eventId: event.id, sortTime: (i * 7919) % 20 }));
      catalog.assets.insert(asset({ hash: `t${i}`, eventId: other.id, sortTime: i }));
    }
    const seen: number[] = [];
    let after = null;
    do {
      const page = catalog.assets.listEventPage(event.id, { limit: 10, after });
      seen.push(...page.items.map((item) => item.id));
      expect(page.items.every((item) => item.eventId === event.id)).toBe(true);
      after = page.next;
    } while (after);
    expect(seen).toHaveLength(53);
    expect(new Set(seen).size).toBe(53);
    const rows = seen.map((id) => catalog.assets.get(id as AssetId)!);
    const sorted = [...rows].sort((a, b) => a.sortTime - b.sortTime || a.id - b.id);
    expect(rows.map((row) => row.id)).toEqual(sorted.map((row) => row.id));
  });

  it('pages the whole timeline newest first', () => {
    for (let i = 0; i < 25; i += 1) catalog.assets.insert(asset({ hash: `a${i}`, sortTime: i % 5 }));
    const first = catalog.assets.listTimelinePage({ limit: 20 });
    const second = catalog.assets.listTimelinePage({ limit: 20, after: first.next });
    const all = [...first.items, ...second.items];
    expect(all).toHaveLength(25);
    expect(second.next).toBeNull();
    for (let i = 1; i < all.length; i += 1) {
      const [prev, cur] = [all[i - 1]!, all[i]!];
      expect(prev.sortTime > cur.sortTime || (prev.sortTime === cur.sortTime && prev.id > cur.id)).toBe(true);
    }
  });

  it('serves event pages and the timeline from an index range, never a scan or a sort', () => {
    const cursor = { sortTime: 1_700_000_000_000, id: 42 as AssetId };
    for (const after of [null, cursor]) {
      for (const order of ['asc', 'desc'] as const) {
        const event = catalog.assets.explainPage('event', order, after).join('\n');
        expect(event).toMatch(/SEARCH assets USING INDEX assets_event_time \(event_id=\? AND \(?sort_time(,id\))?[<>]/);
        expect(event).not.toMatch(/TEMP B-TREE/);
        const timeline = catalog.assets.explainPage('all', order, after).join('\n');
        expect(timeline).toMatch(/SEARCH assets USING INDEX assets_time \(\(?sort_time(,id\))?[<>]/);
        expect(timeline).not.toMatch(/TEMP B-TREE/);
      }
    }
    expect(plan('SELECT * FROM assets WHERE hash = @hash', { hash: 'x' })).toMatch(/USING INDEX assets_hash/);
  });

  it('marks an asset missing without deleting it, and finds it again when it moves', () => {
    const stored = catalog.assets.insert(asset({ hash: 'm', path: 'Play/IMG_1.JPG' }));
    catalog.assets.setStatus(stored.id, 'missing', 'The file was deleted from Play/');
    expect(catalog.assets.get(stored.id)).toMatchObject({ status: 'missing', error: 'The file was deleted from Play/' });
    catalog.assets.relocate(stored.id, 'Play/renamed.jpg', 5);
    expect(catalog.assets.get(stored.id)).toMatchObject({ status: 'ok', error: null, path: 'Play/renamed.jpg' });
  });

  it('records culling: rating, pick/reject and colour label', () => {
    const stored = catalog.assets.insert(asset({ hash: 'c' }));
    catalog.assets.setCulling(stored.id, { rating: 5, flag: 'pick', colorLabel: 'red' });
    catalog.assets.setCulling(stored.id, { flag: 'reject' });
    expect(catalog.assets.get(stored.id)).toMatchObject({ rating: 5, flag: 'reject', colorLabel: 'red' });
  });

  it('lists the ids of an event or the timeline in page order, from a covering index', () => {
    const event = catalog.events.create({ name: 'Play', folder: 'Play' });
    for (let i = 0; i < 12; i += 1) catalog.assets.insert(asset({ hash: `p${i}`, eventId: i < 8 ? event.id : null, sortTime: (i * 7) % 5 }));
    const paged = [...catalog.assets.listEventPage(event.id, { limit: 1000 }).items.map((a) => a.id)];
    expect(catalog.assets.listIds({ eventId: event.id })).toEqual(paged);
    expect(catalog.assets.listIds({ eventId: event.id, order: 'desc' })).toEqual([...paged].reverse());
    expect(catalog.assets.listIds({})).toEqual(catalog.assets.listTimelinePage({ limit: 1000 }).items.map((a) => a.id));
    expect(plan('SELECT id FROM assets WHERE event_id = @eventId ORDER BY sort_time, id', { eventId: 1 })).toMatch(/COVERING INDEX assets_event_time/);
  });

  it('reads many assets in the order asked, leaving out unknown ids', () => {
    const [a, b, c] = ['x', 'y', 'z'].map((hash) => catalog.assets.insert(asset({ hash })));
    expect(catalog.assets.getMany([c!.id, 999 as AssetId, a!.id, b!.id]).map((found) => found.hash)).toEqual(['z', 'x', 'y']);
    expect(catalog.assets.getMany([])).toEqual([]);
  });

  it('covers each event with its picked, best-rated readable photo', () => {
    const play = catalog.events.create({ name: 'Play', folder: 'Play' });
    const empty = catalog.events.create({ name: 'Empty', folder: 'Empty' });
    const early = catalog.assets.insert(asset({ hash: 'e1', eventId: play.id, sortTime: 1 }));
    const video = catalog.assets.insert(asset({ hash: 'e2', eventId: play.id, sortTime: 0, kind: 'video', mime: 'video/mp4' }));
    expect(catalog.assets.eventCovers()).toEqual(new Map([[play.id, early.id]]));
    const rated = catalog.assets.insert(asset({ hash: 'e3', eventId: play.id, sortTime: 2, rating: 5 }));
    catalog.assets.setStatus(rated.id, 'unreadable', 'truncated');
    catalog.assets.setCulling(video.id, { flag: 'pick' });
    expect(catalog.assets.eventCovers().get(play.id)).toBe(video.id);
    expect(catalog.assets.eventCovers().has(empty.id)).toBe(false);
  });
});

describe('EventsRepo', () => {
  it('refuses a second event with the same name in another case', () => {
    catalog.events.create({ name: 'Sports Day', folder: 'Sports Day' });
    expect(() => catalog.events.create({ name: 'sports day', folder: 'other' })).toThrow(/already exists/);
  });

  it('rejects a stale write with the current version', () => {
    const event = catalog.events.create({ name: 'Play', folder: 'Play' });
    const updated = catalog.events.update(event.id, 1, { location: 'Hall' });
    expect(updated.version).toBe(2);
    expect(() => catalog.events.update(event.id, 1, { location: 'Gym' })).toThrow(/changed elsewhere \(now version 2\)/);
  });

  it('summarises counts, unreadable and missing files per event', () => {
    const event = catalog.events.create({ name: 'Play', folder: 'Play' });
    catalog.assets.insert(asset({ hash: 'a', eventId: event.id, capturedAt: '2026-05-14T10:00:00' }));
    catalog.assets.insert(asset({ hash: 'b', eventId: event.id, kind: 'video', mime: 'video/mp4' }));
    const broken = catalog.assets.insert(asset({ hash: 'c', eventId: event.id }));
    catalog.assets.setStatus(broken.id, 'unreadable', 'truncated JPEG');
    expect(catalog.events.listSummaries()[0]).toMatchObject({
      name: 'Play',
      assetCount: 3,
      photoCount: 2,
      videoCount: 1,
      unreadableCount: 1,
      missingCount: 0,
      firstCapturedAt: '2026-05-14T10:00:00',
    });
  });
});

describe('PeopleRepo', () => {
  it('denies every purpose until consent is granted', () => {
    const { person } = catalog.people.upsert({ name: 'Ana Lima', classGroup: '4B' });
    expect(person.consent).toEqual({ publish: false, yearbook: false });
    catalog.people.setConsent(person.id, 'publish', true, 'office');
    expect(catalog.people.get(person.id)!.consent).toEqual({ publish: true, yearbook: false });
    catalog.people.setConsent(person.id, 'publish', false, 'parent');
    expect(catalog.people.get(person.id)!.consent).toEqual({ publish: false, yearbook: false });
  });

  it('treats the same name in another class as another person', () => {
    expect(catalog.people.upsert({ name: 'Sam Lee', classGroup: '4B' }).created).toBe(true);
    expect(catalog.people.upsert({ name: 'sam lee', classGroup: '4B' }).created).toBe(false);
    expect(catalog.people.upsert({ name: 'Sam Lee', classGroup: '5A' }).created).toBe(true);
    expect(catalog.people.findByName('Sam Lee')).toHaveLength(2);
  });

  it('links people to assets and forgets the link when the asset goes', () => {
    const stored = catalog.assets.insert(asset({ hash: 'p' }));
    const { person } = catalog.people.upsert({ name: 'Ana Lima' });
    catalog.people.tagAsset(stored.id, person.id);
    expect(catalog.people.forAsset(stored.id).map((p) => p.name)).toEqual(['Ana Lima']);
    catalog.db.prepare('DELETE FROM assets WHERE id = @id').run({ id: stored.id });
    expect(catalog.db.prepare('SELECT count(*) AS n FROM asset_people').get()).toEqual({ n: 0 });
  });
});

describe('TagsRepo', () => {
  it('reuses a tag whatever its case', () => {
    const stored = catalog.assets.insert(asset({ hash: 't' }));
    catalog.tags.tagAsset(stored.id, ['Final', 'final', ' Soccer ']);
    expect(catalog.tags.forAsset(stored.id)).toEqual(['Final', 'Soccer']);
    expect(catalog.tags.list()).toHaveLength(2);
  });
});

describe('JobsRepo', () => {
  const owner = 'host:1';
  const only = (kind: string) => ({ owner, leaseMs: 60_000, kinds: [kind] });

  it('queues thumbnails for every new asset, and a proxy for every video, in the same transaction', () => {
    const photo = catalog.assets.insert(asset({ hash: 'q1' }));
    const video = catalog.assets.insert(asset({ hash: 'q2', kind: 'video', mime: 'video/mp4' }));
    expect(catalog.jobs.countsByKind()).toEqual({
      thumbs: { queued: 2, running: 0, done: 0, failed: 0, cancelled: 0 },
      proxy: { queued: 1, running: 0, done: 0, failed: 0, cancelled: 0 },
    });
    expect(catalog.jobs.claim(only('proxy'))!.assetId).toBe(video.id);
    expect(catalog.jobs.claim(only('thumbs'))!.assetId).toBe(photo.id);
  });

  it('hands out the most urgent due job once, and takes it back from an owner that died', () => {
    const a = catalog.assets.insert(asset({ hash: 'j1' }));
    const b = catalog.assets.insert(asset({ hash: 'j2' }));
    catalog.jobs.enqueue('thumbnail', a.id, { priority: 0 });
    catalog.jobs.enqueue('thumbnail', b.id, { priority: 10 });
    catalog.jobs.enqueue('thumbnail', b.id, { priority: 5 }); // already queued: kept once
    const first = catalog.jobs.claim(only('thumbnail'))!;
    expect(first.assetId).toBe(b.id);
    expect(catalog.jobs.counts('thumbnail')).toMatchObject({ queued: 1, running: 1 });
    expect(catalog.jobs.requeueAbandoned(() => true)).toBe(0);
    expect(catalog.jobs.requeueAbandoned((who) => who !== owner)).toBe(1);
    expect(catalog.jobs.complete(first.id), 'a job taken back is no longer its old owner\'s to finish').toBe(false);
    expect(catalog.jobs.claim(only('thumbnail'))!.assetId).toBe(b.id);
  });

  it('takes back a job whose lease ran out, and keeps one that is renewed', () => {
    const a = catalog.assets.insert(asset({ hash: 'l1' }));
    catalog.jobs.enqueue('thumbnail', a.id);
    const job = catalog.jobs.claim({ ...only('thumbnail'), leaseMs: 1000, nowMs: 10_000 })!;
    expect(catalog.jobs.renew(job.id, owner, 20_000, 0.5)).toBe(true);
    expect(catalog.jobs.requeueAbandoned(() => true, 15_000)).toBe(0);
    expect(catalog.jobs.requeueAbandoned(() => true, 25_000)).toBe(1);
    expect(catalog.jobs.renew(job.id, owner, 30_000)).toBe(false);
  });

  it('retries later, then fails for good, and queues failures again on request', () => {
    const a = catalog.assets.insert(asset({ hash: 'j3' }));
    catalog.jobs.enqueue('preview', a.id);
    const job = catalog.jobs.claim({ ...only('preview'), nowMs: 1000 })!;
    catalog.jobs.fail(job.id, 'busy', 5000);
    expect(catalog.jobs.claim({ ...only('preview'), nowMs: 2000 })).toBeUndefined();
    expect(catalog.jobs.nextDueAt(['preview'])).toBe(5000);
    const retry = catalog.jobs.claim({ ...only('preview'), nowMs: 6000 })!;
    expect(retry.attempts).toBe(2);
    catalog.jobs.fail(retry.id, 'unreadable: truncated JPEG', null);
    expect(catalog.jobs.counts('preview')).toMatchObject({ failed: 1, queued: 0 });
    expect(catalog.jobs.listFailed()).toEqual([expect.objectContaining({ kind: 'preview', assetId: a.id, error: 'unreadable: truncated JPEG' })]);
    expect(catalog.jobs.listFailed({ sinceMs: Date.now() + 60_000 }), 'only failures since a moment').toEqual([]);
    expect(catalog.jobs.retryFailed('preview')).toBe(1);
    expect(catalog.jobs.claim(only('preview'))!.attempts).toBe(1);
  });

  it('puts what the user is looking at first, and cancels on request', () => {
    const ids = [catalog.assets.insert(asset({ hash: 'p1' })).id, catalog.assets.insert(asset({ hash: 'p2' })).id, catalog.assets.insert(asset({ hash: 'p3' })).id];
    expect(catalog.jobs.prioritize([ids[2]!], 100)).toBe(1);
    const running = catalog.jobs.claim(only('thumbs'))!;
    expect(running.assetId).toBe(ids[2]);
    expect(catalog.jobs.cancel('thumbs')).toEqual([running.id]);
    expect(catalog.jobs.counts('thumbs')).toMatchObject({ queued: 0, running: 0, cancelled: 3 });
  });

  it('drops finished jobs older than asked, and never queued or failed ones', () => {
    const [a, b, c] = [catalog.assets.insert(asset({ hash: 'r1' })), catalog.assets.insert(asset({ hash: 'r2' })), catalog.assets.insert(asset({ hash: 'r3' }))];
    const first = catalog.jobs.claim({ ...only('thumbs'), nowMs: 1000 })!;
    catalog.jobs.complete(first.id, 1000);
    const second = catalog.jobs.claim({ ...only('thumbs'), nowMs: 5000 })!;
    catalog.jobs.fail(second.id, 'truncated JPEG', null, 2000);
    expect(catalog.jobs.pruneFinished(3000)).toBe(1);
    expect(catalog.jobs.counts('thumbs')).toMatchObject({ done: 0, failed: 1, queued: 1 });
    expect([a.id, b.id, c.id]).toContain(first.assetId);
  });
});

describe('ImportsRepo', () => {
  it('keeps the state of files already recorded when a source is scanned again', () => {
    const event = catalog.events.create({ name: 'Play', folder: 'Play' });
    const session = catalog.imports.createSession({ source: '/card', eventId: event.id as EventId, renameTemplate: '{original}', backupDir: null, inPlace: false });
    catalog.imports.addItems(session.id, [{ sourcePath: '/card/a.jpg', size: 1 }]);
    const [item] = catalog.imports.items(session.id);
    catalog.imports.updateItem(item!.id, { state: 'copying', seq: 1, destPath: 'Play/a.jpg' });
    catalog.imports.addItems(session.id, [{ sourcePath: '/card/a.jpg', size: 1 }, { sourcePath: '/card/b.jpg', size: 2 }]);
    expect(catalog.imports.items(session.id).map((i) => [i.sourcePath, i.state])).toEqual([
      ['/card/a.jpg', 'copying'],
      ['/card/b.jpg', 'pending'],
    ]);
    expect(catalog.imports.maxSeq(session.id)).toBe(1);
    expect(catalog.imports.isReserved('Play/a.jpg')).toBe(true);
    expect(catalog.imports.isReserved('Play/b.jpg')).toBe(false);
    expect(catalog.imports.findResumable('/card', event.id)?.id).toBe(session.id);
  });
});
