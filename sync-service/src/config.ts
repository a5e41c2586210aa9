/**
 * The service's settings, read once from the environment and validated, so a typo fails at start
 * with a message naming the variable instead of surfacing later as a confusing runtime error.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** The sync-service folder: relative paths resolve here, whatever the caller's working directory. */
export const SERVICE_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Where the rows live: an SQLite file (embedded default) or a PostgreSQL server (scale). */
export type DatabaseTarget = { kind: 'sqlite'; file: string } | { kind: 'postgres'; connectionString: string };

/** The validated settings. */
export interface Config {
  /** Folder for the SQLite file and the generated signing key. */
  dataDir: string;
  database: DatabaseTarget;
  /**
   * PostgreSQL with two roles: the owner's URL (`DATABASE_MIGRATION_URL`), which `migrate` and start-up
   * migrations use, and the service's role (`DATABASE_URL`'s user) that they grant row access to.
   * Unset: one role migrates and serves.
   */
  databaseOwner: { target: DatabaseTarget & { kind: 'postgres' }; serviceRole: string } | undefined;
  host: string;
  port: number;
  /** The URL desktops and browsers use to reach the service; the default JWT issuer. */
  publicUrl: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  jwt: {
    issuer: string;
    audience: string;
    accessTtlSeconds: number;
    refreshTtlSeconds: number;
    /** PKCS8 PEM of the Ed25519 key; unset means "generate once and keep it in {@link dataDir}". */
    privateKeyPem: string | undefined;
  };
  /** The bucket the desktops publish to; unset means media cannot be published or served yet. */
  s3: S3Settings | undefined;
  /** How published media are handed to browsers. */
  media: {
    /** Lifetime of a presigned GET URL. */
    urlTtlSeconds: number;
    /** When set, media URLs are `CDN_BASE_URL/key` instead of presigned bucket URLs. */
    cdnBaseUrl: string | undefined;
  };
  /** Shared rate-limit counters when set (several instances); in memory otherwise. */
  redisUrl: string | undefined;
  /** Behind a load balancer: `true` (trust any hop) or the balancers' addresses/CIDRs; `false` otherwise. */
  trustProxy: boolean | string[];
  /** When set, `/metrics` needs this bearer token. */
  metricsToken: string | undefined;
  /** Requests per window; 0 turns a rule off. */
  rateLimits: {
    windowSeconds: number;
    perIp: number;
    perSchool: number;
    signInPerIp: number;
    signInPerAccount: number;
    refreshPerIp: number;
  };
  /** Staff sign-in through an OpenID provider; unset means the OIDC routes answer 404. */
  oidc: { issuer: string; clientId: string; clientSecret: string; redirectUri: string } | undefined;
  /** HMAC key for family access codes; unset means "derived from the JWT signing key". */
  accessCodeSecret: string | undefined;
  /** Outgoing mail; with no `smtpUrl`, mail waits in the outbox until one is configured. */
  mail: { smtpUrl: string | undefined; from: string | undefined };
  /** How long an invitation link works. */
  invites: { ttlSeconds: number };
  /** Parents' notifications: digests of new media, event updates, text messages. */
  notify: {
    /**
     * How long a digest gathers publishes before it is sent, counted from the first publish it holds. A
     * photographer publishes an event in batches over minutes or hours: waiting this long turns a
     * morning's batches into one mail per family, yet a later publish still starts a digest of its own.
     */
    digestDelaySeconds: number;
    /** How many days before a gallery closes its families are told. */
    galleryExpiryNoticeDays: number;
    /** How long sent, cancelled and finally failed digests, notices and their messages are kept. */
    retentionDays: number;
    /** The SMS provider's HTTP API; unset, text messages wait in the outbox. */
    sms: { url: string; apiKey: string } | undefined;
  };
  /** Gallery analytics: how many days of activity (today included) are kept. */
  analytics: { retentionDays: number };
  /** First-start admin from the environment, so the embedded default works with no set-up step. */
  bootstrap: { email: string; password: string; schoolName: string; schoolSlug: string } | undefined;
}

/** The object store (S3 or compatible: MinIO, R2, s3rver in tests). */
export interface S3Settings {
  bucket: string;
  region: string;
  /** Unset means AWS's own endpoint for the region. */
  endpoint: string | undefined;
  /** `endpoint/bucket/key` URLs, which MinIO and most self-hosted stores need. */
  forcePathStyle: boolean;
  /** Unset means the SDK's default chain (instance role, shared config). */
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
}

