import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeedPage } from '../services/feed.ts';
import { PeopleService, type PublicConsent, type PublicFamily, type PublicStudent, type RosterResult } from '../services/people.ts';
import { TEST_DATABASES } from '../test/databases.ts';
import { changeRows, send, startHarness, type Harness } from '../test/harness.ts';

describe.each(TEST_DATABASES)('people, consent and the change feed on $name', (target) => {
  let h: Harness;
  let school: string;
  let otherSchool: string;
  let adminId: string;
  let parentId: string;
  const token: Record<'admin' | 'teacher' | 'parent' | 'otherParent' | 'student' | 'outsider' | 'otherAdmin', string> = {
    admin: '',
    teacher: '',
    parent: '',
    otherParent: '',
    student: '',
    outsider: '',
    otherAdmin: '',
  };

  beforeAll(async () => {
    h = await startHarness(target);
    school = await h.createSchool('greenfield');
    otherSchool = await h.createSchool('riverside');
    adminId = await h.createUser('admin@g.test', [[school, 'admin']]);
    const teacherId = await h.createUser('teacher@g.test', [[school, 'teacher']]);
    parentId = await h.createUser('parent@g.test', [[school, 'parent']]);
    const otherParentId = await h.createUser('other-parent@g.test', [[school, 'parent']]);
    const studentId = await h.createUser('pupil@g.test', [[school, 'student']]);
    const outsiderId = await h.createUser('outsider@r.test');
    const otherAdminId = await h.createUser('admin@r.test', [[otherSchool, 'admin']]);
    const ids = { admin: adminId, teacher: teacherId, parent: parentId, otherParent: otherParentId, student: studentId, outsider: outsiderId, otherAdmin: otherAdminId };
    for (const who of Object.keys(ids) as Array<keyof typeof ids>) token[who] = await h.tokens.issue(ids[who]);
  });
  afterAll(() => h.close());

  const url = (path: string, schoolId = school) => `/v1/schools/${schoolId}${path}`;
  async function ok<T>(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body?: unknown, as = token.admin, status = 200): Promise<T> {
    const response = await send(h, method, url(path), as, body);
    expect(response.statusCode, `${method} ${path}: ${response.body}`).toBe(status);
    return (response.body === '' ? undefined : response.json()) as T;
  }
  const student = (name: string, extra: Record<string, unknown> = {}) => ok<PublicStudent>('POST', '/students', { name, ...extra }, token.admin, 201);
  const feed = (since: number, limit = 1000, as = token.admin) => ok<FeedPage>('GET', `/changes?since=${since}&limit=${limit}`, undefined, as);
  const head = async () => (await changeRows(h, school)).at(-1)?.seq ?? 0;

  async function familyWith(parent: string | null, ...studentIds: string[]): Promise<PublicFamily> {
    const family = await ok<PublicFamily>('POST', '/families', { name: `Family ${Math.random()}` }, token.admin, 201);
    if (parent !== null) await ok('POST', `/families/${family.id}/members`, { userId: parent });
    for (const id of studentIds) await ok('POST', `/families/${family.id}/students`, { studentId: id });
    return ok<PublicFamily>('GET', `/families/${family.id}`);
  }

  it('creates, reads and patches students and classes; staff read, only admins write', async () => {
    const klass = await ok<{ id: string; name: string }>('POST', '/classes', { name: '3B' }, token.admin, 201);
    const made = await student('Ana Lima', { classId: klass.id, remoteRef: 'person-1' });
    expect(made).toMatchObject({ schoolId: school, name: 'Ana Lima', classId: klass.id, className: '3B', remoteRef: 'person-1', familyIds: [] });
    expect(await ok('GET', `/students/${made.id}`, undefined, token.teacher)).toEqual(made);
    expect((await ok<{ classes: unknown[] }>('GET', '/classes', undefined, token.teacher)).classes).toContainEqual(expect.objectContaining({ id: klass.id }));
    const patched = await ok<PublicStudent>('PATCH', `/students/${made.id}`, { name: 'Ana M. Lima', classId: null });
    expect(patched).toMatchObject({ name: 'Ana M. Lima', classId: null, className: null, createdAt: made.createdAt });
    expect((await send(h, 'POST', url('/students'), token.teacher, { name: 'X' })).statusCode).toBe(403);
    expect((await send(h, 'PATCH', url(`/students/${made.id}`), token.teacher, { name: 'X' })).statusCode).toBe(403);
    expect((await send(h, 'POST', url('/classes'), token.admin, { name: '3B' })).statusCode).toBe(409);
    expect((await send(h, 'POST', url('/students'), token.admin, { name: 'Twin', remoteRef: 'person-1' })).statusCode).toBe(409);
    expect((await send(h, 'POST', url('/students'), token.admin, { name: 'Lost', classId: 'nope' })).statusCode).toBe(400);
    const audit = (await h.audit('student.create')).find((row) => row.subject === `student:${made.id}`);
    expect(audit).toMatchObject({ school_id: school, actor_user_id: adminId });
    // Audit entries never carry a student's name: they outlive an erasure.
    expect(JSON.stringify(await h.audit('student.update'))).not.toContain('Ana');
  });

  it('orders and pages the feed by seq, with the current state of each entity', async () => {
    const since = await head();
    const a = await student('Feed A');
    const event = await ok<{ id: string }>('POST', '/events', { name: 'Sports day', startsOn: '2026-06-12' }, token.admin, 201);
    const b = await student('Feed B');
    const c = await student('Feed C');
    await ok('PATCH', `/students/${a.id}`, { name: 'Feed A2' });

    const whole = await feed(since);
    // A changed twice: the feed carries it once, at its latest seq, with its latest state.
    expect(whole.changes.map((ch) => [ch.entity, ch.id])).toEqual([
      ['event', event.id],
      ['student', b.id],
      ['student', c.id],
      ['student', a.id],
    ]);
    expect(whole.changes.every((ch, i, all) => i === 0 || ch.seq > (all[i - 1]?.seq ?? 0))).toBe(true);
    expect(whole.changes[3]).toMatchObject({ op: 'upsert', data: { id: a.id, name: 'Feed A2' } });
    expect(whole.changes[0]?.data).toMatchObject({ id: event.id, name: 'Sports day', version: 1 });
    expect(whole).toMatchObject({ more: false, next: whole.changes[3]?.seq });

    const seen: string[] = [];
    let cursor = since;
    let pages = 0;
    for (;;) {
      const page = await feed(cursor, 3);
      pages += 1;
      expect(page.changes.length).toBeLessThanOrEqual(3);
      seen.push(...page.changes.map((ch) => ch.id));
      if (page.changes.length > 0) expect(page.next).toBe(page.changes.at(-1)?.seq);
      cursor = page.next;
      if (!page.more) break;
    }
    expect(pages).toBe(2);
    expect(seen).toEqual(whole.changes.map((ch) => ch.id));
    expect(await feed(cursor)).toEqual({ changes: [], next: cursor, more: false });

    for (const bad of ['?limit=0', '?limit=1001', '?since=-1', '?since=abc', '?cursor=1']) {
      expect((await send(h, 'GET', url(`/changes${bad}`), token.admin)).statusCode, bad).toBe(400);
    }
    expect((await send(h, 'GET', url('/changes'), token.teacher)).statusCode).toBe(200);
  });

  it('never lets a poller skip a change committed while it pages (concurrent writers)', async () => {
    let cursor = await head();
    const seen = new Set<string>();
    let writing = true;
    const poller = (async () => {
      for (;;) {
        const done = !writing;
        const page = await feed(cursor, 5);
        for (const ch of page.changes) seen.add(ch.id);
        cursor = page.next;
        if (done && !page.more) return;
      }
    })();
    const made = await Promise.all(Array.from({ length: 24 }, (_, i) => student(`Racer ${i}`)));
    const roster = await Promise.all(
      [0, 1].map((n) => ok<RosterResult>('POST', '/roster', { rows: [{ name: `Roster racer ${n}`, class: 'Race', remoteRef: `race-${n}`, consent: { publish: true } }] })),
    );
    writing = false;
    await poller;
    for (const s of made) expect(seen.has(s.id), s.name).toBe(true);
    for (const r of roster) expect(seen.has(r.students[0]?.id ?? '')).toBe(true);
  });

  it('writes a change row atomically with its write: a failed write leaves none', async () => {
    const victim = await student('Atomic', { remoteRef: 'atomic-1' });
    await ok('PUT', `/students/${victim.id}/consent/publish`, { granted: true });
    const before = await changeRows(h, school);
    // Rejected before any write.
    expect((await send(h, 'POST', url('/students'), token.admin, { name: 'Dup', remoteRef: 'atomic-1' })).statusCode).toBe(409);
    // Fails after the erasure has written its rows and its change rows: everything rolls back.
    const people = new PeopleService(h.db.kysely);
    people.onStudentErased.push(async () => {
      throw new Error('media store unavailable');
    });
    await expect(people.eraseStudent({ userId: adminId, schoolId: school, role: 'admin' }, victim.id)).rejects.toThrow('media store unavailable');
    expect(await changeRows(h, school)).toEqual(before);
    expect(await ok('GET', `/students/${victim.id}`)).toMatchObject({ name: 'Atomic', remoteRef: 'atomic-1' });
    expect(await ok('GET', `/students/${victim.id}/consent`)).toMatchObject({ publish: { granted: true } });
    expect((await h.audit('student.erased')).some((row) => row.subject === `student:${victim.id}`)).toBe(false);
  });

  it('round-trips a device checkpoint', async () => {
    const seq = await head();
    expect((await send(h, 'GET', url('/devices/desk-1/checkpoint'), token.admin)).statusCode).toBe(404);
    const saved = await ok<{ seq: number }>('PUT', '/devices/desk-1/checkpoint', { seq });
    expect(saved).toMatchObject({ deviceId: 'desk-1', seq, userId: adminId });
    expect(await ok('GET', '/devices/desk-1/checkpoint', undefined, token.teacher)).toEqual(saved);
    expect(await ok('PUT', '/devices/desk-1/checkpoint', { seq: 0 })).toMatchObject({ seq: 0 });
    expect((await send(h, 'PUT', url('/devices/desk-1/checkpoint'), token.admin, { seq: seq + 1000 })).statusCode).toBe(400);
    expect((await send(h, 'PUT', url('/devices/bad%20id/checkpoint'), token.admin, { seq: 0 })).statusCode).toBe(400);
    for (const as of [token.parent, token.student]) {
      expect((await send(h, 'GET', url('/devices/desk-1/checkpoint'), as)).statusCode).toBe(404);
      expect((await send(h, 'PUT', url('/devices/desk-1/checkpoint'), as, { seq: 0 })).statusCode).toBe(404);
    }
    // The same device id in another school is another checkpoint.
    const otherUrl = url('/devices/desk-1/checkpoint', otherSchool);
    expect((await send(h, 'GET', otherUrl, token.otherAdmin)).statusCode).toBe(404);
  });

  it('upserts a roster idempotently by remoteRef', async () => {
    const rows = [
      { name: 'Rosa Park', class: '4A', remoteRef: 'r-1', familyEmail: 'Park@Family.test', consent: { publish: true } },
      { name: 'Ravi Park', class: '2C', remoteRef: 'r-2', familyEmail: 'park@family.test', consent: { publish: false, yearbook: true } },
      { name: 'Rui Costa', class: '4A', remoteRef: 'r-3' },
    ];
    const since = await head();
    const first = await ok<RosterResult>('POST', '/roster', { rows });
    expect(first).toMatchObject({ created: 3, updated: 0, unchanged: 0 });
    const firstFeed = await feed(since);
    expect(firstFeed.changes.filter((ch) => ch.entity === 'student')).toHaveLength(3);
    expect(firstFeed.changes.filter((ch) => ch.entity === 'class')).toHaveLength(2);
    expect(firstFeed.changes.filter((ch) => ch.entity === 'family')).toHaveLength(1);
    expect(firstFeed.changes.filter((ch) => ch.entity === 'consent')).toHaveLength(2);

    const afterFirst = await head();
    const second = await ok<RosterResult>('POST', '/roster', { rows });
    expect(second).toMatchObject({ created: 0, updated: 0, unchanged: 3 });
    expect(second.students).toEqual(first.students);
    expect(await head()).toBe(afterFirst);

    const [rosa, ravi] = first.students;
    const family = (await ok<PublicStudent>('GET', `/students/${rosa?.id}`)).familyIds;
    expect(family).toHaveLength(1);
    expect((await ok<PublicStudent>('GET', `/students/${ravi?.id}`)).familyIds).toEqual(family);
    expect(await ok('GET', `/families/${family[0]}`)).toMatchObject({ email: 'park@family.test', studentIds: [rosa?.id, ravi?.id].sort() });
    expect(await ok('GET', `/students/${ravi?.id}/consent`)).toMatchObject({ publish: { granted: false, setBy: adminId }, yearbook: { granted: true } });

    const moved = await ok<RosterResult>('POST', '/roster', { rows: [{ ...rows[2], class: '5A' }] });
    expect(moved).toMatchObject({ created: 0, updated: 1 });
    expect(await ok('GET', `/students/${moved.students[0]?.id}`)).toMatchObject({ className: '5A' });
    expect((await send(h, 'POST', url('/roster'), token.admin, { rows: [rows[2], rows[2]] })).statusCode).toBe(400);
    expect((await send(h, 'POST', url('/roster'), token.teacher, { rows })).statusCode).toBe(403);
  });

  it('keeps one student when a library and the roster file both send the same child, and answers each key with that student', async () => {
    const since = await head();
    // A photographer's library pushes its people first…
    const pushed = await ok<RosterResult>('POST', '/roster', { rows: [{ name: 'Mia Sørensen', class: '2B', remoteRef: 'lib-a:7' }] });
    expect(pushed).toMatchObject({ created: 1, matched: 0, ambiguous: [] });
    const mia = pushed.students[0]?.id ?? '';
    // …then the admin's file names her again, spelled its own way, with her family and consent.
    const csvRow = { name: 'mia  SØRENSEN', class: '2b', remoteRef: 'csv:mia sørensen|2b', familyEmail: 'sorensen@home.test', consent: { publish: true } };
    const fromCsv = await ok<RosterResult>('POST', '/roster', { rows: [csvRow] });
    expect(fromCsv).toMatchObject({ created: 0, updated: 1, matched: 1, unchanged: 0, ambiguous: [], students: [{ remoteRef: csvRow.remoteRef, id: mia }] });
    const named = (await ok<{ students: PublicStudent[] }>('GET', '/students')).students.filter((s) => s.name.toLowerCase().includes('sørensen'));
    // One student, named and classed as the library first sent her (no class "2b" made beside "2B").
    expect(named).toEqual([expect.objectContaining({ id: mia, name: 'Mia Sørensen', className: '2B', remoteRef: 'lib-a:7', familyIds: [expect.any(String)] })]);
    expect((await ok<{ classes: Array<{ name: string }> }>('GET', '/classes')).classes.map((c) => c.name)).not.toContain('2b');
    expect(await ok('GET', `/students/${mia}/consent`)).toMatchObject({ publish: { granted: true, setBy: adminId } });
    // Each key keeps answering with her, and importing either again changes nothing.
    const afterMatch = await head();
    expect(await ok<RosterResult>('POST', '/roster', { rows: [csvRow] })).toMatchObject({ created: 0, updated: 0, unchanged: 1, matched: 0, students: [{ id: mia }] });
    expect(await ok<RosterResult>('POST', '/roster', { rows: [{ name: 'Mia Sørensen', class: '2B', remoteRef: 'lib-a:7' }] })).toMatchObject({ unchanged: 1, students: [{ id: mia }] });
    expect(await head()).toBe(afterMatch);
    // Desktops were told of one student, never of a second.
    expect(new Set((await feed(since)).changes.filter((ch) => ch.entity === 'student').map((ch) => ch.id))).toEqual(new Set([mia]));
    // Another key of hers is hers: no other student may take it.
    expect((await send(h, 'POST', url('/students'), token.admin, { name: 'Someone', remoteRef: csvRow.remoteRef })).statusCode).toBe(409);

    // The same library naming a second child of that name and class: its own key says it is someone else.
    const twin = await ok<RosterResult>('POST', '/roster', { rows: [{ name: 'Mia Sørensen', class: '2B', remoteRef: 'lib-a:8' }] });
    expect(twin).toMatchObject({ created: 1, matched: 0 });
    const twinId = twin.students[0]?.id ?? '';
    expect(twinId).not.toBe(mia);
    // A third source with that name and class fits both: nothing is made or linked, and the row is reported.
    const beforeAmbiguous = await head();
    const ambiguous = await ok<RosterResult>('POST', '/roster', { rows: [{ name: 'Mia Sørensen', class: '2B', remoteRef: 'lib-b:1', consent: { yearbook: true } }] });
    expect(ambiguous).toEqual({ created: 0, updated: 0, unchanged: 0, matched: 0, students: [], ambiguous: [{ remoteRef: 'lib-b:1', studentIds: [mia, twinId].sort() }] });
    expect(await head()).toBe(beforeAmbiguous);
    for (const id of [mia, twinId]) expect(await ok('GET', `/students/${id}/consent`)).toMatchObject({ yearbook: { granted: false } });
    const audit = (await h.audit('roster.import')).at(-1);
    expect(JSON.parse(audit?.detail ?? '{}')).toMatchObject({ created: [], matched: [], ambiguous: 1 });
    // The trail keeps ids and counts: a roster key holds a name.
    expect(JSON.stringify(await h.audit('roster.import'))).not.toMatch(/sørensen/i);

    // Erasure takes every key with the student: the file's key names her.
    await ok('DELETE', `/students/${mia}`, undefined, token.admin, 204);
    expect(await h.db.kysely.selectFrom('student_refs').selectAll().where('student_id', '=', mia).execute()).toEqual([]);
    expect(await h.db.kysely.selectFrom('student_refs').selectAll().where('remote_ref', '=', csvRow.remoteRef).execute()).toEqual([]);
  });

  it('matches a new key only to a live student of the same name and class, never to one of another school', async () => {
    const elsewhere = await send(h, 'POST', url('/roster', otherSchool), token.otherAdmin, { rows: [{ name: 'Noor Haddad', class: '1A', remoteRef: 'lib-r:1' }] });
    expect(elsewhere.statusCode).toBe(200);
    const here = await ok<RosterResult>('POST', '/roster', { rows: [{ name: 'Noor Haddad', class: '1A', remoteRef: 'csv:noor haddad|1a' }] });
    expect(here).toMatchObject({ created: 1, matched: 0 });
    expect(here.students[0]?.id).not.toBe(elsewhere.json<RosterResult>().students[0]?.id);
    // Another class is another child; no class matches no class only.
    expect(await ok<RosterResult>('POST', '/roster', { rows: [{ name: 'Noor Haddad', class: '1B', remoteRef: 'lib-x:1' }] })).toMatchObject({ created: 1, matched: 0 });
    expect(await ok<RosterResult>('POST', '/roster', { rows: [{ name: 'Noor Haddad', class: null, remoteRef: 'lib-x:2' }] })).toMatchObject({ created: 1, matched: 0 });
    // A student the admin added by hand (no key yet) takes the first key that names them.
    const byHand = await student('Omar Aziz');
    expect(await ok<RosterResult>('POST', '/roster', { rows: [{ name: 'Omar Aziz', class: null, remoteRef: 'lib-x:3' }] })).toMatchObject({ matched: 1, students: [{ id: byHand.id }] });
    // An erased student is matched by nothing.
    await ok('DELETE', `/students/${byHand.id}`, undefined, token.admin, 204);
    const fresh = await ok<RosterResult>('POST', '/roster', { rows: [{ name: 'Omar Aziz', class: null, remoteRef: 'csv:omar aziz|' }] });
    expect(fresh).toMatchObject({ created: 1, matched: 0 });
    expect(fresh.students[0]?.id).not.toBe(byHand.id);
  });

  it('lists every student’s consent for admins, a bounded page at a time', async () => {
    const kids = await Promise.all(['Page A', 'Page B', 'Page C'].map((name) => student(name)));
    await ok('PUT', `/students/${kids[1]?.id}/consent/publish`, { granted: true });
    const all: PublicConsent[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const query: string = after === null ? '?limit=2' : `?limit=2&after=${after}`;
      const page: { consents: PublicConsent[]; next: string | null } = await ok('GET', `/consents${query}`);
      expect(page.consents.length).toBeLessThanOrEqual(2);
      all.push(...page.consents);
      after = page.next;
      pages += 1;
    } while (after !== null && pages < 1000);
    const ids = all.map((c) => c.studentId);
    expect(ids).toEqual([...ids].sort());
    expect(new Set(ids).size).toBe(ids.length);
    const live = (await ok<{ students: PublicStudent[] }>('GET', '/students')).students.map((s) => s.id);
    expect([...ids].sort()).toEqual([...live].sort());
    for (const kid of kids) expect(all.find((c) => c.studentId === kid.id)).toEqual(await ok('GET', `/students/${kid.id}/consent`));
    // One request carries a whole school of ordinary size; more than a page's worth is refused.
    expect((await ok<{ consents: unknown[]; next: string | null }>('GET', '/consents')).next).toBeNull();
    expect((await send(h, 'GET', url('/consents?limit=1001'), token.admin)).statusCode).toBe(400);
    for (const as of [token.teacher, token.parent, token.student]) expect((await send(h, 'GET', url('/consents'), as)).statusCode).toBe(403);
    for (const as of [token.otherAdmin, token.outsider]) expect((await send(h, 'GET', url('/consents'), as)).statusCode).toBe(404);
    expect(JSON.stringify((await send(h, 'GET', url('/consents', otherSchool), token.otherAdmin)).json())).not.toContain(kids[0]?.id ?? '-');
  });

  it('shows a parent only their own children, and lets them set consent only for those', async () => {
    const mine = await student('My Child');
    const theirs = await student('Their Child');
    const family = await familyWith(parentId, mine.id);
    await familyWith(null, theirs.id);
    expect((await ok<{ students: PublicStudent[] }>('GET', '/students', undefined, token.parent)).students.map((s) => s.id)).toEqual([mine.id]);
    expect((await ok<{ families: PublicFamily[] }>('GET', '/families', undefined, token.parent)).families.map((f) => f.id)).toEqual([family.id]);
    expect(await ok('GET', `/students/${mine.id}`, undefined, token.parent)).toMatchObject({ name: 'My Child' });
    for (const [method, path, body] of [
      ['GET', `/students/${theirs.id}`, undefined],
      ['GET', `/students/${theirs.id}/consent`, undefined],
      ['PUT', `/students/${theirs.id}/consent/publish`, { granted: true }],
      ['PATCH', `/students/${theirs.id}`, { name: 'x' }],
      ['DELETE', `/students/${theirs.id}`, undefined],
    ] as const) {
      const response = await send(h, method, url(path), token.parent, body);
      expect(response.statusCode, `${method} ${path}`).toBe(404);
      expect(response.json()).toEqual({ code: 'not-found', message: expect.any(String) });
    }
    expect((await send(h, 'GET', url(`/students/${mine.id}`), token.otherParent)).statusCode).toBe(404);
    expect((await ok<{ students: unknown[] }>('GET', '/students', undefined, token.otherParent)).students).toEqual([]);

    const set = await ok<PublicConsent>('PUT', `/students/${mine.id}/consent/yearbook`, { granted: true }, token.parent);
    expect(set.yearbook).toMatchObject({ granted: true, setBy: parentId });
    // Parents may not edit the child's record, and staff other than admins may not set consent.
    expect((await send(h, 'PATCH', url(`/students/${mine.id}`), token.parent, { name: 'x' })).statusCode).toBe(403);
    expect((await send(h, 'PUT', url(`/students/${mine.id}/consent/publish`), token.teacher, { granted: true })).statusCode).toBe(403);
    // Parents and students never see the feed; students see no people either.
    for (const as of [token.parent, token.student]) expect((await send(h, 'GET', url('/changes'), as)).statusCode).toBe(404);
    expect((await send(h, 'GET', url('/students'), token.student)).statusCode).toBe(404);
    expect((await send(h, 'GET', url(`/students/${mine.id}`), token.student)).statusCode).toBe(404);
  });

  it('denies consent by default, and audits each change and puts it in the feed', async () => {
    const kid = await student('Consent Kid');
    expect(await ok('GET', `/students/${kid.id}/consent`)).toEqual({
      studentId: kid.id,
      publish: { granted: false, setBy: null, setAt: null },
      yearbook: { granted: false, setBy: null, setAt: null },
    });
    const since = await head();
    const granted = await ok<PublicConsent>('PUT', `/students/${kid.id}/consent/publish`, { granted: true });
    expect(granted.publish).toMatchObject({ granted: true, setBy: adminId, setAt: expect.any(String) });
    expect(granted.yearbook.granted).toBe(false);
    await ok('PUT', `/students/${kid.id}/consent/publish`, { granted: false });
    const audit = (await h.audit('consent.set')).filter((row) => row.subject === `student:${kid.id}`).map((row) => JSON.parse(row.detail));
    expect(audit).toEqual([
      expect.objectContaining({ purpose: 'publish', before: null, after: true }),
      expect.objectContaining({ purpose: 'publish', before: true, after: false }),
    ]);
    const page = await feed(since);
    expect(page.changes).toEqual([{ seq: expect.any(Number), entity: 'consent', id: kid.id, op: 'upsert', data: expect.objectContaining({ publish: expect.objectContaining({ granted: false }) }) }]);
    expect((await send(h, 'PUT', url(`/students/${kid.id}/consent/portrait`), token.admin, { granted: true })).statusCode).toBe(400);
    expect((await send(h, 'PUT', url(`/students/${kid.id}/consent/publish`), token.admin, { granted: 'yes' })).statusCode).toBe(400);
  });

  it('erases a student: name, class, roster key, links and consents go; a tombstone stays', async () => {
    const klass = await ok<{ id: string }>('POST', '/classes', { name: 'Erase class' }, token.admin, 201);
    const kid = await student('Erin Erased', { classId: klass.id, remoteRef: 'erase-1' });
    const family = await familyWith(parentId, kid.id);
    await ok('PUT', `/students/${kid.id}/consent/publish`, { granted: true });
    expect((await send(h, 'DELETE', url(`/students/${kid.id}`), token.teacher)).statusCode).toBe(403);
    expect((await send(h, 'DELETE', url(`/students/${kid.id}`), token.parent)).statusCode).toBe(403);

    const since = await head();
    await ok('DELETE', `/students/${kid.id}`, undefined, token.admin, 204);
    const row = await h.db.kysely.selectFrom('students').selectAll().where('id', '=', kid.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ name: null, class_id: null, remote_ref: null, deleted_at: expect.any(String) });
    expect(await h.db.kysely.selectFrom('consents').selectAll().where('student_id', '=', kid.id).execute()).toEqual([]);
    expect(await h.db.kysely.selectFrom('family_students').selectAll().where('student_id', '=', kid.id).execute()).toEqual([]);
    expect((await send(h, 'GET', url(`/students/${kid.id}`), token.admin)).statusCode).toBe(404);
    expect((await send(h, 'GET', url(`/students/${kid.id}/consent`), token.admin)).statusCode).toBe(404);
    expect((await send(h, 'DELETE', url(`/students/${kid.id}`), token.admin)).statusCode).toBe(404);
    expect((await ok<PublicFamily>('GET', `/families/${family.id}`)).studentIds).toEqual([]);
    expect((await ok<{ students: PublicStudent[] }>('GET', '/students')).students.map((s) => s.id)).not.toContain(kid.id);

    const page = await feed(since);
    expect(page.changes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ entity: 'student', id: kid.id, op: 'delete', data: null }),
        expect.objectContaining({ entity: 'consent', id: kid.id, op: 'delete', data: null }),
        expect.objectContaining({ entity: 'family', id: family.id, op: 'upsert' }),
      ]),
    );
    expect(JSON.stringify(page)).not.toContain('Erin');
    const audit = (await h.audit('student.erased')).find((entry) => entry.subject === `student:${kid.id}`);
    expect(audit).toMatchObject({ actor_user_id: adminId, school_id: school });
    expect(JSON.parse(audit?.detail ?? '{}')).toEqual({ consentsRemoved: 1, familyLinksRemoved: 1 });
    // The roster key is free again: a re-import creates a new person, not a resurrection.
    expect((await ok<RosterResult>('POST', '/roster', { rows: [{ name: 'New Erin', class: null, remoteRef: 'erase-1' }] })).created).toBe(1);
  });

  it('erases a family: its personal data, its children, its parents’ access here, and accounts left with none', async () => {
    const leaverId = await h.createUser('leaver@g.test', [[school, 'parent']]);
    const twoSchoolsId = await h.createUser('two-schools@g.test', [
      [school, 'parent'],
      [otherSchool, 'parent'],
    ]);
    const leaverSession = await h.signIn('leaver@g.test');
    const twoSchools = await h.tokens.issue(twoSchoolsId);
    const kid = await student('Fiona Family', { remoteRef: 'family-erase-1' });
    const sibling = await student('Sam Family');
    const family = await ok<PublicFamily>('POST', '/families', { name: 'The Fortescues', email: 'fortescue@home.test' }, token.admin, 201);
    for (const userId of [leaverId, twoSchoolsId]) await ok('POST', `/families/${family.id}/members`, { userId });
    for (const studentId of [kid.id, sibling.id]) await ok('POST', `/families/${family.id}/students`, { studentId });
    await ok('PUT', `/students/${kid.id}/consent/publish`, { granted: true });
    await ok('POST', `/families/${family.id}/access-code`, undefined, token.admin, 201);
    const foreign = (await send(h, 'POST', url('/families', otherSchool), token.otherAdmin, { name: 'Riverside family' })).json<PublicFamily>();

    expect((await send(h, 'DELETE', url(`/families/${family.id}`), token.teacher)).statusCode).toBe(403);
    expect((await send(h, 'DELETE', url(`/families/${family.id}`), leaverSession.accessToken)).statusCode).toBe(403);
    expect((await send(h, 'DELETE', url(`/families/${foreign.id}`), token.admin)).json()).toEqual({ code: 'not-found', message: 'No such family in this school.' });
    expect((await send(h, 'DELETE', url(`/families/${family.id}`, otherSchool), token.otherAdmin)).statusCode).toBe(404);

    expect((await send(h, 'GET', url('/families', otherSchool), twoSchools)).statusCode).toBe(200);
    const since = await head();
    await ok('DELETE', `/families/${family.id}`, undefined, token.admin, 204);
    expect(await h.db.kysely.selectFrom('families').selectAll().where('id', '=', family.id).execute()).toEqual([]);
    expect((await send(h, 'GET', url(`/families/${family.id}`), token.admin)).statusCode).toBe(404);
    expect((await send(h, 'DELETE', url(`/families/${family.id}`), token.admin)).statusCode).toBe(404);
    for (const id of [kid.id, sibling.id]) {
      const row = await h.db.kysely.selectFrom('students').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ name: null, remote_ref: null, deleted_at: expect.any(String) });
    }
    expect(await h.db.kysely.selectFrom('consents').selectAll().where('student_id', '=', kid.id).execute()).toEqual([]);
    // The parent with no other school is gone, sessions and all; the other keeps their other school only.
    expect(await h.db.kysely.selectFrom('users').select('id').where('id', '=', leaverId).execute()).toEqual([]);
    expect((await send(h, 'POST', '/v1/auth/refresh', undefined, { refreshToken: leaverSession.refreshToken })).statusCode).toBe(401);
    expect((await send(h, 'GET', url('/students'), leaverSession.accessToken)).statusCode).toBe(404);
    expect((await send(h, 'GET', url('/students'), twoSchools)).statusCode).toBe(404);
    expect((await send(h, 'GET', url('/families', otherSchool), twoSchools)).statusCode).toBe(200);

    const page = await feed(since);
    expect(page.changes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ entity: 'family', id: family.id, op: 'delete', data: null }),
        expect.objectContaining({ entity: 'student', id: kid.id, op: 'delete', data: null }),
        expect.objectContaining({ entity: 'student', id: sibling.id, op: 'delete', data: null }),
        expect.objectContaining({ entity: 'membership', id: leaverId, op: 'delete', data: null }),
        expect.objectContaining({ entity: 'membership', id: twoSchoolsId, op: 'delete', data: null }),
      ]),
    );
    const audit = (await h.audit('family.erased')).find((row) => row.subject === `family:${family.id}`);
    expect(audit).toMatchObject({ school_id: school, actor_user_id: adminId });
    expect(JSON.parse(audit?.detail ?? '{}')).toEqual({ studentsErased: 2, studentsKept: 0, membershipsRemoved: 2, accountsDeleted: 1, activityRows: 0 });
    const trail = JSON.stringify([...(await h.audit('family.erased')), ...(await h.audit('student.erased'))]);
    for (const personal of ['Fortescue', 'fortescue@home.test', 'Fiona', 'leaver@g.test']) expect(trail).not.toContain(personal);
    expect((await ok<RosterResult>('POST', '/roster', { rows: [{ name: 'New Fiona', class: null, remoteRef: 'family-erase-1' }] })).created).toBe(1);
  });

  it('answers every route with 404 for another school and for non-members', async () => {
    const ours = await student('Ours Only');
    const family = await familyWith(null, ours.id);
    await ok('PUT', '/devices/desk-x/checkpoint', { seq: 0 });
    const routes: Array<[method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body?: unknown]> = [
      ['GET', '/classes'],
      ['POST', '/classes', { name: 'Z' }],
      ['GET', '/students'],
      ['POST', '/students', { name: 'Z' }],
      ['GET', `/students/${ours.id}`],
      ['PATCH', `/students/${ours.id}`, { name: 'Z' }],
      ['DELETE', `/students/${ours.id}`],
      ['GET', `/students/${ours.id}/consent`],
      ['GET', '/consents'],
      ['PUT', `/students/${ours.id}/consent/publish`, { granted: true }],
      ['POST', '/roster', { rows: [] }],
      ['GET', '/families'],
      ['POST', '/families', { name: 'Z' }],
      ['GET', `/families/${family.id}`],
      ['POST', `/families/${family.id}/members`, { userId: parentId }],
      ['DELETE', `/families/${family.id}/members/${parentId}`],
      ['POST', `/families/${family.id}/students`, { studentId: ours.id }],
      ['DELETE', `/families/${family.id}/students/${ours.id}`],
      ['DELETE', `/families/${family.id}`],
      ['GET', '/changes'],
      ['GET', '/devices/desk-x/checkpoint'],
      ['PUT', '/devices/desk-x/checkpoint', { seq: 0 }],
    ];
    for (const [method, path, body] of routes) {
      for (const [as, schoolId] of [
        [token.otherAdmin, school],
        [token.outsider, school],
        [token.outsider, 'no-such-school'],
      ] as const) {
        const response = await send(h, method, url(path, schoolId), as, body);
        expect(response.statusCode, `${method} ${path} in ${schoolId}`).toBe(404);
        expect(response.json()).toEqual({ code: 'not-found', message: expect.any(String) });
      }
    }
    // Our ids through the other admin's own school: not found there either.
    for (const [method, path, body] of routes.filter(([, path]) => path.includes(ours.id) || path.includes(family.id) || path.includes('desk-x'))) {
      if (method === 'PUT' && path.includes('desk-x')) continue; // a device id is the caller's own name, not ours
      const response = await send(h, method, url(path, otherSchool), token.otherAdmin, body);
      expect(response.statusCode, `${method} ${path} via the other school`).toBe(404);
    }
    expect(await ok('GET', `/students/${ours.id}`)).toMatchObject({ name: 'Ours Only' });
    expect((await send(h, 'GET', url('/students'), undefined)).statusCode).toBe(401);
  });

  it('refuses mass assignment of ids, school and erasure fields', async () => {
    const kid = await student('Honest Kid');
    const family = await familyWith(null);
    const sneaky = [{ schoolId: otherSchool }, { id: 'mine' }, { deletedAt: '2000-01-01T00:00:00.000Z' }];
    for (const extra of sneaky) {
      const key = Object.keys(extra)[0] ?? '';
      for (const [method, path, body] of [
        ['POST', '/students', { name: 'Sneaky' }],
        ['PATCH', `/students/${kid.id}`, { name: 'Sneaky' }],
        ['POST', '/classes', { name: 'Sneaky' }],
        ['POST', '/families', { name: 'Sneaky' }],
        ['POST', `/families/${family.id}/members`, { userId: parentId }],
        ['POST', `/families/${family.id}/students`, { studentId: kid.id }],
        ['PUT', `/students/${kid.id}/consent/publish`, { granted: true }],
        ['PUT', '/devices/desk-m/checkpoint', { seq: 0 }],
        ['POST', '/roster', { rows: [{ name: 'Sneaky', class: null, remoteRef: 'sneaky', ...extra }] }],
      ] as const) {
        const payload = path === '/roster' ? body : { ...body, ...extra };
        const response = await send(h, method, url(path), token.admin, payload);
        expect(response.statusCode, `${method} ${path} with ${key}`).toBe(400);
        expect(response.json<{ message: string }>().message).toContain(key);
      }
    }
    expect(await ok('GET', `/students/${kid.id}`)).toMatchObject({ name: 'Honest Kid', schoolId: school });
    expect(await ok('GET', `/students/${kid.id}/consent`)).toMatchObject({ publish: { granted: false } });
    expect((await ok<{ students: unknown[] }>('GET', '/students')).students).not.toContainEqual(expect.objectContaining({ name: 'Sneaky' }));
  });
});
