import { useEffect, useId, useState } from 'react';
import type { StorageSettings, SyncStatus } from '../../../app/ipc/publish-contract.ts';
import { ErrorNote } from '../components/ErrorNote.tsx';
import { useSyncStore, type StorageForm } from '../stores/sync.store.ts';

const BLANK: StorageForm = {
  endpoint: '',
  region: 'us-east-1',
  bucket: '',
  pathStyle: false,
  school: '',
  allowOriginals: false,
  originalsStorageClass: 'STANDARD',
  concurrency: '4',
  partSizeMiB: '16',
  limitKbps: '',
  checksums: 'auto',
};

function formOf(settings: StorageSettings | null, school: string | undefined): StorageForm {
  if (!settings) return { ...BLANK, school: school ?? '' };
  return {
    endpoint: settings.endpoint ?? '',
    region: settings.region,
    bucket: settings.bucket,
    pathStyle: settings.pathStyle,
    school: settings.school,
    allowOriginals: settings.allowOriginals,
    originalsStorageClass: settings.originalsStorageClass,
    concurrency: String(settings.concurrency),
    partSizeMiB: String(settings.partSizeMiB),
    limitKbps: settings.limitKbps === null ? '' : String(settings.limitKbps),
    checksums: settings.checksums,
  };
}

/** Settings: the school's sync service (sign-in, status, what changed), and the storage the library publishes to. */
export function SettingsView(): React.JSX.Element {
  const load = useSyncStore((s) => s.load);
  const error = useSyncStore((s) => s.error);
  const message = useSyncStore((s) => s.message);
  const dismiss = useSyncStore((s) => s.dismiss);
  useEffect(() => {
    void load();
  }, [load]);
  return (
    <section className="screen settings" aria-label="Settings">
      <h1>Settings</h1>
      {error ? <ErrorNote error={error} onDismiss={dismiss} /> : null}
      {message ? (
        <p className="good" role="status">
          {message}
        </p>
      ) : null}
      <SyncSection />
      <StorageSection />
      <ActivitySection />
    </section>
  );
}

function SyncSection(): React.JSX.Element {
  const status = useSyncStore((s) => s.status);
  const busy = useSyncStore((s) => s.busy);
  const signIn = useSyncStore((s) => s.signIn);
  const signOut = useSyncStore((s) => s.signOut);
  const pull = useSyncStore((s) => s.pull);
  const provider = useSyncStore((s) => s.provider);
  const signInWithProvider = useSyncStore((s) => s.signInWithProvider);
  const cancelProvider = useSyncStore((s) => s.cancelProvider);
  const [serverUrl, setServerUrl] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [school, setSchool] = useState('');
  const [missing, setMissing] = useState<string | null>(null);
  const [providerMissing, setProviderMissing] = useState<string | null>(null);

  useEffect(() => {
    if (status?.serverUrl) setServerUrl(status.serverUrl);
  }, [status?.serverUrl]);

  const submit = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    const blank = !serverUrl.trim() ? 'the sync service URL' : !email.trim() ? 'your email' : !password ? 'your password' : null;
    setMissing(blank ? `Enter ${blank}.` : null);
    if (blank) return;
    // The password is sent once and forgotten here; only the engine keeps a token, out of the window's reach.
    if (await signIn(serverUrl.trim(), email.trim(), password)) setPassword('');
  };

  const submitProvider = (event: React.FormEvent): void => {
    event.preventDefault();
    const blank = !serverUrl.trim() ? 'the sync service URL (above)' : !school.trim() ? "the school's short name" : null;
    setProviderMissing(blank ? `Enter ${blank}.` : null);
    if (!blank) void signInWithProvider(serverUrl.trim(), school.trim());
  };

  return (
    <section className="settings-card" aria-labelledby="sync-heading">
      <h2 id="sync-heading">School sync service</h2>
      {status?.signedIn ? (
        <div className="sync-signed-in">
          <p>
            Signed in to <strong>{status.serverUrl}</strong> as <strong>{status.email}</strong>
            {status.roles.length > 0 ? ` (${status.roles.map((r) => `${r.role} of ${r.school}`).join(', ')})` : ''}.
          </p>
          <p>{status.school ? `This library publishes for ${status.school.name}.` : 'This library is not linked to a school.'}</p>
          {status.lastPull ? (
            <p className="muted">
              Last update from the school {new Date(status.lastPull.at).toLocaleString()}: {status.lastPull.events} event(s), {status.lastPull.people} student(s),{' '}
              {status.lastPull.consents} consent change(s).
            </p>
          ) : null}
          <div className="actions">
            <button type="button" disabled={busy !== null || !status.school} onClick={() => void pull()}>
              {busy === 'pulling' ? 'Fetching…' : 'Fetch changes now'}
            </button>
            <button type="button" disabled={busy !== null} onClick={() => void signOut()}>
              {busy === 'signing-out' ? 'Signing out…' : 'Sign out'}
            </button>
          </div>
        </div>
      ) : (
        <form className="settings-form" onSubmit={(event) => void submit(event)} aria-label="Sign in to the sync service">
          <label>
            Sync service URL
            <input type="url" name="serverUrl" value={serverUrl} placeholder="https://sync.school.example" onChange={(e) => setServerUrl(e.target.value)} autoComplete="url" />
          </label>
          <label>
            Email
            <input type="email" name="email" value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="username" />
          </label>
          <label>
            Password
            <input type="password" name="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" />
          </label>
          {missing ? (
            <p className="bad" role="alert">
              {missing}
            </p>
          ) : null}
          <div className="actions">
            <button type="submit" className="primary" disabled={busy !== null || provider !== null}>
              {busy === 'signing-in' ? 'Signing in…' : 'Sign in'}
            </button>
          </div>
        </form>
      )}
      {!status?.signedIn && provider ? (
        <div className="settings-form" role="region" aria-label="Signing in with your school account">
          <p role="status">{provider.url ? 'Finish signing in in your browser…' : 'Opening the sign-in page…'}</p>
          {provider.url ? (
            <label>
              If no browser page opened, open this link yourself
              <input type="text" name="providerUrl" readOnly value={provider.url} onFocus={(e) => e.target.select()} />
            </label>
          ) : null}
          <div className="actions">
            {provider.url ? (
              <a href={provider.url} target="_blank" rel="noopener noreferrer">
                Open the sign-in page
              </a>
            ) : null}
            <button type="button" onClick={() => void cancelProvider()}>
              Cancel
            </button>
          </div>
        </div>
      ) : null}
      {!status?.signedIn && !provider ? (
        <form className="settings-form" onSubmit={submitProvider} aria-label="Sign in with your school account">
          <p className="muted">Or sign in in your browser with the account your school gave you (at the sync service above).</p>
          <label>
            School (its short name)
            <input type="text" name="school" value={school} placeholder="greenfield" onChange={(e) => setSchool(e.target.value)} autoComplete="off" />
          </label>
          {providerMissing ? (
            <p className="bad" role="alert">
              {providerMissing}
            </p>
          ) : null}
          <div className="actions">
            <button type="submit" disabled={busy !== null}>
              Sign in with your school account
            </button>
          </div>
        </form>
      ) : null}
      {status?.notice ? (
        <p className="warn" role="status">
          {status.notice}
        </p>
      ) : null}
    </section>
  );
}

