import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openEngine } from '../engine.ts';
import type { AssetId, ContentHash, EventId } from '../shared/ids.ts';
import { runCli } from '../test/cli.ts';
import { tempDir, type TempDir } from '../test/fixtures.ts';
import { startSyncService, type SyncServiceProcess } from '../test/sync-service.ts';
import { SchoolAdmin } from './school-admin.ts';
import { SyncClient } from './sync-client.ts';

// The school's shared state reaching a desktop through the change feed of the real sync service: a second
// photographer's laptop sees the event the office created, the students and their consent; a consent
// withdrawn on the server takes the media down; an erased student leaves nothing published.

let dir: TempDir;
let service: SyncServiceProcess;
let library: string;
let office: SyncClient;
let schoolId: string;

const cli = (...argv: string[]) => runCli([...argv, '--library', library]);

async function pull(): Promise<{ events: number; people: number; consents: number; erased: number; seq: number }> {
  const result = await cli('sync', 'pull', '--json');
  expect(result.code, result.err).toBe(0);
  return JSON.parse(result.out) as { events: number; people: number; consents: number; erased: number; seq: number };
}

beforeAll(async () => {
  dir = await tempDir('keepsake-feed-');
  service = await startSyncService();
  const store = { value: null as never, load: () => Promise.resolve(null), save: () => Promise.resolve(), clear: () => Promise.resolve() };
  office = new SyncClient({ store });
  schoolId = (await office.signIn(service.base, service.admin.email, service.admin.password)).memberships[0]!.schoolId;
  library = dir.join('laptop-2');
  expect((await cli('init')).code).toBe(0);
  vi.stubEnv('KEEPSAKE_SYNC_PASSWORD', service.admin.password);
  expect((await cli('sync', 'sign-in', '--server', service.base, '--email', service.admin.email)).code).toBe(0);
}, 60_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await service?.stop();
  await dir?.cleanup();
});

