/** What a family sees for a page, event or photo that does not exist or is not shared with them. */
import { h } from '../dom.ts';
import { t } from '../i18n/index.ts';

export function notFoundPage(): HTMLElement {
  return h(
    'section',
    { class: 'not-found', 'data-page': 'not-found' },
    h('h1', { tabindex: '-1' }, t('notFound.title')),
    h('p', {}, t('notFound.body')),
    h('a', { href: '/events', 'data-link': true, class: 'button' }, t('notFound.back')),
  );
}
