import type { KeepsakeBridge } from '../../../app/ipc/bridge.ts';
import type { CallInput, IpcError, Method, Outputs } from '../../../app/ipc/contract.ts';
import { installWebBridge } from './web-bridge.ts';

declare global {
  interface Window {
    /** Provided by the preload (Electron) or the web bridge (web host). */
    keepsake?: KeepsakeBridge;
  }
}

/** A failed call, carrying the engine's error for the UI to word. */
export class CallError extends Error {
  readonly code: IpcError['code'];
  readonly hint: string | undefined;
  constructor(error: IpcError) {
    super(error.message);
    this.name = 'CallError';
    this.code = error.code;
    this.hint = error.hint;
  }
}

/** The bridge: the preload's in Electron; in a browser, the web bridge is installed on first use. */
export function bridge(): KeepsakeBridge {
  if (window.keepsake === undefined) installWebBridge(window as Window & typeof globalThis);
  return window.keepsake!;
}

/** Calls a channel and returns its value, or throws a {@link CallError}. */
export async function call<M extends Method>(method: M, input: CallInput<M>): Promise<Outputs[M]> {
  const result = await bridge().invoke(method, input);
  if (!result.ok) throw new CallError(result.error);
  return result.value;
}

/** The error a store keeps for the UI: any thrown value as a {@link CallError}. */
export function asCallError(error: unknown): CallError {
  if (error instanceof CallError) return error;
  return new CallError({ code: 'internal', message: error instanceof Error ? error.message : String(error) });
}

/**
 * Opens a page in the system browser from the window: a new tab in the web host, whose page already is in the
 * system browser. In Electron the window's rules decide (https goes to the system browser; the rest is refused).
 */
export function openInBrowser(url: string): void {
  window.open(url, '_blank', 'noopener');
}

/** Where the media of an asset is served: the same relative URL in the web host and in Electron's protocol. */
export function mediaUrl(assetId: number, variant: 'thumb' | 'preview' | 'poster' | 'proxy' | 'original'): string {
  return `/media/${assetId}/${variant}`;
}
