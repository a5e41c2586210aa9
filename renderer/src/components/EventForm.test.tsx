import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventCard } from '../../../app/ipc/contract.ts';
import type { EventId } from '../../../app/shared/ids.ts';
import { useEventsStore } from '../stores/events.store.ts';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { EventForm } from './EventForm.tsx';

const play: EventCard = {
  id: 3 as EventId,
  name: 'Play',
  startsOn: '2026-06-01',
  endsOn: null,
  location: 'Hall',
  description: null,
  folder: 'Play',
  remoteId: null,
  version: 1,
  createdAt: '',
  updatedAt: '',
  assetCount: 0,
  photoCount: 0,
  videoCount: 0,
  unreadableCount: 0,
  missingCount: 0,
  firstCapturedAt: null,
  lastCapturedAt: null,
  unpublishedCount: 0,
  coverAssetId: null,
};
let fake: FakeBridge;
let closed: number;

beforeEach(() => {
  useEventsStore.setState(useEventsStore.getInitialState(), true);
  closed = 0;
  fake = installFakeBridge().answer('events:list', [{ ...play, version: 2, location: 'Gym' }]);
});
afterEach(cleanup);

describe(EventForm.name, () => {
  it('refuses a last day before the first day without asking the engine', async () => {
    render(<EventForm event={null} onClose={() => (closed += 1)} />);
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'Trip' } });
    fireEvent.change(screen.getByLabelText('First day'), { target: { value: '2026-06-02' } });
    fireEvent.change(screen.getByLabelText('Last day'), { target: { value: '2026-06-01' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create event' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/The last day is before the first day\. Swap the dates/);
    expect(fake.inputsOf('events:create')).toEqual([]);
  });

  it('words the engine’s validation error with the form’s labels', async () => {
    fake.fail('events:create', { code: 'invalid-input', message: 'The value of "name" is not valid: too small.', hint: 'Correct the highlighted value and try again.' });
    render(<EventForm event={null} onClose={() => (closed += 1)} />);
    fireEvent.click(screen.getByRole('button', { name: 'Create event' }));
    expect((await screen.findByRole('alert')).textContent).toBe('The value of “Name” is not valid: too small. Correct the highlighted value and try again.×');
    expect(closed).toBe(0);
  });

  it('after a conflict, saves what was typed over the latest version', async () => {
    fake.fail('events:update', { code: 'conflict', message: '"Play" was changed elsewhere (now version 2); reload it and try again.', hint: 'Reload to see the latest version, then make your change again.' });
    render(<EventForm event={play} onClose={() => (closed += 1)} />);
    fireEvent.change(screen.getByLabelText('Place'), { target: { value: 'Theatre' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect((await screen.findByRole('alert')).textContent).toMatch(/changed elsewhere/);
    fake.answer('events:update', (input) => ({ ...play, ...(input as object), version: 3 }));
    fireEvent.click(screen.getByRole('button', { name: 'Keep my changes over the latest version' }));
    await waitFor(() => expect(screen.queryByRole('alert')).toBeNull());
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(closed).toBe(1));
    expect(fake.inputsOf('events:update').at(-1)).toMatchObject({ id: 3, version: 2, location: 'Theatre' });
  });
});
