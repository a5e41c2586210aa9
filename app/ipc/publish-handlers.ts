import path from 'node:path';
import { KEEPSAKE_DIR } from '../catalog/database.ts';
import type { UploadProgress } from '../cloud/uploader.ts';
import { holdKind } from '../cloud/publisher.ts';
import { keptCredentials, type CredentialsProvider, type KeptCredentials } from '../cloud/credentials.ts';
import { fileSecretStore, type SecretStore } from '../sync/secret-store.ts';
import { loadCloudSettings, STORAGE_CLASSES, validateCloudSettings, type CloudSettings } from '../cloud/settings.ts';
import type { Engine } from '../engine.ts';
import type { ContentHash, EventId } from '../shared/ids.ts';
import { AppError, isAppError, toAppError } from '../shared/errors.ts';
import { FeedPuller, type PullReport } from '../sync/feed-puller.ts';
import { ProviderSignIn } from '../sync/provider-sign-in.ts';
import { linkedSchool, linkSchool, SchoolLink, type LinkedSchool } from '../sync/school-link.ts';
import { fileSessionStore, SyncClient, type Membership, type SessionStore } from '../sync/sync-client.ts';
import type { Input, Outputs, PushEvent } from './contract.ts';
import type { PUBLISH_CALLS, QuotaView, StorageSettings, SyncActivity, SyncStatus, UploadsView } from './publish-contract.ts';

type PublishMethod = keyof typeof PUBLISH_CALLS;
type PublishHandlers = { [M in PublishMethod]: (input: Input<M>) => Promise<Outputs[M]> | Outputs[M] };

const ACTIVITY_KEY = 'sync.activity';
const LAST_PULL_KEY = 'sync.lastPull';
const RUN_BASELINE_KEY = 'uploads.run.doneBefore';
const ACTIVITY_KEPT = 50;
const UPLOAD_KINDS = ['publish', 'manifest'] as const;

/** The session file of a library, for the web host and the CLI (mode 0600); Electron keeps it in the keychain. */
export function librarySessionFile(libraryRoot: string): string {
  return path.join(libraryRoot, KEEPSAKE_DIR, 'sync-session.json');
}

/** The file an access key entered in settings is kept in for the web host (mode 0600); Electron keeps it in the keychain. */
export function libraryCredentialsFile(libraryRoot: string): string {
  return path.join(libraryRoot, KEEPSAKE_DIR, 'store-credentials.json');
}

/** Options of {@link createPublishHandlers}. */
export interface PublishHandlersOptions {
  /** Where the refresh token is kept: the OS keychain in Electron, a 0600 file under the library otherwise. */
  sessions?: SessionStore;
  /** Where an access key entered in settings is kept: likewise. */
  credentials?: SecretStore;
  push(event: PushEvent): void;
  /** Injected for tests. */
  fetch?: typeof fetch;
  /** How often the change feed is pulled while signed in (0: never by itself). */
  pollMs?: number;
}

/** The handlers of the connection and publishing channels, and what they hold open. */
export interface PublishHandlerSet {
  handlers: PublishHandlers;
  /** The signed-in client, shared with the admin channels (one holder of the rotating refresh token). */
  client: SyncClient;
  close(): Promise<void>;
}

/**
 * The school connection and publishing behind the contract: sign-in keeps only a refresh token, in the
 * session store; the library's link to its school makes publishing reserve quota and send manifests; the
 * uploader's progress becomes `uploads:progress`. No output carries a token or a password.
 */
