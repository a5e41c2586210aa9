import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useImportStore } from '../stores/import.store.ts';
import { useNavStore } from '../stores/nav.store.ts';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { CardPrompt, cardQuestion } from './CardPrompt.tsx';

let fake: FakeBridge;
const CARD = { path: '/media/ana/EOS_DIGITAL', label: 'EOS_DIGITAL', mediaCount: 1204, bytes: 3_500_000_000, partial: false };

beforeEach(() => {
  fake = installFakeBridge().answer('volumes:list', []);
  useNavStore.setState(useNavStore.getInitialState(), true);
  useImportStore.setState(useImportStore.getInitialState(), true);
});
afterEach(cleanup);

describe('CardPrompt', () => {
  it('words the question from the card, with "at least" for a partial count', () => {
    expect(cardQuestion(CARD)).toBe('Import 1,204 photos from EOS_DIGITAL?');
    expect(cardQuestion({ ...CARD, mediaCount: 20_000, partial: true })).toBe('Import at least 20,000 photos from EOS_DIGITAL?');
    expect(cardQuestion({ ...CARD, mediaCount: 1 })).toBe('Import 1 photo from EOS_DIGITAL?');
  });

  it('asks when a card is inserted, focuses Import, and opens the import screen with the card as source', async () => {
    render(<CardPrompt />);
    expect(screen.queryByRole('dialog')).toBeNull();
    act(() => fake.emit('volume:inserted', CARD));
    const dialog = screen.getByRole('dialog', { name: 'Import 1,204 photos from EOS_DIGITAL?' });
    expect(dialog.textContent).toContain('3.3 GB');
    expect(document.activeElement?.textContent).toBe('Import');
    fireEvent.click(screen.getByRole('button', { name: 'Import' }));
    expect(useNavStore.getState().view).toEqual({ name: 'import', source: CARD.path });
    expect(useImportStore.getState().form.source).toBe(CARD.path);
    expect(screen.queryByRole('dialog')).toBeNull();
  });

  it('goes away when the card is removed, and "Not now" keeps it away until then', async () => {
    render(<CardPrompt />);
    act(() => fake.emit('volume:inserted', CARD));
    act(() => fake.emit('volume:removed', { path: CARD.path, label: CARD.label }));
    expect(screen.queryByRole('dialog')).toBeNull();
    act(() => fake.emit('volume:inserted', CARD));
    fireEvent.click(screen.getByRole('button', { name: 'Not now' }));
    act(() => fake.emit('volume:inserted', CARD));
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(useNavStore.getState().view).toEqual({ name: 'events' });
  });

  it('keeps Tab inside the dialog and gives focus back when it closes', () => {
    render(
      <>
        <button type="button">Elsewhere</button>
        <CardPrompt />
      </>,
    );
    screen.getByRole('button', { name: 'Elsewhere' }).focus();
    act(() => fake.emit('volume:inserted', CARD));
    const importButton = screen.getByRole('button', { name: 'Import' });
    expect(document.activeElement).toBe(importButton);
    fireEvent.keyDown(document, { key: 'Tab' });
    expect(document.activeElement?.textContent).toBe('Not now');
    fireEvent.keyDown(document, { key: 'Tab', shiftKey: true });
    expect(document.activeElement).toBe(importButton);
    fireEvent.click(screen.getByRole('button', { name: 'Not now' }));
    expect(document.activeElement?.textContent).toBe('Elsewhere');
  });

  it('asks about a card already mounted when the window opens', async () => {
    fake.answer('volumes:list', [CARD]);
    render(<CardPrompt />);
    expect(await screen.findByRole('dialog', { name: 'Import 1,204 photos from EOS_DIGITAL?' })).toBeTruthy();
  });
});
