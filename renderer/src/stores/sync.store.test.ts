import { beforeEach, describe, expect, it } from 'vitest';
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

describe('useSyncStore', () => {
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
