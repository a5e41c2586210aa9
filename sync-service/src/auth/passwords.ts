/**
 * Password hashing with Node's built-in scrypt: memory-hard (each guess costs 128·N·r bytes of RAM,
 * which is what makes GPU/ASIC cracking expensive) and with no native dependency to build.
 * Stored as `scrypt$N$r$p$salt$hash` (base64url) so the cost can be raised later: old hashes keep
 * verifying with the parameters they were made with.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** Cost parameters. The default is the one to use outside tests. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/**
 * N=2^15, r=8 needs 32 MiB per guess; p=3 makes it OWASP's "N=2^15, r=8, p=3" row (equivalent to
 * their N=2^17, p=1 minimum in work) without holding 128 MiB per concurrent sign-in on a small server.
 */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 3 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Refuse stored parameters beyond this, so a tampered row cannot make one sign-in eat the server. */
const MAX_N = 2 ** 20;

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  // Node's default maxmem (32 MiB) is exactly 128·2^15·8 and scrypt needs a little more: allow 2×.
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 2 * 128 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** A new salted hash of `password` in the stored format. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** True when `password` matches `stored`; false (never a throw) for a malformed stored value. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every(Number.isSafeInteger) || N < 2 || N > MAX_N || (N & (N - 1)) !== 0 || r < 1 || p < 1 || r * p > 64) {
    return false;
  }
  const salt = Buffer.from(parts[4] ?? '', 'base64url');
  const expected = Buffer.from(parts[5] ?? '', 'base64url');
  if (expected.length !== KEY_BYTES) return false;
  const actual = await derive(password, salt, { N, r, p });
  // Constant time: a byte-by-byte compare that stops early would leak how much of the hash matched.
  return timingSafeEqual(actual, expected);
}

/**
 * Verifies against a hash of a password nobody knows, for unknown emails: sign-in then costs the
 * same scrypt work whether or not the email exists, so response time does not reveal accounts.
 */
export class DummyHash {
  private hash: Promise<string> | undefined;
  constructor(private readonly params: ScryptParams) {}

  async burn(password: string): Promise<false> {
    this.hash ??= hashPassword(randomBytes(24).toString('base64url'), this.params);
    await verifyPassword(password, await this.hash);
    return false;
  }
}
