import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Person } from '../../../app/shared/domain.ts';
import { usePeopleStore } from '../stores/people.store.ts';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { PeopleView } from './PeopleView.tsx';

let fake: FakeBridge;
const ANA = { id: 1, name: 'Ana Lima', classGroup: '4B', familyEmail: 'lima@example.org', remoteId: null, consent: { publish: true, yearbook: false } } as unknown as Person;

beforeEach(() => {
  fake = installFakeBridge().answer('people:list', []);
  usePeopleStore.setState(usePeopleStore.getInitialState(), true);
});
afterEach(cleanup);

describe('PeopleView', () => {
  it('shows each person with class, family email and a consent badge per purpose', async () => {
    fake.answer('people:list', [ANA]);
    render(<PeopleView />);
    const row = await screen.findByRole('row', { name: /Ana Lima/ });
    expect(within(row).getAllByRole('cell').map((cell) => cell.textContent)).toEqual(['4B', 'lima@example.org', '✓ Publish✕ Yearbook']);
    expect(within(row).getByTitle('Publish: consent given')).toBeTruthy();
    expect(within(row).getByTitle('Yearbook: no consent')).toBeTruthy();
  });

  it('imports a roster and lists the lines it skipped with why', async () => {
    let imported = false;
    fake.answer('people:list', () => (imported ? [ANA] : []));
    fake.answer('people:importRoster', () => {
      imported = true;
      return { created: 1, updated: 0, errors: [{ line: 3, message: 'The name is empty.' }] };
    });
    render(<PeopleView />);
    expect(await screen.findByText(/No one in the roster yet/)).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Roster CSV file'), { target: { value: '/home/ana/roster.csv' } });
    fireEvent.click(screen.getByRole('button', { name: 'Import roster' }));
    const report = await screen.findByRole('status');
    expect(report.textContent).toContain('1 person added, 0 updated, 1 line skipped:');
    expect(within(screen.getByRole('list', { name: 'Roster lines skipped' })).getByRole('listitem').textContent).toBe('Line 3: The name is empty.');
    expect(await screen.findByRole('row', { name: /Ana Lima/ })).toBeTruthy();
    expect(fake.inputsOf('people:importRoster')).toEqual([{ file: '/home/ana/roster.csv' }]);
  });
});
