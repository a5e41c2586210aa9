import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NewAsset } from '../app/catalog/assets.repo.ts';
import { Catalog } from '../app/catalog/catalog.ts';
import { catalogPath } from '../app/catalog/database.ts';
import { SCHEMA_VERSION } from '../app/catalog/migrations/index.ts';
import type { AssetFlag, AssetKind, AssetStatus } from '../app/shared/domain.ts';
import type { ContentHash, EventId, PersonId } from '../app/shared/ids.ts';
import { seededRandom } from '../app/shared/random.ts';
import {
  BENCH_DIR,
  checkRow,
  compareRow,
  formatBytes,
  printTable,
  sampleLatencies,
  writeResults,
  type BenchOptions,
  type BenchReport,
  type ResultRow,
  type SampleStats,
} from './lib/harness.ts';

// Bump when the generated data changes, so cached catalogs are made again.
const GENERATOR_VERSION = 1;
const ASSETS_PER_EVENT = 500;
const PEOPLE = 3000;
const INSERT_BATCH = 1000;


/** Draws ranks 0..n-1 with probability ∝ 1/(rank+1)^s. */
function zipf(n: number, s: number, rnd: () => number): () => number {
  const cumulative: number[] = [];
  let sum = 0;
  for (let rank = 1; rank <= n; rank++) cumulative.push((sum += 1 / rank ** s));
  return () => {
    const x = rnd() * sum;
    let low = 0;
    let high = n - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (cumulative[mid]! < x) low = mid + 1;
      else high = mid;
    }
    return low;
  };
}

const SYLLABLES = ['ba', 'ca', 'da', 'fe', 'ga', 'hi', 'jo', 'ka', 'li', 'mo', 'na', 'pe', 'ra', 'si', 'to', 'vu', 'za', 'lo', 'mi', 'ne', 'ro', 'sa', 'te', 'vi', 'bri', 'cla', 'dro', 'fli', 'gru', 'pla', 'sto', 'tri', 'ven', 'mar', 'sol', 'tan', 'ber', 'cor', 'del', 'lin'];
const EVENT_KINDS = ['Sports Day', 'Spring Concert', 'Science Fair', 'Field Trip', 'School Play', 'Graduation', 'Art Exhibition', 'Swimming Gala', 'Book Week', 'Harvest Festival', 'Winter Concert', 'Open Day', 'Class Photos', 'Carnival', 'Chess Tournament', 'Football Final', 'Music Recital', 'Dance Show', 'Robotics Cup', 'Summer Fair', 'Talent Show', 'Museum Visit', 'Zoo Trip', 'Cross Country', 'Prize Giving'];
const GROUPS = ['Year 1', 'Year 2', 'Year 3', 'Year 4', 'Year 5', 'Year 6', 'Reception', 'Juniors', 'Seniors', 'Whole School'];
const REAL_TAGS = ['team', 'portrait', 'group', 'final', 'stage', 'award', 'under 11', 'relay', 'choir', 'costume', 'goal', 'medal', 'teachers', 'parents', 'candid', 'trophy', 'crowd', 'backstage', 'rehearsal', 'winners', 'sprint', 'under 9', 'hurdles', 'painting', 'instrument', 'experiment', 'bus', 'picnic', 'speech', 'selfie'];
const FIRST_NAMES = ['Ana', 'Ben', 'Chloe', 'David', 'Emma', 'Felix', 'Grace', 'Hugo', 'Isla', 'Jack', 'Kai', 'Lena', 'Mia', 'Noah', 'Olivia', 'Pedro', 'Quinn', 'Rosa', 'Sam', 'Tara', 'Umar', 'Vera', 'Will', 'Xena', 'Yusuf', 'Zoe', 'Aiden', 'Bea', 'Carlos', 'Dina', 'Eli', 'Fatima', 'Gabriel', 'Hana', 'Ivan', 'Julia', 'Kofi', 'Laila', 'Marco', 'Nina', 'Omar', 'Priya', 'Raul', 'Sofia', 'Tomas', 'Uma', 'Victor', 'Wen', 'Yara', 'Zara', 'Amir', 'Bruno', 'Clara', 'Diego', 'Elena', 'Finn', 'Gita', 'Hector', 'Ines', 'Jonas', 'Keira', 'Luca', 'Maya', 'Nils', 'Oscar', 'Paula', 'Rita', 'Sven', 'Theo', 'Ula', 'Vik', 'Wanda', 'Yosef', 'Zaid', 'Alba', 'Boris', 'Cora', 'Dev', 'Erin', 'Frida'];
const LAST_NAMES = ['Lima', 'Smith', 'Garcia', 'Nguyen', 'Okafor', 'Kowalski', 'Rossi', 'Muller', 'Silva', 'Khan', 'Jensen', 'Dubois', 'Ivanova', 'Tanaka', 'Costa', 'Fischer', 'Haddad', 'Moreno', 'Novak', 'Olsen', 'Pereira', 'Quinn', 'Reyes', 'Santos', 'Torres', 'Usman', 'Varga', 'Weber', 'Yilmaz', 'Zhang', 'Ahmed', 'Brown', 'Chen', 'Diaz', 'Evans', 'Fernandes', 'Gomez', 'Hansen', 'Ito', 'Johnson', 'Kim', 'Lopez', 'Martin', 'Nakamura', 'Ortiz', 'Park', 'Ramos', 'Schmidt', 'Taylor', 'Walker'];
const CAMERAS: Array<{ make: string; model: string; lens: string | null; prefix: string; ext: string; weight: number }> = [
  { make: 'Canon', model: 'Canon EOS R5', lens: 'RF24-70mm F2.8 L IS USM', prefix: 'IMG_', ext: 'JPG', weight: 30 },
  { make: 'Canon', model: 'Canon EOS 90D', lens: 'EF-S18-135mm f/3.5-5.6 IS USM', prefix: 'IMG_', ext: 'JPG', weight: 15 },
  { make: 'NIKON CORPORATION', model: 'NIKON Z 6_2', lens: 'NIKKOR Z 24-120mm f/4 S', prefix: 'DSC_', ext: 'NEF', weight: 15 },
  { make: 'SONY', model: 'ILCE-7M4', lens: 'FE 24-105mm F4 G OSS', prefix: 'DSC', ext: 'ARW', weight: 12 },
  { make: 'FUJIFILM', model: 'X-T4', lens: 'XF16-80mmF4 R OIS WR', prefix: 'DSCF', ext: 'RAF', weight: 8 },
  { make: 'Apple', model: 'iPhone 14 Pro', lens: 'iPhone 14 Pro back triple camera 6.86mm f/1.78', prefix: 'IMG_', ext: 'HEIC', weight: 12 },
  { make: 'Google', model: 'Pixel 7', lens: null, prefix: 'PXL_', ext: 'JPG', weight: 5 },
  { make: 'GoPro', model: 'HERO11 Black', lens: null, prefix: 'GX01', ext: 'MP4', weight: 3 },
];
const TEXT_VOCABULARY = 20_000;
const TAG_VOCABULARY = 300;

