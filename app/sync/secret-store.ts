import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { tempPathFor, writeFileAtomic } from '../fs/durable-files.ts';
import type { SessionStore } from './sync-client.ts';

/** Where one secret is kept: the OS keychain in Electron, a file only its user can read for the web host. */
export interface SecretStore {
  /** Says where, for messages ("the system keychain", "a file in the library"). */
  readonly where: string;
  load(): Promise<string | null>;
  save(value: string): Promise<void>;
  clear(): Promise<void>;
}

/** A secret in a file, mode 0600, written atomically (a crash never leaves half a key, nor a readable one). */
export function fileSecretStore(file: string, where = 'a file only you can read'): SecretStore {
  return {
    where,
    async load() {
      return readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return null;
        throw error;
      });
    },
    async save(value) {
      await mkdir(path.dirname(file), { recursive: true });
      // A temp file left by a crash keeps its old mode when reopened: start from none.
      await rm(tempPathFor(file), { force: true });
      await writeFileAtomic(file, value, { mode: 0o600 });
      await chmod(file, 0o600);
    },
    async clear() {
      await rm(file, { force: true });
    },
  };
}


/** A sync session kept as one secret (JSON of server, email and refresh token); anything malformed reads as none. */
export function sessionStoreOf(secret: SecretStore): SessionStore {
  return {
    async load() {
      const text = await secret.load();
      if (text === null) return null;
      let parsed: Partial<Record<'serverUrl' | 'refreshToken' | 'email', unknown>>;
      try {
        parsed = JSON.parse(text) as typeof parsed;
      } catch {
        return null;
      }
      if (typeof parsed.serverUrl !== 'string' || typeof parsed.refreshToken !== 'string' || typeof parsed.email !== 'string') return null;
      return { serverUrl: parsed.serverUrl, refreshToken: parsed.refreshToken, email: parsed.email };
    },
    save: (session) => secret.save(JSON.stringify({ serverUrl: session.serverUrl, email: session.email, refreshToken: session.refreshToken })),
    clear: () => secret.clear(),
  };
}
