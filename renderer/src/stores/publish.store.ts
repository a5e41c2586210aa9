import { create } from 'zustand';
import type { PublishPanelPlan, PublishStarted } from '../../../app/ipc/publish-contract.ts';
import { asCallError, call, type CallError } from '../bridge/keepsake.ts';

interface PublishState {
  eventId: number | null;
  plan: PublishPanelPlan | null;
  originals: boolean;
  loading: boolean;
  busy: 'publishing' | 'unpublishing' | null;
  started: PublishStarted | null;
  removing: number | null;
  error: CallError | null;
  open(eventId: number): Promise<void>;
  setOriginals(on: boolean): Promise<void>;
  publish(): Promise<boolean>;
  unpublish(): Promise<boolean>;
}

/** The publish panel of one event: the plan the engine makes (nothing is queued until Publish). */
export const usePublishStore = create<PublishState>((set, get) => {
  const load = async (eventId: number, originals: boolean): Promise<void> => {
    set({ loading: true, error: null });
    try {
      const plan = await call('publish:plan', { eventId, originals });
      // A later open (another event) wins over this answer.
      if (get().eventId === eventId) set({ plan, originals: plan.originals.requested });
    } catch (error) {
      if (get().eventId === eventId) set({ error: asCallError(error) });
    } finally {
      if (get().eventId === eventId) set({ loading: false });
    }
  };
  return {
    eventId: null,
    plan: null,
    originals: false,
    loading: false,
    busy: null,
    started: null,
    removing: null,
    error: null,
    async open(eventId) {
      set({ eventId, plan: null, originals: false, started: null, removing: null, error: null });
      await load(eventId, false);
    },
    async setOriginals(on) {
      const { eventId } = get();
      if (eventId === null) return;
      set({ originals: on });
      await load(eventId, on);
    },
    async publish() {
      const { eventId, originals } = get();
      if (eventId === null) return false;
      set({ busy: 'publishing', error: null });
      try {
        const started = await call('publish:start', { eventId, originals });
        set({ started });
        return true;
      } catch (error) {
        set({ error: asCallError(error) });
        return false;
      } finally {
        set({ busy: null });
      }
    },
    async unpublish() {
      const { eventId } = get();
      if (eventId === null) return false;
      set({ busy: 'unpublishing', error: null });
      try {
        const { removing } = await call('publish:unpublish', { eventId });
        set({ removing });
        await load(eventId, get().originals);
        return true;
      } catch (error) {
        set({ error: asCallError(error) });
        return false;
      } finally {
        set({ busy: null });
      }
    },
  };
});
