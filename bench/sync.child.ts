// The sync service (or the bare-Fastify floor) as a real server in its own process, so the load generator in
// the bench process does not share its event loop. Seeds the database directly, mints access tokens with the
// TokenService (no sign-in: scrypt would cost ~250 ms a parent), listens on 127.0.0.1:0 and talks to
// `sync.bench.ts` over IPC: `ready` → (`heads` ↔ `ack`)* → `stop`.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
/* eslint-disable no-restricted-imports -- the bench drives the sync service itself, exactly as main.ts builds it */
import { buildApp } from '../sync-service/src/app.ts';
import { generatePem, keysFromPem } from '../sync-service/src/auth/keys.ts';
import { TokenService } from '../sync-service/src/auth/tokens.ts';
import { openDatabase, type Db } from '../sync-service/src/db/database.ts';
import { migrateToLatest } from '../sync-service/src/db/migrations.ts';
import { S3ObjectStore, s3Client, type DeleteOutcome, type ObjectStore, type StoredObject } from '../sync-service/src/services/storage.ts';
/* eslint-enable no-restricted-imports */

/** The variants every seeded and published asset has (the three a gallery page signs). */
export const BENCH_VARIANTS = ['thumb', 'preview', 'poster'] as const;
const EXT: Record<(typeof BENCH_VARIANTS)[number], string> = { thumb: 'webp', preview: 'jpg', poster: 'jpg' };

/** The object key of one variant of one manifest asset (the same keys on both databases, so s3rver is seeded once). */
export function manifestKey(slug: string, assetId: string, variant: (typeof BENCH_VARIANTS)[number]): string {
  return `schools/${slug}/events/publish/${assetId}/${variant}.${EXT[variant]}`;
}

/** What `sync.bench.ts` asks of one child (one JSON argument). */
export type SyncChildJob =
  | {
      mode: 'service';
      database: { kind: 'sqlite'; file: string } | { kind: 'postgres'; connectionString: string; schema: string };
      s3: { endpoint: string; bucket: string };
      slug: string;
      parents: number;
      /** Assets of the gallery event, seeded as `media` rows in bulk (3 variants each). */
      assets: number;
      /** Sizes of the manifest's objects, for the `map` head source (the store's checks excluded). */
      objectSize: number;
    }
  | { mode: 'floor'; bodyFile: string };

/** Sent once the server listens. */
export interface SyncChildReady {
  type: 'ready';
  port: number;
  schoolId?: string;
  galleryEventId?: string;
  publishEventId?: string;
  assetIds?: string[];
  parentTokens?: string[];
  adminToken?: string;
  seedSeconds?: number;
}

export type SyncParentMessage = { type: 'heads'; source: 's3' | 'map' } | { type: 'stop' };

/**
 * The manifest check against s3rver (listings, HEADs for the rest), or (source `map`) answered at once: no
 * listing, and every HEAD with the stated size: the service's share alone.
 */
class SwitchableStore implements ObjectStore {
  source: 's3' | 'map' = 's3';
  constructor(
    private readonly real: S3ObjectStore,
    private readonly size: number,
  ) {}
  head(key: string): Promise<{ size: number } | undefined> {
    return this.source === 's3' ? this.real.head(key) : Promise.resolve({ size: this.size });
  }
  async *list(prefix: string): AsyncIterable<StoredObject[]> {
    if (this.source === 's3') yield* this.real.list(prefix);
  }
  deleteMany(keys: readonly string[]): Promise<DeleteOutcome> {
    return this.real.deleteMany(keys);
  }
  presignGet(key: string, options: { expiresIn: number; contentDisposition: string }): Promise<string> {
    return this.real.presignGet(key, options);
  }
}

function send(message: SyncChildReady | { type: 'ack' }): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error('sync.child.ts must be started with an IPC channel (fork)'));
    process.send(message, (error: Error | null) => (error ? reject(error) : resolve()));
  });
}

