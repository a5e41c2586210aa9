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
});
