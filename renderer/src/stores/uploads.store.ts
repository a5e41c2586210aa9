import { create } from 'zustand';
import type { UploadsView } from '../../../app/ipc/publish-contract.ts';
import { asCallError, bridge, call, type CallError } from '../bridge/keepsake.ts';

interface UploadsState {
  view: UploadsView | null;
  error: CallError | null;
  /** What the last action said ("3 uploads queued again"). */
  message: string | null;
  load(): Promise<void>;
  /** Follows `uploads:progress`; returns the function that stops. */
  follow(): () => void;
  pause(): Promise<void>;
  resume(): Promise<void>;
  cancel(): Promise<void>;
  /** Queues again the failed uploads with these ids (of `view.failures`), or all of them. */
  retry(ids?: number[]): Promise<void>;
  setLimit(kbps: number | null): Promise<void>;
}

/** The upload queue: the engine's snapshot, kept fresh by its push events. */
export const useUploadsStore = create<UploadsState>((set) => {
  const act = async (work: () => Promise<UploadsView>, message: string | null = null): Promise<void> => {
    set({ error: null, message: null });
    try {
      set({ view: await work(), message });
    } catch (error) {
      set({ error: asCallError(error) });
    }
  };
  return {
    view: null,
    error: null,
    message: null,
    load: () => act(() => call('uploads:status', {})),
    follow() {
      return bridge().on('uploads:progress', (view) => set({ view }));
    },
    pause: () => act(() => call('uploads:pause', {}), 'Paused: what is being sent finishes first.'),
    resume: () => act(() => call('uploads:resume', {})),
    cancel: () => act(() => call('uploads:cancel', {}), 'Cancelled. Publish the event again to send what is left.'),
    async retry(ids) {
      set({ error: null, message: null });
      try {
        const { retried, ...view } = await call('uploads:retry', ids ? { ids } : {});
        const message = retried === 0 && ids ? 'Nothing queued again: that upload is no longer failed.' : `${retried} upload${retried === 1 ? '' : 's'} queued again.`;
        set({ view, message });
      } catch (error) {
        set({ error: asCallError(error) });
      }
    },
    setLimit: (kbps) => act(() => call('uploads:setLimit', { kbps }), kbps === null ? 'No bandwidth limit.' : `Limited to ${kbps.toLocaleString()} KB/s.`),
  };
});
