/**
 * The audit trail: who did what to which thing, when. Append-only by construction: this module is
 * the only writer and exposes no update or delete.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './db/schema.ts';

/** One entry. `subject` names the thing acted on, e.g. `event:<id>` or `user:<email>`. */
export interface AuditEntry {
  action: string;
  subject: string;
  schoolId?: string | null;
  actorUserId?: string | null;
  detail?: Record<string, unknown>;
}

/** Appends one entry; pass the transaction when the audited change runs in one, so both commit or neither. */
export async function recordAudit(db: Kysely<Database> | Transaction<Database>, entry: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      id: randomUUID(),
      school_id: entry.schoolId ?? null,
      actor_user_id: entry.actorUserId ?? null,
      action: entry.action,
      subject: entry.subject,
      detail: JSON.stringify(entry.detail ?? {}),
      at: new Date().toISOString(),
    })
    .execute();
}
