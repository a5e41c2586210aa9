/**
 * The parents' gallery: a small single-page app. Routes: `/sign-in`, `/invite` (an e-mail invitation's
 * link), `/events`, `/events/:eventId` (with `favourites=1` or `child=<id>` to narrow it), `/family`
 * (parents: their children's consent); anything else is the not-found page. The session is in HttpOnly cookies: the app
 * asks the service who is signed in and sends the reader to sign in when no one is.
 */
import { currentSession, NetworkFailure, signOut, type WebSession } from './api.ts';
import { h, mount } from './dom.ts';
import { LANGUAGES, language, setLanguage, t } from './i18n/index.ts';
import { eventPage, type PageHandle } from './pages/event.ts';
import { eventsPage } from './pages/events.ts';
import { familyPage } from './pages/family.ts';
import { invitePage } from './pages/invite.ts';
import { notFoundPage } from './pages/not-found.ts';
import { signInPage } from './pages/sign-in.ts';

const root = document.getElementById('app') as HTMLElement;
let session: WebSession | undefined;
let known = false;
let page: PageHandle | undefined;
/** Bumped on each navigation, so a slow page that finishes after the reader moved on is not shown. */
let rendering = 0;

/** Goes to `path` inside the app (no reload). */
export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  void render();
}

function header(): HTMLElement {
  const select = h('select', { id: 'language', 'aria-label': t('lang.label') }, ...Object.entries(LANGUAGES).map(([code, texts]) => h('option', { value: code, selected: code === language() }, texts['lang.name'])));
  select.addEventListener('change', () => {
    setLanguage(select.value);
    void render();
  });
  const out = session === undefined ? null : h('button', { type: 'button', class: 'link', 'data-sign-out': true }, t('nav.signOut'));
  out?.addEventListener('click', () => {
    void signOut()
      .catch(() => undefined)
      .then(() => {
        session = undefined;
        navigate('/sign-in');
      });
  });
  return h(
    'header',
    { class: 'top' },
    h('a', { href: '#main', class: 'skip' }, t('app.skip')),
    h('a', { href: session === undefined ? '/sign-in' : '/events', 'data-link': true, class: 'brand' }, t('app.title')),
    h(
      'nav',
      {},
      session === undefined ? null : h('a', { href: '/events', 'data-link': true }, t('nav.events')),
      session?.memberships.some((m) => m.role === 'parent') === true ? h('a', { href: '/family', 'data-link': true }, t('nav.family')) : null,
      out,
      select,
    ),
  );
}

async function pageFor(path: string, query: URLSearchParams): Promise<PageHandle> {
  if (path === '/invite') {
    return {
      element: await invitePage(session, (joined) => {
        session = joined;
        navigate('/events', true);
      }),
    };
  }
  if (path === '/sign-in') {
    if (session !== undefined) return pageFor('/events', query);
    return {
      element: signInPage((signedIn) => {
        session = signedIn;
        navigate('/events', true);
      }),
    };
  }
  if (session === undefined) {
    history.replaceState(null, '', '/sign-in');
    return pageFor('/sign-in', query);
  }
  if (path === '/' || path === '/events') return { element: await eventsPage(session.memberships) };
  if (path === '/family') return { element: await familyPage(session.memberships) };
  const event = /^\/events\/([^/]+)$/.exec(path);
  if (event?.[1] !== undefined) {
    const child = query.get('child');
    return eventPage(session.memberships, decodeURIComponent(event[1]), query.get('school'), { favourites: query.get('favourites') === '1', ...(child === null ? {} : { child }) });
  }
  return { element: notFoundPage() };
}

async function render(): Promise<void> {
  const ticket = ++rendering;
  document.title = t('app.title');
  try {
    if (!known) {
      session = await currentSession();
      known = true;
    }
    const next = await pageFor(location.pathname.replace(/\/+$/, '') || '/', new URLSearchParams(location.search));
    if (ticket !== rendering) {
      next.destroy?.();
      return;
    }
    page?.destroy?.();
    page = next;
    const main = h('main', { id: 'main', tabindex: '-1' }, next.element);
    mount(root, header(), main);
    window.scrollTo(0, 0);
    (main.querySelector<HTMLElement>('h1') ?? main).focus({ preventScroll: true });
    await next.ready;
    root.dataset.ready = 'true';
  } catch (error) {
    const message = error instanceof NetworkFailure ? t('error.network') : t('error.generic', { message: error instanceof Error ? error.message : String(error) });
    mount(root, header(), h('main', { id: 'main' }, h('p', { class: 'error', role: 'alert' }, message)));
  }
}

document.addEventListener('click', (event) => {
  const link = (event.target as Element | null)?.closest?.('a[data-link]');
  if (!(link instanceof HTMLAnchorElement) || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  navigate(link.pathname + link.search);
});
window.addEventListener('popstate', () => void render());

void render();
