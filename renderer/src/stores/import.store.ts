import { create } from 'zustand';
import type { EventCard, Outputs, PushPayloads } from '../../../app/ipc/contract.ts';
import { asCallError, bridge, call, type CallError } from '../bridge/keepsake.ts';

/** How long typing pauses before the name preview is asked for again. */
export const PREVIEW_DEBOUNCE_MS = 250;
/** Names shown in the live preview. */
export const PREVIEW_NAMES = 10;

/** The import form's fields. */
export interface ImportForm {
  source: string;
  eventName: string;
  /** Empty keeps the camera's names. */
  template: string;
  backupDir: string;
  /** Comma-separated. */
  tags: string;
}

type Preview = Outputs['import:preview'];
type Progress = PushPayloads['import:progress'];
type Finished = PushPayloads['import:finished'];

interface ImportState {
  form: ImportForm;
  events: EventCard[];
  preview: Preview | null;
  previewError: CallError | null;
  previewing: boolean;
  /** `idle` (the form), `starting`, `running` (progress), `finished` (the summary). */
  phase: 'idle' | 'starting' | 'running' | 'finished';
  importId: string | null;
  progress: Progress | null;
  finished: Finished | null;
  /** The event the import went into, once known (to open its grid). */
  eventId: number | null;
  cancelling: boolean;
  error: CallError | null;
  setField<K extends keyof ImportForm>(field: K, value: ImportForm[K]): void;
  /** Puts a source (and event) in the form, e.g. from the camera-card prompt. */
  prefill(values: Partial<ImportForm>): void;
  loadEvents(): Promise<void>;
  /** Asks for the quick name preview now (the form calls it debounced through `setField`). */
  refreshPreview(): Promise<void>;
  start(): Promise<void>;
  cancel(): Promise<void>;
  /** Back to the form for another import. */
  reset(): void;
  /** Listens to the engine's import events; returns the function that stops. */
  listen(): () => void;
}

const EMPTY_FORM: ImportForm = { source: '', eventName: '', template: '', backupDir: '', tags: '' };
let timer: ReturnType<typeof setTimeout> | null = null;
// Answers can arrive out of order while the user types; only the newest request's answer is shown.
let previewSeq = 0;
// Events of an import can arrive before `import:start` answers with its id (a small card); they wait here.
const early = new Map<string, { progress?: Progress; finished?: Finished }>();
// One subscription shared by the screen and a running import, so leaving the screen does not lose the import's end.
let listeners = 0;
let unsubscribe: (() => void) | null = null;
// The bridge subscribed to: a new one (the tests' fakes) gets a fresh subscription.
let subscribedTo: unknown = null;
let runHold: (() => void) | null = null;

function splitTags(text: string): string[] {
  return [...new Set(text.split(',').map((tag) => tag.trim()).filter((tag) => tag.length > 0))];
}

/** The import screen: the form, its live name preview, the running import's progress and the summary. */
export const useImportStore = create<ImportState>((set, get) => {
  const schedulePreview = (): void => {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      void get().refreshPreview();
    }, PREVIEW_DEBOUNCE_MS);
  };
  const onProgress = (progress: Progress): void => {
    if (get().phase === 'starting') early.set(progress.importId, { ...early.get(progress.importId), progress });
    if (progress.importId !== get().importId) return;
    set({ progress, phase: get().phase === 'finished' ? 'finished' : 'running' });
  };
  const onFinished = (finished: Finished): void => {
    if (get().phase === 'starting') early.set(finished.importId, { ...early.get(finished.importId), finished });
    if (finished.importId !== get().importId) return;
    set({ finished, phase: 'finished', cancelling: false });
    runHold?.();
    runHold = null;
    void findEvent();
  };
  // The import creates its event as it starts: found by name, it gives the screen a button to the event's grid.
  const findEvent = async (): Promise<void> => {
    try {
      const events = await call('events:list', {});
      const name = get().preview?.event ?? get().form.eventName.trim();
      set({ events, eventId: events.find((event) => event.name.toLowerCase() === name.toLowerCase())?.id ?? get().eventId });
    } catch {
      // Without the list the screen simply has no button to the event.
    }
  };

  return {
    form: EMPTY_FORM,
    events: [],
    preview: null,
    previewError: null,
    previewing: false,
    phase: 'idle',
    importId: null,
    progress: null,
    finished: null,
    eventId: null,
    cancelling: false,
    error: null,
    setField(field, value) {
      set({ form: { ...get().form, [field]: value } });
      if (field === 'source' || field === 'eventName' || field === 'template') schedulePreview();
    },
    prefill(values) {
      const form = { ...get().form, ...values };
      if (JSON.stringify(form) === JSON.stringify(get().form)) return;
      set({ form });
      schedulePreview();
    },
    async loadEvents() {
      try {
        set({ events: await call('events:list', {}) });
      } catch (error) {
        set({ error: asCallError(error) });
      }
    },
    async refreshPreview() {
      const { source, eventName, template } = get().form;
      const seq = ++previewSeq;
      if (source.trim() === '' || eventName.trim() === '') {
        set({ preview: null, previewError: null, previewing: false });
        return;
      }
      set({ previewing: true });
      try {
        const preview = await call('import:preview', {
          source: source.trim(),
          event: eventName.trim(),
          limit: PREVIEW_NAMES,
          quick: true,
          ...(template.trim() !== '' ? { template: template.trim() } : {}),
        });
        if (seq === previewSeq) set({ preview, previewError: null, previewing: false });
      } catch (error) {
        if (seq === previewSeq) set({ preview: null, previewError: asCallError(error), previewing: false });
      }
    },
    async start() {
      const { form, phase } = get();
      if (phase === 'starting' || phase === 'running') return;
      early.clear();
      runHold?.();
      runHold = get().listen();
      set({ phase: 'starting', importId: null, error: null, progress: null, finished: null, eventId: null });
      try {
        const tags = splitTags(form.tags);
        const { importId } = await call('import:start', {
          source: form.source.trim(),
          event: form.eventName.trim(),
          ...(form.template.trim() !== '' ? { template: form.template.trim() } : {}),
          ...(form.backupDir.trim() !== '' ? { backupDir: form.backupDir.trim() } : {}),
          ...(tags.length > 0 ? { tags } : {}),
        });
        set({ importId, phase: 'running' });
        const before = early.get(importId);
        early.clear();
        if (before?.progress) onProgress(before.progress);
        if (before?.finished) onFinished(before.finished);
        if (get().phase === 'running') void findEvent();
      } catch (error) {
        runHold?.();
        runHold = null;
        set({ phase: 'idle', error: asCallError(error) });
      }
    },
    async cancel() {
      const { importId, phase } = get();
      if (importId === null || phase !== 'running') return;
      set({ cancelling: true });
      try {
        await call('import:cancel', { importId });
      } catch (error) {
        set({ cancelling: false, error: asCallError(error) });
      }
    },
    reset() {
      set({ phase: 'idle', importId: null, progress: null, finished: null, eventId: null, error: null, cancelling: false });
    },
    listen() {
      listeners += 1;
      if (unsubscribe !== null && subscribedTo !== bridge()) {
        unsubscribe();
        unsubscribe = null;
      }
      if (unsubscribe === null) {
        subscribedTo = bridge();
        const offProgress = bridge().on('import:progress', onProgress);
        const offFinished = bridge().on('import:finished', onFinished);
        unsubscribe = () => {
          offProgress();
          offFinished();
        };
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        listeners -= 1;
        if (listeners === 0) {
          unsubscribe?.();
          unsubscribe = null;
        }
      };
    },
  };
});
