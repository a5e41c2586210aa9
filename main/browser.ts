import { shell } from 'electron';
import { openProviderSignIn } from '../app/desktop/provider-browser.ts';
import type { CallTarget } from '../app/ipc/ipc-guard.ts';

/** Opens a started sign-in with the school's account in the system browser (the checks: `app/desktop/provider-browser.ts`). */
export function openSignInInBrowser(target: CallTarget): CallTarget {
  return openProviderSignIn(target, (url) => shell.openExternal(url));
}