/** Thrown for a bad environment; its message lists every mistake, one a line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid sync-service configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** A school's short name in URLs: lower-case letters, digits and single dashes. */
export const SLUG_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * Deliberately loose (something@something): the address is only ever a sign-in name, and strict
 * validators refuse real set-ups such as `admin@school.local`.
 */
export const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+$/;

/** Empty variables were already dropped in {@link loadConfig}, so "set" means "has a value". */
const optionalText = z.string().trim().optional();

/** Whole seconds within a range; environment values arrive as text. */
function seconds(min: number, max: number) {
  return z
    .string()
    .regex(/^\d+$/, `must be a whole number of seconds from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min} seconds`).max(max, `must be at most ${max} seconds`))
    .optional();
}

/** A retention in whole days, from a day to ten years; `what` says what is kept, in the message. */
function retentionDays(what: string) {
  return z
    .string()
    .regex(/^\d+$/, `must be a whole number of days from 1 to 3650 (${what})`)
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be at least 1 day').max(3650, 'must be at most 3650 days (ten years)'))
    .optional();
}

/** A request count per window; 0 turns the rule off. */
const perWindow = z
  .string()
  .regex(/^\d+$/, 'must be a whole number of requests from 0 (off) to 1000000')
  .transform(Number)
  .pipe(z.number().int().max(1_000_000, 'must be at most 1000000'))
  .optional();

/** `true`, or proxy addresses: IPs, CIDRs or proxy-addr's names (loopback, linklocal, uniquelocal). */
function trustProxyEntry(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address = '', bits, ...rest] = entry.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128));
}

/** Why `value` is not a usable SMTP URL (`smtp://user:pass@host:587`, `smtps://host:465`), or undefined. */
function smtpUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be a URL such as smtp://user:password@mail.example:587';
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') return 'must start with smtp:// (STARTTLS when offered) or smtps:// (TLS from the start)';
  if (url.hostname === '') return 'needs a host name, e.g. smtp://mail.example:587';
  if (url.username !== '' && url.password === '') return 'names a user but no password (smtp://user:password@host:587)';
  return undefined;
}

