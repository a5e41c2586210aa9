import { create } from 'zustand';
import type { Outputs } from '../../../app/ipc/contract.ts';
import type { Person } from '../../../app/shared/domain.ts';
import { asCallError, call, type CallError } from '../bridge/keepsake.ts';
import { useLibraryStore } from './library.store.ts';

interface PeopleState {
  people: Person[];
  status: 'idle' | 'loading' | 'ready' | 'failed';
  error: CallError | null;
  /** The path typed for a roster import. */
  rosterPath: string;
  importing: boolean;
  /** The last roster import's outcome, per-line errors included. */
  report: Outputs['people:importRoster'] | null;
  importError: CallError | null;
  load(): Promise<void>;
  setRosterPath(path: string): void;
  importRoster(): Promise<void>;
}

/** The roster: students with their class, family email and consent; roster import from a CSV file. */
export const usePeopleStore = create<PeopleState>((set, get) => ({
  people: [],
  status: 'idle',
  error: null,
  rosterPath: '',
  importing: false,
  report: null,
  importError: null,
  async load() {
    set({ status: get().people.length > 0 ? 'ready' : 'loading' });
    try {
      set({ people: await call('people:list', {}), status: 'ready', error: null });
    } catch (error) {
      set({ status: 'failed', error: asCallError(error) });
    }
  },
  setRosterPath(rosterPath) {
    set({ rosterPath, importError: null });
  },
  async importRoster() {
    const file = get().rosterPath.trim();
    if (file === '' || get().importing) return;
    set({ importing: true, importError: null, report: null });
    try {
      const report = await call('people:importRoster', { file });
      set({ report, importing: false });
      // The status bar counts people too.
      void useLibraryStore.getState().refreshStatus();
      await get().load();
    } catch (error) {
      set({ importing: false, importError: asCallError(error) });
    }
  },
}));
