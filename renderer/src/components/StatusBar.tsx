import { useEffect, useRef } from 'react';
import type { KindProgress } from '../../../app/shared/views.ts';
import { plural } from '../lib/format.ts';
import { activeKinds, useJobsStore } from '../stores/jobs.store.ts';
import { useLibraryStore } from '../stores/library.store.ts';
import { useImportStore } from '../stores/import.store.ts';
import { useNavStore } from '../stores/nav.store.ts';
import { count, formatEta, formatRate, peopleCount } from './progress-text.ts';
import { UnreadablePanel } from './UnreadablePanel.tsx';

const KIND_LABEL: Record<string, string> = { thumbs: 'Thumbnails', proxy: 'Video proxies', publish: 'Uploads', manifest: 'Gallery updates' };
/** The library's counts are re-read at most this often while jobs report progress. */
const STATUS_REFRESH_MS = 2000;

function JobLine({ kind }: { kind: KindProgress }): React.JSX.Element {
  const finished = kind.done + kind.failed;
  const busy = kind.queued + kind.running > 0;
  const parts = [`${KIND_LABEL[kind.kind] ?? kind.kind} ${count(finished)}/${count(kind.total)}`];
  if (busy && kind.rate > 0) parts.push(`${kind.rate.toFixed(kind.rate < 10 ? 1 : 0)}/s`);
  if (busy) parts.push(formatEta(kind.etaSec));
  if (kind.failed > 0) parts.push(`${count(kind.failed)} failed`);
  return (
    <span className={busy ? 'job busy' : 'job'} data-kind={kind.kind}>
      {busy ? <progress max={kind.total} value={finished} aria-hidden="true" /> : null}
      {parts.filter(Boolean).join(' · ')}
    </span>
  );
}

/** The running import, from any screen; a click goes back to it. */
function ImportJob(): React.JSX.Element | null {
  const phase = useImportStore((s) => s.phase);
  const progress = useImportStore((s) => s.progress);
  const go = useNavStore((s) => s.go);
  if (phase !== 'running' && phase !== 'starting') return null;
  const text =
    progress === null || progress.phase === 'scanning'
      ? 'Import: looking at the card'
      : [`Import ${count(progress.filesDone)}/${count(progress.filesTotal)}`, formatRate(progress.bytesPerSec), formatEta(progress.etaSec)].filter(Boolean).join(' · ');
  return (
    <button type="button" className="ghost job busy" onClick={() => go({ name: 'import' })}>
      {text}
    </button>
  );
}

/** The window's foot: background jobs and their progress, the library's counts, unreadable files. */
export function StatusBar(): React.JSX.Element {
  const queue = useJobsStore((s) => s.queue);
  const load = useJobsStore((s) => s.load);
  const listen = useJobsStore((s) => s.listen);
  const openPanel = useJobsStore((s) => s.openPanel);
  const status = useLibraryStore((s) => s.status);
  const info = useLibraryStore((s) => s.info);
  const refreshStatus = useLibraryStore((s) => s.refreshStatus);
  const chooseAnother = useLibraryStore((s) => s.chooseAnother);
  const lastRefresh = useRef(0);
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);

  useEffect(() => listen(), [listen]);
  useEffect(() => {
    void load();
  }, [load]);
  useEffect(() => {
    // Counts follow the jobs (an import adds assets, a thumbnail can find a file unreadable): throttled, and
    // always once more after the last snapshot so the final counts are shown.
    if (queue === null || pending.current !== null) return;
    const wait = Math.max(0, STATUS_REFRESH_MS - (Date.now() - lastRefresh.current));
    pending.current = setTimeout(() => {
      pending.current = null;
      lastRefresh.current = Date.now();
      void refreshStatus();
    }, wait);
  }, [queue, refreshStatus]);
  useEffect(
    () => () => {
      if (pending.current !== null) clearTimeout(pending.current);
    },
    [],
  );

  const kinds = activeKinds(queue);
  return (
    <footer className="statusbar" aria-label="Status">
      <button type="button" className="ghost library-name" title={info ? `${info.root} — open another library` : undefined} onClick={chooseAnother}>
        {info?.name}
      </button>
      {status ? (
        <span className="muted">
          {plural(status.assets, 'item')} · {plural(status.events, 'event')} · {peopleCount(status.people)}
        </span>
      ) : null}
      <span className="jobs" aria-live="polite" aria-label="Background jobs">
        <ImportJob />
        {queue?.paused ? <span className="job">Paused</span> : null}
        {kinds.map((kind) => (
          <JobLine key={kind.kind} kind={kind} />
        ))}
      </span>
      {status && status.unreadable > 0 ? (
        <button type="button" className="ghost warn" onClick={() => void openPanel()}>
          {plural(status.unreadable, 'unreadable file')}
        </button>
      ) : (
        <button type="button" className="ghost" onClick={() => void openPanel()}>
          No unreadable files
        </button>
      )}
      <UnreadablePanel />
    </footer>
  );
}
