import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useSyncStore } from '../stores/sync.store.ts';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { NO_STORAGE, SIGNED_IN, SIGNED_OUT } from '../test/publish-fixtures.ts';
import { SettingsView } from './SettingsView.tsx';

let fake: FakeBridge;

beforeEach(() => {
  fake = installFakeBridge().answer('sync:status', SIGNED_OUT).answer('cloud:settings', NO_STORAGE);
  useSyncStore.setState(useSyncStore.getInitialState(), true);
});
afterEach(cleanup);

describe('SettingsView', () => {
  it('signs in, forgets the password field, and lists who changed what at the school', async () => {
    fake.answer('sync:signIn', SIGNED_IN);
    render(<SettingsView />);
    const form = await screen.findByRole('form', { name: 'Sign in to the sync service' });
    fireEvent.change(within(form).getByLabelText('Sync service URL'), { target: { value: 'https://sync.greenfield.example' } });
    fireEvent.change(within(form).getByLabelText('Email'), { target: { value: 'office@greenfield.example' } });
    fireEvent.change(within(form).getByLabelText('Password'), { target: { value: 'secret' } });
    fireEvent.submit(form);
    expect(await screen.findByText(/This library publishes for Greenfield Primary\./)).toBeTruthy();
    expect(screen.queryByLabelText('Password')).toBeNull();
    const activity = screen.getByRole('list', { name: 'Changes from the school' });
    expect(within(activity).getByRole('listitem').textContent).toMatch(/^Ana Lima: consent to publish withdrawn — by u-42/);
  });

  it('says which sign-in field is missing without asking the engine', async () => {
    render(<SettingsView />);
    const form = await screen.findByRole('form', { name: 'Sign in to the sync service' });
    fireEvent.submit(form);
    expect((await within(form).findByRole('alert')).textContent).toBe('Enter the sync service URL.');
    expect(fake.inputsOf('sync:signIn')).toEqual([]);
  });

  it('shows the engine’s message beside each storage field it refused', async () => {
    fake.answer('cloud:configure', {
      saved: false,
      settings: null,
      errors: { bucket: 'A bucket name is 3–63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit.', region: 'The region is letters, digits and hyphens, such as eu-west-1 (or auto for R2).' },
    });
    render(<SettingsView />);
    const form = await screen.findByRole('form', { name: 'Storage settings' });
    fireEvent.change(within(form).getByLabelText(/^Bucket/), { target: { value: 'My_Bucket' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Save storage settings' }));
    const bucket = within(form).getByLabelText(/^Bucket/);
    await waitFor(() => expect(bucket.getAttribute('aria-invalid')).toBe('true'));
    expect(document.getElementById(bucket.getAttribute('aria-describedby')!)!.textContent).toMatch(/^A bucket name is 3–63/);
    expect(within(form).getByLabelText(/^Region/).getAttribute('aria-invalid')).toBe('true');
    expect(within(form).getByLabelText(/^Endpoint/).getAttribute('aria-invalid')).toBeNull();
    expect(fake.inputsOf('cloud:configure')[0]).toMatchObject({ bucket: 'My_Bucket', endpoint: null, concurrency: 4 });
  });

  it('hands the access key to the engine, empties both fields, and shows only the last four characters', async () => {
    fake.answer('cloud:setCredentials', { ...NO_STORAGE, credentialsKept: true, accessKeyHint: 'WXYZ', credentialsSource: 'the system keychain' });
    render(<SettingsView />);
    const form = await screen.findByRole('form', { name: 'Access key' });
    expect(within(form).getByRole('status').textContent).toBe('No access key yet. It is never shown again here.');
    fireEvent.change(within(form).getByLabelText('Access key ID'), { target: { value: 'AKIAABCDWXYZ' } });
    fireEvent.change(within(form).getByLabelText('Secret access key'), { target: { value: 'the-secret-value' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Keep this key' }));
    await within(form).findByText('The key ending in …WXYZ is kept in the system keychain. It is never shown again here.');
    expect(fake.inputsOf('cloud:setCredentials')).toEqual([{ accessKeyId: 'AKIAABCDWXYZ', secretAccessKey: 'the-secret-value' }]);
    expect((within(form).getByLabelText('Access key ID') as HTMLInputElement).value).toBe('');
    expect((within(form).getByLabelText('Secret access key') as HTMLInputElement).value).toBe('');
    expect(within(form).getByRole('button', { name: 'Forget the key' })).toBeTruthy();
  });
});
