import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { NO_STORAGE, SIGNED_IN, SIGNED_OUT } from '../test/publish-fixtures.ts';
import { storageInput, useSyncStore, type StorageForm } from './sync.store.ts';

let fake: FakeBridge;
const FORM: StorageForm = {
  endpoint: ' ',
  region: 'eu-west-1',
  bucket: 'school-photos',
  pathStyle: true,
  school: 'greenfield',
  allowOriginals: false,
  originalsStorageClass: 'STANDARD',
  concurrency: '4',
  partSizeMiB: 'sixteen',
  limitKbps: '',
  checksums: 'auto',
};

beforeEach(() => {
  fake = installFakeBridge().answer('sync:status', SIGNED_OUT).answer('cloud:settings', NO_STORAGE);
  useSyncStore.setState(useSyncStore.getInitialState(), true);
});

afterEach(() => {
  vi.restoreAllMocks();
});

const START_URL = 'https://sync.greenfield.example/v1/auth/oidc/start?school=greenfield&returnTo=x&challenge=y';

/** A promise the test settles itself, for a call that waits on the browser. */
function later<T>(): { promise: Promise<T>; resolve(value: T): void; reject(error: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

describe('useSyncStore', () => {
  it('signs in with the school account: opens the page in a tab when the host did not, waits, then shows who is signed in', async () => {
    const opened = vi.spyOn(window, 'open').mockReturnValue(null);
    const back = later<typeof SIGNED_IN>();
    fake.answer('sync:providerStart', { url: START_URL, opened: false }).answer('sync:providerFinish', () => back.promise);
    const done = useSyncStore.getState().signInWithProvider('https://sync.greenfield.example', 'greenfield');
    await vi.waitFor(() => expect(useSyncStore.getState().provider).toEqual({ url: START_URL }));
    expect(opened).toHaveBeenCalledWith(START_URL, '_blank', 'noopener');
    expect(fake.inputsOf('sync:providerStart')).toEqual([{ serverUrl: 'https://sync.greenfield.example', school: 'greenfield' }]);
    back.resolve(SIGNED_IN);
    expect(await done).toBe(true);
    expect(useSyncStore.getState()).toMatchObject({ status: SIGNED_IN, provider: null, error: null, message: 'Signed in as office@greenfield.example; this library publishes for Greenfield Primary.' });
  });

  it('opens nothing itself when the host already opened the browser', async () => {
    const opened = vi.spyOn(window, 'open').mockReturnValue(null);
    fake.answer('sync:providerStart', { url: START_URL, opened: true }).answer('sync:providerFinish', SIGNED_IN);
    expect(await useSyncStore.getState().signInWithProvider('https://sync.greenfield.example', 'greenfield')).toBe(true);
    expect(opened).not.toHaveBeenCalled();
  });

  it('says why the sign-in could not start, and opens nothing', async () => {
    const opened = vi.spyOn(window, 'open').mockReturnValue(null);
    fake.fail('sync:providerStart', { code: 'not-found', message: 'Sign-in with an identity provider is not set up on this server.' });
    expect(await useSyncStore.getState().signInWithProvider('https://sync.greenfield.example', 'greenfield')).toBe(false);
    expect(useSyncStore.getState().error?.message).toBe('Sign-in with an identity provider is not set up on this server.');
    expect(useSyncStore.getState().provider).toBeNull();
    expect(opened).not.toHaveBeenCalled();
  });

  it('cancels quietly when asked, but says so when the browser took too long', async () => {
    vi.spyOn(window, 'open').mockReturnValue(null);
    const back = later<typeof SIGNED_IN>();
    fake.answer('sync:providerStart', { url: START_URL, opened: true }).answer('sync:providerFinish', () => back.promise).answer('sync:providerCancel', SIGNED_OUT);
    const done = useSyncStore.getState().signInWithProvider('https://sync.greenfield.example', 'greenfield');
    await vi.waitFor(() => expect(useSyncStore.getState().provider?.url).toBe(START_URL));
    await useSyncStore.getState().cancelProvider();
    // The engine ends the waiting call once cancelled.
    back.reject(new Error('Signing in with the school account was cancelled.'));
    expect(await done).toBe(false);
    expect(fake.inputsOf('sync:providerCancel')).toEqual([{}]);
    expect(useSyncStore.getState()).toMatchObject({ provider: null, error: null, message: 'Sign-in with the school account cancelled.' });

    fake.fail('sync:providerFinish', { code: 'cancelled', message: 'The sign-in in the browser was not finished within 5 minutes: start it again.' });
    expect(await useSyncStore.getState().signInWithProvider('https://sync.greenfield.example', 'greenfield')).toBe(false);
    expect(useSyncStore.getState().error?.message).toBe('The sign-in in the browser was not finished within 5 minutes: start it again.');
    expect(useSyncStore.getState().provider).toBeNull();
  });

  it('signs in with what was typed and shows the school it publishes for', async () => {
    fake.answer('sync:signIn', SIGNED_IN);
    expect(await useSyncStore.getState().signIn('https://sync.greenfield.example', 'office@greenfield.example', 'secret')).toBe(true);
    expect(fake.inputsOf('sync:signIn')).toEqual([{ serverUrl: 'https://sync.greenfield.example', email: 'office@greenfield.example', password: 'secret' }]);
    expect(useSyncStore.getState()).toMatchObject({ status: SIGNED_IN, message: 'Signed in; this library publishes for Greenfield Primary.', error: null, busy: null });
  });

  it('keeps the engine’s error when the password is wrong, and stays signed out', async () => {
    await useSyncStore.getState().load();
    fake.fail('sync:signIn', { code: 'unauthorized', message: 'Wrong email or password.' });
    expect(await useSyncStore.getState().signIn('https://s.example', 'a@b.example', 'nope')).toBe(false);
    expect(useSyncStore.getState().error?.message).toBe('Wrong email or password.');
    expect(useSyncStore.getState().status?.signedIn).toBe(false);
  });

  it('shows the engine’s message per field and keeps the settings it had', async () => {
    await useSyncStore.getState().load();
    fake.answer('cloud:configure', { saved: false, settings: null, errors: { partSizeMiB: 'The part size is a whole number of MiB from 5 to 5120.' } });
    expect(await useSyncStore.getState().saveStorage(FORM)).toBe(false);
    expect(useSyncStore.getState().fieldErrors).toEqual({ partSizeMiB: 'The part size is a whole number of MiB from 5 to 5120.' });
    expect(useSyncStore.getState().storage).toEqual(NO_STORAGE);
  });

  it('sends blank fields as none and text where a number belongs as a number the engine refuses', () => {
    expect(storageInput(FORM)).toMatchObject({ endpoint: null, limitKbps: null, partSizeMiB: -1, concurrency: 4, pathStyle: true, bucket: 'school-photos' });
  });
});
