/**
 * The token in a mail's one-click unsubscribe link (RFC 8058). It is an HMAC-SHA-256, under a key derived
 * from the service's signing key, over its purpose, the user, the school and the day it was made. It
 * can do one thing only, turn that user's e-mail off for that school, so it is no sign-in and opens
 * nothing: the worst a forwarded mail allows is that someone stops the mails, which the parent sees and
 * undoes in their settings. It still expires, after {@link UNSUBSCRIBE_TTL_DAYS}: long enough for an
 * older mail in the inbox (a term's digests) to work, short enough that a link does not live for ever.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ApiError } from '../errors.ts';

/** How long an unsubscribe link works. */
export const UNSUBSCRIBE_TTL_DAYS = 60;
const PURPOSE = 'unsubscribe-email';
const VERSION = 'u1';
const ID = /^[A-Za-z0-9-]{1,100}$/;

/** Whom a valid token unsubscribes. */
export interface UnsubscribeTarget {
  userId: string;
  schoolId: string;
}

/** Makes and checks unsubscribe tokens. */
export class UnsubscribeTokens {
  constructor(
    /** At least 32 bytes; the same on every instance (`tokens.deriveSecret('notify-unsubscribe')`). */
    private readonly key: Buffer,
    private readonly now: () => Date = () => new Date(),
  ) {
    if (key.length < 32) throw new Error('The unsubscribe key must be at least 32 bytes.');
  }

  /** `u1.<user>.<school>.<day>.<mac>`: ids are UUIDs, so the token needs no encoding in a URL. */
  issue(target: UnsubscribeTarget): string {
    if (!ID.test(target.userId) || !ID.test(target.schoolId)) throw new RangeError('Unsubscribe tokens name users and schools by their ids.');
    const day = Math.floor(this.now().getTime() / 86_400_000).toString(36);
    return `${VERSION}.${target.userId}.${target.schoolId}.${day}.${this.mac(target.userId, target.schoolId, day)}`;
  }

  /** The user and school of a valid, unexpired token; a 400 that says what is wrong otherwise. */
  verify(token: string): UnsubscribeTarget {
    const parts = token.split('.');
    const [version, userId, schoolId, day, mac] = parts;
    if (parts.length !== 5 || version !== VERSION || userId === undefined || schoolId === undefined || day === undefined || mac === undefined || !ID.test(userId) || !ID.test(schoolId) || !/^[0-9a-z]{1,8}$/.test(day)) {
      throw new ApiError('invalid-input', 'This unsubscribe link is incomplete or damaged. Copy the whole link from the e-mail, or sign in and turn e-mail off under notification settings.');
    }
    const expected = Buffer.from(this.mac(userId, schoolId, day));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new ApiError('invalid-input', 'This unsubscribe link is not valid (it was altered or not made by this service). Sign in and turn e-mail off under notification settings.');
    }
    const madeOn = parseInt(day, 36);
    const today = Math.floor(this.now().getTime() / 86_400_000);
    if (today - madeOn > UNSUBSCRIBE_TTL_DAYS) {
      throw new ApiError('invalid-input', `This unsubscribe link has expired (links work for ${UNSUBSCRIBE_TTL_DAYS} days). Use the link in a newer e-mail, or sign in and turn e-mail off under notification settings.`);
    }
    return { userId, schoolId };
  }

  private mac(userId: string, schoolId: string, day: string): string {
    return createHmac('sha256', this.key).update(`${PURPOSE}\n${userId}\n${schoolId}\n${day}`).digest('base64url');
  }
}
