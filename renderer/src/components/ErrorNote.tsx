import type { CallError } from '../bridge/keepsake.ts';

/** What to do next, for errors whose message does not say it. */
const NEXT_STEP: Partial<Record<string, string>> = {
  'disk-full': 'Free some space on the drive, then try again.',
  network: 'Check the connection, then try again.',
  io: 'Check that the drive is still connected, then try again.',
  'unsupported-media': 'Keepsake cannot open this kind of file.',
  'corrupt-media': 'The file is damaged; copy it again from the card if you still have it.',
  conflict: 'Someone else changed it meanwhile: reload and make your change again.',
  unauthorized: 'Sign in again.',
  internal: 'Try again; if it keeps happening, restart Keepsake.',
};

/** An engine error as a sentence and what to do next. */
export function ErrorNote({ error, onDismiss }: { error: CallError; onDismiss?: () => void }): React.JSX.Element {
  const next = error.hint ?? NEXT_STEP[error.code];
  return (
    <div className="error-note" role="alert">
      <p>
        <strong>{error.message}</strong>
        {next ? <> {next}</> : null}
      </p>
      {onDismiss ? (
        <button type="button" className="ghost" onClick={onDismiss} aria-label="Dismiss">
          ×
        </button>
      ) : null}
    </div>
  );
}