describe('the change feed on a second desktop', () => {
  it('brings the office’s event, a student and their consent, once; withdrawal and erasure take media down', async () => {
    const event = await office.request<{ id: string }>('POST', `/v1/schools/${schoolId}/events`, { name: 'Spring Concert', startsOn: '2026-05-20', location: 'Hall' });
    const ana = await office.request<{ id: string }>('POST', `/v1/schools/${schoolId}/students`, { name: 'Ana Lima' });
    await office.request('PUT', `/v1/schools/${schoolId}/students/${ana.id}/consent/publish`, { granted: true });

    expect(await pull()).toMatchObject({ events: 1, people: 1, consents: 1, erased: 0 });
    // Nothing new: nothing applied.
    expect(await pull()).toMatchObject({ events: 0, people: 0, consents: 0, erased: 0 });

    let engine = await openEngine({ libraryPath: library, create: false });
    const concert = engine.catalog.events.findByName('Spring Concert')!;
    expect(concert).toMatchObject({ remoteId: event.id, startsOn: '2026-05-20', location: 'Hall' });
    const person = engine.catalog.people.findByName('Ana Lima')[0]!;
    expect(person).toMatchObject({ remoteId: ana.id, consent: { publish: true, yearbook: false } });
    // A published photo of Ana in the concert (as a publish run leaves it).
    const photo = engine.catalog.assets.insert({
      hash: 'ab'.repeat(16) as ContentHash, eventId: concert.id as EventId, path: 'Spring Concert/IMG_1.jpg', originalName: 'IMG_1.JPG',
      size: 1000, mtimeMs: 0, kind: 'photo', mime: 'image/jpeg', sortTime: 0,
    });
    engine.catalog.people.tagAsset(photo.id, person.id);
    engine.catalog.cloud.setPublication(photo.id as AssetId, concert.id as EventId, 'published');
    await engine.close();

    // The parent withdraws consent on the server: the photo is marked for re-publishing, which holds it back.
    await office.request('PUT', `/v1/schools/${schoolId}/students/${ana.id}/consent/publish`, { granted: false });
    expect(await pull()).toMatchObject({ consents: 1 });
    engine = await openEngine({ libraryPath: library, create: false });
    expect(engine.catalog.people.get(person.id)!.consent.publish).toBe(false);
    expect(engine.catalog.cloud.getPublication(photo.id)?.state).toBe('modified');
    expect(engine.catalog.jobs.counts('publish').queued).toBe(1);
    await engine.close();

    // Erased at the school: unpublished, and the person is gone from this library too.
    await office.request('DELETE', `/v1/schools/${schoolId}/students/${ana.id}`);
    expect(await pull()).toMatchObject({ erased: 1 });
    engine = await openEngine({ libraryPath: library, create: false });
    expect(engine.catalog.people.findByName('Ana Lima')).toEqual([]);
    expect(engine.catalog.cloud.getPublication(photo.id)).toMatchObject({ state: 'deleted', reason: 'a student tagged in it was erased' });
    await engine.close();

    // The library's own roster reaches the school (without consent, which the school owns), and is linked.
    engine = await openEngine({ libraryPath: library, create: false });
    const ben = engine.catalog.people.upsert({ name: 'Ben Okafor', classGroup: '4B', familyEmail: 'okafor@example.org' }).person;
    engine.catalog.people.setConsent(ben.id, 'publish', true, 'roster');
    await engine.close();
    const pushed = await cli('sync', 'push-roster', '--json');
    expect(JSON.parse(pushed.out)).toEqual({ sent: 1, linked: 1 });
    const students = await office.request<{ students: Array<{ id: string; name: string; className: string | null }> }>('GET', `/v1/schools/${schoolId}/students`);
    const remoteBen = students.students.find((s) => s.name === 'Ben Okafor')!;
    expect(remoteBen.className).toBe('4B');
    const consent = await office.request<{ publish: { granted: boolean } }>('GET', `/v1/schools/${schoolId}/students/${remoteBen.id}/consent`);
    expect(consent.publish.granted).toBe(false);
    engine = await openEngine({ libraryPath: library, create: false });
    expect(engine.catalog.people.get(ben.id)!.remoteId).toBe(remoteBen.id);
    await engine.close();
    expect(JSON.parse((await cli('sync', 'push-roster', '--json')).out)).toEqual({ sent: 0, linked: 0 });

    // The device's checkpoint is on the server.
    const device = await cli('sync', 'pull', '--json');
    const seq = (JSON.parse(device.out) as { seq: number }).seq;
    expect(seq).toBeGreaterThan(0);
  });

  it('keeps one student when the library and the admin’s roster file both send a child: consent set by the file reaches the tagged person', async () => {
    const admin = new SchoolAdmin({ client: office, linkedSchool: () => null });
    const named = async (name: string) =>
      (await office.request<{ students: Array<{ id: string; name: string }> }>('GET', `/v1/schools/${schoolId}/students`)).students.filter((s) => s.name === name).map((s) => s.id);

    // The library first: Cleo reaches the school from the photographer's roster.
    let engine = await openEngine({ libraryPath: library, create: false });
    const cleo = engine.catalog.people.upsert({ name: 'Cleo Duarte', classGroup: '2A' }).person;
    await engine.close();
    expect(JSON.parse((await cli('sync', 'push-roster', '--json')).out)).toEqual({ sent: 1, linked: 1 });
    const [remoteCleo] = await named('Cleo Duarte');

    // Then the admin's file names her (with consent) and Dan, whom the library does not know yet.
    const upload = await admin.importRoster('name,class,family email,publish\nCleo Duarte,2A,duarte@home.test,yes\nDan Reis,2A,,no\n');
    expect(upload).toMatchObject({ sent: true, created: 1, updated: 1, errors: [] });
    expect(await named('Cleo Duarte')).toEqual([remoteCleo]);
    const [remoteDan] = await named('Dan Reis');

    // Dan added in the library afterwards is linked to the school's Dan, not sent as a second one.
    engine = await openEngine({ libraryPath: library, create: false });
    const dan = engine.catalog.people.upsert({ name: 'Dan Reis', classGroup: '2A' }).person;
    await engine.close();
    expect(JSON.parse((await cli('sync', 'push-roster', '--json')).out)).toEqual({ sent: 1, linked: 1 });
    expect(await named('Dan Reis')).toEqual([remoteDan]);

    await pull();
    engine = await openEngine({ libraryPath: library, create: false });
    expect(engine.catalog.people.get(cleo.id)).toMatchObject({ remoteId: remoteCleo, consent: { publish: true } });
    expect(engine.catalog.people.get(dan.id)).toMatchObject({ remoteId: remoteDan, consent: { publish: false } });
    expect(engine.catalog.people.findByName('Cleo Duarte')).toHaveLength(1);
    expect(engine.catalog.people.findByName('Dan Reis')).toHaveLength(1);
    await engine.close();
  });
});
