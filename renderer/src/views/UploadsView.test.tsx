import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EventCard } from '../../../app/ipc/contract.ts';
import { useUploadsStore } from '../stores/uploads.store.ts';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { UPLOADING } from '../test/publish-fixtures.ts';
import { UploadsView } from './UploadsView.tsx';

let fake: FakeBridge;

beforeEach(() => {
  fake = installFakeBridge().answer('uploads:status', UPLOADING).answer('events:list', []);
  useUploadsStore.setState(useUploadsStore.getInitialState(), true);
});
afterEach(cleanup);

describe('UploadsView', () => {
  it('shows overall progress with rate and time left, and each file being sent', async () => {
    render(<UploadsView />);
    const overall = await screen.findByLabelText('Overall progress');
    await within(overall).findByText(/Uploading/);
    expect(within(overall).getByText(/Uploading/).closest('p')!.textContent).toBe('Uploading · 1 of 3 items · 1.0 MB of 3.0 MB · 512 KB/s · about 4 s left');
    const file = within(screen.getByRole('table', { name: 'Files being sent' })).getByRole('row');
    expect(within(file).getByRole('progressbar').getAttribute('value')).toBe('0.25');
    expect(file.textContent).toContain('IMG_0002.JPG · preview');
  });

  it('lists failed uploads with their reasons and retries them all', async () => {
    fake.answer('uploads:retry', { ...UPLOADING, failures: [], retried: 1 });
    render(<UploadsView />);
    const failed = await screen.findByRole('table', { name: 'Failed uploads' });
    expect(within(failed).getByRole('row').textContent).toBe('IMG_0009.JPGThe store refused the request (AccessDenied).Retry');
    fireEvent.click(screen.getByRole('button', { name: 'Retry all' }));
    expect(await screen.findByText('1 upload queued again.')).toBeTruthy();
    expect(fake.inputsOf('uploads:retry')).toEqual([{}]);
    expect(screen.queryByRole('table', { name: 'Failed uploads' })).toBeNull();
  });

  it('retries the one failed upload chosen, and keeps the others listed with their reasons', async () => {
    const quota = { id: 57, assetId: 10, name: 'IMG_0010.JPG', reason: 'The store refused it (QuotaExceeded).' };
    fake.answer('uploads:status', { ...UPLOADING, failures: [quota, ...UPLOADING.failures] });
    fake.answer('uploads:retry', (input) => {
      const ids = (input as { ids?: number[] }).ids ?? [];
      return { ...UPLOADING, failures: [quota, ...UPLOADING.failures].filter((f) => !ids.includes(f.id)), retried: ids.length };
    });
    render(<UploadsView />);
    const failed = await screen.findByRole('table', { name: 'Failed uploads' });
    expect(within(failed).getAllByRole('row').map((row) => row.textContent)).toEqual([
      'IMG_0010.JPGThe store refused it (QuotaExceeded).Retry',
      'IMG_0009.JPGThe store refused the request (AccessDenied).Retry',
    ]);
    fireEvent.click(within(failed).getByRole('button', { name: 'Retry IMG_0010.JPG' }));
    expect(await screen.findByText('1 upload queued again.')).toBeTruthy();
    expect(fake.inputsOf('uploads:retry')).toEqual([{ ids: [57] }]);
    const left = within(screen.getByRole('table', { name: 'Failed uploads' })).getAllByRole('row');
    expect(left.map((row) => row.textContent)).toEqual(['IMG_0009.JPGThe store refused the request (AccessDenied).Retry']);
    expect(screen.getByRole('heading', { name: 'Failed (1)' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Retry all' })).toBeTruthy();
  });

  it('pauses, and shows Resume once the engine says it is paused', async () => {
    fake.answer('uploads:pause', { ...UPLOADING, paused: true });
    render(<UploadsView />);
    fireEvent.click(await screen.findByRole('button', { name: 'Pause' }));
    expect(await screen.findByRole('button', { name: 'Resume' })).toBeTruthy();
    expect(screen.getByText('Paused', { selector: '.upload-state' })).toBeTruthy();
  });

  it('refuses a limit that is not a whole number, without asking the engine', async () => {
    render(<UploadsView />);
    const form = await screen.findByRole('form', { name: 'Bandwidth limit' });
    fireEvent.change(within(form).getByLabelText('Limit (KB/s)'), { target: { value: 'fast' } });
    fireEvent.submit(form);
    expect(within(form).getByText(/Enter a whole number of KB\/s/)).toBeTruthy();
    expect(fake.inputsOf('uploads:setLimit')).toEqual([]);
  });

  it('reads the events’ unpublished counts again as uploads finish', async () => {
    let unpublished = 2;
    // The screen reads these four fields of an event's card.
    fake.answer('events:list', () => [{ id: 7, name: 'Class Photos', assetCount: 2, unpublishedCount: unpublished } as Partial<EventCard> as EventCard]);
    render(<UploadsView />);
    const row = async () => within(await screen.findByRole('table', { name: 'Events to publish' })).getByRole('row');
    expect((await row()).textContent).toContain('2 item(s), 2 not published');
    unpublished = 0;
    act(() => fake.emit('uploads:progress', { ...UPLOADING, queue: { ...UPLOADING.queue, done: UPLOADING.queue.done + 2 } }));
    await vi.waitFor(async () => expect((await row()).textContent).toContain('2 item(s), 0 not published'));
  });

  it('follows the progress the engine pushes', async () => {
    render(<UploadsView />);
    await screen.findByLabelText('Overall progress');
    act(() => fake.emit('uploads:progress', { ...UPLOADING, files: [], queue: { ...UPLOADING.queue, queued: 0, running: 0 }, overall: { ...UPLOADING.overall, assetsDone: 3 } }));
    expect(screen.getByText(/Nothing to upload/).closest('p')!.textContent).toMatch(/^Nothing to upload · 3 of 3 items/);
  });
});
