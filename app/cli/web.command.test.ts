import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../test/fixtures.ts';

const BIN = fileURLToPath(new URL('../../bin/keepsake.mjs', import.meta.url));

describe('keepsake web', () => {
  it('prints its URL, serves the token flow, and closes cleanly on SIGTERM', async () => {
    const dir = await useTempDir('keepsake-web-cli-');
    const urlFile = dir.join('url.txt');
    const child = spawn(process.execPath, [BIN, 'web', '--library', dir.join('library'), '--port', '0', '--open-url-file', urlFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KEEPSAKE_CONFIG_DIR: dir.join('config') },
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const until = Date.now() + 20_000;
    while (!/Keepsake is running at/.test(out) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
    const url = (await readFile(urlFile, 'utf8')).trim();
    expect(out).toBe(`Keepsake is running at ${url}\n`);
    const first = await fetch(url, { redirect: 'manual' });
    expect(first.status).toBe(303);
    const cookie = first.headers.get('set-cookie')!.split(';')[0]!;
    const info = await fetch(new URL('/rpc/library:info', url), { method: 'POST', headers: { Cookie: cookie }, body: '{}' });
    expect(await info.json()).toMatchObject({ ok: true, value: { root: dir.join('library'), readOnly: false } });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('starts with no library when none is named, creates one from the page, and reopens it next time', async () => {
    const dir = await useTempDir('keepsake-web-first-run-');
    const env: NodeJS.ProcessEnv = { ...process.env, KEEPSAKE_CONFIG_DIR: dir.join('config') };
    delete env.KEEPSAKE_LIBRARY;
    const start = async (): Promise<{ rpc: (method: string, input: unknown) => Promise<unknown>; stop: () => Promise<number | null> }> => {
      const urlFile = dir.join(`url-${Date.now()}.txt`);
      const child = spawn(process.execPath, [BIN, 'web', '--port', '0', '--open-url-file', urlFile], { stdio: ['ignore', 'pipe', 'pipe'], env });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const until = Date.now() + 20_000;
      while (!/Keepsake is running at/.test(out) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
      const url = (await readFile(urlFile, 'utf8')).trim();
      const cookie = (await fetch(url, { redirect: 'manual' })).headers.get('set-cookie')!.split(';')[0]!;
      const rpc = async (method: string, input: unknown): Promise<unknown> =>
        (await fetch(new URL(`/rpc/${method}`, url), { method: 'POST', headers: { Cookie: cookie }, body: JSON.stringify(input) })).json();
      return { rpc, stop: () => (child.kill('SIGTERM'), exited) };
    };
    const first = await start();
    expect(await first.rpc('library:info', {})).toMatchObject({ ok: false, error: { code: 'not-found', message: 'No library is open yet.' } });
    expect(await first.rpc('library:open', { path: dir.join('library'), create: true })).toMatchObject({ ok: true, value: { root: dir.join('library') } });
    expect(await first.rpc('events:list', {})).toEqual({ ok: true, value: [] });
    expect(await first.stop()).toBe(0);
    const second = await start();
    expect(await second.rpc('library:info', {})).toMatchObject({ ok: true, value: { root: dir.join('library') } });
    expect(await second.stop()).toBe(0);
  }, 60_000);
});
