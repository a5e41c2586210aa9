/**
 * Accepting an invitation from its e-mail link, `/invite#<token>`. The token is read from the address's
 * fragment, which browsers never send to a server, and travels only in request bodies. The page shows
 * what the invitation is for, then accepts it into a new account (name and password), into an account
 * the reader signs in to, or into the account already signed in; the reader lands on their events.
 */
import {
  acceptInviteAsNewAccount,
  acceptInviteSignedIn,
  ApiFailure,
  currentSession,
  inspectInvite,
  NetworkFailure,
  signInWithPassword,
  type InviteSummary,
  type WebSession,
} from '../api.ts';
import { h } from '../dom.ts';
import type { MessageKey } from '../i18n/en.ts';
import { t } from '../i18n/index.ts';
import { field, signInError } from './sign-in.ts';

const ROLES: Readonly<Record<string, MessageKey>> = {
  admin: 'role.admin',
  photographer: 'role.photographer',
  teacher: 'role.teacher',
  parent: 'role.parent',
  student: 'role.student',
};

/** The token in `#…`, or an empty string. */
export function inviteToken(hash: string): string {
  try {
    return decodeURIComponent(hash.replace(/^#/, '')).trim();
  } catch {
    return '';
  }
}

function problem(error: unknown): string {
  if (error instanceof NetworkFailure) return t('error.network');
  if (error instanceof ApiFailure && error.status === 429) return t('error.tooMany', { seconds: error.retryAfterSeconds ?? 60 });
  if (error instanceof ApiFailure && error.status >= 400 && error.status < 500) return t('invite.invalid');
  return t('error.generic', { message: error instanceof Error ? error.message : String(error) });
}

function page(...children: Array<Node | null>): HTMLElement {
  return h('section', { class: 'sign-in invite', 'data-page': 'invite' }, h('h1', { tabindex: '-1' }, t('invite.title')), ...children);
}

/** Runs `work` with the form's button disabled and saying so; a failure's sentence goes to `message`. */
async function busy(form: HTMLFormElement, message: HTMLElement, work: () => Promise<void>, explain: (error: unknown) => string): Promise<void> {
  const button = form.querySelector('button[type=submit]');
  const label = button?.textContent ?? '';
  message.textContent = '';
  button?.setAttribute('disabled', '');
  if (button !== null) button.textContent = t('invite.working');
  try {
    await work();
  } catch (error) {
    message.textContent = explain(error);
  } finally {
    button?.removeAttribute('disabled');
    if (button !== null) button.textContent = label;
  }
}

/** The invitation page; `onAccepted` gets the browser's session once the school is in it. */
export async function invitePage(session: WebSession | undefined, onAccepted: (session: WebSession) => void): Promise<HTMLElement> {
  const token = inviteToken(location.hash);
  if (token === '') return page(h('p', { class: 'error', role: 'alert' }, t('invite.missing')));
  let invite: InviteSummary;
  try {
    invite = await inspectInvite(token);
  } catch (error) {
    return page(h('p', { class: 'error', role: 'alert' }, problem(error)));
  }
  const summary = h('p', { class: 'invite-summary' }, t('invite.summary', { school: invite.schoolName, role: t(ROLES[invite.role] ?? 'role.parent'), email: invite.email }));
  const message = h('p', { class: 'error', role: 'alert' });
  const signedIn = async () => {
    const now = await currentSession();
    if (now === undefined) throw new ApiFailure(401, 'unauthorized', 'signed out');
    onAccepted(now);
  };
  const accepting = (error: unknown) => (error instanceof ApiFailure && (error.status === 403 || error.status === 409) ? t('error.generic', { message: error.message }) : problem(error));

  if (session !== undefined) {
    const form = h('form', { class: 'card', 'data-form': 'accept' }, h('p', {}, t('invite.signedInAs', { email: session.user.email })), h('button', { type: 'submit', class: 'primary' }, t('invite.accept')));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void busy(form, message, async () => {
        await acceptInviteSignedIn(token);
        await signedIn();
      }, accepting);
    });
    return page(summary, message, form);
  }

  const email = (id: string) => field(id, 'signIn.email', { type: 'email', autocomplete: 'username', value: invite.email, readonly: true });
  const newForm = h(
    'form',
    { class: 'card', novalidate: true, 'data-form': 'new-account' },
    email('invite-email'),
    field('invite-name', 'signIn.name', { autocomplete: 'name' }),
    field('invite-password', 'signIn.newPassword', { type: 'password', autocomplete: 'new-password', minlength: '10' }),
    h('button', { type: 'submit', class: 'primary' }, t('invite.create')),
  );
  const accountForm = h(
    'form',
    { class: 'card', novalidate: true, hidden: true, 'data-form': 'existing-account' },
    email('invite-account-email'),
    field('invite-account-password', 'signIn.password', { type: 'password', autocomplete: 'current-password' }),
    h('button', { type: 'submit', class: 'primary' }, t('invite.signInAccept')),
  );
  const newTab = h('button', { type: 'button', class: 'tab', 'aria-pressed': 'true' }, t('invite.newTab'));
  const accountTab = h('button', { type: 'button', class: 'tab', 'aria-pressed': 'false' }, t('invite.accountTab'));
  const choose = (fresh: boolean) => {
    newForm.hidden = !fresh;
    accountForm.hidden = fresh;
    newTab.setAttribute('aria-pressed', String(fresh));
    accountTab.setAttribute('aria-pressed', String(!fresh));
  };
  newTab.addEventListener('click', () => ((message.textContent = ''), choose(true)));
  accountTab.addEventListener('click', () => ((message.textContent = ''), choose(false)));
  const value = (form: HTMLFormElement, name: string) => (form.elements.namedItem(name) as HTMLInputElement | null)?.value ?? '';

  newForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const name = value(newForm, 'invite-name').trim();
    const password = value(newForm, 'invite-password');
    message.textContent = '';
    if (name === '') return void (message.textContent = t('error.required'));
    if (password.length < 10) return void (message.textContent = t('error.passwordShort'));
    void busy(newForm, message, async () => {
      await acceptInviteAsNewAccount(token, name, password).catch((error: unknown) => {
        // The address has an account already: the other form accepts into it.
        if (error instanceof ApiFailure && error.status === 409) choose(false);
        throw error;
      });
      onAccepted(await signInWithPassword({ email: invite.email, password }));
    }, (error) => (error instanceof ApiFailure && error.status === 409 ? t('invite.exists') : problem(error)));
  });
  accountForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const password = value(accountForm, 'invite-account-password');
    if (password === '') return void (message.textContent = t('error.required'));
    void busy(accountForm, message, async () => {
      try {
        await signInWithPassword({ email: invite.email, password });
      } catch (error) {
        message.textContent = signInError(error, false);
        return;
      }
      await acceptInviteSignedIn(token);
      await signedIn();
    }, accepting);
  });

  return page(summary, h('div', { class: 'tabs', role: 'group' }, newTab, accountTab), message, newForm, accountForm);
}