export function createPublishHandlers(engine: Engine, options: PublishHandlersOptions): PublishHandlerSet {
  const { catalog, cloud } = engine;
  const client = new SyncClient({ store: options.sessions ?? fileSessionStore(librarySessionFile(engine.libraryRoot)), ...(options.fetch ? { fetch: options.fetch } : {}) });
  const providerSignIn = new ProviderSignIn(client, options.fetch ? { fetch: options.fetch } : {});
  let notice: string | null = null;
  let pulling: Promise<PullReport> | null = null;
  let poll: NodeJS.Timeout | null = null;
  let attachedTo: LinkedSchool | null = null;
  // A key entered in settings wins over the one the engine was given (the environment) while it is kept.
  // The composition root may have built it already (so uploads that start before this contract use it too).
  const original = cloud.credentialsProvider;
  const kept = isKept(original) ? original : keptCredentials(options.credentials ?? fileSecretStore(libraryCredentialsFile(engine.libraryRoot), 'a file in the library only you can read'), original);
  if (kept !== original) cloud.useCredentials(kept);
  const keptLoaded = kept.load().catch((error: unknown) => engine.log.warn('kept access key unreadable', { error: toAppError(error) }));

  const attach = (school: LinkedSchool | null): void => {
    attachedTo = school;
    cloud.attachSchool(school ? new SchoolLink(client, catalog, school) : null);
  };
  // A library signed in before publishes through its school from the start; no request is made to know it.
  const school = catalog.readOnly ? null : linkedSchool(catalog);
  if (school) attach(school);

  const readActivity = (): SyncActivity[] => {
    const raw = catalog.library.getMeta(ACTIVITY_KEY);
    return raw ? (JSON.parse(raw) as SyncActivity[]) : [];
  };

  // The feed names who changed a consent by account id; the school's member list turns it into a name.
  const memberNames = async (linked: LinkedSchool, needed: boolean): Promise<Map<string, string>> => {
    if (!needed) return new Map();
    try {
      const { members } = await client.request<{ members: Array<{ userId: string; name: string; email?: string }> }>('GET', `/v1/schools/${linked.id}/members`);
      return new Map(members.map((member) => [member.userId, member.name || member.email || 'a member of the school']));
    } catch (error) {
      engine.log.warn('member names unavailable', { error: toAppError(error) });
      return new Map();
    }
  };

  const pull = (): Promise<PullReport> => {
    pulling ??= (async () => {
      try {
        const linked = linkedSchool(catalog);
        if (!linked) throw new AppError('invalid-input', 'This library is not linked to a school yet: sign in with a staff account of the school.');
        const report = await new FeedPuller(client, catalog, linked).pull();
        const at = new Date().toISOString();
        const names = await memberNames(linked, report.activity.some((entry) => entry.by !== null));
        // Newest first; kept in the catalog so the list survives a restart.
        const fresh = report.activity.map((entry) => ({ at, ...entry, by: entry.by === null ? null : (names.get(entry.by) ?? null) }));
        const activity = [...fresh.reverse(), ...readActivity()].slice(0, ACTIVITY_KEPT);
        catalog.library.setMeta(ACTIVITY_KEY, JSON.stringify(activity));
        catalog.library.setMeta(LAST_PULL_KEY, JSON.stringify({ at, events: report.events, people: report.people, consents: report.consents, erased: report.erased }));
        return report;
      } finally {
        pulling = null;
      }
    })();
    return pulling;
  };

  const startPolling = (): void => {
    if (poll || !options.pollMs) return;
    poll = setInterval(() => {
      void pull().catch((error: unknown) => engine.log.warn('feed pull failed', { error: toAppError(error) }));
    }, options.pollMs);
    poll.unref();
  };

  const status = async (): Promise<SyncStatus> => {
    const session = await client.account();
    const linked = linkedSchool(catalog);
    const lastPull = catalog.library.getMeta(LAST_PULL_KEY);
    const base: SyncStatus = {
      signedIn: session !== null,
      serverUrl: session?.serverUrl ?? null,
      email: session?.email ?? null,
      roles: client.memberships.map((m) => ({ school: String(m.schoolName ?? m.schoolSlug ?? m.schoolId), role: m.role })),
      school: linked,
      notice: notice ?? bucketMismatch(linked),
      lastPull: lastPull ? (JSON.parse(lastPull) as SyncStatus['lastPull']) : null,
      activity: readActivity(),
    };
    return base;
  };

  // After a sign-in, by password or through the school's identity provider: link the school, fetch its changes.
  const linkAfterSignIn = async (memberships: Membership[], wanted: string | undefined): Promise<SyncStatus> => {
    const { school: chosen, notice: refusal } = chooseSchool(memberships, wanted);
    linkSchool(catalog, chosen);
    attach(chosen);
    notice = refusal;
    if (chosen) {
      startPolling();
      try {
        await pull();
      } catch (error) {
        notice = `Signed in, but the school's changes could not be fetched yet: ${toAppError(error).message}`;
      }
    }
    return status();
  };

  const bucketMismatch = (linked: LinkedSchool | null): string | null => {
    const settings = cloud.configured ? cloud.settings() : null;
    if (!linked || !settings || settings.school === linked.slug || settings.school === linked.id) return null;
    return `The storage settings use the school id "${settings.school}", but this library publishes for ${linked.name} ("${linked.slug}"): the service accepts only keys under schools/${linked.slug}/. Set the school id to ${linked.slug}.`;
  };

  const publicSettings = (settings: CloudSettings): StorageSettings => ({
    endpoint: settings.endpoint,
    region: settings.region,
    bucket: settings.bucket,
    pathStyle: settings.pathStyle,
    school: settings.school,
    allowOriginals: settings.allowOriginals,
    originalsStorageClass: settings.originalsStorageClass,
    concurrency: settings.concurrency,
    partSizeMiB: settings.partSizeMiB,
    limitKbps: settings.limitKbps,
    checksums: settings.checksums,
  });

  const checkBucket = async (): Promise<void> => {
    await keptLoaded;
    if (cloud.credentialsSource === 'none') {
      throw new AppError('unauthorized', 'There is no access key for the bucket yet: enter its access key ID and secret in the storage settings.');
    }
    await cloud.check(AbortSignal.timeout(20_000));
  };

  const storageView = async () => {
    await keptLoaded;
    const settings = loadCloudSettings(catalog.library);
    return {
      configured: settings !== null,
      settings: settings ? publicSettings(settings) : null,
      credentialsSource: cloud.credentialsSource,
      credentialsKept: kept.kept === true,
      accessKeyHint: kept.hint,
      storageClasses: [...STORAGE_CLASSES],
    };
  };

  const requireEvent = (eventId: number) => {
    const event = catalog.events.get(eventId as EventId);
    if (!event) throw new AppError('not-found', `Event ${eventId} is not in the library.`);
    return event;
  };

  const quota = async (): Promise<(Omit<QuotaView, 'afterBytes'> & { originalsAllowed: boolean }) | null> => {
    const linked = linkedSchool(catalog);
    if (!linked || !(await client.signedIn())) return null;
    const summary = await client.request<{ usedBytes: number; reservedBytes: number; limitBytes: number; plan?: { originalsAllowed?: boolean } }>(
      'GET',
      `/v1/schools/${linked.id}/quota`,
    );
    return { limitBytes: summary.limitBytes, usedBytes: summary.usedBytes, reservedBytes: summary.reservedBytes, originalsAllowed: summary.plan?.originalsAllowed !== false };
  };

  const labelOf = (key: string): string => {
    // Keys are schools/{school}/events/{event}/{hash}/{variant}.{ext}: the hash names the asset.
    const parts = key.split('/');
    const variant = (parts.at(-1) ?? '').replace(/\.[^.]+$/, '');
    if (variant === 'manifest') return 'Event manifest';
    const asset = parts.length >= 2 ? catalog.assets.getByHash(parts.at(-2) as ContentHash) : undefined;
    return `${asset?.originalName ?? parts.at(-2)?.slice(0, 12) ?? key} · ${variant}`;
  };

  // A run the last session left (Keepsake quit mid-upload) goes on without its byte total: this process knows
  // only what it sends itself, so the queue shows the bytes sent, but no total and no time left, until that run ends.
  const uploadWorkLeft = (counts: UploadsView['queue']): boolean => counts.queued + counts.running > 0;
  let runTotalUnknown = uploadWorkLeft(cloud.status().queue);
  const uploads = (progress: UploadProgress | null = null): UploadsView => {
    const base = cloud.status();
    const live = progress ?? liveProgress(base.configured);
    if (!uploadWorkLeft(base.queue)) runTotalUnknown = false;
    const done = catalog.jobs.countsByKind().publish?.done ?? 0;
    const before = Number(catalog.library.getMeta(RUN_BASELINE_KEY) || done);
    const publishCounts = catalog.jobs.countsByKind().publish;
    const assetsDone = Math.max(0, done - before);
    const assetsTotal = assetsDone + (publishCounts ? publishCounts.queued + publishCounts.running + publishCounts.failed : 0);
    const settings = base.configured ? safeSettings() : null;
    return {
      configured: base.configured,
      paused: base.paused,
      offline: live?.offline ?? false,
      limitKbps: settings?.limitKbps ?? null,
      overall: {
        assetsDone,
        assetsTotal,
        bytesSent: live?.bytesSent ?? 0,
        bytesTotal: runTotalUnknown ? 0 : (live?.bytesTotal ?? 0),
        rate: live?.rate ?? 0,
        etaSec: runTotalUnknown ? null : (live?.etaSec ?? null),
      },
      files: (live?.files ?? []).map((file) => ({ key: file.key, label: labelOf(file.key), bytes: file.bytes, total: file.total })),
      queue: base.queue,
      failures: base.failures.map((failure) => ({
        id: failure.id,
        assetId: failure.assetId,
        name: failure.path ? path.basename(failure.path) : 'Event manifest',
        reason: failure.error ?? 'failed',
      })),
      stored: base.stored,
    };
  };

  const liveProgress = (configured: boolean): UploadProgress | null => {
    if (!configured) return null;
    try {
      return cloud.connection().uploader.progress();
    } catch {
      // Settings that cannot make a connection are reported by the settings screen and the check.
      return null;
    }
  };
  const safeSettings = (): CloudSettings | null => {
    try {
      return cloud.settings();
    } catch {
      return null;
    }
  };

  let lastPush = 0;
  const onProgress = (progress: UploadProgress): void => {
    const now = Date.now();
    // The uploader reports every 250 ms; a queue snapshot reads the catalog, so at most four a second.
    if (now - lastPush < 240) return;
    lastPush = now;
    options.push({ event: 'uploads:progress', payload: uploads(progress) });
  };
  const pushNow = (): UploadsView => {
    const view = uploads();
    options.push({ event: 'uploads:progress', payload: view });
    return view;
  };
  const onJobDone = (job: { kind: string }): void => {
    if ((UPLOAD_KINDS as readonly string[]).includes(job.kind)) pushNow();
  };
  const onJobFailure = ({ job }: { job: { kind: string } }): void => onJobDone(job);
  cloud.on('progress', onProgress);
  engine.jobs.on('done', onJobDone);
  engine.jobs.on('failure', onJobFailure);
  if (school) startPolling();

  const handlers: PublishHandlers = {
    'sync:status': async () => {
      if ((await client.signedIn()) && client.memberships.length === 0) {
        // The roles are known after a refresh; a service that cannot be reached keeps the session.
        try {
          await client.refresh();
          notice = null;
        } catch (error) {
          if (isAppError(error, 'unauthorized')) {
            linkSchool(catalog, null);
            attach(null);
          }
          notice = toAppError(error).message;
        }
      }
      return status();
    },
    'sync:signIn': async ({ serverUrl, email, password, school: wanted }) => {
      catalog.assertWritable();
      const { memberships } = await client.signIn(serverUrl, email, password);
      return linkAfterSignIn(memberships, wanted);
    },
    'sync:providerStart': async ({ serverUrl, school: wanted }) => {
      catalog.assertWritable();
      const { url } = await providerSignIn.start(serverUrl, wanted);
      // Electron's main process opens it in the system browser and says so; in the web host the page does.
      return { url, opened: false };
    },
    'sync:providerFinish': async () => {
      const { memberships, school: wanted } = await providerSignIn.finish();
      return linkAfterSignIn(memberships, wanted);
    },
    'sync:providerCancel': () => {
      providerSignIn.cancel();
      return status();
    },
    'sync:signOut': async () => {
      await client.signOut();
      linkSchool(catalog, null);
      attach(null);
      if (poll) clearInterval(poll);
      poll = null;
      notice = null;
      return status();
    },
    'sync:pull': async () => {
      await pull();
      return status();
    },
    'cloud:settings': () => storageView(),
    'cloud:setCredentials': async ({ accessKeyId, secretAccessKey }) => {
      await keptLoaded;
      await kept.keep({ accessKeyId, secretAccessKey });
      // The connection was made with the previous key.
      cloud.useCredentials(kept);
      return storageView();
    },
    'cloud:forgetCredentials': async () => {
      await keptLoaded;
      await kept.forget();
      cloud.useCredentials(kept);
      return storageView();
    },
    'cloud:configure': (input) => {
      catalog.assertWritable();
      const changes = { ...input } as Partial<CloudSettings>;
      // An empty endpoint means AWS's default; an empty limit means none.
      if (changes.endpoint === '') changes.endpoint = null;
      if (changes.limitKbps === 0) changes.limitKbps = null;
      const checked = validateCloudSettings(loadCloudSettings(catalog.library), changes);
      if (checked.errors) return { saved: false, settings: null, errors: checked.errors };
      const saved = cloud.configure(changes);
      return { saved: true, settings: publicSettings(saved), errors: {} };
    },
    'cloud:check': async () => {
      await checkBucket();
      return { ok: true, message: `The bucket ${cloud.settings().bucket} is reachable and the credentials (${cloud.credentialsSource}) work.` };
    },
    'publish:plan': async ({ eventId, originals }) => {
      const event = requireEvent(eventId);
      const published = catalog.cloud.publicationCounts(event.id).published ?? 0;
      const empty = {
        event: { id: event.id, name: event.name },
        newCount: 0,
        modifiedCount: 0,
        removingCount: 0,
        unchangedCount: 0,
        rejectedCount: 0,
        blocked: [],
        estimatedBytes: 0,
        quota: null,
        overQuota: false,
        publishedCount: published,
      };
      if (!cloud.configured) return { ...empty, configured: false, originals: { allowed: false, requested: false, why: 'Set up storage first.' } };
      const school = await quota().catch((error: unknown) => {
        notice = `The school's storage could not be read: ${toAppError(error).message}`;
        return null;
      });
      const allowedHere = cloud.settings().allowOriginals;
      const allowed = allowedHere && (school?.originalsAllowed ?? true);
      const why = allowed ? null : !allowedHere ? 'Originals are off in the storage settings.' : "The school's plan does not include originals.";
      const preview = await cloud.publisher.preview(event.id, { originals: originals && allowed });
      const after = school ? school.usedBytes + school.reservedBytes + preview.estimatedBytes : 0;
      return {
        ...empty,
        configured: true,
        newCount: preview.newCount,
        modifiedCount: preview.modifiedCount,
        removingCount: preview.removing,
        unchangedCount: preview.unchanged,
        rejectedCount: preview.rejected,
        blocked: preview.held.map((held) => ({ assetId: held.assetId, name: held.name, kind: holdKind(held.reason), reason: held.reason })),
        estimatedBytes: preview.estimatedBytes,
        originals: { allowed, requested: originals && allowed, why },
        quota: school ? { limitBytes: school.limitBytes, usedBytes: school.usedBytes, reservedBytes: school.reservedBytes, afterBytes: after } : null,
        overQuota: school !== null && after > school.limitBytes,
      };
    },
    'publish:start': async ({ eventId, originals }) => {
      catalog.assertWritable();
      requireEvent(eventId);
      await checkBucket();
      const done = catalog.jobs.countsByKind().publish?.done ?? 0;
      const idle = (catalog.jobs.countsByKind().publish?.queued ?? 0) + (catalog.jobs.countsByKind().publish?.running ?? 0) === 0;
      const plan = await cloud.publisher.publish(eventId as EventId, { originals });
      // A new run starts its count when nothing was under way; a publish added to a running one joins it.
      if (idle) catalog.library.setMeta(RUN_BASELINE_KEY, String(done));
      const { uploader } = cloud.connection();
      uploader.expect(0, plan.estimatedBytes);
      engine.jobs.start();
      engine.jobs.notify();
      pushNow();
      return { queued: plan.queued, removing: plan.removing, held: plan.held.length, reservedBytes: plan.reservation?.bytes ?? null };
    },
    'publish:unpublish': ({ eventId }) => {
      catalog.assertWritable();
      requireEvent(eventId);
      const result = cloud.publisher.unpublish(eventId as EventId);
      engine.jobs.start();
      engine.jobs.notify();
      pushNow();
      return result;
    },
    'uploads:status': () => uploads(),
    'uploads:pause': () => {
      cloud.pause();
      return pushNow();
    },
    'uploads:resume': () => {
      cloud.resume();
      engine.jobs.start();
      engine.jobs.notify();
      return pushNow();
    },
    'uploads:cancel': async () => {
      if (cloud.configured) await cloud.cancel(AbortSignal.timeout(30_000));
      return pushNow();
    },
    'uploads:retry': ({ ids }) => {
      catalog.assertWritable();
      const retried = cloud.retryFailed(ids);
      engine.jobs.start();
      engine.jobs.notify();
      return { ...pushNow(), retried };
    },
    'uploads:setLimit': ({ kbps }) => {
      catalog.assertWritable();
      if (!cloud.configured) throw new AppError('invalid-input', 'Set up storage first: the limit is one of its settings.');
      cloud.setLimit(kbps);
      return pushNow();
    },
  };

  return {
    handlers,
    client,
    async close() {
      if (poll) clearInterval(poll);
      providerSignIn.cancel();
      cloud.off('progress', onProgress);
      engine.jobs.off('done', onJobDone);
      engine.jobs.off('failure', onJobFailure);
      await pulling?.catch(() => undefined);
      if (attachedTo) cloud.attachSchool(null);
      await keptLoaded;
      if (kept !== original) cloud.useCredentials(original);
    },
  };
}

