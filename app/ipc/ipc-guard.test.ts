import { describe, expect, it } from 'vitest';
import { CALLS, type Method, type Result } from './contract.ts';
import { createIpcGuard, isAppUrl, type CallTarget, type IpcSender } from './ipc-guard.ts';

// The engine is replaced by a counting fake on purpose: what is proved here is that bad input never gets past the
// main process's boundary, so the only thing to observe is whether anything reached the other side.
function countingTarget(): CallTarget & { calls: Array<{ method: string; input: unknown }> } {
  const calls: Array<{ method: string; input: unknown }> = [];
  return {
    calls,
    call: (method, input) => {
      calls.push({ method, input });
      return Promise.resolve({ ok: true, value: { echoed: method } });
    },
  };
}

const APP: IpcSender = { url: 'keepsake://app/index.html', topLevel: true };
const METHODS = Object.keys(CALLS) as Method[];

function deepNesting(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i += 1) value = { a: value };
  return value;
}

function throwingGetter(): unknown {
  return Object.defineProperty({}, 'id', { enumerable: true, get: () => { throw new Error('boom'); } });
}

function throwingProxy(): unknown {
  return new Proxy({}, { get: () => { throw new Error('boom'); }, ownKeys: () => { throw new Error('boom'); } });
}

/** Values wrong for every field of the contract (no field accepts these types, sizes or non-integers). */
const BAD_FIELD_VALUES: Array<() => unknown> = [
  () => Number.NaN,
  () => Number.POSITIVE_INFINITY,
  () => Number.NEGATIVE_INFINITY,
  () => 1.5,
  () => 10n,
  () => Symbol('x'),
  () => () => 1,
  () => 'x'.repeat(100_001),
  () => Array.from({ length: 20_001 }, (_, i) => i + 1),
  () => JSON.parse('{"__proto__": {"polluted": true}}'),
  () => ({ constructor: { prototype: { polluted: true } } }),
  () => deepNesting(5_000),
  throwingGetter,
  throwingProxy,
];

/** Whole inputs that no channel accepts. */
const BAD_INPUTS: Array<() => unknown> = [
  ...BAD_FIELD_VALUES,
  () => null,
  () => true,
  () => 'text',
  () => 42,
  () => [],
  () => ({ extra: 1 }),
  () => Object.assign(Object.create(null) as object, { extra: 1 }),
];

function fieldsOf(method: Method): string[] {
  return Object.keys((CALLS[method] as unknown as { shape: Record<string, unknown> }).shape);
}

describe(createIpcGuard.name, () => {
  it('answers every bad input of every channel with invalid-input, never throws and never reaches the engine', async () => {
    const target = countingTarget();
    const guard = createIpcGuard(target);
    let tried = 0;
    for (const method of METHODS) {
      const inputs = [...BAD_INPUTS.map((make) => make()), ...fieldsOf(method).flatMap((field) => BAD_FIELD_VALUES.map((make) => ({ [field]: make() })))];
      for (const input of inputs) {
        tried += 1;
        const result = await guard.handle(APP, method, input);
        expect(result.ok, `${method} accepted a bad input`).toBe(false);
        if (result.ok) continue;
        expect(result.error.code).toBe('invalid-input');
        expect(result.error.message).toMatch(/^The .+\.$/);
        expect(result.error.message.length).toBeLessThan(400);
        expect(JSON.stringify(result.error)).not.toMatch(/\.ts:\d+|at [A-Za-z]+ \(/);
      }
    }
    expect(tried).toBeGreaterThan(METHODS.length * BAD_INPUTS.length);
    expect(target.calls).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('forwards a valid call once, with the parsed value (defaults filled, nothing else)', async () => {
    const target = countingTarget();
    const guard = createIpcGuard(target);
    expect(await guard.handle(APP, 'assets:timelinePage', {})).toEqual({ ok: true, value: { echoed: 'assets:timelinePage' } });
    expect(await guard.handle(APP, 'events:create', { name: '  Sports Day ' })).toMatchObject({ ok: true });
    expect(target.calls).toEqual([
      { method: 'assets:timelinePage', input: { order: 'desc', limit: 200, after: null } },
      { method: 'events:create', input: { name: 'Sports Day' } },
    ]);
  });

  it('refuses senders that are not a top frame of the app’s own origin', async () => {
    const target = countingTarget();
    const guard = createIpcGuard(target);
    const senders: Array<IpcSender | null | undefined> = [
      null,
      undefined,
      { url: 'keepsake://app/index.html', topLevel: false },
      { url: 'https://evil.example/', topLevel: true },
      { url: 'file:///home/ana/index.html', topLevel: true },
      { url: 'keepsake://evil/index.html', topLevel: true },
      { url: 'keepsake://app.evil/index.html', topLevel: true },
      { url: 'keepsake://user:pw@app/index.html', topLevel: true },
      { url: 'devtools://devtools/bundled/inspector.html', topLevel: true },
      { url: 'about:blank', topLevel: true },
      { url: 'not a url', topLevel: true },
    ];
    for (const sender of senders) {
      const result: Result = await guard.handle(sender, 'library:info', {});
      expect(result, JSON.stringify(sender)).toEqual({ ok: false, error: { code: 'forbidden', message: expect.stringMatching(/own window/) } });
    }
    expect(target.calls).toEqual([]);
  });

  it('answers unknown channels with one clean error', async () => {
    const target = countingTarget();
    const guard = createIpcGuard(target);
    for (const method of ['nope', '__proto__', 'constructor', 'hasOwnProperty', '', 42, null, { toString: 'x' }, 'x'.repeat(100_000)]) {
      const result = await guard.handle(APP, method, {});
      expect(result).toMatchObject({ ok: false, error: { code: 'unknown-method' } });
      if (!result.ok) expect(result.error.message.length).toBeLessThan(200);
    }
    expect(target.calls).toEqual([]);
  });

  it('turns a target that rejects into an internal error instead of a throw', async () => {
    const guard = createIpcGuard({ call: () => Promise.reject(new Error('port closed at /secret/path.ts:12')) });
    const result = await guard.handle(APP, 'library:info', {});
    expect(result).toEqual({ ok: false, error: { code: 'internal', message: 'The library stopped answering.', hint: expect.any(String) } });
  });
});

describe(isAppUrl.name, () => {
  it('accepts any path of keepsake://app and nothing else', () => {
    expect(isAppUrl('keepsake://app/')).toBe(true);
    expect(isAppUrl('keepsake://app/index.html#/events/3')).toBe(true);
    // Chromium lower-cases a standard scheme's host before the main process sees it; anything else is not ours.
    expect(isAppUrl('keepsake://APP/index.html')).toBe(false);
    expect(isAppUrl('keepsake://app:80/')).toBe(false);
    expect(isAppUrl('keepsakes://app/')).toBe(false);
  });
});
