/**
 * Access tokens: short-lived JWTs signed with Ed25519. Verification is pinned to EdDSA, the issuer
 * and the audience, so `alg: none`, an HS256 token keyed with our public key (key confusion) and
 * tokens minted for another service are all refused by the library before we read a claim.
 */
import { hkdfSync } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { ApiError } from '../errors.ts';
import type { SigningKeys } from './keys.ts';

export interface TokenSettings {
  issuer: string;
  audience: string;
  accessTtlSeconds: number;
}

export class TokenService {
  constructor(
    private readonly keys: SigningKeys,
    private readonly settings: TokenSettings,
  ) {}

  /** The lifetime of an access token, for clients that schedule a refresh. */
  get accessTtlSeconds(): number {
    return this.settings.accessTtlSeconds;
  }

  /**
   * A 32-byte secret for another purpose (e.g. `access-codes`), derived from the signing key with HKDF:
   * every instance that shares the key (JWT_PRIVATE_KEY) derives the same secret, and no second secret
   * needs deploying. Replacing the key changes it too.
   */
  deriveSecret(purpose: string): Buffer {
    const ikm = this.keys.privateKey.export({ format: 'der', type: 'pkcs8' });
    return Buffer.from(hkdfSync('sha256', ikm, 'keepsake-sync', `keepsake:${purpose}:v1`, 32));
  }

  /** A signed access token for `userId`. Roles are not in it: they are read per request, so a removal takes effect at once. */
  issue(userId: string): Promise<string> {
    return new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setIssuedAt()
      .setExpirationTime(`${this.settings.accessTtlSeconds}s`)
      .sign(this.keys.privateKey);
  }

  /** The user id in a valid token; a 401 {@link ApiError} for anything else, with no detail on why. */
  async verify(token: string): Promise<string> {
    try {
      const { payload } = await jwtVerify(token, this.keys.publicKey, {
        algorithms: ['EdDSA'],
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      if (typeof payload.sub !== 'string' || payload.sub === '') throw new Error('no subject');
      return payload.sub;
    } catch {
      // One message for expired, forged and malformed alike: the reason helps an attacker, not a user.
      throw new ApiError('unauthorized', 'Your session is not valid or has expired. Sign in again.');
    }
  }
}
