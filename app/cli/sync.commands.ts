import path from 'node:path';
import { text } from 'node:stream/consumers';
import { KEEPSAKE_DIR } from '../catalog/database.ts';
import type { Engine } from '../engine.ts';
import { AppError } from '../shared/errors.ts';
import { FeedPuller } from '../sync/feed-puller.ts';
import { linkedSchool, linkSchool, SchoolLink, type LinkedSchool } from '../sync/school-link.ts';
import { fileSessionStore, SyncClient, type Membership } from '../sync/sync-client.ts';

/** The options the sync commands read. */
export interface SyncValues {
  json: boolean;
  server?: string;
  email?: string;
  'password-stdin'?: boolean;
  /** The school (its slug) to link the library to, when the account is in several. */
  school?: string;
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
      const school = chooseSchool(memberships, values.school);
      linkSchool(engine.catalog, school);
      if (school && engine.cloud.configured && engine.cloud.settings().school !== school.slug && engine.cloud.settings().school !== school.id) {
        io.err(`Note: the bucket layout uses school "${engine.cloud.settings().school}", but this library is now linked to "${school.slug}": the service accepts only keys under schools/${school.slug}/. Set it with: keepsake cloud config --school ${school.slug}\n`);
      }
      const roles = memberships.map((m) => `${String(m.role)} of ${String(m.schoolSlug ?? m.schoolId)}`).join(', ') || 'no school yet';
      io.out(
        values.json
          ? `${JSON.stringify({ signedIn: true, memberships, linked: school })}\n`
          : `Signed in to ${values.server} as ${values.email} (${roles})${school ? `; this library publishes for ${school.name}` : ''}.\n`,
      );
      return exit.ok;
    }
    case 'sign-out':
      await client.signOut();
      linkSchool(engine.catalog, null);
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
      const linked = linkedSchool(engine.catalog);
      io.out(
        values.json
          ? `${JSON.stringify({ signedIn: true, memberships, linked })}\n`
          : `Signed in: ${memberships.map((m) => `${String(m.role)} of ${String(m.schoolSlug ?? m.schoolId)}`).join(', ')}${linked ? `; publishing for ${linked.name}` : ''}.\n`,
      );
      return exit.ok;
    }
    case 'pull': {
      const puller = feedPullerFor(engine, client);
      const report = await puller.pull();
      io.out(
        values.json
          ? `${JSON.stringify(report)}\n`
          : `From the sync service: ${report.events} event(s), ${report.people} student(s), ${report.consents} consent change(s), ${report.erased} erasure(s).\n`,
      );
      return exit.ok;
    }
    case 'push-roster': {
      const school = linkedSchool(engine.catalog);
      if (!school) throw new AppError('invalid-input', 'This library is not linked to a school: keepsake sync sign-in --server URL --email ADDRESS [--school SLUG].');
      const result = await new SchoolLink(client, engine.catalog, school).pushRoster();
      io.out(values.json ? `${JSON.stringify(result)}\n` : `Sent ${result.sent} student(s) to the school's roster; ${result.linked} linked.\n`);
      return exit.ok;
    }
    default:
      throw new AppError('invalid-input', 'Usage: keepsake sync sign-in --server URL --email ADDRESS [--password-stdin] | sign-out | status | pull | push-roster');
  }
}

/** The feed puller of a signed-in, linked library; a clear error otherwise. */
export function feedPullerFor(engine: Engine, client: SyncClient): FeedPuller {
  const school = linkedSchool(engine.catalog);
  if (!school) throw new AppError('invalid-input', 'This library is not linked to a school: keepsake sync sign-in --server URL --email ADDRESS [--school SLUG].');
  return new FeedPuller(client, engine.catalog, school);
}

/** The school to link: the one named, or the only one the account belongs to as staff that publishes. */
function chooseSchool(memberships: Membership[], slug: string | undefined): LinkedSchool | null {
  const candidates = memberships.filter((m) => m.role === 'admin' || m.role === 'photographer');
  const pick = slug ? memberships.find((m) => m.schoolSlug === slug || m.schoolId === slug) : candidates.length === 1 ? candidates[0] : undefined;
  if (slug && !pick) throw new AppError('not-found', `This account is not a member of a school "${slug}".`);
  if (!pick) {
    if (candidates.length > 1) throw new AppError('invalid-input', `This account is in several schools; say which with --school (${candidates.map((m) => String(m.schoolSlug)).join(', ')}).`);
    return null;
  }
  return { id: pick.schoolId, slug: String(pick.schoolSlug ?? pick.schoolId), name: String(pick.schoolName ?? pick.schoolSlug ?? pick.schoolId) };
}
