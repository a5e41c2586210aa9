/**
 * The e-mails the service sends, each as a subject, a plain-text body and an HTML body made from the
 * same fields. Every value that a person typed (school, family and inviter names) goes through
 * {@link escapeHtml} before it reaches the HTML; the text body needs no escaping.
 */
import type { Role } from '../db/schema.ts';

/** What a rendered mail is made of. */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/** `&`, `<`, `>`, `"` and `'` as entities: safe in element content and in quoted attributes. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] ?? ch);
}

/** A role as a sentence says it. */
const ROLE_PHRASE: Record<Role, string> = {
  admin: 'an administrator',
  photographer: 'a photographer',
  teacher: 'a teacher',
  parent: 'a parent',
  student: 'a student',
};

/** The fields of an invitation mail. */
export interface InviteMailFields {
  schoolName: string;
  role: Role;
  /** The admin who sent it, by name. */
  inviterName: string;
  /** For a parent: the family they join. */
  familyName: string | null;
  /** `${PUBLIC_URL}/invite#<token>`. */
  link: string;
  expiresAt: Date;
}

function longDate(date: Date): string {
  return date.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
}

/** "You're invited to Greenfield Primary": one link, its expiry, and what to do if it was not for you. */
export function renderInviteMail(fields: InviteMailFields): RenderedMail {
  const as = fields.familyName === null ? ROLE_PHRASE[fields.role] : `a parent in the ${fields.familyName} family`;
  const until = longDate(fields.expiresAt);
  const subject = `You're invited to ${fields.schoolName} on Keepsake`;
  const text = [
    `Hello,`,
    ``,
    `${fields.inviterName} has invited you to join ${fields.schoolName} on Keepsake as ${as}.`,
    ``,
    `Accept the invitation here:`,
    fields.link,
    ``,
    `The link works once and until ${until}.`,
    `If you did not expect this invitation, you can ignore this e-mail.`,
  ].join('\n');
  const e = escapeHtml;
  const html = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><title>' + e(subject) + '</title></head>',
    '<body style="font-family: sans-serif; line-height: 1.5; color: #222;">',
    `<p>Hello,</p>`,
    `<p>${e(fields.inviterName)} has invited you to join <strong>${e(fields.schoolName)}</strong> on Keepsake as ${e(as)}.</p>`,
    `<p><a href="${e(fields.link)}" style="display: inline-block; padding: 10px 16px; background: #2456d6; color: #fff; text-decoration: none; border-radius: 4px;">Accept the invitation</a></p>`,
    `<p>Or copy this link into your browser: <br>${e(fields.link)}</p>`,
    `<p>The link works once and until ${e(until)}. If you did not expect this invitation, you can ignore this e-mail.</p>`,
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}

/** What every notification mail ends with: why it came, and the one-click way to stop it. */
interface NotificationFooter {
  schoolName: string;
  /** `${PUBLIC_URL}/v1/notifications/unsubscribe?t=…`: the only token a notification carries. */
  unsubscribeUrl: string;
}

function footerText(footer: NotificationFooter): string[] {
  return [``, `--`, `You get this e-mail as a parent at ${footer.schoolName} on Keepsake.`, `To stop these e-mails, open: ${footer.unsubscribeUrl}`];
}

function footerHtml(footer: NotificationFooter): string {
  const e = escapeHtml;
  return `<p style="font-size: 13px; color: #666;">You get this e-mail as a parent at ${e(footer.schoolName)} on Keepsake. <a href="${e(footer.unsubscribeUrl)}">Stop these e-mails</a>.</p>`;
}

function page(subject: string, body: string[]): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><title>' + escapeHtml(subject) + '</title></head>',
    '<body style="font-family: sans-serif; line-height: 1.5; color: #222;">',
    ...body,
    '</body></html>',
  ].join('\n');
}

/** `42 new photos` / `1 new photo`. */
function newPhotos(count: number): string {
  return `${count} new ${count === 1 ? 'photo' : 'photos'}`;
}

