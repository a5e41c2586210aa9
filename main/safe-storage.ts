import { safeStorage } from 'electron';
import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { SecretStore } from '../app/sync/secret-store.ts';
import type { SecretKeeper } from '../app/ipc/engine-channel.ts';
import { tempPathFor, writeFileAtomic } from '../app/fs/durable-files.ts';
import { AppError } from '../app/shared/errors.ts';
import type { SessionStore, StoredSession } from '../app/sync/sync-client.ts';

/** The part of Electron's `safeStorage` these stores use (a fake stands in where Electron is absent). */
export type SafeStorageApi = Pick<Electron.SafeStorage, 'isAsyncEncryptionAvailable' | 'encryptStringAsync' | 'decryptStringAsync' | 'getSelectedStorageBackend'>;

/** Options of {@link safeStorageSecretStore} and {@link safeStorageSessionStore}. */
export interface SafeStorageOptions {
  /** Electron's by default. */
  safeStorage?: SafeStorageApi;
  /**
   * Linux without a keyring (no GNOME libsecret, no KWallet) falls back to a key written in Chromium's
   * source, which protects nothing; by default nothing is then kept and the user enters it each run.
   */
  allowBasicText?: boolean;
  platform?: NodeJS.Platform;
}

/**
 * One secret encrypted by the OS keychain (Keychain on macOS, DPAPI on Windows, libsecret or KWallet on
 * Linux) through Electron's `safeStorage`. The ciphertext is written atomically to `file` (in the app's
 * user-data folder), mode 0600; only this user's keychain can read it back.
 */
export function safeStorageSecretStore(file: string, options: SafeStorageOptions = {}): SecretStore {
  const storage = options.safeStorage ?? safeStorage;
  const platform = options.platform ?? process.platform;

  const usable = async (): Promise<boolean> => {
    if (!(await storage.isAsyncEncryptionAvailable())) return false;
    return platform !== 'linux' || options.allowBasicText === true || storage.getSelectedStorageBackend() !== 'basic_text';
  };

  return {
    where: 'the system keychain',
    async load() {
      const encrypted = await readFile(file).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return null;
        throw error;
      });
      if (encrypted === null || !(await usable())) return null;
      try {
        return (await storage.decryptStringAsync(encrypted)).result;
      } catch {
        // Another user's or another machine's keychain: as good as nothing kept.
        return null;
      }
    },
    async save(value) {
      if (!(await usable())) {
        throw new AppError(
          'io',
          'The system keychain is not available, so Keepsake cannot keep this safely. Install and unlock a keyring (GNOME Keyring or KWallet), then try again.',
        );
      }
      const encrypted = await storage.encryptStringAsync(value);
      await mkdir(path.dirname(file), { recursive: true });
      // A temp file left by a crash would keep its old mode: start from none.
      await rm(tempPathFor(file), { force: true });
      await writeFileAtomic(file, encrypted, { mode: 0o600 });
      await chmod(file, 0o600);
    },
    async clear() {
      await rm(file, { force: true });
    },
  };
}

/** The desktop's sync session (server, email, refresh token) in the OS keychain; see {@link safeStorageSecretStore}. */
export function safeStorageSessionStore(file: string, options: SafeStorageOptions = {}): SessionStore {
  const secret = safeStorageSecretStore(file, options);
  return {
    async load() {
      const text = await secret.load();
      if (text === null) return null;
      const parsed = JSON.parse(text) as Partial<StoredSession>;
      if (typeof parsed.serverUrl !== 'string' || typeof parsed.refreshToken !== 'string' || typeof parsed.email !== 'string') return null;
      return { serverUrl: parsed.serverUrl, refreshToken: parsed.refreshToken, email: parsed.email };
    },
    save: (session) => secret.save(JSON.stringify({ serverUrl: session.serverUrl, email: session.email, refreshToken: session.refreshToken })),
    clear: () => secret.clear(),
  };
}

/**
 * The engine process's keychain: each secret it names (`session:<library>`, `credentials:<library>`) is one
 * {@link safeStorageSecretStore} file under `dir` (the app's user-data folder), named by a digest of the name.
 */
export function safeStorageKeeper(dir: string, digest: (text: string) => string, options: SafeStorageOptions = {}): SecretKeeper {
  return async (name, op, value) => {
    if (!/^(session|credentials):/.test(name) || name.length > 4200) throw new AppError('invalid-input', 'Keepsake keeps only sessions and access keys in the keychain.');
    const store = safeStorageSecretStore(path.join(dir, `${digest(name)}.bin`), options);
    if (op === 'load') return store.load();
    if (op === 'save') await store.save(value ?? '');
    else await store.clear();
    return null;
  };
}
