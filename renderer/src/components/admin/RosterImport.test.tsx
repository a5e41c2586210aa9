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
});