/** The fields of a digest of new media. */
export interface DigestMailFields extends NotificationFooter {
  eventName: string;
  newMedia: number;
  /** `${PUBLIC_URL}/events/<id>`: the gallery page, behind the parent's own sign-in. */
  galleryUrl: string;
}

/** "42 new photos from Sports Day": a count and a link to the gallery, never a picture. */
export function renderDigestMail(fields: DigestMailFields): RenderedMail {
  const e = escapeHtml;
  const subject = `${newPhotos(fields.newMedia)} from ${fields.eventName}`;
  const text = [
    `Hello,`,
    ``,
    `${newPhotos(fields.newMedia)} from ${fields.eventName} ${fields.newMedia === 1 ? 'is' : 'are'} in the ${fields.schoolName} gallery.`,
    ``,
    `See them here (sign in if asked):`,
    fields.galleryUrl,
    ...footerText(fields),
  ].join('\n');
  const html = page(subject, [
    `<p>Hello,</p>`,
    `<p>${e(newPhotos(fields.newMedia))} from <strong>${e(fields.eventName)}</strong> ${fields.newMedia === 1 ? 'is' : 'are'} in the ${e(fields.schoolName)} gallery.</p>`,
    `<p><a href="${e(fields.galleryUrl)}" style="display: inline-block; padding: 10px 16px; background: #2456d6; color: #fff; text-decoration: none; border-radius: 4px;">See the photos</a></p>`,
    `<p>Or copy this link into your browser: <br>${e(fields.galleryUrl)}</p>`,
    footerHtml(fields),
  ]);
  return { subject, text, html };
}

/** The text message of a digest: short, with the gallery link and nothing else. */
export function renderDigestSms(fields: Pick<DigestMailFields, 'eventName' | 'newMedia' | 'schoolName' | 'galleryUrl'>): string {
  return `${fields.schoolName}: ${newPhotos(fields.newMedia)} from ${fields.eventName} on Keepsake. ${fields.galleryUrl}`;
}

/** The fields of a mail about a change to an event. */
export type EventNoticeMailFields = NotificationFooter & {
  eventName: string;
  galleryUrl: string;
} & (
    | { kind: 'dates-changed'; startsOn: string; endsOn: string | null }
    | { kind: 'gallery-expiring'; expiresOn: string }
  );

/** `2026-06-14` → `14 June 2026`. */
function calendarDate(day: string): string {
  return longDate(new Date(`${day}T00:00:00.000Z`));
}

function noticeLines(fields: EventNoticeMailFields): { subject: string; line: string } {
  if (fields.kind === 'dates-changed') {
    const when = fields.endsOn === null || fields.endsOn === fields.startsOn ? `on ${calendarDate(fields.startsOn)}` : `from ${calendarDate(fields.startsOn)} to ${calendarDate(fields.endsOn)}`;
    return { subject: `${fields.eventName} has moved`, line: `${fields.eventName} now takes place ${when}.` };
  }
  const until = calendarDate(fields.expiresOn);
  return {
    subject: `The ${fields.eventName} gallery closes on ${until}`,
    line: `The ${fields.eventName} photos can be seen and saved until the end of ${until}. After that the gallery closes.`,
  };
}

/** "Sports Day has moved" / "The Sports Day gallery closes on 1 July 2026". */
export function renderEventNoticeMail(fields: EventNoticeMailFields): RenderedMail {
  const e = escapeHtml;
  const { subject, line } = noticeLines(fields);
  const text = [`Hello,`, ``, line, ``, `The event in the ${fields.schoolName} gallery:`, fields.galleryUrl, ...footerText(fields)].join('\n');
  const html = page(subject, [
    `<p>Hello,</p>`,
    `<p>${e(line)}</p>`,
    `<p><a href="${e(fields.galleryUrl)}">Open ${e(fields.eventName)} in the ${e(fields.schoolName)} gallery</a></p>`,
    footerHtml(fields),
  ]);
  return { subject, text, html };
}

/** The text message of an event notice. */
export function renderEventNoticeSms(fields: EventNoticeMailFields): string {
  return `${fields.schoolName}: ${noticeLines(fields).line} ${fields.galleryUrl}`;
}
