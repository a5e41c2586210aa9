import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { useSyncStore } from '../stores/sync.store.ts';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { NO_STORAGE, SIGNED_IN, SIGNED_OUT } from '../test/publish-fixtures.ts';
import { SettingsView } from './SettingsView.tsx';

let fake: FakeBridge;

beforeEach(() => {
  fake = installFakeBridge().answer('sync:status', SIGNED_OUT).answer('cloud:settings', NO_STORAGE);
  useSyncStore.setState(useSyncStore.getInitialState(), true);
});
afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

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

  it('signs in with the school account in the browser: waits with the link shown, can cancel, then shows who is signed in', async () => {
    const url = 'https://sync.greenfield.example/v1/auth/oidc/start?school=greenfield&returnTo=http%3A%2F%2F127.0.0.1%3A5000%2Fcallback&challenge=c';
    const opened = vi.spyOn(window, 'open').mockReturnValue(null);
    let finish: (status: typeof SIGNED_IN) => void = () => undefined;
    fake
      .answer('sync:providerStart', { url, opened: false })
      .answer('sync:providerFinish', () => new Promise<typeof SIGNED_IN>((resolve) => (finish = resolve)))
      .answer('sync:providerCancel', SIGNED_OUT);
    render(<SettingsView />);
    const password = await screen.findByRole('form', { name: 'Sign in to the sync service' });
    const form = screen.getByRole('form', { name: 'Sign in with your school account' });
    fireEvent.click(within(form).getByRole('button', { name: 'Sign in with your school account' }));
    expect((await within(form).findByRole('alert')).textContent).toBe('Enter the sync service URL (above).');
    fireEvent.change(within(password).getByLabelText('Sync service URL'), { target: { value: ' https://sync.greenfield.example ' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Sign in with your school account' }));
    expect((await within(form).findByRole('alert')).textContent).toBe("Enter the school's short name.");
    expect(fake.inputsOf('sync:providerStart')).toEqual([]);

    fireEvent.change(within(form).getByLabelText('School (its short name)'), { target: { value: 'greenfield' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Sign in with your school account' }));
    const waiting = await screen.findByRole('region', { name: 'Signing in with your school account' });
    expect((await within(waiting).findByText('Finish signing in in your browser…')).getAttribute('role')).toBe('status');
    expect((within(waiting).getByLabelText(/open this link yourself/) as HTMLInputElement).value).toBe(url);
    expect(within(waiting).getByRole('link', { name: 'Open the sign-in page' }).getAttribute('href')).toBe(url);
    expect(opened).toHaveBeenCalledWith(url, '_blank', 'noopener');
    expect(fake.inputsOf('sync:providerStart')).toEqual([{ serverUrl: 'https://sync.greenfield.example', school: 'greenfield' }]);
    expect((within(password).getByRole('button', { name: 'Sign in' }) as HTMLButtonElement).disabled).toBe(true);

    // Cancel: back to the sign-in forms.
    fireEvent.click(within(waiting).getByRole('button', { name: 'Cancel' }));
    expect(await screen.findByText('Sign-in with the school account cancelled.')).toBeTruthy();
    expect(screen.queryByRole('region', { name: 'Signing in with your school account' })).toBeNull();
    expect(fake.inputsOf('sync:providerCancel')).toEqual([{}]);

    // Again, and this time the browser comes back.
    fireEvent.click(within(screen.getByRole('form', { name: 'Sign in with your school account' })).getByRole('button', { name: 'Sign in with your school account' }));
    await screen.findByText('Finish signing in in your browser…');
    finish(SIGNED_IN);
    expect(await screen.findByText('Signed in as office@greenfield.example; this library publishes for Greenfield Primary.')).toBeTruthy();
    expect(screen.getByText(/Signed in to/).textContent).toContain('office@greenfield.example');
    expect(screen.queryByRole('form', { name: 'Sign in with your school account' })).toBeNull();
  });

  it('shows why the school account sign-in could not start, as a sentence', async () => {
    fake.fail('sync:providerStart', { code: 'not-found', message: 'Sign-in with an identity provider is not set up on this server. Sign in with email and password, or ask the school\'s admin.' });
    render(<SettingsView />);
    const password = await screen.findByRole('form', { name: 'Sign in to the sync service' });
    fireEvent.change(within(password).getByLabelText('Sync service URL'), { target: { value: 'https://sync.greenfield.example' } });
    const form = screen.getByRole('form', { name: 'Sign in with your school account' });
    fireEvent.change(within(form).getByLabelText('School (its short name)'), { target: { value: 'greenfield' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Sign in with your school account' }));
    expect(await screen.findByText(/^Sign-in with an identity provider is not set up on this server\./)).toBeTruthy();
    expect(screen.getByRole('form', { name: 'Sign in with your school account' })).toBeTruthy();
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
