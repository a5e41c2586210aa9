import { describe, expect, it } from 'vitest';
import { DEFAULT_SCRYPT, DummyHash, hashPassword, verifyPassword } from './passwords.ts';

const CHEAP = { N: 2 ** 10, r: 8, p: 1 };

describe('passwords', () => {
  it('stores scrypt$N$r$p$salt$hash with a fresh salt each time', async () => {
    const a = await hashPassword('hunter22', CHEAP);
    const b = await hashPassword('hunter22', CHEAP);
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('hunter22', a)).toBe(true);
    expect(await verifyPassword('hunter23', a)).toBe(false);
  });

  it('defaults to a memory-hard cost (at least 32 MiB per hash)', async () => {
    expect(128 * DEFAULT_SCRYPT.N * DEFAULT_SCRYPT.r).toBeGreaterThanOrEqual(32 * 1024 * 1024);
    const stored = await hashPassword('x', DEFAULT_SCRYPT);
    expect(stored.startsWith(`scrypt$${DEFAULT_SCRYPT.N}$8$`)).toBe(true);
    expect(await verifyPassword('x', stored)).toBe(true);
  });

  it('treats malformed or abusive stored values as a mismatch, not a crash', async () => {
    const good = await hashPassword('pw', CHEAP);
    const parts = good.split('$');
    for (const stored of ['', 'plain', 'bcrypt$1$2$3$4$5', good.replace('$1024$', '$1000$'), [parts[0], 2 ** 30, ...parts.slice(2)].join('$'), good.slice(0, -4)]) {
      expect(await verifyPassword('pw', stored)).toBe(false);
    }
  });

  it('normalises Unicode so the same password typed on another keyboard matches', async () => {
    const stored = await hashPassword('caf\u00e9', CHEAP);
    expect(await verifyPassword('cafe\u0301', stored)).toBe(true);
  });

  it('burns a real scrypt for unknown users', async () => {
    expect(await new DummyHash(CHEAP).burn('anything')).toBe(false);
  });
});
