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
import { grantServiceRole, openDatabase, roleStanding, type Db } from './db/database.ts';
import { migrateToLatest } from './db/migrations.ts';
import { ApiError } from './errors.ts';
import { MemoryStore, RedisStore, type RateLimitStore } from './ratelimit.ts';
import { SmtpMailer } from './mail/mailer.ts';
import { ActivityRetention } from './analytics/activity-retention.ts';
import { Outbox, OutboxWorker } from './mail/outbox.ts';
import { NotificationWorker } from './notify/notification-worker.ts';
import { HttpSmsSender, SmsOutboxMailer } from './notify/sms.ts';
import { UnsubscribeTokens } from './notify/unsubscribe-tokens.ts';
import { createSchool, hasNoSchool } from './services/schools.ts';
import { ObjectDeletionWorker } from './services/object-deletions.ts';
import { mediaSettingsFromConfig } from './services/storage.ts';

const USAGE = `Usage: tsx src/main.ts [serve | migrate | create-school --name NAME --slug SLUG --admin-email EMAIL --admin-password PASSWORD [--admin-name NAME]]`;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/**
 * Brings the schema up to date. With `DATABASE_MIGRATION_URL` the owner migrates and then grants the
 * service's role its row access; without it the service's own connection migrates (one role for both).
 */
async function prepareSchema(config: Config, db: Db): Promise<void> {
  if (config.databaseOwner === undefined) {
    try {
      await migrateToLatest(db);
    } catch (error) {
      // A service role that may not change the schema, with migrations pending: say what to run.
      const denied = db.kind === 'postgres' ? withCode(error, '42501') : undefined;
      if (denied === undefined) throw error;
      throw new ConfigError([
        `DATABASE_URL: the database needs migrating, but its role may not change the schema (${denied.message}): run "migrate" with DATABASE_MIGRATION_URL set to the schema owner's URL first (the migration Job).`,
      ]);
    }
    return;
  }
  const owner = openDatabase(config.databaseOwner.target);
  try {
    await migrateToLatest(owner);
    await grantServiceRole(owner.kysely, config.databaseOwner.serviceRole);
  } finally {
    await owner.close();
  }
}

/** `error`, or the first of its causes, that carries PostgreSQL's SQLSTATE `code`. */
function withCode(error: unknown, code: string): Error | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if ((e as { code?: unknown }).code === code) return e;
  }
  return undefined;
}

/** Logs a warning when the service's role skips row-level security (a superuser, or BYPASSRLS). */
async function checkRowSecurity(db: Db, warn: (detail: Record<string, unknown>, message: string) => void): Promise<void> {
  if (db.kind !== 'postgres') return;
  const standing = await roleStanding(db.kysely);
  if (standing.bypassesRowSecurity) {
    warn(
      { role: standing.role },
      'the service connects as a superuser or BYPASSRLS role, so row-level security does not apply: give DATABASE_URL a role of its own (README, "Running at scale")',
    );
  }
}

async function withDatabase<T>(config: Config, work: (db: Db) => Promise<T>): Promise<T> {
  const db = openDatabase(config.database);
  try {
    await prepareSchema(config, db);
    return await work(db);
  } finally {
    await db.close();
  }
}

async function migrate(config: Config): Promise<void> {
  await withDatabase(config, async () =>
    say(`Database is up to date (${config.database.kind}${config.databaseOwner === undefined ? '' : `; ${config.databaseOwner.serviceRole} may read and write rows`}).`),
  );
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
  await prepareSchema(config, db);
  const tokens = new TokenService(keys, config.jwt);
  // Several instances share their rate-limit counts through Redis; one instance keeps them in memory.
  let store: RateLimitStore = new MemoryStore();
  if (config.redisUrl !== undefined) {
    const redis = new RedisStore(config.redisUrl);
    await redis.connect();
    store = redis;
  }
  // Deletes erased media from the bucket after their erasure commits; drains what a previous process left.
  const media = config.s3 === undefined ? undefined : mediaSettingsFromConfig(config.s3, config.media);
  const deletions =
    media === undefined
      ? undefined
      : new ObjectDeletionWorker(db.kysely, media.store, { log: { info: (detail, message) => app.log.info(detail, message), warn: (detail, message) => app.log.warn(detail, message) } });
  // Mail is queued in the database by every instance; each instance with SMTP configured also sends it.
  const outbox = new Outbox(tokens.deriveSecret('outbox'));
  const app = buildApp({
    db: db.kysely,
    tokens,
    publicUrl: config.publicUrl,
    inviteTtlSeconds: config.invites.ttlSeconds,
    outbox,
    refreshTtlSeconds: config.jwt.refreshTtlSeconds,
    logger: { level: config.logLevel },
    trustProxy: config.trustProxy,
    rateLimit: { store, limits: config.rateLimits },
    ...(config.metricsToken === undefined ? {} : { metricsToken: config.metricsToken }),
    ...(config.oidc === undefined ? {} : { oidc: config.oidc }),
    ...(config.accessCodeSecret === undefined ? {} : { accessCodeSecret: Buffer.from(config.accessCodeSecret, 'utf8') }),
    ...(media === undefined ? {} : { media }),
    ...(deletions === undefined ? {} : { objectDeletions: deletions }),
  });

  const { smtpUrl, from } = config.mail;
  const mailWorker =
    smtpUrl === undefined || from === undefined
      ? undefined
      : new OutboxWorker(db.kysely, outbox, { mailer: new SmtpMailer(smtpUrl), fromAddress: from, log: app.log });
  if (mailWorker === undefined) app.log.warn('SMTP_URL is not set: invitation mail is kept in the outbox and sent once SMTP_URL and MAIL_FROM are configured.');
  // Digests and event notices become outbox rows on every instance; text messages are sent where the provider is configured.
  const notifications = new NotificationWorker(db.kysely, {
    outbox,
    unsubscribeTokens: new UnsubscribeTokens(tokens.deriveSecret('notify-unsubscribe')),
    publicUrl: config.publicUrl,
    digestDelaySeconds: config.notify.digestDelaySeconds,
    galleryExpiryNoticeDays: config.notify.galleryExpiryNoticeDays,
    retentionDays: config.notify.retentionDays,
    log: app.log,
  });
  // Gallery activity older than ANALYTICS_RETENTION_DAYS goes, on every instance (one idempotent delete).
  const activityRetention = new ActivityRetention(db.kysely, { retentionDays: config.analytics.retentionDays, log: app.log });
  const sms = config.notify.sms;
  const smsWorker =
    sms === undefined
      ? undefined
      : new OutboxWorker(db.kysely, outbox, { mailer: new SmsOutboxMailer(new HttpSmsSender(sms.url, sms.apiKey)), fromAddress: from ?? 'sms@keepsake.invalid', channel: 'sms', log: app.log });

  await checkRowSecurity(db, (detail, message) => app.log.warn(detail, message));

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
      .then(() => deletions?.stop())
      .then(() => notifications.stop())
      .then(() => activityRetention.stop())
      .then(() => mailWorker?.stop())
      .then(() => smsWorker?.stop())
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
  mailWorker?.start();
  smsWorker?.start();
  notifications.start();
  activityRetention.start();
  void deletions?.start();
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
