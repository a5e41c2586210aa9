import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DATABASES } from '../test/databases.ts';
import { TEST_TOKENS, startHarness, type Harness } from '../test/harness.ts';
import { generatePem, keysFromPem } from './keys.ts';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const seconds = () => Math.floor(Date.now() / 1000);

describe.each(TEST_DATABASES)('access tokens on $name', (target) => {
  let h: Harness;
  let schoolId: string;
  let userId: string;
  let otherId: string;
  let url: string;
  beforeAll(async () => {
    h = await startHarness(target);
    schoolId = await h.createSchool('greenfield');
    userId = await h.createUser('ada@school.test', [[schoolId, 'admin']]);
    otherId = await h.createUser('bob@school.test', [[schoolId, 'parent']]);
    url = `/v1/schools/${schoolId}/events`;
  });
  afterAll(() => h.close());

  /** A correctly signed token with some claims changed. */
  function signed(claims: { iss?: string; aud?: string; sub?: string; exp?: number }, key = h.keys.privateKey) {
    const jwt = new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA' })
      .setIssuedAt()
      .setIssuer(claims.iss ?? TEST_TOKENS.issuer)
      .setAudience(claims.aud ?? TEST_TOKENS.audience)
      .setExpirationTime(claims.exp ?? seconds() + 600);
    if (claims.sub !== '') jwt.setSubject(claims.sub ?? userId);
    return jwt.sign(key);
  }

  async function expect401(token: string) {
    const response = await h.call('GET', url, token);
    expect(response.statusCode).toBe(401);
    expect(response.json()).toEqual({ code: 'unauthorized', message: expect.any(String) });
  }

  it('accepts a token it issued', async () => {
    expect((await h.call('GET', url, await h.tokens.issue(userId))).statusCode).toBe(200);
    expect((await h.call('GET', url, await signed({}))).statusCode).toBe(200);
  });

  it('refuses a missing or malformed Authorization header', async () => {
    expect((await h.call('GET', url, undefined)).statusCode).toBe(401);
    const basic = await h.app.inject({ method: 'GET', url, headers: { authorization: 'Basic YTpi' } });
    expect(basic.statusCode).toBe(401);
    await expect401('not-a-jwt');
  });

  it('refuses alg: none', async () => {
    const payload = { sub: userId, iss: TEST_TOKENS.issuer, aud: TEST_TOKENS.audience, iat: seconds(), exp: seconds() + 600 };
    await expect401(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`);
    await expect401(`${b64({ alg: 'none' })}.${b64(payload)}`);
  });

  it('refuses HS256 signed with the public key as the secret (key confusion)', async () => {
    const pem = h.keys.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const der = h.keys.publicKey.export({ format: 'der', type: 'spki' });
    const raw = Buffer.from(h.keys.publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
    for (const secret of [new TextEncoder().encode(pem), new Uint8Array(der), new Uint8Array(raw)]) {
      const forged = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(userId)
        .setIssuer(TEST_TOKENS.issuer)
        .setAudience(TEST_TOKENS.audience)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(secret);
      await expect401(forged);
    }
  });

  it('refuses expired, wrong-audience, wrong-issuer, subject-less and foreign-key tokens', async () => {
    await expect401(await signed({ exp: seconds() - 5 }));
    await expect401(await signed({ aud: 'gallery' }));
    await expect401(await signed({ iss: 'https://evil.test' }));
    await expect401(await signed({ sub: '' }));
    await expect401(await signed({}, keysFromPem(generatePem()).privateKey));
  });

  it('refuses a tampered payload', async () => {
    const [header, payload, signature] = (await h.tokens.issue(otherId)).split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    await expect401(`${header}.${b64({ ...claims, sub: userId })}.${signature}`);
    // Flip a character in the middle: the last two base64url characters carry few bits, and "AA" there
    // was sometimes the signature itself.
    const mid = Math.floor(signature.length / 2);
    const flipped = `${signature.slice(0, mid)}${signature[mid] === 'A' ? 'B' : 'A'}${signature.slice(mid + 1)}`;
    expect(flipped).not.toBe(signature);
    await expect401(`${header}.${payload}.${flipped}`);
  });
});
