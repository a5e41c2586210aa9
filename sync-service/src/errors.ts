/**
 * The error shape that leaves the service: `{ code, message }`, the same contract as the desktop's
 * `app/shared/errors.ts`. The codes are copied rather than imported because the service may import
 * only the shared protocol from the desktop code, and these codes are that protocol's vocabulary.
 */

/**
 * The subset of the desktop's error codes the service answers with so far. Rate limiting (429) will
 * need a code: the desktop's list has none for "slow down" yet, and `quota-exceeded` means storage.
 */
export type ApiErrorCode =
  | 'invalid-input'
  | 'unsupported-media'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'gone'
  | 'quota-exceeded'
  | 'internal';

/** The HTTP status for each code, so a route throws a code and never picks a status by hand. */
export const STATUS_OF: Record<ApiErrorCode, number> = {
  'invalid-input': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  /** Was there and is no more for this caller: an event's gallery past its expiry date. */
  gone: 410,
  'unsupported-media': 415,
  /** Insufficient Storage: the school's plan has no room for this publish. */
  'quota-exceeded': 507,
  internal: 500,
};

/** An error whose message is written for the person who reads it (a desktop user or an admin). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    /** Extra fields merged into the body, e.g. `current` on a version conflict. */
    readonly extra?: Record<string, unknown>,
    /** Overrides {@link STATUS_OF} where one code covers several statuses (413 is still invalid input). */
    readonly status: number = STATUS_OF[code],
  ) {
    super(message);
  }

  /** The only shape that leaves the service. */
  toJSON(): { code: ApiErrorCode; message: string } & Record<string, unknown> {
    return { ...this.extra, code: this.code, message: this.message };
  }
}
