import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AppError } from '../shared/errors.ts';

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
