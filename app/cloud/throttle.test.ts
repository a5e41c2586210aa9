import { describe, expect, it } from 'vitest';
import { Throttle, throttledBody } from './throttle.ts';

describe(Throttle.name, () => {
  it('ends a throttled body quietly when its upload is aborted and nobody reads it any more', async () => {
    const controller = new AbortController();
    const body = throttledBody(Buffer.alloc(256 * 1024), new Throttle(10_000), () => undefined, controller.signal);
    let sent = 0;
    body.on('data', (chunk: Buffer) => (sent += chunk.length));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The HTTP layer lets go of the body when the request is aborted.
    body.removeAllListeners('data');
    body.pause();
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(body.destroyed).toBe(true);
    expect(body.errored).toBeNull();
    expect(sent).toBeLessThan(256 * 1024);
  });
});
