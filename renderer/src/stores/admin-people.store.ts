import { create } from 'zustand';
import type { AdminConsentPurpose, AdminPeople, ConsentChangeView, FamilyAccessCode, RosterUpload } from '../../../app/ipc/admin-contract.ts';
import { asCallError, call, type CallError } from '../bridge/keepsake.ts';

interface AdminPeopleState {
  people: AdminPeople | null;
  error: CallError | null;
  busy: 'loading' | 'importing' | 'consent' | 'code' | null;
  /** What the last access-code action did, as a sentence. */
  message: string | null;
  /** A family's new access code: held only while the screen shows it, never saved. */
  accessCode: (FamilyAccessCode & { familyName: string }) | null;
  /** The last roster import: what was sent, or the lines to fix. */
  roster: RosterUpload | null;
  /** The student whose consent history is open, and it once read. */
  history: { studentId: string; name: string; changes: ConsentChangeView[] | null } | null;
  load(): Promise<void>;
  addClass(name: string): Promise<boolean>;
  setConsent(studentId: string, purpose: AdminConsentPurpose, granted: boolean): Promise<void>;
  openHistory(studentId: string): Promise<void>;
  closeHistory(): void;
  importRoster(csv: string): Promise<void>;
  /** Makes a family's new access code (the old one stops working) and shows it. */
  newAccessCode(familyId: string): Promise<void>;
  revokeAccessCode(familyId: string): Promise<void>;
  /** Hides the shown code; nothing keeps it. */
  forgetAccessCode(): void;
  dismiss(): void;
}

/** The school's classes, students and their consent, and families, on the sync service. */
export const useAdminPeopleStore = create<AdminPeopleState>((set, get) => {
  const run = async (busy: AdminPeopleState['busy'], work: () => Promise<void>): Promise<boolean> => {
    set({ busy, error: null });
    try {
      await work();
      return true;
    } catch (error) {
      set({ error: asCallError(error) });
      return false;
    } finally {
      set({ busy: null });
    }
  };
  return {
    people: null,
    error: null,
    busy: null,
    roster: null,
    history: null,
    message: null,
    accessCode: null,
    async load() {
      await run('loading', async () => set({ people: await call('admin:people', {}) }));
    },
    addClass(name) {
      return run('loading', async () => {
        await call('admin:createClass', { name });
        set({ people: await call('admin:people', {}) });
      });
    },
    async setConsent(studentId, purpose, granted) {
      await run('consent', async () => {
        const consent = await call('admin:setConsent', { studentId, purpose, granted });
        const people = get().people;
        if (people) set({ people: { ...people, students: people.students.map((s) => (s.id === studentId ? { ...s, consent } : s)) } });
        const open = get().history;
        if (open?.studentId === studentId) set({ history: { ...open, changes: (await call('admin:consentHistory', { studentId })).changes } });
      });
    },
    async openHistory(studentId) {
      const name = get().people?.students.find((s) => s.id === studentId)?.name ?? 'Student';
      set({ history: { studentId, name, changes: null } });
      await run(null, async () => {
        const { changes } = await call('admin:consentHistory', { studentId });
        // Another drawer may have opened meanwhile.
        if (get().history?.studentId === studentId) set({ history: { studentId, name, changes } });
      });
    },
    closeHistory() {
      set({ history: null });
    },
    async importRoster(csv) {
      await run('importing', async () => {
        const roster = await call('admin:importRoster', { lines: csv.split(/\r\n|\r|\n/) });
        set({ roster });
        if (roster.sent) set({ people: await call('admin:people', {}) });
      });
    },
    async newAccessCode(familyId) {
      const familyName = get().people?.families.find((f) => f.id === familyId)?.name ?? 'the family';
      set({ accessCode: null, message: null });
      await run('code', async () => set({ accessCode: { ...(await call('admin:familyAccessCode', { familyId })), familyName } }));
    },
    async revokeAccessCode(familyId) {
      const familyName = get().people?.families.find((f) => f.id === familyId)?.name ?? 'the family';
      set({ message: null });
      await run('code', async () => {
        await call('admin:revokeFamilyAccessCode', { familyId });
        set({ message: `${familyName} has no access code now: any code given to them no longer works.` });
        if (get().accessCode?.familyId === familyId) set({ accessCode: null });
      });
    },
    forgetAccessCode() {
      set({ accessCode: null });
    },
    dismiss() {
      set({ error: null });
    },
  };
});
