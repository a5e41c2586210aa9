// What the window may open. The renderer never navigates away from keepsake://app; links to the web open in the
// system browser, and only https ones (a mailto: or file: link from an asset's description opens nothing).

/** What to do with a navigation or `window.open` the renderer asked for. */
export type NavigationDecision = { action: 'deny' } | { action: 'open-external'; url: string };

/** Every navigation is denied in the window; an https URL without credentials is handed to the system browser. */
export function decideNavigation(url: string): NavigationDecision {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { action: 'deny' };
  }
  if (parsed.protocol !== 'https:' || parsed.username !== '' || parsed.password !== '') return { action: 'deny' };
  return { action: 'open-external', url: parsed.href };
}