function isKept(provider: CredentialsProvider): provider is KeptCredentials {
  return 'keep' in provider && 'forget' in provider && 'load' in provider;
}

/** The school to publish for: the one named, or the only one where the account is admin or photographer. */
function chooseSchool(memberships: Membership[], wanted: string | undefined): { school: LinkedSchool | null; notice: string | null } {
  const staff = memberships.filter((m) => m.role === 'admin' || m.role === 'photographer');
  const named = (m: Membership) => m.schoolSlug === wanted || m.schoolId === wanted;
  const pick = wanted ? staff.find(named) : staff.length === 1 ? staff[0] : undefined;
  if (!pick) {
    // A teacher, parent or student may sign in (with the school's identity provider, say) but does not publish.
    const member = wanted ? memberships.find(named) : memberships.length === 1 ? memberships[0] : undefined;
    if (member) {
      const school = String(member.schoolName ?? member.schoolSlug ?? member.schoolId);
      return { school: null, notice: `This account is a ${member.role} of ${school}, not staff (admin or photographer): it cannot publish.` };
    }
    if (wanted) throw new AppError('not-found', `This account is not staff of a school "${wanted}".`);
    if (staff.length > 1) throw new AppError('invalid-input', `This account is staff of several schools; choose one (${staff.map((m) => String(m.schoolSlug)).join(', ')}).`);
    return { school: null, notice: 'This account is not staff (admin or photographer) of a school: it cannot publish.' };
  }
  return { school: { id: pick.schoolId, slug: String(pick.schoolSlug ?? pick.schoolId), name: String(pick.schoolName ?? pick.schoolSlug ?? pick.schoolId) }, notice: null };
}