function Field(props: {
  name: keyof StorageForm;
  label: string;
  form: StorageForm;
  onChange: (name: keyof StorageForm, value: string | boolean) => void;
  hint?: string;
  inputMode?: 'numeric' | 'url' | 'text';
}): React.JSX.Element {
  const error = useSyncStore((s) => s.fieldErrors[props.name as keyof StorageSettings]);
  const id = useId();
  const described = error ? `${id}-error` : props.hint ? `${id}-hint` : undefined;
  return (
    <label>
      {props.label}
      <input
        name={props.name}
        value={String(props.form[props.name])}
        inputMode={props.inputMode ?? 'text'}
        aria-invalid={error ? true : undefined}
        aria-describedby={described}
        onChange={(event) => props.onChange(props.name, event.target.value)}
      />
      {error ? (
        <span id={`${id}-error`} className="field-error">
          {error}
        </span>
      ) : props.hint ? (
        <span id={`${id}-hint`} className="field-note muted">
          {props.hint}
        </span>
      ) : null}
    </label>
  );
}

function StorageSection(): React.JSX.Element {
  const storage = useSyncStore((s) => s.storage);
  const status = useSyncStore((s) => s.status);
  const busy = useSyncStore((s) => s.busy);
  const save = useSyncStore((s) => s.saveStorage);
  const check = useSyncStore((s) => s.check);
  const [form, setForm] = useState<StorageForm>(BLANK);
  const [dirty, setDirty] = useState(false);

  useEffect(() => {
    if (!dirty) setForm(formOf(storage?.settings ?? null, status?.school?.slug));
  }, [storage, status?.school?.slug, dirty]);

  const change = (name: keyof StorageForm, value: string | boolean): void => {
    setDirty(true);
    setForm((current) => ({ ...current, [name]: value }));
  };
  const submit = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    if (await save(form)) setDirty(false);
  };

  return (
    <section className="settings-card" aria-labelledby="storage-heading">
      <h2 id="storage-heading">Storage</h2>
      <p className="muted">Where published photos go: the school's own S3-compatible bucket.</p>
      <form className="settings-form storage-form" onSubmit={(event) => void submit(event)} aria-label="Storage settings" noValidate>
        <Field name="endpoint" label="Endpoint" form={form} onChange={change} inputMode="url" hint="Empty for AWS; e.g. https://<account>.r2.cloudflarestorage.com" />
        <Field name="region" label="Region" form={form} onChange={change} />
        <Field name="bucket" label="Bucket" form={form} onChange={change} />
        <Field name="school" label="School id in the bucket" form={form} onChange={change} hint="Keys are schools/{school}/events/…" />
        <label className="checkbox">
          <input type="checkbox" name="pathStyle" checked={form.pathStyle === true} onChange={(e) => change('pathStyle', e.target.checked)} />
          Path-style addresses (MinIO and most self-hosted stores)
        </label>
        <label className="checkbox">
          <input type="checkbox" name="allowOriginals" checked={form.allowOriginals === true} onChange={(e) => change('allowOriginals', e.target.checked)} />
          The school's plan allows publishing originals
        </label>
        <label>
          Storage class of originals
          <select name="originalsStorageClass" value={String(form.originalsStorageClass)} onChange={(e) => change('originalsStorageClass', e.target.value)}>
            {(storage?.storageClasses ?? ['STANDARD']).map((name) => (
              <option key={name}>{name}</option>
            ))}
          </select>
        </label>
        <Field name="concurrency" label="Requests at once" form={form} onChange={change} inputMode="numeric" />
        <Field name="partSizeMiB" label="Part size (MiB)" form={form} onChange={change} inputMode="numeric" />
        <Field name="limitKbps" label="Bandwidth limit (KB/s)" form={form} onChange={change} inputMode="numeric" hint="Empty for no limit" />
        <div className="actions">
          <button type="submit" className="primary" disabled={busy !== null}>
            {busy === 'saving' ? 'Saving…' : 'Save storage settings'}
          </button>
          <button type="button" disabled={busy !== null || !storage?.configured || dirty} onClick={() => void check()}>
            {busy === 'checking' ? 'Checking…' : 'Check the bucket'}
          </button>
        </div>
      </form>
      <AccessKeyForm />
    </section>
  );
}

