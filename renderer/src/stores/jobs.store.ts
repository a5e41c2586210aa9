import { create } from 'zustand';
import type { Outputs } from '../../../app/ipc/contract.ts';
import type { KindProgress, QueueProgress } from '../../../app/shared/views.ts';
import { asCallError, bridge, call, type CallError } from '../bridge/keepsake.ts';

type Unreadable = Outputs['assets:unreadable'];

interface JobsState {
  queue: QueueProgress | null;
  unreadable: Unreadable;
  unreadableStatus: 'idle' | 'loading' | 'ready' | 'failed';
  unreadableError: CallError | null;
  panelOpen: boolean;
  load(): Promise<void>;
  openPanel(): Promise<void>;
  closePanel(): void;
  /** Listens to `jobs:progress`; returns the function that stops. */
  listen(): () => void;
}

/** Kinds with work to show: running or queued now, or finished in this session. */
export function activeKinds(queue: QueueProgress | null): KindProgress[] {
  return (queue?.kinds ?? []).filter((kind) => kind.total > 0 && (kind.queued > 0 || kind.running > 0 || kind.done + kind.failed > 0));
}

/** The job queue as the status bar shows it, and the unreadable files' panel. */
export const useJobsStore = create<JobsState>((set) => ({
  queue: null,
  unreadable: [],
  unreadableStatus: 'idle',
  unreadableError: null,
  panelOpen: false,
  async load() {
    try {
      set({ queue: await call('jobs:progress', {}) });
    } catch {
      // The push events bring the next snapshot.
    }
  },
  async openPanel() {
    set({ panelOpen: true, unreadableStatus: 'loading', unreadableError: null });
    try {
      set({ unreadable: await call('assets:unreadable', { limit: 1000 }), unreadableStatus: 'ready' });
    } catch (error) {
      set({ unreadableStatus: 'failed', unreadableError: asCallError(error) });
    }
  },
  closePanel() {
    set({ panelOpen: false });
  },
  listen() {
    return bridge().on('jobs:progress', (queue) => set({ queue }));
  },
}));
