import { readFile, stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main, type Io } from '../cli/main.ts';
import { tempDir, type TempDir } from '../test/fixtures.ts';
import { freePort, memorySessionStore, startSyncService, type SyncServiceProcess } from '../test/sync-service.ts';
import { fileSessionStore, SyncClient } from './sync-client.ts';

// The desktop's sync client against the real sync service, started as its own process on a temp SQLite
// data folder, as a school runs it on its embedded default.

let dir: TempDir;
let service: SyncServiceProcess;
let base: string;
const PASSWORD = 'a long enough secret';

beforeAll(async () => {
  dir = await tempDir('keepsake-sync-client-');
  service = await startSyncService();
  base = service.base;
  expect(service.admin.password).toBe(PASSWORD);
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await dir?.cleanup();
});

describe('SyncClient against the sync service', () => {
  it('signs in once, keeps only a refresh token (mode 0600), and works after a restart of the desktop', async () => {
    const file = dir.join('session', 'sync-session.json');
    const client = new SyncClient({ store: fileSessionStore(file) });
    const { memberships } = await client.signIn(base, 'office@greenfield.example', PASSWORD);
    expect(memberships).toEqual([expect.objectContaining({ role: 'admin' })]);
    const schoolId = memberships[0]!.schoolId;
    const stored = await readFile(file, 'utf8');
    expect(stored).not.toContain(PASSWORD);
    expect(JSON.parse(stored)).toMatchObject({ serverUrl: base, email: 'office@greenfield.example', refreshToken: expect.any(String) });
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    // A new process: only the stored refresh token; five requests at once make one refresh between them.
    const refreshes: string[] = [];
    const counting: typeof fetch = (input, init) => {
      if (String(input).endsWith('/v1/auth/refresh')) refreshes.push(String(input));
      return fetch(input, init);
    };
    const restarted = new SyncClient({ store: fileSessionStore(file), fetch: counting });
    const lists = await Promise.all(Array.from({ length: 5 }, () => restarted.request<{ events: unknown[] }>('GET', `/v1/schools/${schoolId}/events`)));
    expect(lists.every((l) => Array.isArray(l.events))).toBe(true);
    expect(refreshes).toHaveLength(1);
    // Had two refreshes raced with one token, the server would have revoked the session: it still works.
    await restarted.refresh();
    expect((await restarted.request<{ events: unknown[] }>('GET', `/v1/schools/${schoolId}/events`)).events).toEqual([]);
  });

  it('ends the session everywhere when a spent refresh token comes back (a stolen copy), and says so', async () => {
    const store = memorySessionStore();
    const client = new SyncClient({ store });
    await client.signIn(base, 'office@greenfield.example', PASSWORD);
    const stolen = { ...store.value! };
    await client.refresh();
    const thief = new SyncClient({ store: { ...memorySessionStore(), load: () => Promise.resolve(stolen) } });
    await expect(thief.refresh()).rejects.toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/sign in again/) });
    // The family is revoked: the rightful desktop must sign in again too, and its stored session is cleared.
    await expect(client.refresh()).rejects.toMatchObject({ code: 'unauthorized' });
    expect(store.value).toBeNull();
  });

  it('maps the service’s errors and an unreachable server to clear errors', async () => {
    const client = new SyncClient({ store: memorySessionStore() });
    await expect(client.signIn(base, 'office@greenfield.example', 'wrong password')).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(client.request('GET', '/v1/schools/x/events')).rejects.toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/sign-in/) });
    await client.signIn(base, 'office@greenfield.example', PASSWORD);
    await expect(client.request('GET', '/v1/schools/00000000-0000-4000-8000-000000000000/events')).rejects.toMatchObject({ code: 'not-found' });
    const closed = `http://127.0.0.1:${await freePort()}`;
    await expect(new SyncClient({ store: memorySessionStore() }).signIn(closed, 'a@b.c', 'x')).rejects.toMatchObject({ code: 'network', message: expect.stringMatching(/cannot be reached/) });
    await expect(new SyncClient({ store: memorySessionStore() }).signIn('http://sync.school.example', 'a@b.c', 'x')).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/https/) });
  });

  it('signs in, shows and ends the session from the command line, never taking the password as an argument', async () => {
    const library = dir.join('library');
    const run = async (...argv: string[]) => {
      let out = '';
      let err = '';
      const io: Io = { out: (t) => (out += t), err: (t) => (err += t), isTTY: false };
      const code = await main([...argv, '--library', library], io);
      return { code, out, err };
    };
    expect((await run('init')).code).toBe(0);
    expect((await run('sync', 'sign-in', '--server', base, '--email', 'office@greenfield.example')).err).toMatch(/password on stdin/);
    vi.stubEnv('KEEPSAKE_SYNC_PASSWORD', PASSWORD);
    try {
      const signedIn = await run('sync', 'sign-in', '--server', base, '--email', 'office@greenfield.example');
      expect(signedIn.code, signedIn.err).toBe(0);
      expect(signedIn.out).toMatch(/Signed in to .* as office@greenfield.example \(admin of /);
    } finally {
      vi.unstubAllEnvs();
    }
    expect(JSON.parse((await run('sync', 'status', '--json')).out)).toMatchObject({ signedIn: true, memberships: [{ role: 'admin' }] });
    expect((await run('sync', 'sign-out')).code).toBe(0);
    expect(JSON.parse((await run('sync', 'status', '--json')).out)).toEqual({ signedIn: false });
  });
});
