import { create } from 'zustand';
import type { AdminEvent, EventAudienceView } from '../../../app/ipc/admin-contract.ts';
import { asCallError, call, type CallError } from '../bridge/keepsake.ts';

/** What the school event form edits. */
export interface SchoolEventDraft {
  name: string;
  startsOn: string;
  endsOn: string | null;
  location: string | null;
  state: AdminEvent['state'];
  audience: EventAudienceView;
  galleryExpiresOn: string | null;
}

interface AdminEventsState {
  events: AdminEvent[] | null;
  error: CallError | null;
  busy: boolean;
  load(): Promise<void>;
  /** Saves a new event, or changes one read at its version; throws the engine's error for the form. */
  save(draft: SchoolEventDraft, existing: AdminEvent | null): Promise<AdminEvent>;
  archive(event: AdminEvent): Promise<void>;
  dismiss(): void;
}

/** The school's events on the sync service, as the admin's list and form see them. */
export const useAdminEventsStore = create<AdminEventsState>((set, get) => ({
  events: null,
  error: null,
  busy: false,
  async load() {
    set({ busy: true });
    try {
      set({ events: (await call('admin:events', {})).events, error: null });
    } catch (error) {
      set({ error: asCallError(error) });
    } finally {
      set({ busy: false });
    }
  },
  async save(draft, existing) {
    const fields = { ...draft, name: draft.name.trim(), location: draft.location?.trim() || null };
    const saved = existing ? await call('admin:updateEvent', { eventId: existing.id, version: existing.version, ...fields }) : await call('admin:createEvent', fields);
    const others = (get().events ?? []).filter((e) => e.id !== saved.id);
    set({ events: [saved, ...others].sort((a, b) => b.startsOn.localeCompare(a.startsOn) || a.name.localeCompare(b.name)) });
    return saved;
  },
  async archive(event) {
    try {
      const saved = await call('admin:updateEvent', { eventId: event.id, version: event.version, state: 'archived' });
      set({ events: (get().events ?? []).map((e) => (e.id === saved.id ? saved : e)), error: null });
    } catch (error) {
      set({ error: asCallError(error) });
    }
  },
  dismiss() {
    set({ error: null });
  },
}));
