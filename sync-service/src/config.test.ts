import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatePem } from './auth/keys.ts';
import { ConfigError, SERVICE_ROOT, loadConfig } from './config.ts';

function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('has working defaults: SQLite in the data folder, 127.0.0.1:8787, 15 min / 30 day tokens', () => {
    const config = loadConfig({});
    expect(config.dataDir).toBe(path.join(SERVICE_ROOT, 'data'));
    expect(config.database).toEqual({ kind: 'sqlite', file: path.join(SERVICE_ROOT, 'data', 'sync.db') });
    expect(config).toMatchObject({ host: '127.0.0.1', port: 8787, publicUrl: 'http://127.0.0.1:8787', bootstrap: undefined });
    expect(config.jwt).toEqual({
      issuer: 'http://127.0.0.1:8787',
      audience: 'keepsake',
      accessTtlSeconds: 900,
      refreshTtlSeconds: 30 * 24 * 3600,
      privateKeyPem: undefined,
    });
  });

  it('reads every setting', () => {
    const pem = generatePem();
    const config = loadConfig({
      KEEPSAKE_SYNC_DATA: '/srv/keepsake',
      DATABASE_URL: 'postgres://sync@db:5432/keepsake',
      PORT: '9000',
      HOST: '0.0.0.0',
      PUBLIC_URL: 'https://sync.school.example/',
      JWT_AUDIENCE: 'keepsake-test',
      JWT_ACCESS_TTL: '600',
      JWT_PRIVATE_KEY: pem,
      KEEPSAKE_SYNC_ADMIN_EMAIL: 'head@school.example',
      KEEPSAKE_SYNC_ADMIN_PASSWORD: 'long enough secret',
    });
    expect(config.dataDir).toBe('/srv/keepsake');
    expect(config.database).toEqual({ kind: 'postgres', connectionString: 'postgres://sync@db:5432/keepsake' });
    expect(config).toMatchObject({ host: '0.0.0.0', port: 9000, publicUrl: 'https://sync.school.example' });
    expect(config.jwt).toMatchObject({ issuer: 'https://sync.school.example', audience: 'keepsake-test', accessTtlSeconds: 600, privateKeyPem: pem.trim() });
    expect(config.bootstrap).toEqual({ email: 'head@school.example', password: 'long enough secret', schoolName: 'My school', schoolSlug: 'my-school' });
  });

  it('resolves sqlite: paths against the sync-service folder and KEEPSAKE_SYNC_DATA against it too', () => {
    expect(loadConfig({ DATABASE_URL: 'sqlite:./x/sync.db' }).database).toEqual({ kind: 'sqlite', file: path.join(SERVICE_ROOT, 'x', 'sync.db') });
    expect(loadConfig({ DATABASE_URL: 'sqlite:/var/lib/sync.db' }).database).toEqual({ kind: 'sqlite', file: '/var/lib/sync.db' });
    expect(loadConfig({ KEEPSAKE_SYNC_DATA: 'elsewhere' }).database).toEqual({ kind: 'sqlite', file: path.join(SERVICE_ROOT, 'elsewhere', 'sync.db') });
  });

  it('names every mistake, one message per variable, without echoing secrets', () => {
    const found = problems({
      DATABASE_URL: 'mysql://db/x',
      PORT: '80000',
      PUBLIC_URL: 'ftp://x',
      JWT_ACCESS_TTL: 'ten',
      JWT_PRIVATE_KEY: 'not a pem',
      LOG_LEVEL: 'loud',
    });
    expect(found).toEqual([
      'DATABASE_URL: must start with sqlite: (a file path) or postgres:// (a server URL) (got "mysql://db/x")',
      'PORT: must be a port number from 1 to 65535 (got "80000")',
      'PUBLIC_URL: must be an http:// or https:// URL (got "ftp://x")',
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
      'JWT_ACCESS_TTL: must be a whole number of seconds from 30 to 86400 (got "ten")',
      'JWT_PRIVATE_KEY: must be an Ed25519 private key in PKCS8 PEM (-----BEGIN PRIVATE KEY-----)',
    ]);
    expect(problems({ KEEPSAKE_SYNC_ADMIN_EMAIL: 'a@b.c' })).toEqual([
      'KEEPSAKE_SYNC_ADMIN_EMAIL and KEEPSAKE_SYNC_ADMIN_PASSWORD: set both or neither',
    ]);
    expect(problems({ KEEPSAKE_SYNC_ADMIN_EMAIL: 'a@b.c', KEEPSAKE_SYNC_ADMIN_PASSWORD: 'short' })).toEqual([
      'KEEPSAKE_SYNC_ADMIN_PASSWORD: must be at least 10 characters',
    ]);
    expect(problems({ DATABASE_URL: 'sqlite:' })).toEqual(['DATABASE_URL: sqlite: needs a file path, e.g. sqlite:./data/sync.db']);
    expect(() => loadConfig({ PORT: '0' })).toThrow(/Invalid sync-service configuration:\n {2}- PORT: /);
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '', HOST: ' ' })).toMatchObject({ port: 8787, host: '127.0.0.1', database: { kind: 'sqlite' } });
  });

  it('reads the mail settings: no SMTP by default, 7-day invitations', () => {
    expect(loadConfig({})).toMatchObject({ mail: { smtpUrl: undefined, from: undefined }, invites: { ttlSeconds: 7 * 24 * 3600 } });
    const config = loadConfig({ SMTP_URL: 'smtps://mailer:s3cret@mail.example:465', MAIL_FROM: 'keepsake@school.example', INVITE_TTL_DAYS: '14' });
    expect(config.mail).toEqual({ smtpUrl: 'smtps://mailer:s3cret@mail.example:465', from: 'keepsake@school.example' });
    expect(config.invites.ttlSeconds).toBe(14 * 24 * 3600);
    // Sending needs a sender; a sender alone is fine (mail waits in the outbox).
    expect(loadConfig({ MAIL_FROM: 'keepsake@school.example' }).mail.smtpUrl).toBeUndefined();
  });

  it('names each mail mistake and never echoes the SMTP URL, which holds a password', () => {
    expect(problems({ SMTP_URL: 'smtp://mail.example:587' })).toEqual(['MAIL_FROM: required when SMTP_URL is set (the address mail is sent from)']);
    expect(problems({ SMTP_URL: 'http://user:hunter22@mail.example', MAIL_FROM: 'a@b.c' })).toEqual([
      'SMTP_URL: must start with smtp:// (STARTTLS when offered) or smtps:// (TLS from the start)',
    ]);
    expect(problems({ SMTP_URL: 'mail.example', MAIL_FROM: 'a@b.c' })).toEqual(['SMTP_URL: must be a URL such as smtp://user:password@mail.example:587']);
    expect(problems({ SMTP_URL: 'smtp://mailer@mail.example', MAIL_FROM: 'a@b.c' })).toEqual(['SMTP_URL: names a user but no password (smtp://user:password@host:587)']);
    expect(problems({ MAIL_FROM: 'Greenfield <keepsake@school.example>', INVITE_TTL_DAYS: '90' })).toEqual([
      'MAIL_FROM: must be a bare e-mail address such as keepsake@school.example (the sender\'s name is the school\'s) (got "Greenfield <keepsake@school.example>")',
      'INVITE_TTL_DAYS: must be at most 60 days (got "90")',
    ]);
    expect(problems({ INVITE_TTL_DAYS: 'a week' })).toEqual(['INVITE_TTL_DAYS: must be a whole number of days from 1 to 60 (got "a week")']);
  });

  it('takes the schema owner for migrations from DATABASE_MIGRATION_URL and the service role from DATABASE_URL', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://sync@db/keepsake' }).databaseOwner).toBeUndefined();
    const config = loadConfig({ DATABASE_URL: 'postgres://keepsake_app:pw@db/keepsake', DATABASE_MIGRATION_URL: 'postgres://keepsake_owner:secret@db/keepsake' });
    expect(config.database).toEqual({ kind: 'postgres', connectionString: 'postgres://keepsake_app:pw@db/keepsake' });
    expect(config.databaseOwner).toEqual({ target: { kind: 'postgres', connectionString: 'postgres://keepsake_owner:secret@db/keepsake' }, serviceRole: 'keepsake_app' });
  });

  it('names each mistake with the two database roles, and never echoes the owner URL', () => {
    expect(problems({ DATABASE_MIGRATION_URL: 'postgres://owner@db/k' })).toEqual([
      "DATABASE_MIGRATION_URL: only for PostgreSQL; set DATABASE_URL to the postgres:// URL of the service's own role too",
    ]);
    expect(problems({ DATABASE_URL: 'postgres://db/k', DATABASE_MIGRATION_URL: 'postgres://owner@db/k' })).toEqual([
      "DATABASE_URL: must name the service's role (postgres://ROLE:PASSWORD@host/db) when DATABASE_MIGRATION_URL is set, so migrate can grant it access",
    ]);
    expect(problems({ DATABASE_URL: 'postgres://owner:a@db/k', DATABASE_MIGRATION_URL: 'postgres://owner:b@db/k' })).toEqual([
      'DATABASE_MIGRATION_URL: logs in as "owner" like DATABASE_URL; give the service a role of its own, or leave DATABASE_MIGRATION_URL unset',
    ]);
    expect(problems({ DATABASE_URL: 'postgres://app@db/k', DATABASE_MIGRATION_URL: 'mysql://owner:hunter22@db/k' })).toEqual([
      "DATABASE_MIGRATION_URL: must be a postgres:// URL (the schema owner's login)",
    ]);
  });
});
