import { create } from 'zustand';
import type { Outputs } from '../../../app/ipc/contract.ts';
import { asCallError, call, type CallError } from '../bridge/keepsake.ts';

type Info = Outputs['library:info'];
type Status = Outputs['library:status'];

interface LibraryState {
  /** `loading` until the first answer; `none` when no library is open yet (first run). */
  state: 'loading' | 'open' | 'none' | 'failed';
  info: Info | null;
  status: Status | null;
  error: CallError | null;
  load(): Promise<void>;
  refreshStatus(): Promise<void>;
}

/** The open library: its name, where it is, and its counts. */
export const useLibraryStore = create<LibraryState>((set) => ({
  state: 'loading',
  info: null,
  status: null,
  error: null,
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
}));
