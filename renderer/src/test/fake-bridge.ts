import type { KeepsakeBridge } from '../../../app/ipc/bridge.ts';
import type { IpcError, Method, Outputs, PushEventName, PushPayloads, Result } from '../../../app/ipc/contract.ts';

type Handler<M extends Method> = (input: unknown) => Outputs[M] | Promise<Outputs[M]>;

/**
 * A stand-in for `window.keepsake` in unit tests of stores and components (happy-dom has no engine):
 * answers calls from handlers the test sets, records every call, and emits push events on demand.
 * The end-to-end tests run the real renderer against the real engine through the web host instead.
 */
export class FakeBridge implements KeepsakeBridge {
  readonly calls: Array<{ method: Method; input: unknown }> = [];
  private readonly handlers = new Map<Method, Handler<Method> | { error: IpcError }>();
  private readonly listeners = new Map<PushEventName, Set<(payload: never) => void>>();

  /** Answers `method` with what `handler` returns. */
  answer<M extends Method>(method: M, handler: Handler<M> | Outputs[M]): this {
    this.handlers.set(method, (typeof handler === 'function' ? handler : () => handler) as Handler<Method>);
    return this;
  }

  /** Makes `method` fail with `error`. */
  fail(method: Method, error: IpcError): this {
    this.handlers.set(method, { error });
    return this;
  }

  async invoke<M extends Method>(method: M, input: unknown): Promise<Result<Outputs[M]>> {
    this.calls.push({ method, input });
    const handler = this.handlers.get(method);
    if (handler === undefined) return { ok: false, error: { code: 'unknown-method', message: `No answer for ${method} in this test.` } };
    if ('error' in handler) return { ok: false, error: handler.error };
    return { ok: true, value: (await handler(input)) as Outputs[M] };
  }

  on<E extends PushEventName>(event: E, listener: (payload: PushPayloads[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return () => set.delete(listener as (payload: never) => void);
  }

  /** Sends a push event to the listeners, as the engine would. */
  emit<E extends PushEventName>(event: E, payload: PushPayloads[E]): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as (payload: PushPayloads[E]) => void)(payload);
  }

  /** The inputs of every call of `method`, in order. */
  inputsOf(method: Method): unknown[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.input);
  }
}

/** Installs a fresh fake as `window.keepsake` and returns it. */
export function installFakeBridge(): FakeBridge {
  const fake = new FakeBridge();
  window.keepsake = fake;
  return fake;
}
