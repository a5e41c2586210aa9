import type { z } from 'zod';
import { CALLS, isMethod, type IpcError, type Result } from './contract.ts';

/** The app's own origin: the renderer is loaded from it, and only frames of it may call the engine. */
export const APP_SCHEME = 'keepsake';
/** The host of {@link APP_SCHEME} URLs the renderer lives under. */
export const APP_HOST = 'app';
/** The renderer's origin as a string, for logs and CSP. */
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

/** Who sent an IPC message, as Electron's `event.senderFrame` describes it. */
export interface IpcSender {
  /** The frame's current URL. */
  url: string;
  /** True for the window's top frame; sub-frames never call the engine. */
  topLevel: boolean;
}

/** The part of the dispatcher the guard forwards to (a fake in tests, the engine process in the app). */
export interface CallTarget {
  call(method: string, input: unknown): Promise<Result>;
}

/** The main process's one IPC entry point: `handle(sender, method, input)` always resolves to a {@link Result}. */
export interface IpcGuard {
  handle(sender: IpcSender | null | undefined, method: unknown, input: unknown): Promise<Result>;
}

const INVALID_HINT = 'Correct the highlighted value and try again.';
const MAX_METHOD_LENGTH = 80;

/** True when `url` is a page of the app's own origin (`keepsake://app/...`), whatever its path. */
export function isAppUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    // Custom schemes have an opaque `origin` ("null") in WHATWG URL, so scheme and host are compared instead.
    return parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST && parsed.username === '' && parsed.password === '';
  } catch {
    return false;
  }
}

function describe(issues: readonly z.core.$ZodIssue[]): string {
  const first = issues[0];
  if (!first) return 'The request is not valid.';
  const where = first.path.length > 0 ? `"${first.path.map(String).join('.').slice(0, 120)}"` : 'the request';
  const what = first.code === 'unrecognized_keys' ? 'has fields Keepsake does not know' : first.message.replace(/^Invalid input: /, '').toLowerCase().slice(0, 200);
  return `The value of ${where} is not valid: ${what}.`;
}

function refusal(error: IpcError): Result {
  return { ok: false, error };
}

/**
 * Builds the guard every IPC call passes through before it leaves the main process: the sender must be a top
 * frame of the app's origin, the channel one of the contract's, the input valid for that channel's strict schema.
 * Only the parsed value is forwarded, so getters, prototypes and unknown keys of the raw input never travel on.
 */
export function createIpcGuard(target: CallTarget): IpcGuard {
  return {
    async handle(sender, method, input) {
      if (!sender || !sender.topLevel || typeof sender.url !== 'string' || !isAppUrl(sender.url)) {
        return refusal({ code: 'forbidden', message: 'Only Keepsake’s own window may use the library.' });
      }
      if (typeof method !== 'string' || !isMethod(method)) {
        const name = typeof method === 'string' ? method.slice(0, MAX_METHOD_LENGTH) : typeof method;
        return refusal({ code: 'unknown-method', message: `Keepsake has no operation called "${name}".`, hint: 'Update the app: the window and the engine may be of different versions.' });
      }
      let parsed: z.ZodSafeParseResult<unknown>;
      try {
        parsed = CALLS[method].safeParse(input === undefined ? {} : input);
      } catch {
        // A hostile value (a throwing getter, a revoked proxy) is refused like any other bad input.
        return refusal({ code: 'invalid-input', message: 'The request is not valid.', hint: INVALID_HINT });
      }
      if (!parsed.success) return refusal({ code: 'invalid-input', message: describe(parsed.error.issues), hint: INVALID_HINT });
      try {
        return await target.call(method, parsed.data);
      } catch {
        // The target resolves Results by contract; a rejection means the engine went away mid-call.
        return refusal({ code: 'internal', message: 'The library stopped answering.', hint: 'Restart Keepsake; nothing already saved is lost.' });
      }
    },
  };
}
