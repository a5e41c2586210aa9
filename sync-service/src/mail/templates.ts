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
