import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
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

/**
 * Starts the real sync service as its own process, as a school runs it: `create-school`, then the server,
 * waiting for `/readyz`. `env` adds settings (the bucket: S3_ENDPOINT, S3_BUCKET, …); `mail` gives it a real
 * SMTP server on loopback whose messages the test reads (invitations, digests).
 */
export async function startSyncService(options: { slug?: string; name?: string; env?: NodeJS.ProcessEnv; mail?: boolean } = {}): Promise<SyncServiceProcess> {
  const dir = await tempDir('keepsake-sync-service-');
  const port = await freePort();
  const admin = { email: 'office@greenfield.example', password: 'a long enough secret' };
  const catcher = options.mail ? await startMailCatcher() : null;
  const mailEnv = catcher ? { SMTP_URL: catcher.url, MAIL_FROM: admin.email } : {};
  const env = { ...process.env, KEEPSAKE_SYNC_DATA: dir.path, PORT: String(port), LOG_LEVEL: 'warn', DATABASE_URL: '', ...mailEnv, ...options.env };
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
  const base = `http://127.0.0.1:${port}`;
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
