import { useEffect } from 'react';
import { ErrorNote } from './components/ErrorNote.tsx';
import { useLibraryStore } from './stores/library.store.ts';
import { useNavStore, type View } from './stores/nav.store.ts';
import { EventsView } from './views/EventsView.tsx';
import { FirstRunView } from './views/FirstRunView.tsx';
import { GridView } from './views/GridView.tsx';
import { ImportView } from './views/ImportView.tsx';
import { PeopleView } from './views/PeopleView.tsx';
import { SettingsView } from './views/SettingsView.tsx';
import { UploadsView } from './views/UploadsView.tsx';
import { AdminView } from './views/AdminView.tsx';
import { isAdmin, useAdminStore } from './stores/admin.store.ts';
import { useSyncStore } from './stores/sync.store.ts';
import { PublishPanel } from './components/PublishPanel.tsx';
import { SearchBox } from './components/SearchBox.tsx';
import { StatusBar } from './components/StatusBar.tsx';
import { CardPrompt } from './components/CardPrompt.tsx';

const TABS: Array<{ label: string; view: View; key: string }> = [
  { label: 'Events', view: { name: 'events' }, key: 'events' },
  { label: 'All photos', view: { name: 'grid', source: { kind: 'timeline' } }, key: 'grid' },
  { label: 'Import', view: { name: 'import' }, key: 'import' },
  { label: 'People', view: { name: 'people' }, key: 'people' },
  { label: 'Uploads', view: { name: 'uploads' }, key: 'uploads' },
  { label: 'Settings', view: { name: 'settings' }, key: 'settings' },
];
// Shown only to the linked school's admins; the sync service refuses everyone else whatever the window shows.
const ADMIN_TAB = { label: 'Admin', view: { name: 'admin' } as View, key: 'admin' };

/** The window: a top bar (screens, search), the current screen, the status bar. */
export function App(): React.JSX.Element {
  const state = useLibraryStore((s) => s.state);
  const error = useLibraryStore((s) => s.error);
  const load = useLibraryStore((s) => s.load);
  const view = useNavStore((s) => s.view);
  const go = useNavStore((s) => s.go);
  const back = useNavStore((s) => s.back);
  const admin = useAdminStore((s) => isAdmin(s.access));
  const loadAccess = useAdminStore((s) => s.loadAccess);
  const signedInAs = useSyncStore((s) => (s.status ? `${s.status.email ?? ''}|${s.status.school?.id ?? ''}` : null));

  useEffect(() => {
    void load();
  }, [load]);

  // The role is asked again whenever the account or the school signed in to changes.
  useEffect(() => {
    if (state !== 'loading' && state !== 'none') void loadAccess();
  }, [state, signedInAs, loadAccess]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      if (event.altKey && event.key === 'ArrowLeft') back();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [back]);

  if (state === 'loading') return <div className="splash" aria-busy="true">Opening the library…</div>;
  if (state === 'none') return <FirstRunView />;
  if (state === 'failed' && error) {
    return (
      <div className="splash">
        <ErrorNote error={error} />
        <button type="button" onClick={() => void load()}>
          Try again
        </button>
      </div>
    );
  }

  const current = view.name === 'first-run' ? 'events' : view.name;
  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">Keepsake</span>
        <nav aria-label="Screens">
          {(admin ? [...TABS, ADMIN_TAB] : TABS).map((tab) => (
            <button
              key={tab.key}
              type="button"
              className={current === tab.key && (tab.key !== 'grid' || (view.name === 'grid' && view.source.kind === 'timeline')) ? 'tab active' : 'tab'}
              aria-current={current === tab.key ? 'page' : undefined}
              onClick={() => go(tab.view)}
            >
              {tab.label}
            </button>
          ))}
        </nav>
        <SearchBox />
      </header>
      <main className="content">
        <Screen view={view} />
      </main>
      <StatusBar />
      <CardPrompt />
    </div>
  );
}

function Screen({ view }: { view: View }): React.JSX.Element {
  switch (view.name) {
    case 'first-run':
      return <FirstRunView />;
    case 'events':
      return <EventsView />;
    case 'grid':
      return <GridView source={view.source} />;
    case 'import':
      return <ImportView source={view.source} eventName={view.eventName} />;
    case 'people':
      return <PeopleView />;
    case 'settings':
      return <SettingsView />;
    case 'uploads':
      return <UploadsView />;
    case 'publish':
      return <PublishPanel eventId={view.eventId} />;
    case 'admin':
      return <AdminView />;
  }
}
