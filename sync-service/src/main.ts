/**
 * The command line: `serve` (default), `migrate`, `create-school`. Migrations run on every start, so
 * the embedded default needs no set-up; with several instances, run `migrate` once before rolling out
 * (concurrent starts are still safe: Kysely's migrator takes a lock).
 */
import { parseArgs } from 'node:util';
import { buildApp } from './app.ts';
import { loadSigningKeys } from './auth/keys.ts';
import { TokenService } from './auth/tokens.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { openDatabase, type Db } from './db/database.ts';
import { migrateToLatest } from './db/migrations.ts';
import { ApiError } from './errors.ts';
import { MemoryStore, RedisStore, type RateLimitStore } from './ratelimit.ts';
import { createSchool, hasNoSchool } from './services/schools.ts';
import { mediaSettingsFromConfig } from './services/storage.ts';

const USAGE = `Usage: tsx src/main.ts [serve | migrate | create-school --name NAME --slug SLUG --admin-email EMAIL --admin-password PASSWORD [--admin-name NAME]]`;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function withDatabase<T>(config: Config, work: (db: Db) => Promise<T>): Promise<T> {
  const db = openDatabase(config.database);
  try {
    await migrateToLatest(db);
    return await work(db);
  } finally {
    await db.close();
  }
}

async function migrate(config: Config): Promise<void> {
  await withDatabase(config, async () => say(`Database is up to date (${config.database.kind}).`));
}

async function createSchoolCommand(config: Config, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: 'string' },
      slug: { type: 'string' },
      'admin-email': { type: 'string' },
      'admin-password': { type: 'string' },
      'admin-name': { type: 'string' },
    },
    strict: true,
  });
  const name = values.name;
  const slug = values.slug;
  const adminEmail = values['admin-email'];
  // The password may come from the environment so it stays out of shell history.
  const adminPassword = values['admin-password'] ?? process.env.KEEPSAKE_SYNC_ADMIN_PASSWORD;
  if (name === undefined || slug === undefined || adminEmail === undefined || adminPassword === undefined) {
    throw new ApiError('invalid-input', `create-school needs --name, --slug, --admin-email and --admin-password.\n${USAGE}`);
  }
  await withDatabase(config, async (db) => {
    const school = {
      name,
      slug,
      adminEmail,
      adminPassword,
      ...(values['admin-name'] === undefined ? {} : { adminName: values['admin-name'] }),
    };
    const created = await createSchool(db.kysely, school);
    say(`Created school ${slug} (${created.schoolId}); ${adminEmail} is its admin${created.createdUser ? ' (new user)' : ''}.`);
  });
}

async function serve(config: Config): Promise<void> {
  const keys = loadSigningKeys({ privateKeyPem: config.jwt.privateKeyPem, dataDir: config.dataDir });
  const db = openDatabase(config.database);
  await migrateToLatest(db);
  const tokens = new TokenService(keys, config.jwt);
  // Several instances share their rate-limit counts through Redis; one instance keeps them in memory.
  let store: RateLimitStore = new MemoryStore();
  if (config.redisUrl !== undefined) {
    const redis = new RedisStore(config.redisUrl);
    await redis.connect();
    store = redis;
  }
  const app = buildApp({
    db: db.kysely,
    tokens,
    refreshTtlSeconds: config.jwt.refreshTtlSeconds,
    logger: { level: config.logLevel },
    trustProxy: config.trustProxy,
    rateLimit: { store, limits: config.rateLimits },
    ...(config.metricsToken === undefined ? {} : { metricsToken: config.metricsToken }),
    ...(config.oidc === undefined ? {} : { oidc: config.oidc }),
    ...(config.accessCodeSecret === undefined ? {} : { accessCodeSecret: Buffer.from(config.accessCodeSecret, 'utf8') }),
    ...(config.s3 === undefined ? {} : { media: mediaSettingsFromConfig(config.s3, config.media) }),
  });

  if (config.bootstrap !== undefined && (await hasNoSchool(db.kysely))) {
    const b = config.bootstrap;
    await createSchool(db.kysely, { name: b.schoolName, slug: b.schoolSlug, adminEmail: b.email, adminPassword: b.password });
    app.log.info({ slug: b.schoolSlug, admin: b.email }, 'first start: created the school and its admin from the environment');
  }

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    // Server first (stop accepting, finish in-flight requests), then the database they were using.
    app
      .close()
      .then(() => db.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          app.log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));

  await app.listen({ host: config.host, port: config.port });
  app.log.info({ publicUrl: config.publicUrl, database: config.database.kind }, 'sync service ready');
}

async function main(argv: string[]): Promise<void> {
  const [command = 'serve', ...rest] = argv;
  const config = loadConfig();
  switch (command) {
    case 'serve':
      return serve(config);
    case 'migrate':
      return migrate(config);
    case 'create-school':
      return createSchoolCommand(config, rest);
    default:
      throw new ApiError('invalid-input', `Unknown command "${command}".\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  // Config and input mistakes are the operator's to fix: print the message, not a stack.
  const expected = error instanceof ConfigError || error instanceof ApiError;
  process.stderr.write(`${expected ? (error as Error).message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
