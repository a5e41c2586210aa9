/**
 * The sync service's API as the gallery calls it: same-origin `fetch` with the session in HttpOnly
 * cookies (the page never sees a token) and the `X-Keepsake: 1` header the service requires of
 * cookie-authenticated requests. An expired access cookie is refreshed once and the request retried.
 */

/** An answer that is not a success, as `{ code, message }` plus the status (and `Retry-After` for a 429). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** The server could not be reached at all. */
export class NetworkFailure extends Error {}

export interface Membership {
  schoolId: string;
  schoolName: string;
  schoolSlug: string;
  role: string;
}

export interface WebSession {
  user: { id: string; email: string; name: string };
  memberships: Membership[];
  expiresIn: number;
}

/** An event as the service shows it to families (`expired` and `galleryExpiresOn` may be absent on older servers). */
export interface GalleryEvent {
  id: string;
  schoolId: string;
  name: string;
  startsOn: string;
  endsOn: string | null;
  location: string | null;
  description: string | null;
  galleryExpiresOn?: string | null;
  expired?: boolean;
  /** Filled in by servers that count an event's media for its audience. */
  mediaCount?: number;
  /** The thumbhash of the first photo the family may see, for the card's cover. */
  coverThumbhash?: string | null;
}

/** How many media of an event the family may see (audience and consent applied), and a cover. */
export interface EventMediaCount {
  eventId: string;
  mediaCount: number;
  coverThumbhash: string | null;
}

/** The consent purposes a parent answers for. */
export type ConsentPurpose = 'publish' | 'yearbook';

/** One of the parent's own children: first name only, and their consent. */
export interface FamilyChild {
  id: string;
  firstName: string;
  consent: Record<ConsentPurpose, boolean>;
}

/** What an invitation link is for, as the service tells whoever holds it. */
export interface InviteSummary {
  schoolName: string;
  role: string;
  email: string;
}

/** What narrows an event's grid: the family's favourites, or one of their children. */
export interface MediaFilter {
  favourites?: boolean;
  child?: string;
}

export interface Variant {
  size: number;
  url?: string;
  expiresAt?: string | null;
}

export interface GalleryMedia {
  assetId: string;
  kind: 'photo' | 'raw' | 'video';
  capturedAt: string | null;
  width: number | null;
  height: number | null;
  durationSec: number | null;
  title: string | null;
  thumbhash?: string | null;
  /** For parents: whether their family marked it. */
  favourite?: boolean;
  /** For parents: which of their own children are in it. */
  children?: string[];
  variants: Partial<Record<'thumb' | 'preview' | 'poster' | 'proxy' | 'original', Variant>>;
}

const JSON_TYPE = 'application/json';

async function send(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { 'x-keepsake': '1', accept: JSON_TYPE };
  if (body !== undefined) headers['content-type'] = JSON_TYPE;
  try {
    return await fetch(path, { method, headers, credentials: 'same-origin', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  } catch {
    throw new NetworkFailure('network');
  }
}

async function failure(response: Response): Promise<ApiFailure> {
  let code = 'internal';
  let message = response.statusText;
  try {
    const body = (await response.json()) as { code?: unknown; message?: unknown };
    if (typeof body.code === 'string') code = body.code;
    if (typeof body.message === 'string') message = body.message;
  } catch {
    // Not JSON: the status says enough.
  }
  const retry = Number(response.headers.get('retry-after'));
  return new ApiFailure(response.status, code, message, Number.isFinite(retry) && retry > 0 ? retry : undefined);
}

let refreshing: Promise<boolean> | undefined;

/** Trades the refresh cookie for new cookies; one refresh at a time however many requests saw a 401. */
export function refreshSession(): Promise<boolean> {
  refreshing ??= send('POST', '/v1/web/session/refresh')
    .then((response) => response.ok)
    .catch(() => false)
    .finally(() => {
      refreshing = undefined;
    });
  return refreshing;
}

/** Calls the API; JSON in, JSON out; an {@link ApiFailure} for any error answer. */
export async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
  let response = await send(method, path, body);
  if (response.status === 401 && !path.startsWith('/v1/web/session') && (await refreshSession())) response = await send(method, path, body);
  if (!response.ok) throw await failure(response);
  return response.status === 204 ? (undefined as T) : ((await response.json()) as T);
}

/** The signed-in session, or undefined when there is none (after trying the refresh cookie). */
export async function currentSession(): Promise<WebSession | undefined> {
  try {
    return await api<WebSession>('GET', '/v1/web/session');
  } catch (error) {
    if (!(error instanceof ApiFailure) || error.status !== 401) throw error;
  }
  if (!(await refreshSession())) return undefined;
  try {
    return await api<WebSession>('GET', '/v1/web/session');
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 401) return undefined;
    throw error;
  }
}

