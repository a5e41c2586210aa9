import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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

  it('lists failed uploads with their reasons and retries them', async () => {
    fake.answer('uploads:retry', { ...UPLOADING, failures: [], retried: 1 });
    render(<UploadsView />);
    const failed = await screen.findByRole('table', { name: 'Failed uploads' });
    expect(within(failed).getByRole('row').textContent).toBe('IMG_0009.JPGThe store refused the request (AccessDenied).');
    fireEvent.click(screen.getByRole('button', { name: 'Retry failed uploads' }));
    expect(await screen.findByText('1 upload queued again.')).toBeTruthy();
    expect(screen.queryByRole('table', { name: 'Failed uploads' })).toBeNull();
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

  it('follows the progress the engine pushes', async () => {
    render(<UploadsView />);
    await screen.findByLabelText('Overall progress');
    act(() => fake.emit('uploads:progress', { ...UPLOADING, files: [], queue: { ...UPLOADING.queue, queued: 0, running: 0 }, overall: { ...UPLOADING.overall, assetsDone: 3 } }));
    expect(screen.getByText(/Nothing to upload/).closest('p')!.textContent).toMatch(/^Nothing to upload · 3 of 3 items/);
  });
});
