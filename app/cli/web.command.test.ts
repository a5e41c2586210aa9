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
    const child = spawn(process.execPath, [BIN, 'web', '--library', dir.join('library'), '--port', '0', '--open-url-file', urlFile], { stdio: ['ignore', 'pipe', 'pipe'] });
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
});
