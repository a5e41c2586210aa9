import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useNavStore } from '../stores/nav.store.ts';
import { usePublishStore } from '../stores/publish.store.ts';
import { installFakeBridge, type FakeBridge } from '../test/fake-bridge.ts';
import { PLAN } from '../test/publish-fixtures.ts';
import { PublishPanel } from './PublishPanel.tsx';

let fake: FakeBridge;

beforeEach(() => {
  fake = installFakeBridge().answer('publish:plan', PLAN);
  usePublishStore.setState(usePublishStore.getInitialState(), true);
  useNavStore.setState(useNavStore.getInitialState(), true);
});
afterEach(cleanup);

describe('PublishPanel', () => {
  it('says what goes out, what is held back and why, and the storage before and after', async () => {
    render(<PublishPanel eventId={7} />);
    const counts = await screen.findByRole('list', { name: 'What will be published' });
    expect(within(counts).getAllByRole('listitem').map((item) => item.textContent)).toEqual(['2 new items', '0 changed items', '0 items to remove', '0 items already published']);
    const row = within(screen.getByRole('table', { name: 'Not published' })).getByRole('row');
    expect(within(row).getAllByRole('cell').map((cell) => cell.textContent)).toEqual(['IMG_0001.JPG', 'No consent', 'tagged with Ana Lima (3B): consent to publish denied']);
    expect(screen.getByRole('meter', { name: 'School storage after this publish' }).getAttribute('aria-valuetext')).toBe('2.9 MB of 9.5 MB used now; 4.8 MB after this publish');
    expect(screen.getByRole('button', { name: 'Publish 2 items' }).hasAttribute('disabled')).toBe(false);
  });

  it('refuses to publish over the school’s quota, and says so', async () => {
    fake.answer('publish:plan', { ...PLAN, overQuota: true, quota: { ...PLAN.quota!, afterBytes: 12_000_000 } });
    render(<PublishPanel eventId={7} />);
    expect((await screen.findByRole('alert')).textContent).toMatch(/does not fit in the school's storage/);
    expect(screen.getByRole('button', { name: 'Publish 2 items' }).hasAttribute('disabled')).toBe(true);
    expect(screen.getByRole('meter').getAttribute('aria-valuetext')).toMatch(/over the plan$/);
  });

  it('keeps originals off with the reason when the plan does not allow them', async () => {
    fake.answer('publish:plan', { ...PLAN, originals: { allowed: false, requested: false, why: "The school's plan does not include originals." } });
    render(<PublishPanel eventId={7} />);
    const box = await screen.findByRole('checkbox', { name: /Publish originals too/ });
    expect(box.hasAttribute('disabled')).toBe(true);
    expect(screen.getByText("The school's plan does not include originals.")).toBeTruthy();
  });

  it('publishes, then offers the upload queue', async () => {
    fake.answer('publish:start', { queued: 2, removing: 0, held: 1, reservedBytes: 2_000_000 });
    render(<PublishPanel eventId={7} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Publish 2 items' }));
    fireEvent.click(await screen.findByRole('button', { name: 'Show uploads' }));
    expect(fake.inputsOf('publish:start')).toEqual([{ eventId: 7, originals: false }]);
    expect(useNavStore.getState().view).toEqual({ name: 'uploads' });
  });
});
