/// <reference lib="dom" />
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncClient } from '../sync/sync-client.ts';
import { memorySessionStore, startSyncService, type SyncServiceProcess } from '../test/sync-service.ts';
import { launchBrowser, openUi, type UiSession } from '../test/ui.ts';

// The school admin's screens, as an office admin uses them: sign in from settings, import the roster,
// create an event for one class with a closing date and archive another, invite a teacher and revoke a
// spare invitation, change a member's role, read storage and analytics (the same numbers as the service's
// own API), and filter the audit log to role changes. A teacher signed in on another desktop sees no
// Admin tab, and the engine's admin calls are refused by the service.

let browser: Browser;
let service: SyncServiceProcess;
let ui: UiSession;
let teacherUi: UiSession | null = null;
let page: Page;
/** The test's own view of the service, as the admin: what the screens must agree with. */
let api: SyncClient;
let schoolId: string;


/** Accepts the invitation mailed to `email` with a name and password, as the invitee's browser would. */
async function accept(email: string, name: string, password: string): Promise<void> {
  const text = (await service.mailTo(email)).text ?? '';
  const token = /\/invite#([A-Za-z0-9_-]{43})/.exec(text)?.[1];
  if (!token) throw new Error(`no invitation mailed to ${email}`);
  const response = await fetch(`${service.base}/v1/auth/invites/accept`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, name, password }) });
  if (response.status !== 201) throw new Error(`accept: ${response.status} ${await response.text()}`);
}

async function signInFromSettings(session: Page, email: string, password: string): Promise<void> {
  await session.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: 'Settings' }).click();
  const form = session.getByRole('form', { name: 'Sign in to the sync service' });
  await form.getByLabel('Sync service URL').fill(service.base);
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
}

beforeAll(async () => {
  [browser, service] = await Promise.all([launchBrowser(), startSyncService({ mail: true })]);
  api = new SyncClient({ store: memorySessionStore() });
  const { memberships } = await api.signIn(service.base, service.admin.email, service.admin.password);
  schoolId = memberships[0]!.schoolId;
  ui = await openUi({ suite: 'desktop', browser });
  page = ui.page;
}, 180_000);

afterAll(async () => {
  await teacherUi?.close();
  await ui?.close();
  await browser?.close();
  await service?.stop();
});

const screens = () => page.getByRole('navigation', { name: 'Screens' });
const section = (name: string) => page.getByRole('navigation', { name: 'Admin sections' }).getByRole('button', { name });

