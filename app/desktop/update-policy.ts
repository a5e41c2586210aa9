import { AppError } from '../shared/errors.ts';

// What Keepsake accepts as an update. electron-updater does the transport and the checks it knows; this module
// decides when to let it, so the rules are tested in plain Node and the main process only wires events to them.

/** Where updates are looked for: the `generic` provider (any HTTPS server or CDN), or an S3 bucket. */
export type UpdateFeed = { provider: 'generic'; url: string } | { provider: 's3'; bucket: string; region?: string; path?: string };

/** electron-updater's settings: nothing happens without the user, and nothing older or pre-release is taken. */
export const UPDATER_SETTINGS = {
  autoDownload: false,
  autoInstallOnAppQuit: false,
  allowDowngrade: false,
  allowPrerelease: false,
  // NSIS web installers are not checked against publisherName; Keepsake ships full installers only.
  disableWebInstaller: true,
  forceDevUpdateConfig: false,
} as const;

/**
 * The feed to use instead of the one packaged in app-update.yml, from `KEEPSAKE_UPDATE_URL` (HTTPS) or
 * `KEEPSAKE_UPDATE_S3_BUCKET` (+ `_REGION`, `_PATH`); null keeps the packaged one. A feed that is not HTTPS is refused.
 */
export function feedFromEnvironment(env: NodeJS.ProcessEnv): UpdateFeed | null {
  if (env.KEEPSAKE_UPDATE_URL) {
    const feed: UpdateFeed = { provider: 'generic', url: env.KEEPSAKE_UPDATE_URL };
    assertSafeFeed(feed);
    return feed;
  }
  if (env.KEEPSAKE_UPDATE_S3_BUCKET) {
    const feed: UpdateFeed = {
      provider: 's3',
      bucket: env.KEEPSAKE_UPDATE_S3_BUCKET,
      ...(env.KEEPSAKE_UPDATE_S3_REGION ? { region: env.KEEPSAKE_UPDATE_S3_REGION } : {}),
      ...(env.KEEPSAKE_UPDATE_S3_PATH ? { path: env.KEEPSAKE_UPDATE_S3_PATH } : {}),
    };
    assertSafeFeed(feed);
    return feed;
  }
  return null;
}

/** Throws unless the feed is fetched over HTTPS (the S3 provider always is): latest.yml carries the hashes. */
export function assertSafeFeed(feed: UpdateFeed): void {
  if (feed.provider === 's3') {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(feed.bucket)) throw new AppError('invalid-input', `"${feed.bucket}" is not an S3 bucket name.`);
    return;
  }
  let url: URL;
  try {
    url = new URL(feed.url);
  } catch {
    throw new AppError('invalid-input', `The update address "${feed.url}" is not a URL.`);
  }
  if (url.protocol !== 'https:') throw new AppError('invalid-input', `Updates are only fetched over HTTPS; "${feed.url}" is not.`);
  if (url.username || url.password) throw new AppError('invalid-input', 'The update address must not carry a user name or password.');
}

