import { create } from 'zustand';

/** What the grid lists. */
export type GridSource = { kind: 'event'; eventId: number } | { kind: 'timeline' } | { kind: 'search'; query: string };

/** The screen the window shows. */
export type View =
  | { name: 'first-run' }
  | { name: 'events' }
  | { name: 'grid'; source: GridSource }
  | { name: 'import'; source?: string; eventName?: string }
  | { name: 'people' }
  | { name: 'settings' }
  | { name: 'uploads' }
  | { name: 'publish'; eventId: number }
  | { name: 'admin' };

interface NavState {
  view: View;
  /** Screens visited, for Back (Alt+←). */
  history: View[];
  go(view: View): void;
  back(): void;
}

/** Which screen is shown. The renderer has no router: one window, a handful of screens. */
export const useNavStore = create<NavState>((set, get) => ({
  view: { name: 'events' },
  history: [],
  go(view) {
    const { view: current, history } = get();
    if (JSON.stringify(current) === JSON.stringify(view)) return;
    set({ view, history: [...history.slice(-49), current] });
  },
  back() {
    const { history } = get();
    const previous = history.at(-1);
    if (previous !== undefined) set({ view: previous, history: history.slice(0, -1) });
  },
}));