export const signInWithCode = (input: { accessCode: string; name: string; email: string; password: string }) => api<WebSession>('POST', '/v1/web/session', input);
export const signInWithPassword = (input: { email: string; password: string }) => api<WebSession>('POST', '/v1/web/session', input);
export const signOut = () => api<void>('DELETE', '/v1/web/session');

const school = (schoolId: string) => `/v1/schools/${encodeURIComponent(schoolId)}`;

export const listEvents = (schoolId: string) => api<{ events: GalleryEvent[] }>('GET', `${school(schoolId)}/events`);
export const getEvent = (schoolId: string, eventId: string) => api<GalleryEvent>('GET', `${school(schoolId)}/events/${encodeURIComponent(eventId)}`);
export const listMedia = (schoolId: string, eventId: string, cursor: string | null, filter: MediaFilter = {}) =>
  api<{ media: GalleryMedia[]; nextCursor: string | null }>(
    'GET',
    `${school(schoolId)}/events/${encodeURIComponent(eventId)}/media?limit=100${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}${
      filter.favourites === true ? '&favourites=1' : ''
    }${filter.child === undefined ? '' : `&child=${encodeURIComponent(filter.child)}`}`,
  );
export const mediaCounts = (schoolId: string) => api<{ events: EventMediaCount[] }>('GET', `${school(schoolId)}/media/counts`);
const favourite = (schoolId: string, eventId: string, assetId: string) =>
  `${school(schoolId)}/events/${encodeURIComponent(eventId)}/favourites/${encodeURIComponent(assetId)}`;
/** Marks or unmarks one photo or video as a family favourite. */
export const setFavourite = (schoolId: string, eventId: string, assetId: string, on: boolean) =>
  on ? api<unknown>('PUT', favourite(schoolId, eventId, assetId), {}).then(() => undefined) : api<void>('DELETE', favourite(schoolId, eventId, assetId));
export const listChildren = (schoolId: string) => api<{ children: FamilyChild[] }>('GET', `${school(schoolId)}/family/children`);
export const setConsent = (schoolId: string, studentId: string, purpose: ConsentPurpose, granted: boolean) =>
  api<unknown>('PUT', `${school(schoolId)}/students/${encodeURIComponent(studentId)}/consent/${purpose}`, { granted });
/** The token travels in the body, never in a URL (which servers and proxies log). */
export const inspectInvite = (token: string) => api<InviteSummary>('POST', '/v1/auth/invites/inspect', { token });
/**
 * Accepts into a new account. The service answers with bearer tokens meant for the desktop; the gallery
 * keeps none of them: it ends that session at once and signs in with cookies instead.
 */
export async function acceptInviteAsNewAccount(token: string, name: string, password: string): Promise<void> {
  const opened = await api<{ refreshToken?: string }>('POST', '/v1/auth/invites/accept', { token, name, password });
  if (typeof opened.refreshToken === 'string') await api<void>('POST', '/v1/auth/sign-out', { refreshToken: opened.refreshToken }).catch(() => undefined);
}
/** Accepts into the account signed in to this browser (its address must be the invitation's). */
export const acceptInviteSignedIn = (token: string) => api<unknown>('POST', '/v1/auth/invites/accept', { token }).then(() => undefined);
/** A fresh URL of one variant; `download` makes the browser save it under the event's safe file name. */
export const mediaUrl = (schoolId: string, eventId: string, assetId: string, variant: string, download = false) =>
  api<{ url: string; expiresAt: string | null }>(
    'GET',
    `${school(schoolId)}/events/${encodeURIComponent(eventId)}/media/${encodeURIComponent(assetId)}/${variant}${download ? '?download=1' : ''}`,
  );

/** A member's notification settings in one school. */
export interface NotificationPreferences {
  email: boolean;
  sms: boolean;
  /** International form, e.g. `+447700900123`; needed for text messages. */
  phone: string | null;
}

/** The reader's notification settings in a school. */
export function getNotificationPreferences(schoolId: string): Promise<NotificationPreferences> {
  return api<NotificationPreferences>('GET', `/v1/schools/${encodeURIComponent(schoolId)}/me/notifications`);
}

/** Replaces the reader's notification settings in a school. */
export function setNotificationPreferences(schoolId: string, prefs: NotificationPreferences): Promise<NotificationPreferences> {
  return api<NotificationPreferences>('PUT', `/v1/schools/${encodeURIComponent(schoolId)}/me/notifications`, prefs);
}
