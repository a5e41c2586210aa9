import { create } from 'zustand';
import type { AdminAccess } from '../../../app/ipc/admin-contract.ts';
import { asCallError, type CallError } from '../bridge/keepsake.ts';
import { call } from '../bridge/keepsake.ts';

/** A part of the admin screen. */
export type AdminSection = 'events' | 'people' | 'users' | 'storage' | 'audit';

interface AdminState {
  /** Null until asked; the Admin tab shows only when the role is `admin`. */
  access: AdminAccess | null;
  section: AdminSection;
  error: CallError | null;
  loadAccess(): Promise<void>;
  show(section: AdminSection): void;
}

/** Whether the signed-in account administers the linked school (the service still checks every call). */
export const isAdmin = (access: AdminAccess | null): boolean => access?.role === 'admin';

/** The admin screen's frame: who is signed in with which role, and the section shown. */
export const useAdminStore = create<AdminState>((set) => ({
  access: null,
  section: 'events',
  error: null,
  async loadAccess() {
    try {
      set({ access: await call('admin:access', {}), error: null });
    } catch (error) {
      set({ access: { school: null, role: null }, error: asCallError(error) });
    }
  },
  show(section) {
    set({ section });
  },
}));