function AccessKeyForm(): React.JSX.Element {
  const storage = useSyncStore((s) => s.storage);
  const busy = useSyncStore((s) => s.busy);
  const keepKey = useSyncStore((s) => s.keepKey);
  const forgetKey = useSyncStore((s) => s.forgetKey);
  const [accessKeyId, setAccessKeyId] = useState('');
  const [secret, setSecret] = useState('');
  const [missing, setMissing] = useState<string | null>(null);
  const submit = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    const blank = !accessKeyId.trim() ? 'the access key ID' : !secret.trim() ? 'the secret access key' : null;
    setMissing(blank ? `Enter ${blank}.` : null);
    if (blank) return;
    // Both fields are emptied: the engine keeps the key, the window does not.
    if (await keepKey(accessKeyId.trim(), secret.trim())) {
      setAccessKeyId('');
      setSecret('');
    }
  };
  const where =
    storage?.credentialsKept && storage.accessKeyHint
      ? `The key ending in …${storage.accessKeyHint} is kept in ${storage.credentialsSource}.`
      : storage?.credentialsSource === 'none' || !storage
        ? 'No access key yet.'
        : `The access key comes from the ${storage.credentialsSource}.`;
  return (
    <form className="settings-form key-form" onSubmit={(event) => void submit(event)} aria-label="Access key" noValidate>
      <p className="field-note" role="status">
        {where} It is never shown again here.
      </p>
      <label>
        Access key ID
        <input name="accessKeyId" value={accessKeyId} autoComplete="off" onChange={(e) => setAccessKeyId(e.target.value)} />
      </label>
      <label>
        Secret access key
        <input name="secretAccessKey" type="password" value={secret} autoComplete="new-password" onChange={(e) => setSecret(e.target.value)} />
      </label>
      {missing ? (
        <p className="bad" role="alert">
          {missing}
        </p>
      ) : null}
      <div className="actions">
        <button type="submit" disabled={busy !== null}>
          {busy === 'keeping-key' ? 'Saving…' : 'Keep this key'}
        </button>
        {storage?.credentialsKept ? (
          <button type="button" disabled={busy !== null} onClick={() => void forgetKey()}>
            Forget the key
          </button>
        ) : null}
      </div>
    </form>
  );
}

// One empty list for every render: a new [] per read would make the store's snapshot differ each time.
const NO_ACTIVITY: SyncStatus['activity'] = [];

function ActivitySection(): React.JSX.Element | null {
  const activity = useSyncStore((s) => s.status?.activity ?? NO_ACTIVITY);
  const signedIn = useSyncStore((s) => s.status?.signedIn ?? false);
  if (!signedIn && activity.length === 0) return null;
  return (
    <section className="settings-card" aria-labelledby="activity-heading">
      <h2 id="activity-heading">Changes from the school</h2>
      {activity.length === 0 ? (
        <p className="muted">Nothing has changed at the school since this library signed in.</p>
      ) : (
        <ul className="activity" aria-label="Changes from the school">
          {activity.map((entry, i) => (
            <li key={`${entry.at}-${i}`}>
              <span className="activity-name">{entry.name}</span>: {entry.change}
              {entry.by ? <span className="muted"> — by {entry.by}</span> : null}
              <time className="muted" dateTime={entry.at}>
                {' '}
                {new Date(entry.at).toLocaleString()}
              </time>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
