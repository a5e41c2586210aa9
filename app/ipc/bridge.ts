import type { CallInput, Method, Outputs, PushEventName, PushPayloads, Result } from './contract.ts';

/**
 * `window.keepsake`: the whole of what the renderer may ask of the engine. The preload provides it in
 * Electron and the renderer's web bridge provides it in the web host; both are typed from this.
 */
export interface KeepsakeBridge {
  /** Calls one channel of the contract; never rejects: failures come back as `{ ok: false, error }`. */
  invoke<M extends Method>(method: M, input: CallInput<M>): Promise<Result<Outputs[M]>>;
  /** Listens to one push event; returns the function that stops listening. */
  on<E extends PushEventName>(event: E, listener: (payload: PushPayloads[E]) => void): () => void;
}
