/**
 * Sign-in: with the family access code from the school's letter (it becomes the parent's account), or
 * with an email and password. The session lands in HttpOnly cookies; the page never holds a token.
 */
import { ApiFailure, NetworkFailure, signInWithCode, signInWithPassword, type WebSession } from '../api.ts';
import { h } from '../dom.ts';
import type { MessageKey } from '../i18n/en.ts';
import { t } from '../i18n/index.ts';

/** 16 symbols of the code alphabet (digits 2–9, A–Z without I and O), dashes and spaces ignored. */
export function looksLikeAccessCode(input: string): boolean {
  return /^[2-9A-HJ-NP-Z]{16}$/.test(input.toUpperCase().replace(/[\s-]/g, ''));
}

/** The sentence for a failed sign-in. */
export function signInError(error: unknown, withCode: boolean): string {
  if (error instanceof NetworkFailure) return t('error.network');
  if (!(error instanceof ApiFailure)) return t('error.generic', { message: String(error) });
  if (error.status === 429) return t('error.tooMany', { seconds: error.retryAfterSeconds ?? 60 });
  if (error.status === 401) return t(withCode ? 'error.codeInvalid' : 'error.credentials');
  if (error.status === 409) return t('error.emailTaken');
  return t('error.generic', { message: error.message });
}

/** A labelled input, with an optional hint it is described by. */
export function field(id: string, label: MessageKey, attributes: Record<string, string | boolean>, hint?: MessageKey): HTMLElement {
  const hintId = hint === undefined ? undefined : `${id}-hint`;
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, t(label)),
    hint === undefined ? null : h('p', { class: 'hint', id: hintId }, t(hint)),
    h('input', { id, name: id, required: true, ...(hintId === undefined ? {} : { 'aria-describedby': hintId }), ...attributes }),
  );
}

export function signInPage(onSignedIn: (session: WebSession) => void): HTMLElement {
  const message = h('p', { class: 'error', role: 'alert', id: 'sign-in-error' });
  let withCode = true;

  const codeForm = h(
    'form',
    { class: 'card', novalidate: true, 'data-form': 'code' },
    field('access-code', 'signIn.code', { autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', inputmode: 'text' }, 'signIn.codeHint'),
    field('code-name', 'signIn.name', { autocomplete: 'name' }),
    field('code-email', 'signIn.email', { type: 'email', autocomplete: 'email' }),
    field('code-password', 'signIn.newPassword', { type: 'password', autocomplete: 'new-password', minlength: '10' }),
    h('button', { type: 'submit', class: 'primary' }, t('signIn.submitCode')),
  );
  const passwordForm = h(
    'form',
    { class: 'card', novalidate: true, hidden: true, 'data-form': 'password' },
    field('email', 'signIn.email', { type: 'email', autocomplete: 'username' }),
    field('password', 'signIn.password', { type: 'password', autocomplete: 'current-password' }),
    h('button', { type: 'submit', class: 'primary' }, t('signIn.submitPassword')),
  );
  const codeTab = h('button', { type: 'button', class: 'tab', 'aria-pressed': 'true' }, t('signIn.codeTab'));
  const passwordTab = h('button', { type: 'button', class: 'tab', 'aria-pressed': 'false' }, t('signIn.passwordTab'));
  const choose = (code: boolean) => {
    withCode = code;
    codeForm.hidden = !code;
    passwordForm.hidden = code;
    codeTab.setAttribute('aria-pressed', String(code));
    passwordTab.setAttribute('aria-pressed', String(!code));
    message.textContent = '';
  };
  codeTab.addEventListener('click', () => choose(true));
  passwordTab.addEventListener('click', () => choose(false));

  const value = (form: HTMLFormElement, name: string) => (form.elements.namedItem(name) as HTMLInputElement | null)?.value ?? '';
  const submit = async (form: HTMLFormElement, attempt: () => Promise<WebSession> | string) => {
    const button = form.querySelector('button[type=submit]');
    const label = button?.textContent ?? '';
    message.textContent = '';
    const outcome = attempt();
    if (typeof outcome === 'string') {
      message.textContent = outcome;
      return;
    }
    button?.setAttribute('disabled', '');
    if (button !== null) button.textContent = t('signIn.working');
    try {
      onSignedIn(await outcome);
    } catch (error) {
      message.textContent = signInError(error, withCode);
    } finally {
      button?.removeAttribute('disabled');
      if (button !== null) button.textContent = label;
    }
  };

  codeForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit(codeForm, () => {
      const accessCode = value(codeForm, 'access-code').trim();
      const name = value(codeForm, 'code-name').trim();
      const email = value(codeForm, 'code-email').trim();
      const password = value(codeForm, 'code-password');
      if (!looksLikeAccessCode(accessCode)) return t('error.codeFormat');
      if (name === '' || email === '') return t('error.required');
      if (password.length < 10) return t('error.passwordShort');
      return signInWithCode({ accessCode, name, email, password });
    });
  });
  passwordForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit(passwordForm, () => {
      const email = value(passwordForm, 'email').trim();
      const password = value(passwordForm, 'password');
      if (email === '' || password === '') return t('error.required');
      return signInWithPassword({ email, password });
    });
  });

  return h(
    'section',
    { class: 'sign-in', 'data-page': 'sign-in' },
    h('h1', { tabindex: '-1' }, t('signIn.title')),
    h('div', { class: 'tabs', role: 'group' }, codeTab, passwordTab),
    message,
    codeForm,
    passwordForm,
  );
}
