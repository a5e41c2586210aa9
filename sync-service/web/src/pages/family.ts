/**
 * The family page: a parent's own children (first names), with a switch per consent purpose. A switch
 * saves at once; withdrawing "publish" hides every photo the child is in from all families at once
 * (the service's listing applies consent on every request). A failed save puts the switch back.
 */
import { getNotificationPreferences, listChildren, setConsent, setNotificationPreferences, type ConsentPurpose, type FamilyChild, type Membership, type NotificationPreferences } from '../api.ts';
import { h } from '../dom.ts';
import type { MessageKey } from '../i18n/en.ts';
import { t } from '../i18n/index.ts';

const PURPOSES: ReadonlyArray<{ purpose: ConsentPurpose; label: MessageKey; hint?: MessageKey }> = [
  { purpose: 'publish', label: 'family.publish', hint: 'family.publishHint' },
  { purpose: 'yearbook', label: 'family.yearbook' },
];

function toggle(schoolId: string, child: FamilyChild, purpose: ConsentPurpose, label: MessageKey, hint: MessageKey | undefined): HTMLElement {
  const id = `consent-${purpose}-${child.id}`;
  const hintId = hint === undefined ? undefined : `${id}-hint`;
  const status = h('span', { class: 'saved', role: 'status' });
  const input = h('input', {
    id,
    type: 'checkbox',
    role: 'switch',
    checked: child.consent[purpose],
    'data-purpose': purpose,
    'aria-describedby': hintId,
  });
  input.addEventListener('change', () => {
    const granted = input.checked;
    input.disabled = true;
    status.textContent = '';
    setConsent(schoolId, child.id, purpose, granted)
      .then(() => {
        child.consent[purpose] = granted;
        status.textContent = t('family.saved');
      })
      .catch((error: unknown) => {
        input.checked = !granted;
        status.textContent = t('family.failed', { message: error instanceof Error ? error.message : String(error) });
      })
      .finally(() => {
        input.disabled = false;
      });
  });
  return h(
    'div',
    { class: 'switch' },
    input,
    h('label', { for: id }, t(label, { name: child.firstName })),
    hintId === undefined || hint === undefined ? null : h('p', { class: 'hint', id: hintId }, t(hint, { name: child.firstName })),
    status,
  );
}

function childCard(schoolId: string, child: FamilyChild): HTMLElement {
  return h(
    'li',
    { class: 'child card', 'data-child-id': child.id },
    h('h2', {}, child.firstName),
    ...PURPOSES.map(({ purpose, label, hint }) => toggle(schoolId, child, purpose, label, hint)),
  );
}

/** How the school tells this parent about new photos: e-mail digests, text messages (with a number). */
function notificationsForm(schoolId: string, prefs: NotificationPreferences): HTMLElement {
  const email = h('input', { id: `notify-email-${schoolId}`, type: 'checkbox', role: 'switch', checked: prefs.email, name: 'email' });
  const sms = h('input', { id: `notify-sms-${schoolId}`, type: 'checkbox', role: 'switch', checked: prefs.sms, name: 'sms' });
  const phone = h('input', { id: `notify-phone-${schoolId}`, type: 'tel', name: 'phone', autocomplete: 'tel', value: prefs.phone ?? '', placeholder: '+447700900123' });
  const status = h('p', { class: 'saved', role: 'status' });
  const save = h('button', { type: 'submit' }, t('notify.save'));
  const form = h(
    'form',
    { class: 'notify card', 'data-form': 'notifications', 'aria-labelledby': `notify-title-${schoolId}` },
    h('h2', { id: `notify-title-${schoolId}` }, t('notify.title')),
    h('div', { class: 'switch' }, email, h('label', { for: email.id }, t('notify.email'))),
    h('div', { class: 'switch' }, sms, h('label', { for: sms.id }, t('notify.sms'))),
    h('label', { for: phone.id }, t('notify.phone')),
    phone,
    save,
    status,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const wanted: NotificationPreferences = { email: email.checked, sms: sms.checked, phone: phone.value.trim() === '' ? null : phone.value.trim() };
    save.disabled = true;
    status.textContent = '';
    setNotificationPreferences(schoolId, wanted)
      .then(() => (status.textContent = t('family.saved')))
      .catch((error: unknown) => (status.textContent = t('family.failed', { message: error instanceof Error ? error.message : String(error) })))
      .finally(() => (save.disabled = false));
  });
  return form;
}

/** The page, for every school where the reader is a parent (the school named when there are several). */
export async function familyPage(memberships: Membership[]): Promise<HTMLElement> {
  const schools = memberships.filter((m) => m.role === 'parent');
  const lists = await Promise.all(
    schools.map(async (m) => {
      const [children, prefs] = await Promise.all([listChildren(m.schoolId), getNotificationPreferences(m.schoolId)]);
      return { school: m, children: children.children, prefs };
    }),
  );
  const several = lists.length > 1;
  const any = lists.some((list) => list.children.length > 0);
  return h(
    'section',
    { class: 'family', 'data-page': 'family' },
    h('h1', { tabindex: '-1' }, t('family.title')),
    h('p', {}, t('family.intro')),
    any
      ? h(
          'div',
          {},
          ...lists.map((list) =>
            h(
              'div',
              { class: 'family-school' },
              several ? h('h2', { class: 'school-name' }, list.school.schoolName) : null,
              h('ul', { class: 'children' }, ...list.children.map((child) => childCard(list.school.schoolId, child))),
            ),
          ),
        )
      : h('p', { class: 'empty' }, t('family.empty')),
    ...lists.map((list) => notificationsForm(list.school.schoolId, list.prefs)),
  );
}
