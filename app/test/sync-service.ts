// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- the service's own declaration of oidc-provider (it ships none), shared rather than copied
/// <reference path="../../sync-service/src/test/oidc-provider.d.ts" />
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
// eslint-disable-next-line no-restricted-imports -- a test harness: the same loopback identity provider the service's own tests run
import { TEST_OIDC_CLIENT, testIdentityProvider } from '../../sync-service/src/test/identity-provider.ts';
import type { SessionStore, StoredSession } from '../sync/sync-client.ts';
import { tempDir } from './fixtures.ts';

/** The sync service's folder (its own workspace package). */
export const SYNC_SERVICE_ROOT = fileURLToPath(new URL('../../sync-service', import.meta.url));

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A sync session kept in memory: a desktop's session store for tests that sign in beside the app. */
export function memorySessionStore(): SessionStore & { value: StoredSession | null } {
  const store = {
    value: null as StoredSession | null,
    load: () => Promise.resolve(store.value),
    save: (session: StoredSession) => Promise.resolve(void (store.value = session)),
    clear: () => Promise.resolve(void (store.value = null)),
  };
  return store;
}

/** A running sync service on its embedded default (SQLite in a temp data folder), with one school and its admin. */
export interface SyncServiceProcess {
  base: string;
  dataDir: string;
  admin: { email: string; password: string };
  /** With `mail: true`: every message the service sent, as the loopback SMTP server received it. */
  mail: ParsedMail[];
  /** The newest message to `address`, waiting up to 20 s for it (`mail: true` only). */
  mailTo(address: string): Promise<ParsedMail>;
  stop(): Promise<void>;
}

/** A real SMTP server on loopback that keeps what it receives (the service's mail goes there). */
async function startMailCatcher(): Promise<{ url: string; mail: ParsedMail[]; close(): Promise<void> }> {
  const mail: ParsedMail[] = [];
  const smtp = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream).then((parsed) => {
        mail.push(parsed);
        callback();
      }, callback);
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const { port } = smtp.server.address() as { port: number };
  return { url: `smtp://127.0.0.1:${port}`, mail, close: () => new Promise<void>((resolve) => smtp.close(() => resolve())) };
}

/** A school's identity provider: a real OpenID provider (oidc-provider) on loopback, over https with its own certificate. */
export interface IdentityProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The provider's self-signed certificate (PEM), and its file: the service trusts it through NODE_EXTRA_CA_CERTS. */
  ca: string;
  caFile: string;
  /** Registers the service's callback as the client's one redirect URI (the service's port is known only then). */
  allow(redirectUri: string): void;
  close(): Promise<void>;
}

/**
 * Starts an identity provider knowing `accounts` (provider account id → its e-mail claims), with the dev login form
 * (any password) and no consent screen. It speaks https because the service, as shipped, refuses a provider over
 * plain http; the certificate is made here with openssl.
 */
export async function startIdentityProvider(accounts: Record<string, { email: string; email_verified: boolean }>): Promise<IdentityProvider> {
  const dir = await tempDir('keepsake-idp-');
  const keyFile = dir.join('key.pem');
  const caFile = dir.join('cert.pem');
  const made = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', caFile],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) {
    await dir.cleanup();
    throw new Error(`openssl could not make the identity provider's certificate: ${made.error?.message ?? made.stderr}`);
  }
  const ca = readFileSync(caFile, 'utf8');
  const client = TEST_OIDC_CLIENT;
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  const server = https.createServer({ key: readFileSync(keyFile), cert: ca }, (req, res) => {
    if (handle) return handle(req, res);
    res.writeHead(503).end('no client registered yet');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    issuer,
    clientId: client.id,
    clientSecret: client.secret,
    ca,
    caFile,
    allow(redirectUri) {
      const provider = testIdentityProvider(issuer, redirectUri, accounts);
      handle = provider.callback();
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await dir.cleanup();
    },
  };
}

/**
 * Starts the real sync service as its own process, as a school runs it: `create-school`, then the server,
 * waiting for `/readyz`. `env` adds settings (the bucket: S3_ENDPOINT, S3_BUCKET, …); `mail` gives it a real
 * SMTP server on loopback whose messages the test reads (invitations, digests); `oidc` signs staff in through
 * that identity provider (see {@link startIdentityProvider}).
 */
export async function startSyncService(options: { slug?: string; name?: string; env?: NodeJS.ProcessEnv; mail?: boolean; oidc?: IdentityProvider } = {}): Promise<SyncServiceProcess> {
  const dir = await tempDir('keepsake-sync-service-');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const admin = { email: 'office@greenfield.example', password: 'a long enough secret' };
  const catcher = options.mail ? await startMailCatcher() : null;
  const mailEnv = catcher ? { SMTP_URL: catcher.url, MAIL_FROM: admin.email } : {};
  const oidc = options.oidc;
  oidc?.allow(`${base}/v1/auth/oidc/callback`);
  const oidcEnv = oidc
    ? { OIDC_ISSUER: oidc.issuer, OIDC_CLIENT_ID: oidc.clientId, OIDC_CLIENT_SECRET: oidc.clientSecret, OIDC_REDIRECT_URI: `${base}/v1/auth/oidc/callback`, NODE_EXTRA_CA_CERTS: oidc.caFile }
    : {};
  const env = { ...process.env, KEEPSAKE_SYNC_DATA: dir.path, PORT: String(port), LOG_LEVEL: 'warn', DATABASE_URL: '', ...mailEnv, ...oidcEnv, ...options.env };
  const mail = catcher?.mail ?? [];
  const mailTo = async (address: string): Promise<ParsedMail> => {
    const until = Date.now() + 20_000;
    for (;;) {
      const found = mail.findLast((message) => JSON.stringify(message.to ?? '').includes(address));
      if (found) return found;
      if (Date.now() > until) throw new Error(`no mail to ${address} arrived`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const created = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/main.ts', 'create-school', '--name', options.name ?? 'Greenfield Primary', '--slug', options.slug ?? 'greenfield', '--admin-email', admin.email, '--admin-password', admin.password],
    { cwd: SYNC_SERVICE_ROOT, env, encoding: 'utf8' },
  );
  if (created.status !== 0) {
    await catcher?.close();
    throw new Error(`create-school failed: ${created.stderr}`);
  }
  const server = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: SYNC_SERVICE_ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  server.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  for (let i = 0; i < 150; i++) {
    if (await fetch(`${base}/readyz`).then((r) => r.ok, () => false)) {
      return {
        base,
        dataDir: dir.path,
        admin,
        mail,
        mailTo,
        async stop() {
          server.kill('SIGTERM');
          await exited;
          await catcher?.close();
          await dir.cleanup();
        },
      };
    }
    if (server.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  server.kill('SIGKILL');
  await catcher?.close();
  await dir.cleanup();
  throw new Error(`the sync service did not start: ${stderr}`);
}
