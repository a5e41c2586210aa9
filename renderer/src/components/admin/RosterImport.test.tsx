import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useAdminPeopleStore } from '../../stores/admin-people.store.ts';
import { installFakeBridge, type FakeBridge } from '../../test/fake-bridge.ts';
import { RosterImport } from './RosterImport.tsx';

let fake: FakeBridge;
const CSV = 'name,class\nAna Lima,Year 3\n,Year 3\n';

beforeEach(() => {
  fake = installFakeBridge().answer('admin:people', { classes: [], students: [], families: [] });
  useAdminPeopleStore.setState(useAdminPeopleStore.getInitialState(), true);
});
afterEach(cleanup);

describe('RosterImport', () => {
  it('sends the file’s text and lists each line to fix when nothing was imported', async () => {
    fake.answer('admin:importRoster', { sent: false, rows: 1, created: 0, updated: 0, unchanged: 0, errors: [{ line: 3, message: 'The name is empty.' }] });
    render(<RosterImport />);
    fireEvent.change(screen.getByLabelText(/Roster CSV/), { target: { files: [new File([CSV], 'roster.csv', { type: 'text/csv' })] } });
    fireEvent.click(screen.getByRole('button', { name: 'Import roster' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Nothing was imported: 1 line of the file need fixing.');
    expect(within(alert).getByRole('listitem').textContent).toBe('Line 3: The name is empty.');
    expect(fake.inputsOf('admin:importRoster')).toEqual([{ lines: ['name,class', 'Ana Lima,Year 3', ',Year 3', ''] }]);
    expect(fake.inputsOf('admin:people')).toEqual([]);
  });

  it('says what was added and reloads the people once sent', async () => {
    fake.answer('admin:importRoster', { sent: true, rows: 2, created: 2, updated: 0, unchanged: 0, errors: [] });
    render(<RosterImport />);
    fireEvent.change(screen.getByLabelText(/Roster CSV/), { target: { files: [new File([CSV], 'roster.csv')] } });
    fireEvent.click(screen.getByRole('button', { name: 'Import roster' }));
    expect((await screen.findByRole('status')).textContent).toBe('Roster imported: 2 students added, 0 updated, 0 unchanged.');
    expect(fake.inputsOf('admin:people')).toEqual([{}]);
  });

  it('lists the lines that fit several students once sent, without saying nothing was imported', async () => {
    const message = '2 students of the school have this name and class, so this line was applied to none of them.';
    fake.answer('admin:importRoster', { sent: true, rows: 2, created: 1, updated: 0, unchanged: 0, errors: [], ambiguous: [{ line: 3, message }] });
    render(<RosterImport />);
    fireEvent.change(screen.getByLabelText(/Roster CSV/), { target: { files: [new File([CSV], 'roster.csv')] } });
    fireEvent.click(screen.getByRole('button', { name: 'Import roster' }));
    expect((await screen.findByRole('status')).textContent).toBe('Roster imported: 1 student added, 0 updated, 0 unchanged.');
    const alert = screen.getByRole('alert');
    expect(alert.textContent).toContain('1 line could not be matched to one student');
    expect(alert.textContent).not.toContain('Nothing was imported');
    expect(within(alert).getByRole('listitem').textContent).toBe(`Line 3: ${message}`);
  });
});
