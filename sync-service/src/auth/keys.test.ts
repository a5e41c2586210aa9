import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KEY_FILE, generatePem, keysFromPem, loadSigningKeys } from './keys.ts';

describe('signing keys', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keepsake-keys-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('generates a key once, 0600, and reuses it on the next start', () => {
    const dataDir = path.join(tempDir(), 'data');
    const first = loadSigningKeys({ privateKeyPem: undefined, dataDir });
    const file = path.join(dataDir, KEY_FILE);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dataDir)).toEqual([KEY_FILE]);
    const second = loadSigningKeys({ privateKeyPem: undefined, dataDir });
    expect(second.publicKey.equals(first.publicKey)).toBe(true);
  });

  it('uses JWT_PRIVATE_KEY when given and writes nothing', () => {
    const dataDir = tempDir();
    const pem = generatePem();
    const keys = loadSigningKeys({ privateKeyPem: pem, dataDir });
    expect(keys.publicKey.equals(keysFromPem(pem).publicKey)).toBe(true);
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  it('refuses keys that are not Ed25519 PKCS8, and a corrupt key file', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() => keysFromPem(rsa)).toThrow(/must be an Ed25519 key, not rsa/);
    expect(() => keysFromPem('-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----')).toThrow(/not a readable PKCS8 PEM/);
    const dataDir = tempDir();
    fs.writeFileSync(path.join(dataDir, KEY_FILE), 'garbage');
    expect(() => loadSigningKeys({ privateKeyPem: undefined, dataDir })).toThrow(KEY_FILE);
  });
});
