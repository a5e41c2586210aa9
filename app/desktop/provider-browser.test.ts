import { describe, expect, it } from 'vitest';
import type { CallTarget } from '../ipc/ipc-guard.ts';
import { openProviderSignIn, providerUrlToOpen } from './provider-browser.ts';

const START = 'https://sync.greenfield.example/v1/auth/oidc/start?school=greenfield&returnTo=http%3A%2F%2F127.0.0.1%3A5000%2Fcallback%3Fstate%3Dabc&challenge=x';

/** A call target answering `sync:providerStart` with `url`, and recording every call. */
function engine(url: unknown, fail = false): CallTarget & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    call(method) {
      calls.push(method);
      if (method === 'sync:providerStart') {
        return Promise.resolve(fail ? { ok: false, error: { code: 'not-found', message: 'Sign-in with an identity provider is not set up on this server.' } } : { ok: true, value: { url, opened: false } });
      }
      return Promise.resolve({ ok: true, value: { method } });
    },
  };
}

describe(providerUrlToOpen.name, () => {
  it('opens an http(s) URL under the service the window named, however it spelled the service', () => {
    for (const server of ['https://sync.greenfield.example', 'https://sync.greenfield.example/', ' https://SYNC.greenfield.example ']) {
      expect(providerUrlToOpen(START, server), server).toBe(START);
    }
    expect(providerUrlToOpen('https://school.example/keepsake/v1/auth/oidc/start?school=a', 'https://school.example/keepsake/')).toBe('https://school.example/keepsake/v1/auth/oidc/start?school=a');
    expect(providerUrlToOpen('http://127.0.0.1:8080/v1/auth/oidc/start?school=a', 'http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080/v1/auth/oidc/start?school=a');
  });

  it('refuses other schemes, other hosts, look-alike prefixes, credentials and non-strings', () => {
    const server = 'https://sync.greenfield.example';
    for (const url of [
      'file:///etc/passwd',
      'javascript:alert(1)',
      'keepsake://app/index.html',
      'https://evil.example/v1/auth/oidc/start',
      'https://sync.greenfield.example.evil.example/v1/auth/oidc/start',
      'https://sync.greenfield.example@evil.example/',
      'https://user:pw@sync.greenfield.example/v1/auth/oidc/start',
      'http://sync.greenfield.example/v1/auth/oidc/start',
      'not a url',
      42,
      null,
    ]) {
      expect(providerUrlToOpen(url, server), String(url)).toBeNull();
    }
    expect(providerUrlToOpen('https://school.example/keepsake-evil/start', 'https://school.example/keepsake')).toBeNull();
    expect(providerUrlToOpen(START, 'ftp://sync.greenfield.example')).toBeNull();
    expect(providerUrlToOpen(START, 'not a url')).toBeNull();
  });
});

describe(openProviderSignIn.name, () => {
  it('opens the started sign-in in the system browser and says so', async () => {
    const opened: string[] = [];
    const target = openProviderSignIn(engine(START), (url) => Promise.resolve(void opened.push(url)));
    expect(await target.call('sync:providerStart', { serverUrl: 'https://sync.greenfield.example', school: 'greenfield' })).toEqual({ ok: true, value: { url: START, opened: true } });
    expect(opened).toEqual([START]);
  });

  it('answers opened: false when the browser could not be started, so the window shows the link', async () => {
    const target = openProviderSignIn(engine(START), () => Promise.reject(new Error('no browser')));
    expect(await target.call('sync:providerStart', { serverUrl: 'https://sync.greenfield.example', school: 'greenfield' })).toEqual({ ok: true, value: { url: START, opened: false } });
  });

  it('opens nothing and cancels the sign-in when the URL is not the named service’s', async () => {
    const opened: string[] = [];
    const inner = engine('https://evil.example/v1/auth/oidc/start');
    const target = openProviderSignIn(inner, (url) => Promise.resolve(void opened.push(url)));
    const result = await target.call('sync:providerStart', { serverUrl: 'https://sync.greenfield.example', school: 'greenfield' });
    expect(result).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(JSON.stringify(result)).not.toContain('evil.example');
    expect(opened).toEqual([]);
    expect(inner.calls).toEqual(['sync:providerStart', 'sync:providerCancel']);
  });

  it('passes refusals and every other channel through untouched, opening nothing', async () => {
    const opened: string[] = [];
    const target = openProviderSignIn(engine(START, true), (url) => Promise.resolve(void opened.push(url)));
    expect(await target.call('sync:providerStart', { serverUrl: 'https://sync.greenfield.example', school: 'greenfield' })).toMatchObject({ ok: false, error: { code: 'not-found' } });
    expect(await target.call('library:info', {})).toEqual({ ok: true, value: { method: 'library:info' } });
    expect(opened).toEqual([]);
  });
});