const EnvSchema = z.object({
  KEEPSAKE_SYNC_DATA: optionalText,
  DATABASE_URL: optionalText.pipe(
    z
      .string()
      .regex(/^(sqlite:|postgres:\/\/|postgresql:\/\/)/, 'must start with sqlite: (a file path) or postgres:// (a server URL)')
      .optional(),
  ),
  DATABASE_MIGRATION_URL: optionalText.pipe(
    z
      .string()
      .regex(/^(postgres:\/\/|postgresql:\/\/)/, "must be a postgres:// URL (the schema owner's login)")
      .optional(),
  ),
  PORT: z
    .string()
    .regex(/^\d+$/, 'must be a port number from 1 to 65535')
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be a port number from 1 to 65535').max(65535, 'must be a port number from 1 to 65535'))
    .optional(),
  HOST: optionalText,
  PUBLIC_URL: optionalText.pipe(z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional()),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .optional(),
  JWT_ISSUER: optionalText,
  JWT_AUDIENCE: optionalText,
  JWT_ACCESS_TTL: seconds(30, 24 * 3600),
  JWT_REFRESH_TTL: seconds(3600, 365 * 24 * 3600),
  JWT_PRIVATE_KEY: optionalText.pipe(
    z
      .string()
      .includes('-----BEGIN PRIVATE KEY-----', { error: 'must be an Ed25519 private key in PKCS8 PEM (-----BEGIN PRIVATE KEY-----)' })
      .optional(),
  ),
  REDIS_URL: optionalText.pipe(z.string().regex(/^rediss?:\/\/./, 'must be a redis:// or rediss:// URL').optional()),
  TRUST_PROXY: optionalText.pipe(
    z
      .string()
      .refine((v) => v === 'true' || v === 'false' || v.split(',').every((entry) => trustProxyEntry(entry.trim())), {
        error: 'must be true, false, or comma-separated load-balancer addresses or CIDRs (e.g. 10.0.0.0/8)',
      })
      .optional(),
  ),
  METRICS_TOKEN: optionalText.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  RATE_LIMIT_WINDOW: seconds(1, 3600),
  RATE_LIMIT_PER_IP: perWindow,
  RATE_LIMIT_PER_SCHOOL: perWindow,
  RATE_LIMIT_SIGN_IN_PER_IP: perWindow,
  RATE_LIMIT_SIGN_IN_PER_ACCOUNT: perWindow,
  RATE_LIMIT_REFRESH_PER_IP: perWindow,
  KEEPSAKE_SYNC_ADMIN_EMAIL: optionalText.pipe(z.string().regex(EMAIL_PATTERN, 'must be an email address').optional()),
  KEEPSAKE_SYNC_ADMIN_PASSWORD: optionalText.pipe(z.string().min(10, 'must be at least 10 characters').optional()),
  KEEPSAKE_SYNC_SCHOOL_NAME: optionalText,
  KEEPSAKE_SYNC_SCHOOL_SLUG: optionalText.pipe(z.string().regex(SLUG_PATTERN, 'must be lower-case letters, digits and dashes').optional()),
  S3_ENDPOINT: optionalText.pipe(z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional()),
  S3_REGION: optionalText,
  S3_BUCKET: optionalText.pipe(
    z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a bucket name: 3 to 63 lower-case letters, digits, dots and dashes').optional(),
  ),
  S3_FORCE_PATH_STYLE: z.enum(['true', 'false', '1', '0'], { error: 'must be true or false' }).optional(),
  AWS_ACCESS_KEY_ID: optionalText,
  AWS_SECRET_ACCESS_KEY: optionalText,
  S3_ACCESS_KEY_ID: optionalText,
  S3_SECRET_ACCESS_KEY: optionalText,
  // S3 refuses presigned URLs that live longer than 7 days.
  MEDIA_URL_TTL_SECONDS: seconds(10, 7 * 24 * 3600),
  CDN_BASE_URL: optionalText.pipe(z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional()),
  OIDC_ISSUER: optionalText.pipe(z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional()),
  OIDC_CLIENT_ID: optionalText,
  OIDC_CLIENT_SECRET: optionalText,
  OIDC_REDIRECT_URI: optionalText.pipe(z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional()),
  ACCESS_CODE_SECRET: optionalText.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
  SMTP_URL: optionalText.pipe(
    z
      .string()
      .refine((v) => smtpUrlProblem(v) === undefined, { error: (issue) => smtpUrlProblem(String(issue.input)) ?? 'must be an smtp:// or smtps:// URL' })
      .optional(),
  ),
  MAIL_FROM: optionalText.pipe(
    z.string().regex(EMAIL_PATTERN, "must be a bare e-mail address such as keepsake@school.example (the sender's name is the school's)").optional(),
  ),
  // 0 sends at the next worker round (tests, or a school that wants each publish told at once); at most a day.
  NOTIFY_DIGEST_DELAY_SEC: optionalText.pipe(
    z
      .string()
      .regex(/^\d+$/, 'must be a whole number of seconds from 0 to 86400 (how long a digest gathers publishes; default 600)')
      .transform(Number)
      .pipe(z.number().int().max(86_400, 'must be at most 86400 seconds (one day): families expect to hear about photos the same day'))
      .optional(),
  ),
  NOTIFY_GALLERY_EXPIRY_DAYS: optionalText.pipe(
    z
      .string()
      .regex(/^\d+$/, 'must be a whole number of days from 1 to 30')
      .transform(Number)
      .pipe(z.number().int().min(1, 'must be at least 1 day').max(30, 'must be at most 30 days'))
      .optional(),
  ),
  NOTIFY_RETENTION_DAYS: optionalText.pipe(retentionDays('how long sent notifications are kept; default 90')),
  // Long enough by default to set a school year beside the last one; short of keeping families' activity for good.
  ANALYTICS_RETENTION_DAYS: optionalText.pipe(retentionDays('how long gallery activity is kept; default 400')),
  SMS_API_URL: optionalText.pipe(z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL (the SMS provider's send endpoint)" }).optional()),
  SMS_API_KEY: optionalText.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  INVITE_TTL_DAYS: optionalText.pipe(
    z
      .string()
      .regex(/^\d+$/, 'must be a whole number of days from 1 to 60')
      .transform(Number)
      .pipe(z.number().int().min(1, 'must be at least 1 day').max(60, 'must be at most 60 days'))
      .optional(),
  ),
});

/** The user a postgres:// URL logs in as, or undefined when it names none. */
function urlUser(url: string): string | undefined {
  try {
    const user = decodeURIComponent(new URL(url).username);
    return user === '' ? undefined : user;
  } catch {
    return undefined;
  }
}

/** `DATABASE_MIGRATION_URL` checked against `DATABASE_URL`: two different roles on PostgreSQL. */
function ownerSettings(ownerUrl: string | undefined, database: DatabaseTarget, problems: string[]): Config['databaseOwner'] {
  if (ownerUrl === undefined) return undefined;
  if (database.kind !== 'postgres') {
    problems.push('DATABASE_MIGRATION_URL: only for PostgreSQL; set DATABASE_URL to the postgres:// URL of the service\'s own role too');
    return undefined;
  }
  const serviceRole = urlUser(database.connectionString);
  if (serviceRole === undefined) {
    problems.push("DATABASE_URL: must name the service's role (postgres://ROLE:PASSWORD@host/db) when DATABASE_MIGRATION_URL is set, so migrate can grant it access");
    return undefined;
  }
  if (urlUser(ownerUrl) === serviceRole) {
    problems.push(`DATABASE_MIGRATION_URL: logs in as "${serviceRole}" like DATABASE_URL; give the service a role of its own, or leave DATABASE_MIGRATION_URL unset`);
    return undefined;
  }
  return { target: { kind: 'postgres', connectionString: ownerUrl }, serviceRole };
}

/** Reads and validates the settings; throws a {@link ConfigError} naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // `PORT=` in a .env file or compose file means "not set", not "port empty string".
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      const raw = env[name];
      // Echo the value except for secrets, so the reader sees what was actually read.
      const shown = raw === undefined || /KEY|PASSWORD|TOKEN|SECRET|REDIS_URL|SMTP_URL|DATABASE_MIGRATION_URL/.test(name) ? '' : ` (got ${JSON.stringify(raw)})`;
      return `${name}: ${issue.message}${shown}`;
    });
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const problems: string[] = [];

  const dataDir = path.resolve(SERVICE_ROOT, e.KEEPSAKE_SYNC_DATA ?? 'data');
  const host = e.HOST ?? '127.0.0.1';
  const port = e.PORT ?? 8787;
  const publicUrl = (e.PUBLIC_URL ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`).replace(/\/+$/, '');

  let database: DatabaseTarget;
  const url = e.DATABASE_URL;
  if (url === undefined) {
    database = { kind: 'sqlite', file: path.join(dataDir, 'sync.db') };
  } else if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (file === '') problems.push('DATABASE_URL: sqlite: needs a file path, e.g. sqlite:./data/sync.db');
    database = { kind: 'sqlite', file: path.resolve(SERVICE_ROOT, file) };
  } else {
    database = { kind: 'postgres', connectionString: url };
  }
  const databaseOwner = ownerSettings(e.DATABASE_MIGRATION_URL, database, problems);

  const email = e.KEEPSAKE_SYNC_ADMIN_EMAIL;
  const password = e.KEEPSAKE_SYNC_ADMIN_PASSWORD;
  if ((email === undefined) !== (password === undefined)) {
    problems.push('KEEPSAKE_SYNC_ADMIN_EMAIL and KEEPSAKE_SYNC_ADMIN_PASSWORD: set both or neither');
  }
  // S3_* wins over AWS_*: the service's own bucket may use other keys than the host's AWS tooling.
  const accessKeyId = e.S3_ACCESS_KEY_ID ?? e.AWS_ACCESS_KEY_ID;
  const secretAccessKey = e.S3_ACCESS_KEY_ID === undefined ? e.AWS_SECRET_ACCESS_KEY : e.S3_SECRET_ACCESS_KEY;
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    problems.push('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY): set both or neither');
  }
  const s3Named = [e.S3_ENDPOINT, e.S3_REGION, e.S3_FORCE_PATH_STYLE].some((value) => value !== undefined);
  if (e.S3_BUCKET === undefined && s3Named) problems.push('S3_BUCKET: required when S3_ENDPOINT, S3_REGION or S3_FORCE_PATH_STYLE is set');
  const oidcSet = [e.OIDC_ISSUER, e.OIDC_CLIENT_ID, e.OIDC_CLIENT_SECRET, e.OIDC_REDIRECT_URI];
  if (e.SMTP_URL !== undefined && e.MAIL_FROM === undefined) problems.push('MAIL_FROM: required when SMTP_URL is set (the address mail is sent from)');
  if ((e.SMS_API_URL === undefined) !== (e.SMS_API_KEY === undefined)) problems.push('SMS_API_URL and SMS_API_KEY: set both or neither');
  if (oidcSet.some((v) => v !== undefined) && oidcSet.some((v) => v === undefined)) {
    problems.push('OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and OIDC_REDIRECT_URI: set all four or none');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    dataDir,
    database,
    databaseOwner,
    host,
    port,
    publicUrl,
    logLevel: e.LOG_LEVEL ?? 'info',
    jwt: {
      issuer: e.JWT_ISSUER ?? publicUrl,
      audience: e.JWT_AUDIENCE ?? 'keepsake',
      accessTtlSeconds: e.JWT_ACCESS_TTL ?? 15 * 60,
      refreshTtlSeconds: e.JWT_REFRESH_TTL ?? 30 * 24 * 3600,
      privateKeyPem: e.JWT_PRIVATE_KEY,
    },
    s3:
      e.S3_BUCKET === undefined
        ? undefined
        : {
            bucket: e.S3_BUCKET,
            region: e.S3_REGION ?? 'us-east-1',
            endpoint: e.S3_ENDPOINT?.replace(/\/+$/, ''),
            forcePathStyle: e.S3_FORCE_PATH_STYLE === 'true' || e.S3_FORCE_PATH_STYLE === '1',
            credentials: accessKeyId !== undefined && secretAccessKey !== undefined ? { accessKeyId, secretAccessKey } : undefined,
          },
    media: { urlTtlSeconds: e.MEDIA_URL_TTL_SECONDS ?? 300, cdnBaseUrl: e.CDN_BASE_URL?.replace(/\/+$/, '') },
    redisUrl: e.REDIS_URL,
    trustProxy:
      e.TRUST_PROXY === undefined || e.TRUST_PROXY === 'false'
        ? false
        : e.TRUST_PROXY === 'true'
          ? true
          : e.TRUST_PROXY.split(',').map((entry) => entry.trim()),
    metricsToken: e.METRICS_TOKEN,
    rateLimits: {
      windowSeconds: e.RATE_LIMIT_WINDOW ?? 60,
      perIp: e.RATE_LIMIT_PER_IP ?? 1200,
      // The same defaults as DEFAULT_RATE_LIMITS in ratelimit.ts (see the sizing there).
      perSchool: e.RATE_LIMIT_PER_SCHOOL ?? 6000,
      signInPerIp: e.RATE_LIMIT_SIGN_IN_PER_IP ?? 10,
      signInPerAccount: e.RATE_LIMIT_SIGN_IN_PER_ACCOUNT ?? 5,
      refreshPerIp: e.RATE_LIMIT_REFRESH_PER_IP ?? 30,
    },
    oidc:
      e.OIDC_ISSUER !== undefined && e.OIDC_CLIENT_ID !== undefined && e.OIDC_CLIENT_SECRET !== undefined && e.OIDC_REDIRECT_URI !== undefined
        ? { issuer: e.OIDC_ISSUER, clientId: e.OIDC_CLIENT_ID, clientSecret: e.OIDC_CLIENT_SECRET, redirectUri: e.OIDC_REDIRECT_URI }
        : undefined,
    accessCodeSecret: e.ACCESS_CODE_SECRET,
    mail: { smtpUrl: e.SMTP_URL, from: e.MAIL_FROM },
    invites: { ttlSeconds: (e.INVITE_TTL_DAYS ?? 7) * 24 * 3600 },
    notify: {
      digestDelaySeconds: e.NOTIFY_DIGEST_DELAY_SEC ?? 600,
      galleryExpiryNoticeDays: e.NOTIFY_GALLERY_EXPIRY_DAYS ?? 3,
      retentionDays: e.NOTIFY_RETENTION_DAYS ?? 90,
      sms: e.SMS_API_URL !== undefined && e.SMS_API_KEY !== undefined ? { url: e.SMS_API_URL, apiKey: e.SMS_API_KEY } : undefined,
    },
    analytics: { retentionDays: e.ANALYTICS_RETENTION_DAYS ?? 400 },
    bootstrap:
      email !== undefined && password !== undefined
        ? {
            email,
            password,
            schoolName: e.KEEPSAKE_SYNC_SCHOOL_NAME ?? 'My school',
            schoolSlug: e.KEEPSAKE_SYNC_SCHOOL_SLUG ?? 'my-school',
          }
        : undefined,
  };
}