/** Compares two semantic versions (`1.2.3`, `1.2.3-beta.1`); NaN when either is not one. */
export function compareVersions(a: string, b: string): number {
  const parse = (text: string): { core: number[]; pre: string[] } | null => {
    const match = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(text.trim());
    return match ? { core: [Number(match[1]), Number(match[2]), Number(match[3])], pre: match[4] ? match[4].split('.') : [] } : null;
  };
  const left = parse(a);
  const right = parse(b);
  if (!left || !right) return Number.NaN;
  for (let i = 0; i < 3; i += 1) if (left.core[i] !== right.core[i]) return left.core[i]! < right.core[i]! ? -1 : 1;
  // A release is newer than any of its pre-releases.
  if (left.pre.length === 0 || right.pre.length === 0) return left.pre.length === right.pre.length ? 0 : left.pre.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.max(left.pre.length, right.pre.length); i += 1) {
    const x = left.pre[i];
    const y = right.pre[i];
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1;
    if (x === y) continue;
    const nx = /^\d+$/.test(x) ? Number(x) : null;
    const ny = /^\d+$/.test(y) ? Number(y) : null;
    if (nx !== null && ny !== null) return nx < ny ? -1 : 1;
    if (nx !== null || ny !== null) return nx !== null ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** What the updater may do next. */
export type UpdateDecision =
  | { action: 'ignore'; reason: string }
  | { action: 'ask-to-download'; version: string }
  | { action: 'download'; version: string }
  | { action: 'ask-to-install'; version: string }
  | { action: 'install'; version: string };

/**
 * The update's life: found → the user agrees → downloaded (electron-updater has checked the sha512 of latest.yml,
 * and the signature where the platform has one) → the user agrees → installed. Every step refuses a version that
 * is not newer than the running one, or not the one the user agreed to.
 */
export class UpdatePolicy {
  private agreed: string | null = null;
  private verified: string | null = null;

  constructor(private readonly currentVersion: string) {}

  /** electron-updater found `version` in the feed. */
  found(version: string): UpdateDecision {
    if (!(compareVersions(version, this.currentVersion) > 0)) return { action: 'ignore', reason: `${version} is not newer than ${this.currentVersion}` };
    if (version.replace(/\+.*$/, '').includes('-')) return { action: 'ignore', reason: `${version} is a pre-release` };
    this.agreed = null;
    this.verified = null;
    return { action: 'ask-to-download', version };
  }

  /** The user answered the download prompt for `version`. */
  downloadAnswered(version: string, yes: boolean): UpdateDecision {
    if (!yes) return { action: 'ignore', reason: 'the user declined' };
    if (!(compareVersions(version, this.currentVersion) > 0)) return { action: 'ignore', reason: `${version} is not newer than ${this.currentVersion}` };
    this.agreed = version;
    return { action: 'download', version };
  }

  /** electron-updater reports `version` downloaded and verified (it emits nothing for a file that failed). */
  downloaded(version: string): UpdateDecision {
    if (this.agreed === null || version !== this.agreed) return { action: 'ignore', reason: `${version} was not the update the user agreed to` };
    this.verified = version;
    return { action: 'ask-to-install', version };
  }

  /** The user answered "Restart now?" for `version`. */
  installAnswered(version: string, yes: boolean): UpdateDecision {
    if (!yes) return { action: 'ignore', reason: 'the user postponed' };
    if (this.verified === null || this.verified !== version) return { action: 'ignore', reason: `${version} has not been downloaded and verified` };
    return { action: 'install', version };
  }

  /** A download or verification error: whatever was agreed is forgotten, so nothing half-checked is installed. */
  failed(): void {
    this.agreed = null;
    this.verified = null;
  }
}

/**
 * Refuses to turn updates on where the platform's signature check would be skipped: on Windows, electron-updater
 * checks the installer's Authenticode signer only when app-update.yml names a `publisherName`.
 */
export function updateConfigProblem(platform: NodeJS.Platform, appUpdateConfig: Record<string, unknown> | null): string | null {
  if (appUpdateConfig === null) return 'This build has no update feed (app-update.yml is missing).';
  if (platform === 'win32') {
    const names = appUpdateConfig.publisherName;
    const list = Array.isArray(names) ? names : typeof names === 'string' ? [names] : [];
    if (list.filter((name) => typeof name === 'string' && name.trim() !== '').length === 0) return 'This build does not name its publisher, so an update’s signature could not be checked.';
  }
  return null;
}

/** What is verified before an update is installed, per platform, in words for the About box and the docs. */
export function verifiedOn(platform: NodeJS.Platform): string[] {
  const common = [
    'The feed (latest.yml) is fetched over HTTPS only.',
    'The version must be newer than the one running; downgrades and pre-releases are refused.',
    'The downloaded file’s SHA-512 must equal the one in latest.yml, or the download is discarded.',
  ];
  if (platform === 'win32') return [...common, 'The installer must carry a valid Authenticode signature whose signer is the publisher named in the build (publisherName).'];
  if (platform === 'darwin') return [...common, 'The new app’s code signature must satisfy the running app’s designated requirement (checked by Squirrel.Mac).'];
  return [...common, 'AppImage and deb updates carry no signature of their own: the HTTPS feed and the SHA-512 are the whole check.'];
}

/**
 * Reads the keys the policy needs from app-update.yml (electron-builder writes flat `key: value` lines and
 * `publisherName` as a list). Unknown lines are ignored; the updater itself parses the whole file.
 */
export function readUpdateConfig(text: string): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  let list: string[] | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+#.*$/, '');
    const item = /^\s+-\s+(.+)$/.exec(line);
    if (item && list) {
      list.push(unquote(item[1]!));
      continue;
    }
    const pair = /^([A-Za-z][A-Za-z0-9]*):\s*(.*)$/.exec(line);
    if (!pair) continue;
    if (pair[2] === '') {
      list = [];
      config[pair[1]!] = list;
    } else {
      list = null;
      config[pair[1]!] = unquote(pair[2]!);
    }
  }
  return config;
}

function unquote(value: string): string {
  const trimmed = value.trim();
  return /^(['"]).*\1$/.test(trimmed) ? trimmed.slice(1, -1) : trimmed;
}
