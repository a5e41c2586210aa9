import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useImportStore } from '../stores/import.store.ts';
import { useJobsStore } from '../stores/jobs.store.ts';
import { useNavStore } from '../stores/nav.store.ts';
import { useLibraryStore } from '../stores/library.store.ts';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { StatusBar } from './StatusBar.tsx';

let fake: FakeBridge;
const STATUS = { assets: 12, unreadable: 1, missing: 0, events: 1, people: 3, jobs: {} };

beforeEach(() => {
  fake = installFakeBridge()
    .answer('jobs:progress', { paused: false, kinds: [] })
    .answer('library:status', STATUS)
    .answer('assets:unreadable', [{ id: 4, path: 'Sports Day/IMG_9001.JPG', originalName: 'IMG_9001.JPG', reason: 'unreadable: the JPEG is cut short' }]);
  useJobsStore.setState(useJobsStore.getInitialState(), true);
  useImportStore.setState(useImportStore.getInitialState(), true);
  useNavStore.setState(useNavStore.getInitialState(), true);
  useLibraryStore.setState({ ...useLibraryStore.getInitialState(), state: 'open', status: STATUS, info: { root: '/lib', name: 'School', readOnly: false, damage: null } }, true);
});
afterEach(cleanup);

describe('StatusBar', () => {
  it('shows each running kind of job with its progress, from the push events', () => {
    render(<StatusBar />);
    act(() =>
      fake.emit('jobs:progress', {
        paused: false,
        kinds: [
          { kind: 'thumbs', done: 3, failed: 0, queued: 6, running: 1, total: 10, rate: 2.5, etaSec: 3 },
          { kind: 'publish', done: 0, failed: 0, queued: 0, running: 0, total: 0, rate: 0, etaSec: null },
        ],
      }),
    );
    const jobs = screen.getByLabelText('Background jobs');
    expect(jobs.textContent).toBe('Thumbnails 3/10 · 2.5/s · about 3 s left');
    expect(screen.getByRole('contentinfo', { name: 'Status' }).textContent).toContain('12 items · 1 event · 3 people');
  });

  it('shows a running import from any screen and goes back to it on click', () => {
    useImportStore.setState({ ...useImportStore.getInitialState(), phase: 'running', importId: 'c'.repeat(32), progress: { importId: 'c'.repeat(32), phase: 'copying', filesDone: 12, filesTotal: 60, bytesDone: 1, bytesTotal: 2, bytesPerSec: 80 * 1024 * 1024, etaSec: 30, current: null, errors: [] } });
    render(<StatusBar />);
    fireEvent.click(screen.getByRole('button', { name: 'Import 12/60 · 80 MB/s · about 30 s left' }));
    expect(useNavStore.getState().view).toEqual({ name: 'import' });
  });

  it('opens the panel of unreadable files with their reasons, and closes it with Esc', async () => {
    render(<StatusBar />);
    fireEvent.click(screen.getByRole('button', { name: '1 unreadable file' }));
    const dialog = await screen.findByRole('dialog', { name: 'Files Keepsake cannot read' });
    const row = await within(dialog).findByRole('row', { name: /IMG_9001/ });
    expect(within(row).getAllByRole('cell').map((cell) => cell.textContent)).toEqual(['Sports Day/IMG_9001.JPG', 'The JPEG is cut short']);
    expect(document.activeElement?.getAttribute('aria-label')).toBe('Close');
    fireEvent.keyDown(dialog, { key: 'Escape' });
    expect(screen.queryByRole('dialog')).toBeNull();
  });
});
