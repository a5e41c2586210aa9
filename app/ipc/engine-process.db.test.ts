import { fork, type ChildProcess } from 'node:child_process';
import { access, realpath } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentLibraryFolder } from '../desktop/library-folders.ts';
import { makeJpeg, tempDir, type TempDir } from '../test/fixtures.ts';
import type { PushEvent, Result } from './contract.ts';
import { createEngineClient, EngineStartError, type EngineClient, type MessageEnd, type SecretKeeper, type ToEngine } from './engine-channel.ts';

const ENTRY = fileURLToPath(new URL('./engine-process.entry.ts', import.meta.url));
const PHOTOS = 40;

/** Forks the real entry in a real child process, as Electron's utilityProcess.fork does in the app. */
function startEngineProcess(
  libraryPath: string | null,
  extra: string[] = [],
  configDir = dir.join('config'),
  secrets?: SecretKeeper,
): { child: ChildProcess; client: EngineClient; exited: Promise<number | null> } {
  const args = libraryPath === null ? extra : ['--library', libraryPath, ...extra];
  // The recent-libraries list goes to the test's own settings folder, never the user's.
  const env: NodeJS.ProcessEnv = { ...process.env, KEEPSAKE_CONFIG_DIR: configDir };
  delete env.KEEPSAKE_LIBRARY;
  const child = fork(ENTRY, args, { env, execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const end: MessageEnd<ToEngine> = {
    post: (message) => void child.send(message),
    listen: (listener) => {
      child.on('message', listener);
      return () => void child.off('message', listener);
    },
  };
  const client = createEngineClient(end, secrets ? { secrets } : {});
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    client.lost('The engine process exited.');
    resolve(code);
  }));
  return { child, client, exited };
}

async function ok<T>(client: EngineClient, method: string, input: unknown): Promise<T> {
  const result: Result = await client.call(method, input);
  if (!result.ok) throw new Error(`${method}: ${result.error.code}: ${result.error.message}`);
  return result.value as T;
}

let dir: TempDir;
let engine: ReturnType<typeof startEngineProcess>;
const events: PushEvent[] = [];

beforeAll(async () => {
  dir = await tempDir('keepsake-engine-process-');
  for (let i = 1; i <= PHOTOS; i += 1) {
    await makeJpeg(dir.join('card', 'DCIM', '100CANON', `IMG_${String(i).padStart(4, '0')}.JPG`), { seed: i, width: 1200, height: 900 });
  }
  engine = startEngineProcess(dir.join('library'));
  engine.client.subscribe((event) => events.push(event));
  await engine.client.ready;
}, 120_000);

afterAll(async () => {
  if (engine.child.exitCode === null) engine.child.kill('SIGKILL');
  await dir.cleanup();
});