/** What a generated library holds, for benches that query it. */
export interface SyntheticLibrary {
  root: string;
  file: string;
  assets: number;
  events: number;
  /** Wall time of the generation that made the cached file, and how many assets per second that was. */
  insertSeconds: number;
  assetsPerSecond: number;
  generatedAt: string;
  tags: string[];
  people: string[];
  eventNames: string[];
  /** The pseudo-word vocabulary of titles and descriptions, most frequent first. */
  words: string[];
  firstTime: number;
  lastTime: number;
}

/** Words, tags, people and events of the synthetic library: fixed by the seed, independent of the size. */
export function syntheticVocabulary(): { words: string[]; tags: string[]; people: Array<{ name: string; classGroup: string }> } {
  const rnd = seededRandom(7);
  const word = (): string => {
    let text = '';
    const syllables = 2 + Math.floor(rnd() * 3);
    for (let i = 0; i < syllables; i++) text += SYLLABLES[Math.floor(rnd() * SYLLABLES.length)];
    return text;
  };
  const seen = new Set<string>();
  const unique = (make: () => string): string => {
    for (;;) {
      const candidate = make();
      if (!seen.has(candidate)) {
        seen.add(candidate);
        return candidate;
      }
    }
  };
  const words = Array.from({ length: TEXT_VOCABULARY }, () => unique(word));
  // A handful of words starting "abc", spread over the frequencies, for the prefix query.
  for (const [rank, text] of [[40, 'abcaria'], [400, 'abcelin'], [2500, 'abcorum'], [9000, 'abcudo'], [15000, 'abcyte']] as const) words[rank] = text;
  const tags = [...REAL_TAGS, ...Array.from({ length: TAG_VOCABULARY - REAL_TAGS.length }, () => unique(word))];
  const names = new Set<string>();
  const people: Array<{ name: string; classGroup: string }> = [];
  while (people.length < PEOPLE) {
    const name = `${FIRST_NAMES[Math.floor(rnd() * FIRST_NAMES.length)]} ${LAST_NAMES[Math.floor(rnd() * LAST_NAMES.length)]}`;
    const classGroup = `${1 + Math.floor(rnd() * 6)}${'ABCDE'[Math.floor(rnd() * 5)]}`;
    if (names.has(`${name}|${classGroup}`)) continue;
    names.add(`${name}|${classGroup}`);
    people.push({ name, classGroup });
  }
  return { words, tags, people };
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/**
 * A catalog of `count` synthetic assets in `.bench/`, generated through the catalog's own API once and then
 * reused: ~500 assets per event, Zipf-distributed tags from a vocabulary of 300, 3,000 people with 0–3 per
 * asset, titles on 12 % and descriptions on 6 % of assets, eight camera bodies, ratings, flags and kinds.
 */
export async function ensureSyntheticLibrary(options: { count: number; benchDir?: string; log?: (line: string) => void }): Promise<SyntheticLibrary> {
  const log = options.log ?? (() => undefined);
  const root = path.join(options.benchDir ?? BENCH_DIR, 'libraries', `synthetic-${options.count}-g${GENERATOR_VERSION}-s${SCHEMA_VERSION}`);
  const manifestFile = path.join(root, 'manifest.json');
  if (existsSync(manifestFile) && existsSync(catalogPath(root))) {
    return JSON.parse(await readFile(manifestFile, 'utf8')) as SyntheticLibrary;
  }
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  log(`generating ${options.count.toLocaleString('en')} synthetic assets in ${path.relative(process.cwd(), root)} (cached for later runs)`);
  const started = process.hrtime.bigint();
  const manifest = generate(root, options.count, log);
  const insertSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const library: SyntheticLibrary = {
    ...manifest,
    insertSeconds,
    assetsPerSecond: options.count / insertSeconds,
    generatedAt: new Date().toISOString(),
  };
  await writeFile(manifestFile, `${JSON.stringify(library)}\n`);
  return library;
}

function generate(root: string, count: number, log: (line: string) => void): Omit<SyntheticLibrary, 'insertSeconds' | 'assetsPerSecond' | 'generatedAt'> {
  const { words, tags, people } = syntheticVocabulary();
  const rnd = seededRandom(count);
  const tagRank = zipf(tags.length, 1.1, rnd);
  const wordRank = zipf(words.length, 1.05, rnd);
  const cameraWeights = CAMERAS.reduce((sum, camera) => sum + camera.weight, 0);
  const pickCamera = (): (typeof CAMERAS)[number] => {
    let x = rnd() * cameraWeights;
    for (const camera of CAMERAS) if ((x -= camera.weight) < 0) return camera;
    return CAMERAS[0]!;
  };
  const eventCount = Math.max(1, Math.round(count / ASSETS_PER_EVENT));
  const firstDay = Date.UTC(2019, 0, 1);
  const days = 8 * 365;
  const events = Array.from({ length: eventCount }, (_, index) => ({
    index,
    day: firstDay + Math.floor(rnd() * days) * 86_400_000,
    kind: EVENT_KINDS[index % EVENT_KINDS.length]!,
    group: GROUPS[Math.floor(index / EVENT_KINDS.length) % GROUPS.length]!,
  }));
  // Mostly imported in date order, with a fifth back-filled later, as real libraries grow.
  events.sort((a, b) => a.day - b.day);
  const backfill = events.filter(() => rnd() < 0.2);
  const ordered = [...events.filter((event) => !backfill.includes(event)), ...backfill];

  const catalog = Catalog.open(root);
  try {
    catalog.library.ensure('Synthetic');
    const personIds: PersonId[] = catalog.transaction(() => people.map((person) => catalog.people.upsert(person).person.id));
    const eventNames: string[] = [];
    let made = 0;
    let firstTime = Number.POSITIVE_INFINITY;
    let lastTime = Number.NEGATIVE_INFINITY;
    const pending: Array<() => void> = [];
    const flush = (): void => {
      catalog.transaction(() => {
        for (const work of pending) work();
      });
      pending.length = 0;
    };
    for (const event of ordered) {
      const year = new Date(event.day).getUTCFullYear();
      const name = `${event.kind} ${year} ${event.group} #${event.index + 1}`;
      eventNames.push(name);
      const folder = `events/${year}/${slug(name)}`;
      const eventId: EventId = catalog.events.create({ name, folder, startsOn: new Date(event.day).toISOString().slice(0, 10) }).id;
      const size = Math.min(ASSETS_PER_EVENT, count - made);
      // The people of an event are one class or two: ~60 of the roster.
      const poolStart = Math.floor(rnd() * (personIds.length - 60));
      let time = event.day + (8 + Math.floor(rnd() * 4)) * 3_600_000;
      const camera = pickCamera();
      const second = rnd() < 0.3 ? pickCamera() : camera;
      for (let seq = 1; seq <= size; seq++) {
        // Bursts share a second (cameras without sub-second EXIF), otherwise a few seconds to minutes apart.
        time += rnd() < 0.15 ? 0 : 1000 * (1 + Math.floor(rnd() * 60));
        const body = rnd() < 0.7 ? camera : second;
        const kindDraw = rnd();
        const kind: AssetKind = body.ext === 'MP4' || kindDraw < 0.1 ? 'video' : kindDraw < 0.15 ? 'raw' : 'photo';
        const ratingDraw = rnd();
        const rating = ratingDraw < 0.55 ? 0 : ratingDraw < 0.65 ? 1 : ratingDraw < 0.75 ? 2 : ratingDraw < 0.87 ? 3 : ratingDraw < 0.96 ? 4 : 5;
        const flagDraw = rnd();
        const flag: AssetFlag = flagDraw < 0.7 ? 'none' : flagDraw < 0.9 ? 'pick' : 'reject';
        const statusDraw = rnd();
        const status: AssetStatus = statusDraw < 0.985 ? 'ok' : statusDraw < 0.995 ? 'unreadable' : 'missing';
        const number = String(1000 + ((event.index * 37 + seq) % 9000)).padStart(4, '0');
        const ext = kind === 'video' ? 'MP4' : kind === 'raw' ? body.ext : 'JPG';
        const sentence = (length: number): string => Array.from({ length }, () => words[wordRank()]!).join(' ');
        const hashNumber = made + 1;
        const asset: NewAsset = {
          hash: `${hashNumber.toString(16).padStart(32, '0')}` as ContentHash,
          eventId,
          path: `${folder}/${new Date(event.day).toISOString().slice(0, 10).replaceAll('-', '')}-${slug(event.kind)}-${String(seq).padStart(4, '0')}.${ext.toLowerCase()}`,
          originalName: `${body.prefix}${number}.${ext}`,
          size: 2_000_000 + Math.floor(rnd() * 10_000_000),
          mtimeMs: time,
          kind,
          mime: kind === 'video' ? 'video/mp4' : 'image/jpeg',
          width: 6000,
          height: 4000,
          capturedAt: new Date(time).toISOString().slice(0, 19),
          sortTime: time,
          cameraMake: body.make,
          cameraModel: body.model,
          lens: body.lens,
          rating,
          flag,
          status,
          title: rnd() < 0.12 ? sentence(2 + Math.floor(rnd() * 4)) : null,
          description: rnd() < 0.06 ? sentence(6 + Math.floor(rnd() * 10)) : null,
        };
        const assetTags = new Set<string>();
        const tagCount = Math.floor(rnd() * 5) - (rnd() < 0.3 ? 1 : 0);
        for (let i = 0; i < tagCount; i++) assetTags.add(tags[tagRank()]!);
        const peopleCount = Math.floor(rnd() * 4);
        const assetPeople = new Set<PersonId>();
        for (let i = 0; i < peopleCount; i++) assetPeople.add(personIds[poolStart + Math.floor(rnd() * 60)]!);
        pending.push(() => {
          const stored = catalog.assets.insert(asset);
          if (assetTags.size > 0) catalog.tags.tagAsset(stored.id, [...assetTags]);
          for (const personId of assetPeople) catalog.people.tagAsset(stored.id, personId);
        });
        firstTime = Math.min(firstTime, time);
        lastTime = Math.max(lastTime, time);
        made += 1;
        if (pending.length >= INSERT_BATCH) flush();
        if (made % 100_000 === 0) log(`  ${made.toLocaleString('en')} assets`);
      }
      if (made >= count) break;
    }
    flush();
    catalog.db.exec('ANALYZE');
    return {
      root,
      file: catalog.file,
      assets: made,
      events: eventNames.length,
      tags,
      people: people.map((person) => person.name),
      eventNames,
      words,
      firstTime,
      lastTime,
    };
  } finally {
    catalog.close();
  }
}

/** Catalog inserts and event/timeline paging at 1,000,000 assets (`--quick`: 20,000), beside raw SQL on the same file. */
export async function run(options: BenchOptions): Promise<BenchReport> {
  const count = options.quick ? 20_000 : 1_000_000;
  const library = await ensureSyntheticLibrary({ count, benchDir: options.benchDir, log: options.log });
  options.log(
    `catalog: ${library.assets.toLocaleString('en')} assets in ${library.events} events; generated ${library.generatedAt} at ${Math.round(library.assetsPerSecond)} assets/s`,
  );
  const catalog = Catalog.open(library.root, { create: false });
  try {
    const rnd = seededRandom(99);
    const eventIds = (catalog.db.prepare('SELECT id FROM events').all() as Array<{ id: number }>).map((row) => row.id as EventId);
    const samples = options.quick ? 300 : 1000;
    const pickEvent = (): EventId => eventIds[Math.floor(rnd() * eventIds.length)]!;
    const pickTime = (): number => library.firstTime + Math.floor(rnd() * (library.lastTime - library.firstTime));

    const eventPage = await sampleLatencies(() => catalog.assets.listEventPage(pickEvent(), { limit: 200 }), { count: samples, warmup: 50 });
    const rawEvent = catalog.db.prepare(
      'SELECT * FROM assets WHERE event_id = @eventId ORDER BY sort_time ASC, id ASC LIMIT 201',
    );
    const rawEventPage = await sampleLatencies(() => rawEvent.all({ eventId: pickEvent() }), { count: samples, warmup: 50 });
    const timelinePage = await sampleLatencies(
      () => catalog.assets.listTimelinePage({ limit: 200, after: { sortTime: pickTime(), id: Number.MAX_SAFE_INTEGER } }),
      { count: samples, warmup: 50 },
    );
    const rawTimeline = catalog.db.prepare(
      'SELECT * FROM assets WHERE (sort_time, id) < (@t, @id) ORDER BY sort_time DESC, id DESC LIMIT 201',
    );
    const rawTimelinePage = await sampleLatencies(() => rawTimeline.all({ t: pickTime(), id: Number.MAX_SAFE_INTEGER }), {
      count: samples,
      warmup: 50,
    });
    const fileBytes = (catalog.db.prepare('SELECT page_count * page_size AS bytes FROM pragma_page_count, pragma_page_size').get() as { bytes: number })
      .bytes;
    const label = `${library.assets >= 1_000_000 ? `${library.assets / 1_000_000}M` : `${library.assets / 1000}k`}`;
    const rows: ResultRow[] = [
      compareRow({
        what: `insert through catalog API, ${label} (assets/s)`,
        unit: '/s',
        ours: library.assetsPerSecond,
        reference: count >= 1_000_000 ? 38_700 : 87_500,
        better: 'higher',
        note: `rows + tags + people through catalog.assets.insert/tags.tagAsset/people.tagAsset, 1,000 per transaction, measured when the cached file was generated (${library.generatedAt}); reference: bare INSERTs of MEASURED.md`,
      }),
      ...latencyRows(`event page of 200, ${label}`, eventPage, rawEventPage, 5),
      ...latencyRows(`timeline page of 200, ${label}`, timelinePage, rawTimelinePage, 5),
      checkRow({ what: `catalog file, ${label}`, unit: 'MiB', ours: fileBytes / 1024 / 1024, target: '–', pass: null, note: formatBytes(fileBytes) }),
    ];
    return {
      name: 'catalog',
      rows,
      cachesDropped: null,
      details: { library: { assets: library.assets, events: library.events, generatedAt: library.generatedAt }, eventPage, rawEventPage, timelinePage, rawTimelinePage },
    };
  } finally {
    catalog.close();
  }
}

/** p50/p95/p99 rows of ours (the engine API) beside raw SQL on the same file, p95 checked against `targetMs`. */
export function latencyRows(what: string, ours: SampleStats, reference: SampleStats | null, targetMs: number): ResultRow[] {
  return (['p50', 'p95', 'p99'] as const).map((key) => ({
    ...compareRow({ what: `${what} ${key}`, unit: 'ms', ours: ours[key], reference: reference?.[key] ?? null, better: 'lower' }),
    target: key === 'p95' ? `< ${targetMs} ms` : '–',
    pass: key === 'p95' ? ours.p95 < targetMs : null,
  }));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const startedAt = new Date();
  const report = await run({ quick, benchDir: BENCH_DIR, log: (line) => process.stdout.write(`   ${line}\n`) });
  printTable(report.rows);
  process.stdout.write(`results: ${await writeResults(report, { quick, startedAt, finishedAt: new Date() })}\n`);
}
