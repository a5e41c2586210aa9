import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
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

/** A running sync service on its embedded default (SQLite in a temp data folder), with one school and its admin. */
export interface SyncServiceProcess {
  base: string;
  dataDir: string;
  admin: { email: string; password: string };
  stop(): Promise<void>;
}

/**
 * Starts the real sync service as its own process, as a school runs it: `create-school`, then the server,
 * waiting for `/readyz`. `env` adds settings (the bucket: S3_ENDPOINT, S3_BUCKET, …).
 */
export async function startSyncService(options: { slug?: string; name?: string; env?: NodeJS.ProcessEnv } = {}): Promise<SyncServiceProcess> {
  const dir = await tempDir('keepsake-sync-service-');
  const port = await freePort();
  const admin = { email: 'office@greenfield.example', password: 'a long enough secret' };
  const env = { ...process.env, KEEPSAKE_SYNC_DATA: dir.path, PORT: String(port), LOG_LEVEL: 'warn', DATABASE_URL: '', ...options.env };
  const created = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/main.ts', 'create-school', '--name', options.name ?? 'Greenfield Primary', '--slug', options.slug ?? 'greenfield', '--admin-email', admin.email, '--admin-password', admin.password],
    { cwd: SYNC_SERVICE_ROOT, env, encoding: 'utf8' },
  );
  if (created.status !== 0) throw new Error(`create-school failed: ${created.stderr}`);
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
        async stop() {
          server.kill('SIGTERM');
          await exited;
          await dir.cleanup();
        },
      };
    }
    if (server.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  server.kill('SIGKILL');
  await dir.cleanup();
  throw new Error(`the sync service did not start: ${stderr}`);
}
