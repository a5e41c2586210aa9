import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine, type Engine } from '../engine.ts';
import { tempDir, type TempDir } from '../test/fixtures.ts';
import { startSyncService, type SyncServiceProcess } from '../test/sync-service.ts';
import type { AdminAccess, AdminEvent, AdminInvite, AdminPeople, AuditPageView, FamilyAccessCode } from './admin-contract.ts';
import { createDispatcher, type Dispatcher } from './dispatcher.ts';

// The admin channels through the contract against the real sync service (SQLite) and a loopback SMTP
// server: inputs are checked before anything is sent, and the service's refusals reach the window as sentences.

let dir: TempDir;
let service: SyncServiceProcess;
const engines: Engine[] = [];
const dispatchers: Dispatcher[] = [];
let admin: Dispatcher;

/** Every line the engines logged, as written. */
const logged: string[] = [];

async function open(name: string): Promise<Dispatcher> {
  const engine = await openEngine({ libraryPath: dir.join(name), logSink: (line) => logged.push(JSON.stringify(line)) });
  const dispatcher = createDispatcher(engine, { feedPollMs: 0 });
  engines.push(engine);
  dispatchers.push(dispatcher);
  return dispatcher;
}

async function ok<T>(dispatcher: Dispatcher, method: string, input: unknown = {}): Promise<T> {
  const result = await dispatcher.call(method, input);
  if (!result.ok) throw new Error(`${method}: ${result.error.code}: ${result.error.message}`);
  return result.value as T;
}

beforeAll(async () => {
  dir = await tempDir('keepsake-ipc-admin-');
  service = await startSyncService({ mail: true });
  admin = await open('admin-library');
  await ok(admin, 'sync:signIn', { serverUrl: service.base, email: service.admin.email, password: service.admin.password });
}, 120_000);

afterAll(async () => {
  for (const dispatcher of dispatchers) await dispatcher.close();
  for (const engine of engines) await engine.close();
  await service?.stop();
  await dir?.cleanup();
});

describe('the admin channels', () => {
  it('say the library is signed in to its school as admin', async () => {
    expect(await ok<AdminAccess>(admin, 'admin:access')).toEqual({ school: { id: expect.any(String), name: 'Greenfield Primary' }, role: 'admin' });
  });

  it('refuse bad input before the service is asked', async () => {
    expect(await admin.call('admin:createEvent', { name: 'Trip', startsOn: '2026-02-30' })).toMatchObject({ ok: false, error: { code: 'invalid-input', message: expect.stringContaining('"startsOn"') } });
    expect(await admin.call('admin:createEvent', { name: 'Trip', startsOn: '2026-06-01', audience: { scope: 'some', classIds: [], familyIds: [] } })).toMatchObject({
      ok: false,
      error: { code: 'invalid-input', message: expect.stringContaining('name at least one class or family') },
    });
    expect(await admin.call('admin:changeRole', { userId: 'u', role: 'owner' })).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
    expect(await admin.call('admin:audit', { limit: 1000 })).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
    expect((await ok<{ events: AdminEvent[] }>(admin, 'admin:events')).events).toEqual([]);
  });

  it('create and edit events, answering a stale version with the service’s sentence and a hint', async () => {
    const event = await ok<AdminEvent>(admin, 'admin:createEvent', { name: 'Trip', startsOn: '2026-06-01', galleryExpiresOn: '2026-07-01' });
    await ok(admin, 'admin:updateEvent', { eventId: event.id, version: event.version, state: 'published' });
    const stale = await admin.call('admin:updateEvent', { eventId: event.id, version: event.version, state: 'archived' });
    expect(stale).toMatchObject({ ok: false, error: { code: 'conflict', hint: expect.stringContaining('Reload') } });
  });

  it('refuse a teacher: the service says only admins may, and the window is told so', async () => {
    const invite = await ok<AdminInvite>(admin, 'admin:invite', { email: 'tom@greenfield.example', role: 'teacher' });
    expect(invite.status).toBe('pending');
    const until = Date.now() + 20_000;
    const mailed = () => service.mail.find((m) => JSON.stringify(m.to ?? '').includes('tom@greenfield.example'))?.text ?? '';
    while (mailed() === '' && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    const text = mailed();
    const token = /\/invite#([A-Za-z0-9_-]{43})/.exec(text)?.[1];
    const accepted = await fetch(`${service.base}/v1/auth/invites/accept`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, name: 'Tom', password: 'teacher password 1' }) });
    expect(accepted.status).toBe(201);

    const teacher = await open('teacher-library');
    await ok(teacher, 'sync:signIn', { serverUrl: service.base, email: 'tom@greenfield.example', password: 'teacher password 1' });
    expect(await ok<AdminAccess>(teacher, 'admin:access')).toMatchObject({ role: 'teacher' });
    expect(await teacher.call('admin:audit', {})).toEqual({ ok: false, error: { code: 'forbidden', message: 'Only the school’s admins can read its audit log.' } });
    expect(await teacher.call('admin:invite', { email: 'x@greenfield.example', role: 'admin' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    const log = await ok<AuditPageView>(admin, 'admin:audit', { actions: ['invite.create'] });
    expect(log.entries.map((e) => e.summary)).toEqual(['tom@greenfield.example as teacher']);
  });

  it('give a family’s access code to the window once, keeping it nowhere in the library or its log', async () => {
    await ok(admin, 'admin:importRoster', { lines: ['name,class,family email,publish', 'Ana Lima,Year 3,lima@home.example,yes'] });
    const family = (await ok<AdminPeople>(admin, 'admin:people')).families[0]!;
    expect(await admin.call('admin:familyAccessCode', { familyId: '' })).toMatchObject({ ok: false, error: { code: 'invalid-input', message: expect.stringContaining('"familyId"') } });
    const made = await ok<FamilyAccessCode>(admin, 'admin:familyAccessCode', { familyId: family.id });
    expect(made).toEqual({ familyId: family.id, code: expect.stringMatching(/^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$/), createdAt: expect.any(String), signInUrl: `${service.base}/sign-in` });
    expect(await ok(admin, 'admin:revokeFamilyAccessCode', { familyId: family.id })).toEqual({ revoked: true });

    const files = (await readdir(dir.join('admin-library'), { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect((await readFile(path.join(file.parentPath, file.name))).includes(made.code), file.name).toBe(false);
    expect(logged.filter((line) => line.includes(made.code))).toEqual([]);
  });
});
