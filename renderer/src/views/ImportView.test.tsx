import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PREVIEW_DEBOUNCE_MS, useImportStore } from '../stores/import.store.ts';
import { useNavStore } from '../stores/nav.store.ts';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { ImportView } from './ImportView.tsx';

let fake: FakeBridge;
const ID = 'b'.repeat(32);
const pause = (): Promise<void> => act(() => new Promise<void>((resolve) => setTimeout(resolve, PREVIEW_DEBOUNCE_MS + 30)));

beforeEach(() => {
  fake = installFakeBridge()
    .answer('events:list', [{ id: 3, name: 'Sports Day' } as never])
    .answer('library:status', { assets: 0, unreadable: 0, missing: 0, events: 1, people: 0, jobs: {} })
    .answer('import:preview', (input) => {
      const { template = '{original}' } = input as { template?: string };
      return { event: 'Sports Day', names: [1, 2].map((n) => ({ source: `/card/DCIM/IMG_000${n}.JPG`, destination: `Sports Day/${template.replace('{seq:3}', `00${n}`)}.jpg` })), duplicates: null, failed: [{ source: '/card/DCIM/IMG_9000.JPG', reason: 'The file is empty (0 bytes).' }], total: 12 };
    });
  useImportStore.setState(useImportStore.getInitialState(), true);
  useNavStore.setState(useNavStore.getInitialState(), true);
});
afterEach(cleanup);

describe('ImportView', () => {
  it('fills the source from the card and previews the names live as the template changes', async () => {
    render(<ImportView source="/card" />);
    expect((screen.getByLabelText('Source folder or card') as HTMLInputElement).value).toBe('/card');
    fireEvent.change(screen.getByLabelText('Event'), { target: { value: 'Sports Day' } });
    fireEvent.change(screen.getByLabelText('Rename template'), { target: { value: 'Relay-{seq:3}' } });
    await pause();
    const preview = screen.getByRole('complementary', { name: 'Name preview' });
    expect(within(preview).getAllByRole('listitem').map((item) => item.textContent)).toContain('IMG_0001.JPG → Relay-001.jpg');
    expect(preview.textContent).toContain('12 files into Sports Day · duplicates are checked when the import runs');
    expect(preview.textContent).toContain('…and 10 more');
    expect(preview.textContent).toContain('IMG_9000.JPG: The file is empty (0 bytes).');
    fireEvent.change(screen.getByLabelText('Rename template'), { target: { value: 'Final-{seq:3}' } });
    await pause();
    expect(within(preview).getAllByRole('listitem')[0]!.textContent).toBe('IMG_0001.JPG → Final-001.jpg');
  });

  it('shows progress with rate, ETA and file errors, then a summary that opens the event', async () => {
    fake.answer('import:start', { importId: ID }).answer('import:cancel', { cancelled: true });
    render(<ImportView source="/card" eventName="Sports Day" />);
    fireEvent.click(screen.getByRole('button', { name: 'Start import' }));
    await act(async () => undefined);
    act(() =>
      fake.emit('import:progress', {
        importId: ID,
        phase: 'copying',
        filesDone: 4,
        filesTotal: 12,
        bytesDone: 40 * 1024 * 1024,
        bytesTotal: 120 * 1024 * 1024,
        bytesPerSec: 25 * 1024 * 1024,
        etaSec: 95,
        current: '/card/DCIM/IMG_0005.JPG',
        errors: [{ source: '/card/DCIM/IMG_9000.JPG', reason: 'The file is empty (0 bytes).' }],
      }),
    );
    const panel = screen.getByLabelText('Import progress');
    expect(panel.textContent).toContain('4 of 12 files · 40 MB of 120 MB');
    expect(panel.textContent).toContain('25 MB/s · about 2 min left · copying IMG_0005.JPG');
    expect(within(panel).getByRole('list', { name: 'Files not imported' }).textContent).toBe('IMG_9000.JPG: The file is empty (0 bytes).');
    fireEvent.click(screen.getByRole('button', { name: 'Cancel import' }));
    await act(async () => undefined);
    expect(fake.inputsOf('import:cancel')).toEqual([{ importId: ID }]);
    act(() => fake.emit('import:finished', { importId: ID, state: 'completed', imported: 11, duplicates: 0, failed: [{ source: '/card/DCIM/IMG_9000.JPG', reason: 'The file is empty (0 bytes).' }], error: null }));
    const summary = screen.getByRole('status', { name: 'Import summary' });
    expect(summary.textContent).toContain('11 files imported into Sports Day, 1 not imported.');
    fireEvent.click(await screen.findByRole('button', { name: 'Open Sports Day' }));
    expect(useNavStore.getState().view).toEqual({ name: 'grid', source: { kind: 'event', eventId: 3 } });
  });
});
