import type { Engine } from '../engine.ts';
import { SchoolAdmin } from '../sync/school-admin.ts';
import { linkedSchool } from '../sync/school-link.ts';
import type { SyncClient } from '../sync/sync-client.ts';
import type { ADMIN_CALLS } from './admin-contract.ts';
import type { Input, Outputs } from './contract.ts';

type AdminMethod = keyof typeof ADMIN_CALLS;
type AdminHandlers = { [M in AdminMethod]: (input: Input<M>) => Promise<Outputs[M]> | Outputs[M] };

/** Drops the keys a caller left out, so the service is sent only what changes. */
function defined<T extends Record<string, unknown>>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/**
 * The school admin's channels behind the contract, over the same signed-in {@link SyncClient} as the
 * school connection (one client, so its rotating refresh token is never spent twice).
 */
export function createAdminHandlers(engine: Engine, client: SyncClient): AdminHandlers {
  const admin = new SchoolAdmin({ client, linkedSchool: () => (engine.catalog.readOnly ? null : linkedSchool(engine.catalog)) });
  return {
    'admin:access': () => admin.access(),
    'admin:events': async () => ({ events: await admin.events() }),
    'admin:createEvent': ({ name, startsOn, ...rest }) => admin.createEvent({ name, startsOn, ...defined(rest) }),
    'admin:updateEvent': ({ eventId, version, ...changes }) => admin.updateEvent(eventId, version, defined(changes)),
    'admin:people': () => admin.people(),
    'admin:createClass': ({ name }) => admin.createClass(name),
    'admin:setConsent': ({ studentId, purpose, granted }) => admin.setConsent(studentId, purpose, granted),
    'admin:consentHistory': async ({ studentId }) => ({ changes: await admin.consentHistory(studentId) }),
    'admin:importRoster': ({ lines }) => admin.importRoster(lines.join('\n')),
    'admin:familyAccessCode': ({ familyId }) => admin.familyAccessCode(familyId),
    'admin:revokeFamilyAccessCode': async ({ familyId }) => {
      await admin.revokeFamilyAccessCode(familyId);
      return { revoked: true };
    },
    'admin:invites': async () => ({ invites: await admin.invites() }),
    'admin:invite': ({ email, role, familyId }) => admin.invite(email, role, familyId),
    'admin:resendInvite': ({ inviteId }) => admin.resendInvite(inviteId),
    'admin:revokeInvite': async ({ inviteId }) => {
      await admin.revokeInvite(inviteId);
      return { revoked: true };
    },
    'admin:members': async () => ({ members: await admin.members() }),
    'admin:changeRole': ({ userId, role }) => admin.changeRole(userId, role),
    'admin:removeMember': async ({ userId }) => {
      await admin.removeMember(userId);
      return { removed: true };
    },
    'admin:storage': (range) => admin.storage(defined(range)),
    'admin:audit': ({ limit, ...filters }) => admin.audit({ limit, ...defined(filters) }),
  };
}