async function seed(db: Db, job: Extract<SyncChildJob, { mode: 'service' }>, tokens: TokenService): Promise<Omit<SyncChildReady, 'type' | 'port'>> {
  const now = new Date().toISOString();
  const k = db.kysely;
  const schoolId = randomUUID();
  await k.insertInto('schools').values({ id: schoolId, name: 'Bench Primary', slug: job.slug, created_at: now }).execute();
  const users = Array.from({ length: job.parents }, (_, i) => ({
    id: randomUUID(),
    email: `parent-${i}@bench.test`,
    // Never signed in with: tokens are minted directly.
    password_hash: 'bench:no-sign-in',
    name: `Parent ${i}`,
    created_at: now,
  }));
  const adminId = randomUUID();
  const all = [...users, { id: adminId, email: 'admin@bench.test', password_hash: 'bench:no-sign-in', name: 'Admin', created_at: now }];
  for (let i = 0; i < all.length; i += 200) await k.insertInto('users').values(all.slice(i, i + 200)).execute();
  const memberships = all.map((user) => ({ user_id: user.id, school_id: schoolId, role: user.id === adminId ? ('admin' as const) : ('parent' as const), created_at: now }));
  for (let i = 0; i < memberships.length; i += 200) await k.insertInto('memberships').values(memberships.slice(i, i + 200)).execute();

  const event = (name: string) => ({
    id: randomUUID(),
    school_id: schoolId,
    name,
    starts_on: '2026-06-12',
    ends_on: null,
    location: 'Field',
    description: null,
    state: 'published' as const,
    version: 1,
    created_at: now,
    updated_at: now,
  });
  const gallery = event('Sports Day');
  const publish = event('Summer Fair');
  await k.insertInto('events').values([gallery, publish]).execute();

  const assetIds = Array.from({ length: job.assets }, (_, i) => `asset-${String(i).padStart(5, '0')}-${randomUUID().slice(0, 8)}`);
  const rows = assetIds.flatMap((assetId, position) =>
    BENCH_VARIANTS.map((variant) => ({
      school_id: schoolId,
      event_id: gallery.id,
      asset_id: assetId,
      variant,
      position,
      kind: 'photo',
      object_key: `schools/${job.slug}/events/${gallery.id}/${assetId}/${variant}.${EXT[variant]}`,
      size: variant === 'thumb' ? 18_000 : variant === 'preview' ? 420_000 : 250_000,
      hash: `h-${assetId}-${variant}`,
      width: 4000,
      height: 3000,
      duration_sec: null,
      captured_at: `2026-06-12T10:${String(position % 60).padStart(2, '0')}:00.000Z`,
      rating: 3,
      title: `IMG_${1000 + position}`,
      description: null,
      tags: JSON.stringify(['sports', 'year-4']),
      people: JSON.stringify([]),
      published_at: now,
    })),
  );
  // The service's own chunk size (about 20 parameters a row).
  for (let i = 0; i < rows.length; i += 500) await k.insertInto('media').values(rows.slice(i, i + 500)).execute();

  const parentTokens = await Promise.all(users.map((user) => tokens.issue(user.id)));
  return { schoolId, galleryEventId: gallery.id, publishEventId: publish.id, assetIds, parentTokens, adminToken: await tokens.issue(adminId) };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as SyncChildJob;
  let app: FastifyInstance;
  let close: () => Promise<void>;
  let store: SwitchableStore | undefined;
  let extra: Omit<SyncChildReady, 'type' | 'port'> = {};

  if (job.mode === 'floor') {
    // The floor: Fastify alone, serialising a gallery page of the same size (parsed, so JSON.stringify runs per request).
    const body: unknown = JSON.parse(await readFile(job.bodyFile, 'utf8'));
    app = Fastify({ logger: false });
    app.get('/v1/floor', async () => body);
    close = () => app.close();
  } else {
    const started = process.hrtime.bigint();
    const db =
      job.database.kind === 'sqlite'
        ? openDatabase({ kind: 'sqlite', file: job.database.file })
        : openDatabase({ kind: 'postgres', connectionString: job.database.connectionString }, { options: `-c search_path=${job.database.schema}` });
    await migrateToLatest(db);
    const tokens = new TokenService(keysFromPem(generatePem()), { issuer: 'https://sync.bench', audience: 'keepsake', accessTtlSeconds: 3600 });
    const client = s3Client({
      bucket: job.s3.bucket,
      region: 'us-east-1',
      endpoint: job.s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    store = new SwitchableStore(new S3ObjectStore(client, job.s3.bucket), job.objectSize);
    extra = await seed(db, job, tokens);
    extra.seedSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    // As main.ts builds it, minus the logger and the rate limits (500 parents on one IP would be 429s).
    app = buildApp({ db: db.kysely, tokens, refreshTtlSeconds: 3600, logger: false, media: { store, urlTtlSeconds: 900 } });
    close = async () => {
      await app.close();
      client.destroy();
      await db.close();
    };
  }

  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    app.server.closeAllConnections();
    await close().catch(() => undefined);
    process.exit(code);
  };
  // The bench went away (crashed or was killed): close the database and go too.
  process.on('disconnect', () => void stop(0));
  process.on('message', (raw) => {
    const message = raw as SyncParentMessage;
    if (message.type === 'stop') void stop(0);
    else if (message.type === 'heads' && store) {
      store.source = message.source;
      void send({ type: 'ack' });
    }
  });
  await send({ type: 'ready', port: address.port, ...extra });
}

// The bench imports the helpers above; only a forked child serves.
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`sync.child.ts: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
