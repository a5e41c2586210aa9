import path from 'node:path';
import { text } from 'node:stream/consumers';
import { KEEPSAKE_DIR } from '../catalog/database.ts';
import type { Engine } from '../engine.ts';
import { AppError } from '../shared/errors.ts';
import { fileSessionStore, SyncClient } from '../sync/sync-client.ts';

/** The options the sync commands read. */
export interface SyncValues {
  json: boolean;
  server?: string;
  email?: string;
  'password-stdin'?: boolean;
}

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** The file a library's sync session is kept in (mode 0600); the desktop keeps it in the OS keychain instead. */
export function sessionFile(libraryRoot: string): string {
  return path.join(libraryRoot, KEEPSAKE_DIR, 'sync-session.json');
}

/** The sync client of a library, over its session file. */
export function syncClientFor(libraryRoot: string): SyncClient {
  return new SyncClient({ store: fileSessionStore(sessionFile(libraryRoot)) });
}

/**
 * `keepsake sync sign-in --server URL --email E [--password-stdin]`, `sync sign-out`, `sync status`.
 * The password comes from stdin (`--password-stdin`, as `docker login` takes it) or `KEEPSAKE_SYNC_PASSWORD`,
 * never from the command line, where other users could read it in the process list.
 */
export async function syncCommand(
  engine: Engine,
  args: string[],
  values: SyncValues,
  io: Io,
  exit: { ok: number },
  stdin: NodeJS.ReadableStream = process.stdin,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const client = syncClientFor(engine.libraryRoot);
  switch (args[0]) {
    case 'sign-in': {
      if (!values.server || !values.email) throw new AppError('invalid-input', 'Usage: keepsake sync sign-in --server URL --email ADDRESS [--password-stdin]');
      const password = values['password-stdin'] ? (await text(stdin)).replace(/\r?\n$/, '') : env.KEEPSAKE_SYNC_PASSWORD;
      if (!password) throw new AppError('invalid-input', 'Give the password on stdin with --password-stdin, or in KEEPSAKE_SYNC_PASSWORD.');
      const { memberships } = await client.signIn(values.server, values.email, password);
      const roles = memberships.map((m) => `${m.role} of ${m.schoolId}`).join(', ') || 'no school yet';
      io.out(values.json ? `${JSON.stringify({ signedIn: true, memberships })}\n` : `Signed in to ${values.server} as ${values.email} (${roles}).\n`);
      return exit.ok;
    }
    case 'sign-out':
      await client.signOut();
      io.out(values.json ? `${JSON.stringify({ signedIn: false })}\n` : 'Signed out of the sync service.\n');
      return exit.ok;
    case 'status': {
      if (!(await client.signedIn())) {
        io.out(values.json ? `${JSON.stringify({ signedIn: false })}\n` : 'Not signed in to a sync service (keepsake sync sign-in --server URL --email ADDRESS).\n');
        return exit.ok;
      }
      // A refresh proves the session is still good (and shows the roles as the server has them now).
      await client.refresh();
      const memberships = client.memberships;
      io.out(values.json ? `${JSON.stringify({ signedIn: true, memberships })}\n` : `Signed in: ${memberships.map((m) => `${m.role} of ${m.schoolId}`).join(', ')}.\n`);
      return exit.ok;
    }
    default:
      throw new AppError('invalid-input', 'Usage: keepsake sync sign-in --server URL --email ADDRESS [--password-stdin] | sign-out | status');
  }
}
