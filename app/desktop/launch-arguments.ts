import path from 'node:path';

// A second launch (double-clicking the app again, "Open with Keepsake" on a folder, a file manager's drop)
// reaches the running instance as its command line; the first launch reads its own the same way.

/** What a launch asks of the running app. */
export interface LaunchRequest {
  /** Bring the window to the front (always, for a second launch). */
  focus: true;
  /** An absolute path given on the command line, to offer as an import source; null when there is none. */
  source: string | null;
}

/** Options of {@link readLaunchArguments}. */
export interface LaunchArgumentOptions {
  /** The launching process's working directory, against which a relative path is resolved. */
  cwd: string;
  /** Unpackaged runs are `electron <app dir> ...`: the app's own path is not an argument. */
  packaged: boolean;
}

/**
 * Reads a command line (`process.argv`, or the `argv` of Electron's `second-instance` event): the executable,
 * Chromium's switches and (unpackaged) the app directory are skipped; the first remaining word is the source.
 * URLs are not paths: `keepsake://…` or `https://…` never become an import source.
 */
export function readLaunchArguments(argv: readonly string[], options: LaunchArgumentOptions): LaunchRequest {
  const words = argv.slice(options.packaged ? 1 : 2);
  let source: string | null = null;
  for (let i = 0; i < words.length; i += 1) {
    const word = words[i]!;
    if (word === '--') {
      source = words[i + 1] ?? null;
      break;
    }
    if (word.startsWith('-') || word === '') continue;
    source = word;
    break;
  }
  if (source === null || /^[a-z][a-z0-9+.-]*:\/\//i.test(source) || source.includes('\0')) return { focus: true, source: null };
  return { focus: true, source: path.resolve(options.cwd, source) };
}
