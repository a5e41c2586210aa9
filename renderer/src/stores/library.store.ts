import { create } from 'zustand';
import type { Outputs, RecentLibrary } from '../../../app/ipc/contract.ts';
import { asCallError, call, type CallError } from '../bridge/keepsake.ts';

type Info = Outputs['library:info'];
type Status = Outputs['library:status'];

interface LibraryState {
  /** `loading` until the first answer; `none` when no library is open yet (first run). */
  state: 'loading' | 'open' | 'none' | 'failed';
  info: Info | null;
  status: Status | null;
  error: CallError | null;
  /** Libraries opened before on this computer, and the folder proposed for a new one (first run). */
  recent: RecentLibrary[];
  suggested: string;
  /** True while `open` waits for the engine. */
  opening: boolean;
  /** Why the last `open` failed, for the first-run screen. */
  openError: CallError | null;
  load(): Promise<void>;
  refreshStatus(): Promise<void>;
  loadRecent(): Promise<void>;
  /** Opens the library at `path` (creating it when `create`); true once it is open. */
  open(path: string, create: boolean): Promise<boolean>;
  /** Shows the library chooser over the open library (Back returns to it). */
  chooseAnother(): void;
  /** Leaves the chooser for the library still open. */
  stayHere(): void;
}

/** The open library: its name, where it is, and its counts; before one is open, the recent list. */
export const useLibraryStore = create<LibraryState>((set, get) => ({
  state: 'loading',
  info: null,
  status: null,
  error: null,
  recent: [],
  suggested: '',
  opening: false,
  openError: null,
  async load() {
    try {
      const info = await call('library:info', {});
      set({ state: 'open', info, error: null });
      const status = await call('library:status', {});
      set({ status });
    } catch (error) {
      const failure = asCallError(error);
      set({ state: failure.code === 'not-found' ? 'none' : 'failed', error: failure });
    }
  },
  async refreshStatus() {
    try {
      set({ status: await call('library:status', {}) });
    } catch {
      // The status bar keeps its last counts; the next refresh tries again.
    }
  },
  chooseAnother() {
    if (get().info !== null) set({ state: 'none', openError: null });
  },
  stayHere() {
    if (get().info !== null) set({ state: 'open', openError: null });
  },
  async loadRecent() {
    try {
      const { libraries, suggested } = await call('library:recent', {});
      set({ recent: libraries, suggested });
    } catch (error) {
      set({ openError: asCallError(error) });
    }
  },
  async open(path, create) {
    if (get().opening) return false;
    set({ opening: true, openError: null });
    try {
      const previous = get().info;
      const info = await call('library:open', { path: path.trim(), create });
      if (previous !== null && previous.root !== info.root) {
        // Every screen's cached results belong to the old library: start the page afresh on the new one.
        window.location.reload();
        return true;
      }
      set({ state: 'open', info, error: null, opening: false });
      void get().refreshStatus();
      return true;
    } catch (error) {
      set({ opening: false, openError: asCallError(error) });
      return false;
    }
  },
}));
