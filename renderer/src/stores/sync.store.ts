import { create } from 'zustand';
import type { CallInput } from '../../../app/ipc/contract.ts';
import type { ConfigureResult, StorageSettingsView, SyncStatus } from '../../../app/ipc/publish-contract.ts';
import { asCallError, call, openInBrowser, type CallError } from '../bridge/keepsake.ts';

/** The storage form's values as typed (numbers as text until saved). */
export type StorageForm = Required<{ [K in keyof NonNullable<StorageSettingsView['settings']>]: string | boolean }>;

interface SyncState {
  status: SyncStatus | null;
  storage: StorageSettingsView | null;
  /** A message per storage field, from the engine's checks. */
  fieldErrors: ConfigureResult['errors'];
  /** What the last action said ("Saved.", "The bucket … is reachable"). */
  message: string | null;
  error: CallError | null;
  busy: 'signing-in' | 'signing-out' | 'pulling' | 'saving' | 'checking' | 'keeping-key' | null;
  /** A sign-in with the school's account under way in the browser; `url` (the page it opened) once started. */
  provider: { url: string | null } | null;
  load(): Promise<void>;
  signIn(serverUrl: string, email: string, password: string): Promise<boolean>;
  /** Signs in with the school's account (`school`: its slug) in the system browser; resolves once back, or failed. */
  signInWithProvider(serverUrl: string, school: string): Promise<boolean>;
  /** Stops waiting for the browser. */
  cancelProvider(): Promise<void>;
  signOut(): Promise<void>;
  pull(): Promise<void>;
  saveStorage(form: StorageForm): Promise<boolean>;
  check(): Promise<void>;
  /** Hands the store's access key to the engine, which keeps it (the keychain in Electron); it is never read back. */
  keepKey(accessKeyId: string, secretAccessKey: string): Promise<boolean>;
  forgetKey(): Promise<void>;
  dismiss(): void;
}

/** The form's text as the contract's input: blank optional fields mean "none", numbers are parsed. */
export function storageInput(form: StorageForm): CallInput<'cloud:configure'> {
  const text = (key: keyof StorageForm): string => String(form[key]).trim();
  const whole = (key: keyof StorageForm): number => {
    const value = text(key);
    // Not a whole number: sent as one the engine refuses, so its message is shown beside the field.
    return /^-?\d+$/.test(value) ? Number(value) : -1;
  };
  return {
    endpoint: text('endpoint') === '' ? null : text('endpoint'),
    region: text('region'),
    bucket: text('bucket'),
    pathStyle: form.pathStyle === true,
    school: text('school'),
    allowOriginals: form.allowOriginals === true,
    originalsStorageClass: text('originalsStorageClass'),
    concurrency: whole('concurrency'),
    partSizeMiB: whole('partSizeMiB'),
    limitKbps: text('limitKbps') === '' ? null : whole('limitKbps'),
    checksums: form.checksums === 'off' ? 'off' : 'auto',
  };
}

/** The connection to the school: the sync service's session, the storage settings, and the feed's activity. */
export const useSyncStore = create<SyncState>((set, get) => {
  let providerAttempts = 0;
  const run = async <T,>(busy: SyncState['busy'], work: () => Promise<T>): Promise<T | undefined> => {
    set({ busy, error: null, message: null });
    try {
      return await work();
    } catch (error) {
      set({ error: asCallError(error) });
      return undefined;
    } finally {
      set({ busy: null });
    }
  };
  return {
    status: null,
    storage: null,
    fieldErrors: {},
    message: null,
    error: null,
    busy: null,
    provider: null,
    async load() {
      try {
        const [status, storage] = await Promise.all([call('sync:status', {}), call('cloud:settings', {})]);
        set({ status, storage });
      } catch (error) {
        set({ error: asCallError(error) });
      }
    },
    async signIn(serverUrl, email, password) {
      const status = await run('signing-in', () => call('sync:signIn', { serverUrl, email, password }));
      if (status) set({ status, message: status.school ? `Signed in; this library publishes for ${status.school.name}.` : 'Signed in.' });
      return status !== undefined;
    },
    async signInWithProvider(serverUrl, school) {
      const mine = (providerAttempts += 1);
      // Still this window's sign-in: not cancelled here, nor replaced by a newer one.
      const current = (): boolean => providerAttempts === mine && get().provider !== null;
      set({ provider: { url: null }, error: null, message: null });
      try {
        const started = await call('sync:providerStart', { serverUrl, school });
        // Electron's main process opened the system browser; in the web host this page's browser is the system one.
        if (!started.opened) openInBrowser(started.url);
        if (current()) set({ provider: { url: started.url } });
        const status = await call('sync:providerFinish', {});
        set({ status, message: status.school ? `Signed in as ${status.email ?? 'you'}; this library publishes for ${status.school.name}.` : `Signed in as ${status.email ?? 'you'}.` });
        return true;
      } catch (error) {
        // A cancel from this window ends the wait quietly; a timeout or a refusal is said.
        if (current()) set({ error: asCallError(error) });
        return false;
      } finally {
        if (current()) set({ provider: null });
      }
    },
    async cancelProvider() {
      providerAttempts += 1;
      set({ provider: null, error: null, message: 'Sign-in with the school account cancelled.' });
      try {
        set({ status: await call('sync:providerCancel', {}) });
      } catch (error) {
        set({ error: asCallError(error) });
      }
    },
    async signOut() {
      const status = await run('signing-out', () => call('sync:signOut', {}));
      if (status) set({ status, message: 'Signed out.' });
    },
    async pull() {
      const status = await run('pulling', () => call('sync:pull', {}));
      if (status) set({ status, message: 'Up to date with the school.' });
    },
    async saveStorage(form) {
      const result = await run('saving', () => call('cloud:configure', storageInput(form)));
      if (!result) return false;
      if (!result.saved) {
        set({ fieldErrors: result.errors, message: null });
        return false;
      }
      const storage = get().storage;
      set({ fieldErrors: {}, message: 'Storage settings saved.', storage: { ...(storage ?? { credentialsSource: '', credentialsKept: false, accessKeyHint: null, storageClasses: [] }), configured: true, settings: result.settings } });
      return true;
    },
    async check() {
      const result = await run('checking', () => call('cloud:check', {}));
      if (result) set({ message: result.message });
    },
    async keepKey(accessKeyId, secretAccessKey) {
      const storage = await run('keeping-key', () => call('cloud:setCredentials', { accessKeyId, secretAccessKey }));
      if (storage) set({ storage, message: `Access key kept in ${storage.credentialsSource}.` });
      return storage !== undefined;
    },
    async forgetKey() {
      const storage = await run('keeping-key', () => call('cloud:forgetCredentials', {}));
      if (storage) set({ storage, message: 'Access key forgotten.' });
    },
    dismiss() {
      set({ error: null, message: null });
    },
  };
});
