import { create } from 'zustand';
import type { AssetDetail } from '../../../app/ipc/contract.ts';
import type { Person } from '../../../app/shared/domain.ts';
import { asCallError, call, CallError } from '../bridge/keepsake.ts';

/** Details read for a batch edit: enough to show which values are shared, without reading thousands of assets. */
export const DETAIL_SAMPLE = 100;
/** The contract's largest batch of one edit call. */
const EDIT_BATCH = 10_000;
const PARALLEL_READS = 6;

interface MetadataState {
  /** The assets the panel edits (the grid's selection, else its focus). */
  ids: number[];
  /** Details of the first {@link DETAIL_SAMPLE} of them. */
  details: AssetDetail[];
  status: 'idle' | 'loading' | 'ready';
  /** The roster, for tagging by name; loaded once. */
  people: Person[] | null;
  saving: boolean;
  error: CallError | null;
  load(ids: readonly number[]): Promise<void>;
  setText(field: 'title' | 'description', value: string | null): Promise<void>;
  addTags(tags: readonly string[]): Promise<void>;
  removeTag(tag: string): Promise<void>;
  /** Tags the assets with the person of this name (any case) from the roster. */
  tagPerson(name: string): Promise<void>;
  untagPerson(personId: number): Promise<void>;
  loadPeople(): Promise<void>;
  dismissError(): void;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

async function readDetails(ids: readonly number[]): Promise<AssetDetail[]> {
  const out: AssetDetail[] = new Array(ids.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const at = next++;
      out[at] = await call('assets:get', { id: ids[at]! });
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_READS, ids.length) }, worker));
  return out;
}

let loadToken = 0;

/** The metadata panel: details of what is selected, and edits applied to all of it at once. */
export const useMetadataStore = create<MetadataState>((set, get) => {
  /** Runs an edit over every id in contract-sized batches, then reads the details again. */
  const edit = async (send: (ids: number[]) => Promise<unknown>): Promise<void> => {
    const { ids } = get();
    if (ids.length === 0) return;
    set({ saving: true, error: null });
    try {
      for (const batch of chunks(ids, EDIT_BATCH)) await send(batch);
    } catch (error) {
      set({ error: asCallError(error) });
    } finally {
      set({ saving: false });
    }
    await get().load(ids);
  };

  return {
    ids: [],
    details: [],
    status: 'idle',
    people: null,
    saving: false,
    error: null,

    async load(ids) {
      const token = ++loadToken;
      const same = ids.length === get().ids.length && ids.every((id, i) => id === get().ids[i]);
      set({ ids: [...ids], status: ids.length === 0 ? 'idle' : same ? get().status : 'loading', ...(same ? {} : { details: [] }) });
      if (ids.length === 0) return;
      try {
        const details = await readDetails(ids.slice(0, DETAIL_SAMPLE));
        if (token === loadToken) set({ details, status: 'ready' });
      } catch (error) {
        if (token === loadToken) set({ status: 'ready', error: asCallError(error) });
      }
    },

    setText(field, value) {
      return edit((ids) => call('assets:setText', { ids, [field]: value }));
    },

    addTags(tags) {
      const clean = [...new Set(tags.map((tag) => tag.trim()).filter((tag) => tag.length > 0))];
      if (clean.length === 0) return Promise.resolve();
      return edit((ids) => call('tags:add', { ids, tags: clean }));
    },

    removeTag(tag) {
      return edit((ids) => call('tags:remove', { ids, tags: [tag] }));
    },

    async tagPerson(name) {
      if (get().people === null) await get().loadPeople();
      const wanted = name.trim().toLowerCase();
      const person = get().people?.find((p) => p.name.toLowerCase() === wanted);
      if (!person) {
        set({
          error: new CallError({
            code: 'not-found',
            message: `No one called "${name.trim()}" is in the roster.`,
            hint: 'Check the spelling, or import the class list on the People screen first.',
          }),
        });
        return;
      }
      return edit((ids) => call('people:tag', { ids, personId: person.id }));
    },

    untagPerson(personId) {
      return edit((ids) => call('people:untag', { ids, personId }));
    },

    async loadPeople() {
      try {
        set({ people: await call('people:list', {}) });
      } catch (error) {
        set({ error: asCallError(error) });
      }
    },

    dismissError() {
      set({ error: null });
    },
  };
});

/** A value shared by every detail, or `mixed` when they differ. */
export function sharedValue<T>(details: readonly AssetDetail[], read: (detail: AssetDetail) => T): { mixed: false; value: T } | { mixed: true } {
  if (details.length === 0) return { mixed: true };
  const first = read(details[0]!);
  return details.every((detail) => read(detail) === first) ? { mixed: false, value: first } : { mixed: true };
}

/** Each tag of the details with how many carry it, most common first. */
export function tagCounts(details: readonly AssetDetail[]): Array<{ tag: string; count: number }> {
  const counts = new Map<string, number>();
  for (const detail of details) for (const tag of detail.tags) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  return [...counts].map(([tag, count]) => ({ tag, count })).sort((a, b) => b.count - a.count || a.tag.localeCompare(b.tag));
}

/** Each person tagged in the details with how many carry them. */
export function personCounts(details: readonly AssetDetail[]): Array<{ person: Person; count: number }> {
  const counts = new Map<number, { person: Person; count: number }>();
  for (const detail of details) {
    for (const person of detail.people) {
      const entry = counts.get(person.id);
      if (entry) entry.count += 1;
      else counts.set(person.id, { person, count: 1 });
    }
  }
  return [...counts.values()].sort((a, b) => b.count - a.count || a.person.name.localeCompare(b.person.name));
}