async function waitFor(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe(createEngineClient.name, () => {
  it('keeps an access key entered in the window in the parent’s keychain, not in the library', async () => {
    // The keychain is Electron's safeStorage in the app, which cannot run here: a map in this (parent) process
    // stands in for it, answering the engine process's requests over the real channel.
    const keychain = new Map<string, string>();
    const asked: string[] = [];
    const keeper: SecretKeeper = async (name, op, value) => {
      asked.push(`${op} ${name}`);
      if (op === 'save') keychain.set(name, value ?? '');
      if (op === 'clear') keychain.delete(name);
      return op === 'load' ? (keychain.get(name) ?? null) : null;
    };
    const library = dir.join('keychain-library');
    const first = startEngineProcess(library, ['--no-background', '--keychain'], dir.join('keychain-config'), keeper);
    try {
      await first.client.ready;
      await ok(first.client, 'cloud:setCredentials', { accessKeyId: 'AKIAKEEPSAKE1234', secretAccessKey: 'a-secret-access-key' });
      expect(await ok(first.client, 'cloud:settings', {})).toMatchObject({ credentialsSource: 'the system keychain', credentialsKept: true, accessKeyHint: '1234' });
      expect(JSON.parse(keychain.get(`credentials:${library}`) ?? '{}')).toEqual({ accessKeyId: 'AKIAKEEPSAKE1234', secretAccessKey: 'a-secret-access-key' });
      await ok(first.client, 'sync:status', {});
      expect(asked).toContain(`load session:${library}`);
      await expect(access(`${library}/.keepsake/store-credentials.json`)).rejects.toThrow();
      await first.client.close();
    } finally {
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
    }
    // Opened again, the key is read back from the keychain.
    const again = startEngineProcess(library, ['--no-background', '--keychain'], dir.join('keychain-config'), keeper);
    try {
      await again.client.ready;
      expect(await ok(again.client, 'cloud:settings', {})).toMatchObject({ credentialsKept: true, accessKeyHint: '1234' });
      await again.client.close();
    } finally {
      if (again.child.exitCode === null) again.child.kill('SIGKILL');
    }
    // A keychain that refuses (locked, absent): the window is told so, and nothing lands in a file instead.
    const refusing = startEngineProcess(library, ['--no-background', '--keychain'], dir.join('keychain-config'), async () => {
      throw new Error('the keyring is locked');
    });
    try {
      await refusing.client.ready;
      const refused = await refusing.client.call('cloud:setCredentials', { accessKeyId: 'AKIAOTHER5678', secretAccessKey: 'another-secret-key' });
      expect(refused).toMatchObject({ ok: false, error: { code: 'io', message: expect.stringContaining('the keyring is locked') } });
      await expect(access(`${library}/.keepsake/store-credentials.json`)).rejects.toThrow();
      await refusing.client.close();
    } finally {
      if (refusing.child.exitCode === null) refusing.child.kill('SIGKILL');
    }
  });

  it('starts on first run with no library named, opens one when asked, and reopens it next time', async () => {
    const firstRun = startEngineProcess(null, ['--no-background'], dir.join('fresh-config'));
    try {
      expect(await firstRun.client.ready).toEqual({ libraryRoot: null });
      expect(await firstRun.client.call('library:info', {})).toMatchObject({ ok: false, error: { code: 'not-found', message: 'No library is open yet.' } });
      expect(await firstRun.client.resolveMedia('1', 'thumb')).toBeNull();
      expect(await currentLibraryFolder((method, input) => firstRun.client.call(method, input), 'library')).toBeNull();
      const created = dir.join('first-run-library');
      expect(await ok(firstRun.client, 'library:open', { path: created, create: true })).toMatchObject({ root: created });
      expect(await ok(firstRun.client, 'library:status', {})).toMatchObject({ assets: 0 });
      // The File menu's folders follow the library the window opened, not the (empty) one the engine started with.
      const call = (method: 'library:info', input: object) => firstRun.client.call(method, input);
      expect(await currentLibraryFolder(call, 'library')).toBe(created);
      expect(await currentLibraryFolder(call, 'logs')).toBe(path.join(created, '.keepsake', 'logs'));
      const other = dir.join('second-library');
      await ok(firstRun.client, 'library:open', { path: other, create: true });
      expect(await currentLibraryFolder(call, 'library')).toBe(other);
      await firstRun.client.close();
      expect(await firstRun.exited).toBe(0);
    } finally {
      if (firstRun.child.exitCode === null) firstRun.child.kill('SIGKILL');
    }
    const again = startEngineProcess(null, ['--no-background'], dir.join('fresh-config'));
    try {
      // The library opened last is the one reopened.
      expect(await again.client.ready).toEqual({ libraryRoot: dir.join('second-library') });
      await again.client.close();
    } finally {
      if (again.child.exitCode === null) again.child.kill('SIGKILL');
    }
  });

  it('opens the library in its own process and answers calls by id', async () => {
    expect(engine.child.pid).not.toBe(process.pid);
    expect(await ok(engine.client, 'library:info', {})).toMatchObject({ root: dir.join('library'), readOnly: false });
    const bad = await engine.client.call('assets:get', { id: 'one' });
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
  });

  it('imports a card while other calls keep answering and the parent’s event loop stays free', async () => {
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const { importId } = await ok<{ importId: string }>(engine.client, 'import:start', { source: dir.join('card'), event: 'Sports Day' });
    const latencies: number[] = [];
    while (!events.some((event) => event.event === 'import:finished')) {
      const started = performance.now();
      await ok(engine.client, 'library:status', {});
      latencies.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    delay.disable();
    const finished = events.find((event) => event.event === 'import:finished');
    expect(finished?.payload).toMatchObject({ importId, state: 'completed', imported: PHOTOS, failed: [] });
    expect(events.filter((event) => event.event === 'import:progress').length).toBeGreaterThan(1);
    expect(latencies.length).toBeGreaterThan(3);
    // The copy, the hashing and sharp all happen in the other process: this one only ever waits on messages.
    expect(delay.max / 1e6).toBeLessThan(200);
    expect(Math.max(...latencies)).toBeLessThan(2_000);
  }, 120_000);

  it('answers a quick call before a slow one sent earlier', async () => {
    const order: string[] = [];
    // A dry run walks and hashes the whole card; library:info reads one row.
    const slow = engine.client.call('import:preview', { source: dir.join('card'), event: 'Again' }).then((result) => order.push(`preview:${result.ok}`));
    const quick = engine.client.call('library:info', {}).then((result) => order.push(`info:${result.ok}`));
    await Promise.all([slow, quick]);
    expect(order).toEqual(['info:true', 'preview:true']);
  });

  it('resolves media by asset id to a file inside the library, and nothing else', async () => {
    await waitFor(() => events.filter((event) => event.event === 'asset:thumbReady').length === PHOTOS, 'every thumbnail');
    const page = await ok<{ items: Array<{ id: number }> }>(engine.client, 'assets:timelinePage', { limit: 1 });
    const id = String(page.items[0]!.id);
    const thumb = await engine.client.resolveMedia(id, 'thumb');
    expect(thumb).toMatchObject({ mime: 'image/webp', size: expect.any(Number) });
    expect(thumb!.file.startsWith(await realpath(dir.join('library')))).toBe(true);
    for (const [assetId, variant] of [['../1', 'thumb'], ['999999', 'thumb'], [id, '../../catalog.db'], [id, 'proxy']]) {
      expect(await engine.client.resolveMedia(assetId!, variant!)).toBeNull();
    }
  });

  it('offers a folder as an import source through the camera-card event', async () => {
    engine.client.offerSource(dir.join('card'));
    await waitFor(() => events.some((event) => event.event === 'volume:inserted'), 'the offer');
    expect(events.find((event) => event.event === 'volume:inserted')?.payload).toEqual({ path: dir.join('card'), label: 'card', mediaCount: PHOTOS, bytes: expect.any(Number), partial: false });
  });

  it('shuts the engine down on close and the process exits cleanly', async () => {
    await engine.client.close();
    expect(await engine.exited).toBe(0);
    expect(await engine.client.call('library:info', {})).toMatchObject({ ok: false, error: { code: 'internal' } });
  });

  it('shuts down cleanly when its parent goes away', async () => {
    const orphan = startEngineProcess(dir.join('library-orphan'), ['--no-background']);
    await orphan.client.ready;
    orphan.child.disconnect();
    expect(await orphan.exited).toBe(0);
  }, 60_000);

  it('resolves pending calls with an error when the process dies, and reports a library that cannot open', async () => {
    const second = startEngineProcess(dir.join('library-2'), ['--no-background']);
    await second.client.ready;
    const pending = second.client.call('import:preview', { source: dir.join('card'), event: 'Never' });
    second.child.kill('SIGKILL');
    expect(await pending).toEqual({ ok: false, error: { code: 'internal', message: 'The library stopped answering.', hint: expect.any(String) } });

    const { makeRandomBytes } = await import('../test/fixtures.ts');
    await makeRandomBytes(dir.join('not-a-folder'), 16);
    const broken = startEngineProcess(dir.join('not-a-folder'));
    await expect(broken.client.ready).rejects.toBeInstanceOf(EngineStartError);
    expect(await broken.exited).toBe(1);
  }, 60_000);
});