describe('the school admin’s screens', () => {
  it('shows the Admin tab once an admin signs in from settings', async () => {
    expect(await screens().getByRole('button', { name: 'Admin' }).count()).toBe(0);
    await signInFromSettings(page, service.admin.email, service.admin.password);
    await page.getByText('This library publishes for Greenfield Primary.', { exact: true }).waitFor();
    await screens().getByRole('button', { name: 'Admin' }).click();
    await page.getByRole('heading', { name: 'Admin · Greenfield Primary' }).waitFor();
  });

  it('imports a roster CSV, listing the wrong lines first and sending nothing until they are fixed', async () => {
    await section('People').click();
    const form = page.getByRole('form', { name: 'Import a roster' });
    const file = (csv: string) => ({ name: 'roster.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await form.getByLabel(/Roster CSV/).setInputFiles(file('name,class,family email,publish\nAna Lima,Year 3,lima@home.example,yes\nBea Costa,Year 4,not-an-address,no\n'));
    await form.getByRole('button', { name: 'Import roster' }).click();
    await form.getByRole('alert').filter({ hasText: 'Line 3:' }).waitFor();
    expect((await api.request<{ students: unknown[] }>('GET', `/v1/schools/${schoolId}/students`)).students).toEqual([]);
    await ui.screenshot('admin-roster-errors');
    await form.getByLabel(/Roster CSV/).setInputFiles(file('name,class,family email,publish\nAna Lima,Year 3,lima@home.example,yes\nBea Costa,Year 4,costa@home.example,no\nCai Wu,Year 3,wu@home.example,yes\n'));
    await form.getByRole('button', { name: 'Import roster' }).click();
    await page.getByText('Roster imported: 3 students added, 0 updated, 0 unchanged.').waitFor();
    const students = page.getByRole('table', { name: 'Students' });
    await students.getByRole('row', { name: 'Cai Wu' }).waitFor();
    await expect.poll(() => students.getByRole('row').count()).toBe(4);
    await expect.poll(() => students.getByRole('row', { name: 'Ana Lima' }).getByRole('button', { name: /Publish/ }).getAttribute('aria-pressed')).toBe('true');
    // Withdrawing consent, then its history in the drawer.
    await students.getByRole('row', { name: 'Ana Lima' }).getByRole('button', { name: /Publish/ }).click();
    await expect.poll(() => students.getByRole('row', { name: 'Ana Lima' }).getByRole('button', { name: /Publish/ }).getAttribute('aria-pressed')).toBe('false');
    await students.getByRole('row', { name: 'Ana Lima' }).getByRole('button', { name: 'History' }).click();
    const drawer = page.getByRole('dialog', { name: 'Consent history of Ana Lima' });
    await drawer.getByText('Publish: given → withdrawn').waitFor();
    await drawer.getByText('Publish: no answer → given').waitFor();
    await ui.screenshot('admin-people');
    await drawer.getByRole('button', { name: 'Close' }).click();
  });

  it('creates an event for one class with a closing date, and archives another', async () => {
    await section('School events').click();
    const create = async (name: string, startsOn: string, forClass?: string, expires?: string): Promise<void> => {
      await page.getByRole('button', { name: 'New school event' }).click();
      const form = page.getByRole('form', { name: 'New school event' });
      await form.getByLabel('Name').fill(name);
      await form.getByLabel('First day').fill(startsOn);
      if (expires) await form.getByLabel('Gallery open until').fill(expires);
      if (forClass) {
        await form.getByLabel('Some classes and families').check();
        await form.getByRole('group', { name: 'Classes' }).getByLabel(forClass).check();
      }
      await form.getByRole('button', { name: 'Create event' }).click();
      await page.getByRole('table', { name: 'Events of the school' }).getByRole('row', { name }).waitFor();
    };
    await create('Sports Day', '2026-05-14', 'Year 3', '2027-06-30');
    await create('Autumn Trip', '2025-10-02');
    const table = page.getByRole('table', { name: 'Events of the school' });
    expect(await table.getByRole('row', { name: 'Sports Day' }).getByRole('cell').allTextContents()).toEqual(['Sports Day', '2026-05-14', 'Draft', 'Year 3', '2027-06-30', 'EditArchive']);
    await table.getByRole('row', { name: 'Autumn Trip' }).getByRole('button', { name: 'Archive' }).click();
    await table.getByRole('row', { name: 'Autumn Trip' }).getByText('Archived').waitFor();
    await ui.screenshot('admin-events');

    const { events } = await api.request<{ events: Array<{ name: string; state: string; audience: { scope: string; classIds?: string[] }; galleryExpiresOn: string | null }> }>('GET', `/v1/schools/${schoolId}/events`);
    const { classes } = await api.request<{ classes: Array<{ id: string; name: string }> }>('GET', `/v1/schools/${schoolId}/classes`);
    const year3 = classes.find((c) => c.name === 'Year 3')!.id;
    expect(events.find((e) => e.name === 'Sports Day')).toMatchObject({ state: 'draft', audience: { scope: 'some', classIds: [year3] }, galleryExpiresOn: '2027-06-30' });
    expect(events.find((e) => e.name === 'Autumn Trip')).toMatchObject({ state: 'archived', audience: { scope: 'school' } });
  });

  it('invites a teacher, revokes a spare invitation, and changes a member’s role after confirming', async () => {
    await section('Users and roles').click();
    const invite = async (email: string, role: string): Promise<void> => {
      const form = page.getByRole('form', { name: 'Invite someone' });
      await form.getByLabel('E-mail').fill(email);
      await form.getByLabel('Role').selectOption(role);
      await form.getByRole('button', { name: 'Send invitation' }).click();
      await page.getByRole('table', { name: 'Invitations' }).getByRole('row', { name: `Invitation to ${email}` }).waitFor();
    };
    await invite('tom@greenfield.example', 'teacher');
    await invite('tess@greenfield.example', 'teacher');
    await invite('spare@greenfield.example', 'photographer');
    const spare = page.getByRole('table', { name: 'Invitations' }).getByRole('row', { name: 'Invitation to spare@greenfield.example' });
    await spare.getByRole('button', { name: 'Revoke' }).click();
    await spare.getByText('revoked').waitFor();
    await page.getByText('The invitation to spare@greenfield.example is revoked.').waitFor();
    await ui.screenshot('admin-invites');

    await accept('tom@greenfield.example', 'Tom Teacher', 'tom password 123');
    await accept('tess@greenfield.example', 'Tess Teacher', 'tess password 123');
    await section('School events').click();
    await section('Users and roles').click();
    const members = page.getByRole('table', { name: 'Members' });
    await members.getByRole('row', { name: 'Tom Teacher' }).waitFor();
    await members.getByLabel('Role of Tom Teacher').selectOption('photographer');
    await page.getByRole('alertdialog', { name: 'Confirm' }).getByRole('button', { name: 'Change role' }).click();
    await page.getByText('Tom Teacher is now photographer.').waitFor();
    const listed = await api.request<{ members: Array<{ email: string; role: string }> }>('GET', `/v1/schools/${schoolId}/members`);
    expect(listed.members.find((m) => m.email === 'tom@greenfield.example')?.role).toBe('photographer');
    await ui.screenshot('admin-users');
  });

  it('shows storage against the quota and the analytics with the service’s own numbers', async () => {
    // An upload under way holds part of the quota: the bar and the event's row must say so.
    const { events } = await api.request<{ events: Array<{ id: string; name: string }> }>('GET', `/v1/schools/${schoolId}/events`);
    const sportsDay = events.find((e) => e.name === 'Sports Day')!.id;
    await api.request('POST', `/v1/schools/${schoolId}/quota/reservations`, { eventId: sportsDay, bytes: 256 * 1024 * 1024, objects: 10 });
    await section('Storage and analytics').click();
    const report = await api.request<{ storage: { limitBytes: number; usedBytes: number; reservedBytes: number }; families: { active: number; total: number } }>('GET', `/v1/schools/${schoolId}/analytics`);
    const meter = page.getByRole('meter', { name: 'School storage' });
    await meter.waitFor();
    expect(Number(await meter.getAttribute('aria-valuemax'))).toBe(report.storage.limitBytes);
    expect(report.storage.reservedBytes).toBe(256 * 1024 * 1024);
    expect(Number(await meter.getAttribute('aria-valuenow'))).toBe(report.storage.usedBytes + report.storage.reservedBytes);
    expect(await meter.getAttribute('aria-valuetext')).toContain('256 MB reserved by uploads under way');
    expect(await page.getByRole('table', { name: 'Storage by event' }).getByRole('row', { name: 'Sports Day' }).getByRole('cell').nth(2).textContent()).toContain('(+256 MB reserved)');
    expect(report.families.total).toBe(3);
    expect((await page.getByLabel('Active families').textContent())?.startsWith(`${report.families.active} of ${report.families.total} families active`)).toBe(true);
    await page.getByRole('heading', { name: 'Most viewed' }).waitFor();
    await ui.screenshot('admin-storage');
  });

  it('filters the audit log to role changes', async () => {
    await section('Audit log').click();
    const filters = page.getByRole('form', { name: 'Filter the audit log' });
    await page.getByRole('table', { name: 'Audit entries' }).waitFor();
    await filters.getByLabel('Action').selectOption({ label: 'Role changes' });
    await filters.getByRole('button', { name: 'Show' }).click();
    const rows = page.getByRole('table', { name: 'Audit entries' }).getByRole('row');
    await expect.poll(() => rows.count()).toBe(2);
    expect((await rows.nth(1).getByRole('cell').allTextContents()).slice(2)).toEqual(['role.change', 'Tom Teacher: teacher → photographer']);
    await ui.screenshot('admin-audit');
  });

  it('shows a teacher no Admin tab, and the service refuses the engine’s admin calls', async () => {
    teacherUi = await openUi({ suite: 'desktop', browser });
    const teacherPage = teacherUi.page;
    await signInFromSettings(teacherPage, 'tess@greenfield.example', 'tess password 123');
    await teacherPage.getByText(/This account is a teacher of .+, not staff \(admin or photographer\): it cannot publish/).waitFor();
    await teacherPage.getByRole('button', { name: 'Sign out' }).waitFor();
    expect(await teacherPage.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: 'Admin' }).count()).toBe(0);
    // The bridge the renderer itself uses, asked directly: the window hiding the tab is not what stops it.
    const refused = await teacherPage.evaluate(() => (window as unknown as { keepsake: { invoke(method: string, input: unknown): Promise<unknown> } }).keepsake.invoke('admin:audit', {}));
    expect(refused).toEqual({ ok: false, error: { code: 'forbidden', message: 'Only the school’s admins can read its audit log.' } });
    await teacherUi.screenshot('admin-teacher-no-tab');
  });

  it('makes a family’s access code on the People screen, shown once, that lets a parent in', async () => {
    await section('People').click();
    const family = page.getByRole('table', { name: 'Families' }).getByRole('row', { name: 'wu@home.example' });
    await family.getByRole('button', { name: 'New access code' }).click();
    const confirm = page.getByRole('alertdialog', { name: 'Confirm' });
    await confirm.getByText(/This replaces the family’s current code/).waitFor();
    await confirm.getByRole('button', { name: 'Make a new code' }).click();
    const panel = page.getByRole('region', { name: 'Access code of wu@home.example' });
    await panel.getByText(`it lets one parent create their account at ${service.base}/sign-in. It is shown only now.`, { exact: false }).waitFor();
    const field = panel.getByLabel('Access code of wu@home.example');
    await expect.poll(() => field.inputValue()).toMatch(/^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$/);
    await ui.screenshot('admin-access-code');
    const redeemed = await fetch(`${service.base}/v1/auth/access-code`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: await field.inputValue(), email: 'wei.wu@home.example', name: 'Wei Wu', password: 'parent password 1' }),
    });
    expect(redeemed.status).toBe(201);
  });
});
