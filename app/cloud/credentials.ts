import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AppError } from '../shared/errors.ts';
import type { SecretStore } from '../sync/secret-store.ts';

/** An access key for the object store. */
export interface StoreCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * Where the store's credentials come from. The desktop keeps them in the OS keychain (Electron's
 * safeStorage) behind this interface; the CLI reads the environment or a profile file.
 */
export interface CredentialsProvider {
  /** Says where the key comes from, for messages ("environment", "profile school in ~/.aws/credentials"). */
  readonly source: string;
  credentials(): Promise<StoreCredentials>;
}

/** Credentials given directly (tests, the desktop after it read the keychain). */
export function staticCredentials(credentials: StoreCredentials, source = 'settings'): CredentialsProvider {
  return { source, credentials: () => Promise.resolve(credentials) };
}

/**
 * `KEEPSAKE_S3_ACCESS_KEY_ID` / `KEEPSAKE_S3_SECRET_ACCESS_KEY` (/ `KEEPSAKE_S3_SESSION_TOKEN`), else the
 * standard `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`.
 */
export function environmentCredentials(env: NodeJS.ProcessEnv = process.env): CredentialsProvider | null {
  const own = env.KEEPSAKE_S3_ACCESS_KEY_ID && env.KEEPSAKE_S3_SECRET_ACCESS_KEY;
  const accessKeyId = own ? env.KEEPSAKE_S3_ACCESS_KEY_ID : env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = own ? env.KEEPSAKE_S3_SECRET_ACCESS_KEY : env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return null;
  const sessionToken = own ? env.KEEPSAKE_S3_SESSION_TOKEN : env.AWS_SESSION_TOKEN;
  return staticCredentials({ accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) }, 'environment');
}

/** Reads one profile of an AWS-style INI credentials file (`[name]` then `key = value` lines). */
export function profileCredentials(profile: string, file = path.join(os.homedir(), '.aws', 'credentials')): CredentialsProvider {
  const source = `profile ${profile} in ${file}`;
  return {
    source,
    async credentials() {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        throw new AppError('unauthorized', `No S3 credentials: ${file} cannot be read.`);
      }
      const values = parseIniSection(text, profile);
      const accessKeyId = values.get('aws_access_key_id');
      const secretAccessKey = values.get('aws_secret_access_key');
      if (!accessKeyId || !secretAccessKey) {
        throw new AppError('unauthorized', `No S3 credentials in ${source}: it needs aws_access_key_id and aws_secret_access_key.`);
      }
      const sessionToken = values.get('aws_session_token');
      return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
    },
  };
}

function parseIniSection(text: string, section: string): Map<string, string> {
  const values = new Map<string, string>();
  let inSection = false;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      inSection = header[1] === section;
      continue;
    }
    const pair = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    if (inSection && pair) values.set(pair[1]!.toLowerCase(), pair[2]!);
  }
  return values;
}

/** The CLI's choice: `--profile` (or `KEEPSAKE_S3_PROFILE`), else the environment; a clear error when neither has a key. */
export function cliCredentials(profile: string | undefined, env: NodeJS.ProcessEnv = process.env): CredentialsProvider {
  const name = profile ?? env.KEEPSAKE_S3_PROFILE;
  if (name) return profileCredentials(name, env.AWS_SHARED_CREDENTIALS_FILE);
  const fromEnv = environmentCredentials(env);
  if (fromEnv) return fromEnv;
  return {
    source: 'none',
    credentials: () =>
      Promise.reject(
        new AppError('unauthorized', 'No S3 credentials: set KEEPSAKE_S3_ACCESS_KEY_ID and KEEPSAKE_S3_SECRET_ACCESS_KEY, or pass --profile NAME.'),
      ),
  };
}

/** An access key the desktop keeps (entered in its settings), over `fallback` while none is kept. */
export interface KeptCredentials extends CredentialsProvider {
  /** Whether a key is kept; null until the store was first read. */
  readonly kept: boolean | null;
  /** The last four characters of the kept access key id, to tell keys apart; never the secret. */
  readonly hint: string | null;
  /** Reads the store (once at start; the provider reads it again by itself when asked for the key). */
  load(): Promise<void>;
  keep(credentials: StoreCredentials): Promise<void>;
  forget(): Promise<void>;
}

/** Checks an access key as typed; a message for the person who typed it. */
export function checkStoreCredentials(credentials: StoreCredentials): void {
  if (!/^[\x21-\x7e]{3,128}$/.test(credentials.accessKeyId)) throw new AppError('invalid-input', 'The access key ID is 3 to 128 characters without spaces.');
  if (!/^[\x21-\x7e]{8,256}$/.test(credentials.secretAccessKey)) throw new AppError('invalid-input', 'The secret access key is 8 to 256 characters without spaces.');
}

/** {@link KeptCredentials} over a {@link SecretStore}. */
export function keptCredentials(store: SecretStore, fallback: CredentialsProvider): KeptCredentials {
  let kept: StoreCredentials | null | undefined;
  const read = async (): Promise<StoreCredentials | null> => {
    const text = await store.load();
    if (text === null) return null;
    const parsed = JSON.parse(text) as Partial<StoreCredentials>;
    if (typeof parsed.accessKeyId !== 'string' || typeof parsed.secretAccessKey !== 'string') return null;
    return { accessKeyId: parsed.accessKeyId, secretAccessKey: parsed.secretAccessKey };
  };
  return {
    get source() {
      return kept ? store.where : fallback.source;
    },
    get kept() {
      return kept === undefined ? null : kept !== null;
    },
    get hint() {
      return kept ? kept.accessKeyId.slice(-4) : null;
    },
    async load() {
      kept = await read();
    },
    async credentials() {
      kept ??= await read();
      return kept ?? fallback.credentials();
    },
    async keep(credentials) {
      checkStoreCredentials(credentials);
      await store.save(JSON.stringify({ accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey }));
      kept = { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey };
    },
    async forget() {
      await store.clear();
      kept = null;
    },
  };
}
