import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useLibraryStore } from '../stores/library.store.ts';
import { useNavStore } from '../stores/nav.store.ts';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { FirstRunView } from './FirstRunView.tsx';

let fake: FakeBridge;

beforeEach(() => {
  fake = installFakeBridge()
    .answer('library:recent', { libraries: [{ path: '/media/usb/Old', name: 'Old', openedAt: '2026-01-01T00:00:00Z', available: false }], suggested: '/home/ana/Pictures/Keepsake' })
    .answer('library:status', { assets: 0, unreadable: 0, missing: 0, events: 0, people: 0, jobs: {} });
  useLibraryStore.setState({ ...useLibraryStore.getInitialState(), state: 'none' }, true);
  useNavStore.setState(useNavStore.getInitialState(), true);
});
afterEach(cleanup);

describe('FirstRunView', () => {
  it('creates a library in the suggested folder and goes to the import screen', async () => {
    fake.answer('library:open', { root: '/home/ana/Pictures/Keepsake', name: 'Keepsake', readOnly: false, damage: null });
    render(<FirstRunView />);
    const field = (await screen.findByDisplayValue('/home/ana/Pictures/Keepsake')) as HTMLInputElement;
    expect(field.labels?.[0]?.textContent).toBe('Folder for the new library');
    fireEvent.click(screen.getByRole('button', { name: 'Create library' }));
    await screen.findByRole('button', { name: 'Create library' });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(fake.inputsOf('library:open')).toEqual([{ path: '/home/ana/Pictures/Keepsake', create: true }]);
    expect(useLibraryStore.getState()).toMatchObject({ state: 'open', info: { name: 'Keepsake' } });
    expect(useNavStore.getState().view).toEqual({ name: 'import' });
  });

  it('says why a folder cannot be opened and what to do', async () => {
    fake.fail('library:open', { code: 'not-found', message: '/home/ana/Photos is not a Keepsake library: it has no .keepsake/catalog.db.', hint: 'Choose the library folder.' });
    render(<FirstRunView />);
    fireEvent.change(screen.getByLabelText('Library folder'), { target: { value: '/home/ana/Photos' } });
    fireEvent.click(screen.getByRole('button', { name: 'Open library' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toBe('/home/ana/Photos is not a Keepsake library: it has no .keepsake/catalog.db. Choose the library folder.');
    expect(useLibraryStore.getState().state).toBe('none');
  });

  it('over an open library, offers to go back to it', async () => {
    useLibraryStore.setState({ state: 'open', info: { root: '/lib/School', name: 'School', readOnly: false, damage: null } });
    useLibraryStore.getState().chooseAnother();
    render(<FirstRunView />);
    expect(screen.getByRole('heading', { name: 'Open another library' })).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Back to School' }));
    expect(useLibraryStore.getState().state).toBe('open');
  });

  it('lists recent libraries, greying out one whose drive is gone', async () => {
    render(<FirstRunView />);
    const old = await screen.findByRole('button', { name: /Old/ });
    expect((old as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByRole('list', { name: 'Recent libraries' }).textContent).toContain('not found (is its drive connected?)');
  });
});
