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
export async function api<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
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
export const listMedia = (schoolId: string, eventId: string, cursor: string | null) =>
  api<{ media: GalleryMedia[]; nextCursor: string | null }>(
    'GET',
    `${school(schoolId)}/events/${encodeURIComponent(eventId)}/media?limit=100${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
  );
/** A fresh URL of one variant; `download` makes the browser save it under the event's safe file name. */
export const mediaUrl = (schoolId: string, eventId: string, assetId: string, variant: string, download = false) =>
  api<{ url: string; expiresAt: string | null }>(
    'GET',
    `${school(schoolId)}/events/${encodeURIComponent(eventId)}/media/${encodeURIComponent(assetId)}/${variant}${download ? '?download=1' : ''}`,
  );
