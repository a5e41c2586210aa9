/**
 * The command line end to end, in a child process on a temp SQLite data folder: the embedded
 * default must work from nothing (create-school, start, sign in, stop cleanly).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SERVICE_ROOT } from './config.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keepsake-sync-main-'));
const port = 20_000 + Math.floor(Math.random() * 20_000);
const env = { ...process.env, KEEPSAKE_SYNC_DATA: dataDir, PORT: String(port), LOG_LEVEL: 'warn', DATABASE_URL: '' };
const tsx = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: SERVICE_ROOT, env, encoding: 'utf8' });

describe('main', () => {
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('migrates, creates a school, serves it and shuts down on SIGTERM', async () => {
    expect(tsx(['migrate']).stdout).toContain('Database is up to date (sqlite)');
    const created = tsx(['create-school', '--name', 'Greenfield Primary', '--slug', 'greenfield', '--admin-email', 'a@b.c', '--admin-password', 'a long secret']);
    expect(created.status, created.stderr).toBe(0);
    const again = tsx(['create-school', '--name', 'G', '--slug', 'greenfield', '--admin-email', 'a@b.c', '--admin-password', 'x']);
    expect(again.status).toBe(1);
    expect(again.stderr.trim()).toBe('A school with the slug "greenfield" already exists.');
    expect(tsx(['frobnicate']).stderr).toContain('Unknown command "frobnicate"');

    const server = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: SERVICE_ROOT, env, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    try {
      const base = `http://127.0.0.1:${port}`;
      let ready = false;
      for (let i = 0; i < 100 && !ready; i++) {
        ready = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
        if (!ready) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready).toBe(true);
      const signIn = await fetch(`${base}/v1/auth/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'a@b.c', password: 'a long secret' }),
      });
      expect(signIn.status).toBe(200);
      expect(((await signIn.json()) as { memberships: Array<{ role: string }> }).memberships[0]?.role).toBe('admin');
      // The generated signing key is private to the service's user.
      expect(fs.statSync(path.join(dataDir, 'jwt-ed25519.pem')).mode & 0o777).toBe(0o600);
    } finally {
      server.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('prints configuration mistakes without a stack trace', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'migrate'], {
      cwd: SERVICE_ROOT,
      env: { ...env, PORT: 'eighty' },
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe('Invalid sync-service configuration:\n  - PORT: must be a port number from 1 to 65535 (got "eighty")');
  });
});
