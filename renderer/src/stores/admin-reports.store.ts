import { create } from 'zustand';
import type { AdminStorage, AuditEntryView } from '../../../app/ipc/admin-contract.ts';
import { asCallError, call, type CallError } from '../bridge/keepsake.ts';

/** The audit log's filters as the form holds them (blank: any). */
export interface AuditFilterForm {
  action: string;
  actor: string;
  from: string;
  to: string;
}

/** Rows of the audit log one page holds. */
export const AUDIT_PAGE_SIZE = 50;

interface AdminReportsState {
  storage: AdminStorage | null;
  storageError: CallError | null;
  filters: AuditFilterForm;
  /** The pages read so far under the current filters. */
  entries: AuditEntryView[] | null;
  nextCursor: string | null;
  auditError: CallError | null;
  busy: boolean;
  loadStorage(): Promise<void>;
  /** Reads the first page under `filters`. */
  filter(filters: AuditFilterForm): Promise<void>;
  more(): Promise<void>;
}

/** The audit call's input from the form: blank fields are left out; an action list is comma separated. */
export function auditInput(filters: AuditFilterForm, cursor: string | null) {
  const actions = filters.action.split(',').map((a) => a.trim()).filter((a) => a !== '');
  return {
    limit: AUDIT_PAGE_SIZE,
    ...(actions.length > 0 ? { actions } : {}),
    ...(filters.actor ? { actor: filters.actor } : {}),
    ...(filters.from ? { from: filters.from } : {}),
    ...(filters.to ? { to: filters.to } : {}),
    ...(cursor ? { cursor } : {}),
  };
}

/** Storage and analytics from the service, and the audit log with its filters and pages. */
export const useAdminReportsStore = create<AdminReportsState>((set, get) => ({
  storage: null,
  storageError: null,
  filters: { action: '', actor: '', from: '', to: '' },
  entries: null,
  nextCursor: null,
  auditError: null,
  busy: false,
  async loadStorage() {
    try {
      set({ storage: await call('admin:storage', {}), storageError: null });
    } catch (error) {
      set({ storageError: asCallError(error) });
    }
  },
  async filter(filters) {
    set({ filters, busy: true, auditError: null });
    try {
      const page = await call('admin:audit', auditInput(filters, null));
      set({ entries: page.entries, nextCursor: page.nextCursor });
    } catch (error) {
      set({ auditError: asCallError(error), entries: null, nextCursor: null });
    } finally {
      set({ busy: false });
    }
  },
  async more() {
    const { filters, nextCursor, entries } = get();
    if (!nextCursor) return;
    set({ busy: true, auditError: null });
    try {
      const page = await call('admin:audit', auditInput(filters, nextCursor));
      set({ entries: [...(entries ?? []), ...page.entries], nextCursor: page.nextCursor });
    } catch (error) {
      set({ auditError: asCallError(error) });
    } finally {
      set({ busy: false });
    }
  },
}));
