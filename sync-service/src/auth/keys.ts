/**
 * The Ed25519 key that signs access tokens. Several instances behind a load balancer must share one
 * key, so it comes from JWT_PRIVATE_KEY when set; the embedded default generates one on first start
 * and keeps it next to the database so tokens survive a restart.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** The pair used by {@link TokenService}: sign with the private half, verify with the public one. */
export interface SigningKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** The file name inside the data folder. */
export const KEY_FILE = 'jwt-ed25519.pem';

/** Parses a PKCS8 PEM and insists on Ed25519, so an RSA or EC key fails here rather than at first sign-in. */
export function keysFromPem(pem: string, source = 'JWT_PRIVATE_KEY'): SigningKeys {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch (error) {
    throw new Error(`${source} is not a readable PKCS8 PEM private key (${(error as Error).message})`, { cause: error });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(`${source} must be an Ed25519 key, not ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  }
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** A fresh key as PKCS8 PEM. */
export function generatePem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/**
 * The configured key, else the one kept in `dataDir`, else a new one written there. The file is
 * created 0600 and published atomically (temp file, fsync, link) so a crash never leaves half a key
 * and two processes starting at once agree on the same key: `link` fails if the other won.
 */
export function loadSigningKeys(options: { privateKeyPem: string | undefined; dataDir: string }): SigningKeys {
  if (options.privateKeyPem !== undefined) return keysFromPem(options.privateKeyPem);
  const file = path.join(options.dataDir, KEY_FILE);
  let existing: string | undefined;
  try {
    existing = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  // A present but unreadable key is an error, never silently replaced: that would sign everyone out.
  if (existing !== undefined) return keysFromPem(existing, file);
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = fs.openSync(temp, 'wx', 0o600);
  try {
    fs.writeFileSync(fd, generatePem());
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(temp, file);
  } catch (error) {
    // EEXIST: another process published first; use its key. Anything else: a file system without
    // hard links, where rename is the best atomic publish available.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') fs.renameSync(temp, file);
  } finally {
    fs.rmSync(temp, { force: true });
  }
  fsyncDir(options.dataDir);
  return keysFromPem(fs.readFileSync(file, 'utf8'), file);
}

/** Makes the new directory entry durable; not every platform can open a directory, hence the guard. */
function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Best effort: Windows cannot fsync a directory.
  }
}
