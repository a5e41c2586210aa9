import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AssetDetail } from '../../../app/ipc/contract.ts';
import { useMetadataStore } from '../stores/metadata.store.ts';
import { testAsset, testPerson } from '../test/assets.ts';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { MetadataPanel } from './MetadataPanel.tsx';

const ana = testPerson(7, 'Ana Lima', false);
const ben = testPerson(8, 'Ben Okafor', true);
let fake: FakeBridge;
let details: Map<number, AssetDetail>;

beforeEach(() => {
  useMetadataStore.setState(useMetadataStore.getInitialState(), true);
  details = new Map([
    [1, { asset: testAsset(1, { title: 'Relay' }), tags: ['final', 'relay'], people: [ana], variants: [] }],
    [2, { asset: testAsset(2, { title: 'Relay' }), tags: ['final'], people: [], variants: [] }],
    [3, { asset: testAsset(3, { title: 'Start' }), tags: [], people: [], variants: [] }],
  ]);
  fake = installFakeBridge()
    .answer('assets:get', (input) => details.get((input as { id: number }).id)!)
    .answer('people:list', [ana, ben])
    .answer('assets:setText', (input) => {
      const { ids, title } = input as { ids: number[]; title: string };
      ids.forEach((id) => (details.get(id)!.asset.title = title));
      return { updated: ids.length };
    })
    .answer('tags:add', (input) => {
      const { ids, tags } = input as { ids: number[]; tags: string[] };
      ids.forEach((id) => (details.get(id)!.tags = [...new Set([...details.get(id)!.tags, ...tags])]));
      return { updated: ids.length };
    })
    .answer('people:tag', (input) => ({ updated: (input as { ids: number[] }).ids.length }));
});

afterEach(cleanup);

describe(MetadataPanel.name, () => {
  it('shows a batch as "3 selected" with its mixed values as such', async () => {
    render(<MetadataPanel ids={[1, 2, 3]} />);
    expect(screen.getByRole('heading', { name: '3 selected' })).toBeTruthy();
    const title = await screen.findByRole('textbox', { name: /Title/ });
    expect((title as HTMLInputElement).value).toBe('');
    expect((title as HTMLInputElement).placeholder).toBe('Mixed — type to set on all');
    expect(screen.getByRole('button', { name: 'Remove tag final' }).closest('li')?.textContent).toContain('(2/3)');
    expect(screen.getByText('not publishable')).toBeTruthy();
  });

  it('sets a title on every selected asset in one call', async () => {
    render(<MetadataPanel ids={[1, 2, 3]} />);
    const title = (await screen.findByRole('textbox', { name: /Title/ })) as HTMLInputElement;
    fireEvent.change(title, { target: { value: 'Sports Day relay' } });
    fireEvent.keyDown(title, { key: 'Enter' });
    await waitFor(() => expect(fake.inputsOf('assets:setText')).toEqual([{ ids: [1, 2, 3], title: 'Sports Day relay' }]));
    await waitFor(() => expect(title.value).toBe('Sports Day relay'));
  });

  it('leaves a mixed title alone when the field is left empty', async () => {
    render(<MetadataPanel ids={[1, 2, 3]} />);
    const title = await screen.findByRole('textbox', { name: /Title/ });
    fireEvent.blur(title);
    expect(fake.inputsOf('assets:setText')).toEqual([]);
  });

  it('adds tags to all of the selection, and a tag on only some becomes common', async () => {
    render(<MetadataPanel ids={[1, 2, 3]} />);
    const entry = await screen.findByRole('textbox', { name: 'Add a tag' });
    fireEvent.change(entry, { target: { value: 'final, podium' } });
    fireEvent.keyDown(entry, { key: 'Enter' });
    await waitFor(() => expect(fake.inputsOf('tags:add')).toEqual([{ ids: [1, 2, 3], tags: ['final', 'podium'] }]));
    await waitFor(() => expect(screen.getByRole('button', { name: 'Remove tag final' }).closest('li')?.textContent).not.toContain('/3'));
  });

  it('tags a person by name in any case, and explains a name not in the roster', async () => {
    render(<MetadataPanel ids={[2, 3]} />);
    const entry = await screen.findByRole('combobox', { name: 'Tag a person' });
    fireEvent.change(entry, { target: { value: 'ben okafor' } });
    fireEvent.keyDown(entry, { key: 'Enter' });
    await waitFor(() => expect(fake.inputsOf('people:tag')).toEqual([{ ids: [2, 3], personId: 8 }]));
    fireEvent.change(entry, { target: { value: 'Cleo' } });
    fireEvent.keyDown(entry, { key: 'Enter' });
    expect((await screen.findByRole('alert')).textContent).toMatch(/No one called "Cleo" is in the roster\. .*People screen/);
  });

  it('shows the capture data of a single asset', async () => {
    details.set(4, { asset: testAsset(4, { kind: 'video', durationSec: 65, width: 1920, height: 1080, lens: 'RF24-105mm' }), tags: [], people: [], variants: [] });
    render(<MetadataPanel ids={[4]} />);
    expect(await screen.findByText('Canon EOS R6')).toBeTruthy();
    expect(screen.getByText('RF24-105mm')).toBeTruthy();
    expect(screen.getByText('1:05')).toBeTruthy();
    expect(screen.getByText(/1920 × 1080/)).toBeTruthy();
  });
});
