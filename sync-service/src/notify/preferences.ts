/**
 * What each member of a school wants to be told (e-mail on or off, text messages to a phone number), and
 * how the school's mail presents itself (sender name, reply-to). A member with no preferences row gets
 * e-mail and no text messages.
 */
import type { Kysely, Transaction } from 'kysely';
import { recordAudit } from '../audit.ts';
import type { Database } from '../db/schema.ts';
import { withSchool } from '../db/tenant-scope.ts';
import { ApiError } from '../errors.ts';
import type { Caller } from '../services/events.ts';
import type { UnsubscribeTokens } from './unsubscribe-tokens.ts';

type Reader = Kysely<Database> | Transaction<Database>;

/** A member's notification settings as the API shows and takes them. */
export interface NotificationPreferences {
  email: boolean;
  sms: boolean;
  /** E.164, e.g. `+447700900123`; required for `sms`. */
  phone: string | null;
}

/** A school's sender settings; null fields fall back to the school's name and no Reply-To. */
export interface SenderSettings {
  displayName: string | null;
  replyTo: string | null;
}

/** The defaults for a member with no row: mail yes, text messages no (there is no number to send to). */
export const DEFAULT_PREFERENCES: NotificationPreferences = { email: true, sms: false, phone: null };

/** E.164: a plus, a country code and up to 15 digits in all. */
export const PHONE_PATTERN = /^\+[1-9]\d{6,14}$/;

/** The preferences of several members of one school, defaults filled in. */
export async function preferencesOf(db: Reader, schoolId: string, userIds: readonly string[]): Promise<Map<string, NotificationPreferences>> {
  const result = new Map<string, NotificationPreferences>(userIds.map((id) => [id, DEFAULT_PREFERENCES]));
  if (userIds.length === 0) return result;
  const rows = await db.selectFrom('notification_preferences').selectAll().where('school_id', '=', schoolId).where('user_id', 'in', [...userIds]).execute();
  for (const row of rows) result.set(row.user_id, { email: row.email_enabled === 1, sms: row.sms_enabled === 1, phone: row.phone });
  return result;
}

/** The sender a school's mail goes out as: its configured name, else the school's own. */
export async function senderOf(db: Reader, schoolId: string): Promise<{ name: string; replyTo: string | undefined; schoolName: string }> {
  const school = await db.selectFrom('schools').select('name').where('id', '=', schoolId).executeTakeFirstOrThrow();
  const row = await db.selectFrom('notification_senders').selectAll().where('school_id', '=', schoolId).executeTakeFirst();
  return { name: row?.display_name ?? school.name, replyTo: row?.reply_to ?? undefined, schoolName: school.name };
}

async function write(db: Reader, schoolId: string, userId: string, prefs: NotificationPreferences, at: string): Promise<void> {
  const values = { email_enabled: prefs.email ? 1 : 0, sms_enabled: prefs.sms ? 1 : 0, phone: prefs.phone, updated_at: at };
  await db
    .insertInto('notification_preferences')
    .values({ school_id: schoolId, user_id: userId, ...values })
    .onConflict((oc) => oc.columns(['school_id', 'user_id']).doUpdateSet(values))
    .execute();
}

/** Reading and changing notification settings. */
export class PreferenceService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly unsubscribeTokens: UnsubscribeTokens,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The caller's own settings in their school. */
  async get(caller: Caller): Promise<NotificationPreferences> {
    return (await preferencesOf(this.db, caller.schoolId, [caller.userId])).get(caller.userId) ?? DEFAULT_PREFERENCES;
  }

  /** Replaces the caller's settings; text messages need a phone number. */
  async put(caller: Caller, prefs: NotificationPreferences): Promise<NotificationPreferences> {
    if (prefs.sms && prefs.phone === null) throw new ApiError('invalid-input', 'To get text messages, give a phone number in international form, e.g. +447700900123.');
    await write(this.db, caller.schoolId, caller.userId, prefs, this.now().toISOString());
    return prefs;
  }

  /**
   * What an unsubscribe link is for, without changing anything (the confirmation page a mail scanner may
   * open): the school's name, and whether e-mail is still on.
   */
  async inspect(token: string): Promise<{ schoolName: string; emailOn: boolean }> {
    const target = this.unsubscribeTokens.verify(token);
    return withSchool(target.schoolId, async () => {
      const school = await this.db.selectFrom('schools').select('name').where('id', '=', target.schoolId).executeTakeFirst();
      const prefs = (await preferencesOf(this.db, target.schoolId, [target.userId])).get(target.userId) ?? DEFAULT_PREFERENCES;
      return { schoolName: school?.name ?? 'this school', emailOn: prefs.email };
    });
  }

  /**
   * Turns e-mail off for the token's user and school (text messages are left as they are). Idempotent; a
   * user who has left the school since has nothing left to stop, which is success too.
   */
  async unsubscribe(token: string): Promise<{ schoolName: string }> {
    const target = this.unsubscribeTokens.verify(token);
    return withSchool(target.schoolId, () =>
      this.db.transaction().execute(async (trx) => {
        const school = await trx.selectFrom('schools').select('name').where('id', '=', target.schoolId).executeTakeFirst();
        const member = await trx.selectFrom('memberships').select('user_id').where('school_id', '=', target.schoolId).where('user_id', '=', target.userId).executeTakeFirst();
        if (member !== undefined) {
          const current = (await preferencesOf(trx, target.schoolId, [target.userId])).get(target.userId) ?? DEFAULT_PREFERENCES;
          await write(trx, target.schoolId, target.userId, { ...current, email: false }, this.now().toISOString());
          await recordAudit(trx, {
            action: 'notify.unsubscribe',
            subject: `user:${target.userId}`,
            schoolId: target.schoolId,
            actorUserId: target.userId,
            detail: { channel: 'email', via: 'one-click link' },
          });
        }
        return { schoolName: school?.name ?? 'this school' };
      }),
    );
  }

  /** The school's sender settings (admins). */
  async sender(caller: Caller): Promise<SenderSettings> {
    requireAdmin(caller);
    const row = await this.db.selectFrom('notification_senders').selectAll().where('school_id', '=', caller.schoolId).executeTakeFirst();
    return { displayName: row?.display_name ?? null, replyTo: row?.reply_to ?? null };
  }

  /** Replaces the school's sender settings (admins). */
  async setSender(caller: Caller, settings: SenderSettings): Promise<SenderSettings> {
    requireAdmin(caller);
    const values = { display_name: settings.displayName, reply_to: settings.replyTo, updated_at: this.now().toISOString() };
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('notification_senders')
        .values({ school_id: caller.schoolId, ...values })
        .onConflict((oc) => oc.column('school_id').doUpdateSet(values))
        .execute();
      await recordAudit(trx, { action: 'notify.sender', subject: `school:${caller.schoolId}`, schoolId: caller.schoolId, actorUserId: caller.userId, detail: { ...settings } });
    });
    return settings;
  }
}

function requireAdmin(caller: Caller): void {
  if (caller.role !== 'admin') throw new ApiError('forbidden', "Only admins can change how the school's mail is sent.");
}
