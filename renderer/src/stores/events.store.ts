import { create } from 'zustand';
import type { CallInput, EventCard } from '../../../app/ipc/contract.ts';
import type { SchoolEvent } from '../../../app/shared/domain.ts';
import { asCallError, call, type CallError } from '../bridge/keepsake.ts';

/** What the event form sends. */
export interface EventDraft {
  name: string;
  startsOn: string | null;
  endsOn: string | null;
  location: string | null;
  description: string | null;
}

interface EventsState {
  events: EventCard[];
  status: 'idle' | 'loading' | 'ready' | 'failed';
  error: CallError | null;
  load(): Promise<void>;
  /** Creates an event; resolves to it, or throws the engine's error for the form to show. */
  create(draft: EventDraft): Promise<SchoolEvent>;
  /** Saves an edit made on `version`; a newer version elsewhere is a `conflict`. */
  update(id: number, version: number, draft: EventDraft): Promise<SchoolEvent>;
}

/** The events dashboard: every event with its counts and cover, newest first. */
export const useEventsStore = create<EventsState>((set, get) => ({
  events: [],
  status: 'idle',
  error: null,
  async load() {
    set({ status: get().events.length > 0 ? 'ready' : 'loading' });
    try {
      set({ events: await call('events:list', {}), status: 'ready', error: null });
    } catch (error) {
      set({ status: 'failed', error: asCallError(error) });
    }
  },
  async create(draft) {
    const input: CallInput<'events:create'> = draft;
    const event = await call('events:create', input);
    void get().load();
    return event;
  },
  async update(id, version, draft) {
    const event = await call('events:update', { id, version, ...draft });
    void get().load();
    return event;
  },
}));
