/**
 * Notification routes: a member's own settings (`/v1/schools/:schoolId/me/notifications`), the school's
 * sender settings (admins, `/v1/schools/:schoolId/notification-sender`), and the one-click unsubscribe
 * link every notification mail carries (`/v1/notifications/unsubscribe?t=…`, RFC 8058).
 *
 * The link's GET only shows a page with a button: mail scanners and link previews open links, so a GET
 * must change nothing. The POST (the button, or a mail system's own "unsubscribe" that sends
 * `List-Unsubscribe=One-Click`) turns e-mail off with no sign-in; the token can do nothing else.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { TokenService } from '../auth/tokens.ts';
import type { Database } from '../db/schema.ts';
import { ApiError } from '../errors.ts';
import { escapeHtml } from '../mail/templates.ts';
import { doc } from '../openapi.ts';
import { callerOf } from '../routes/auth.ts';
import { parse } from '../routes/validation.ts';
import { PHONE_PATTERN, type PreferenceService } from './preferences.ts';

const Id = z.string().min(1).max(100);
const SchoolParams = z.object({ schoolId: Id });

const PreferencesBody = z.strictObject({
  email: z.boolean({ error: 'must be true or false' }),
  sms: z.boolean({ error: 'must be true or false' }),
  phone: z
    .string()
    .trim()
    .transform((v) => v.replace(/[\s().-]/g, ''))
    .pipe(z.string().regex(PHONE_PATTERN, 'must be a phone number in international form, e.g. +447700900123'))
    .nullable()
    .default(null),
});

const SenderBody = z.strictObject({
  displayName: z.string().trim().min(1, 'must not be empty (send null for the school name)').max(100, 'too long').nullable(),
  replyTo: z.string().trim().max(320, 'too long').regex(/^[^\s@,;<>]+@[^\s@,;<>]+\.[^\s@,;<>]+$/, 'must be an e-mail address').nullable(),
});

const UnsubscribeQuery = z.strictObject({ t: z.string().trim().min(1, 'required: the token from the e-mail link').max(300, 'too long') });

/** A small page in the service's own look: no script, no inline style (the CSP allows neither). */
function htmlPage(reply: FastifyReply, status: number, title: string, body: string): FastifyReply {
  const html = `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head>\n<body>\n<main>\n<h1>${escapeHtml(title)}</h1>\n${body}\n</main>\n</body></html>\n`;
  return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
}

/** Registers the notification routes. */
export function notificationRoutes(app: FastifyInstance, deps: { db: Kysely<Database>; tokens: TokenService; preferences: PreferenceService }): void {
  const { preferences } = deps;
  const caller = callerOf(deps.db, deps.tokens);

  app.get('/v1/schools/:schoolId/me/notifications', doc({ summary: 'Your notification settings in this school (e-mail, text messages)', params: SchoolParams }), async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    return preferences.get(await caller(request, schoolId));
  });

  app.put('/v1/schools/:schoolId/me/notifications', doc({ summary: 'Change your notification settings in this school', params: SchoolParams, body: PreferencesBody }), async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return preferences.put(who, parse(PreferencesBody, request.body));
  });

  app.get('/v1/schools/:schoolId/notification-sender', doc({ summary: "How the school's notification mail is sent: sender name and reply-to (admins)", params: SchoolParams, errors: ['forbidden'] }), async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    return preferences.sender(await caller(request, schoolId));
  });

  app.put('/v1/schools/:schoolId/notification-sender', doc({ summary: "Set the school's sender name and reply-to address (admins)", params: SchoolParams, body: SenderBody, errors: ['forbidden'] }), async (request) => {
    const { schoolId } = parse(SchoolParams, request.params, 'path');
    const who = await caller(request, schoolId);
    return preferences.setSender(who, parse(SenderBody, request.body));
  });

  app.get('/v1/notifications/unsubscribe', doc({ summary: 'The page of an unsubscribe link: what it stops, and a button (changes nothing by itself)', auth: 'none', query: UnsubscribeQuery }), async (request, reply) => {
    let token: string;
    let seen: { schoolName: string; emailOn: boolean };
    try {
      token = parse(UnsubscribeQuery, request.query, 'link').t;
      seen = await preferences.inspect(token);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      return htmlPage(reply, error.status, 'This link does not work', `<p>${escapeHtml(error.message)}</p>`);
    }
    const school = escapeHtml(seen.schoolName);
    if (!seen.emailOn) return htmlPage(reply, 200, 'You are unsubscribed', `<p>You no longer get notification e-mails from ${school}. You can turn them on again in the gallery's settings.</p>`);
    const form = [
      `<p>Stop the e-mails from ${school} about new photos and event changes?</p>`,
      `<form method="post" action="?t=${escapeHtml(encodeURIComponent(token))}">`,
      `<input type="hidden" name="List-Unsubscribe" value="One-Click">`,
      `<button type="submit">Stop these e-mails</button>`,
      `</form>`,
    ].join('\n');
    return htmlPage(reply, 200, 'Unsubscribe', form);
  });

  // Mail systems post `List-Unsubscribe=One-Click` as a form (urlencoded or multipart); the token in the URL
  // is all that counts, so the bodies are read as text and not interpreted. In a scope of its own so the
  // rest of the API stays JSON-only.
  app.register(async (scope) => {
    for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data']) {
      scope.addContentTypeParser(type, { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => done(null, body));
    }
    scope.post('/v1/notifications/unsubscribe', doc({ summary: 'One-click unsubscribe (RFC 8058): turns e-mail off for the link\'s account and school, no sign-in', auth: 'none', query: UnsubscribeQuery }), async (request, reply) => {
      const { t } = parse(UnsubscribeQuery, request.query, 'link');
      const done = await preferences.unsubscribe(t);
      const fromBrowser = (request.headers.accept ?? '').includes('text/html');
      if (fromBrowser) return htmlPage(reply, 200, 'You are unsubscribed', `<p>You no longer get notification e-mails from ${escapeHtml(done.schoolName)}. You can turn them on again in the gallery's settings.</p>`);
      return { unsubscribed: true, channel: 'email', schoolName: done.schoolName };
    });
  });
}
