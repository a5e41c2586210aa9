import { useEffect } from 'react';
import { AuditSection } from '../components/admin/AuditSection.tsx';
import { EventsSection } from '../components/admin/EventsSection.tsx';
import { PeopleSection } from '../components/admin/PeopleSection.tsx';
import { StorageSection } from '../components/admin/StorageSection.tsx';
import { UsersSection } from '../components/admin/UsersSection.tsx';
import { ErrorNote } from '../components/ErrorNote.tsx';
import { isAdmin, useAdminStore, type AdminSection } from '../stores/admin.store.ts';

const SECTIONS: Array<{ key: AdminSection; label: string }> = [
  { key: 'events', label: 'School events' },
  { key: 'people', label: 'People' },
  { key: 'users', label: 'Users and roles' },
  { key: 'storage', label: 'Storage and analytics' },
  { key: 'audit', label: 'Audit log' },
];

/** The school admin's screen: events, people, users and roles, storage and analytics, the audit log. */
export function AdminView(): React.JSX.Element {
  const access = useAdminStore((s) => s.access);
  const error = useAdminStore((s) => s.error);
  const section = useAdminStore((s) => s.section);
  const show = useAdminStore((s) => s.show);
  const loadAccess = useAdminStore((s) => s.loadAccess);
  useEffect(() => {
    if (useAdminStore.getState().access === null) void loadAccess();
  }, [loadAccess]);

  if (error) return <section className="screen"><ErrorNote error={error} /></section>;
  if (access && !isAdmin(access)) {
    return (
      <section className="screen" aria-label="Admin">
        <h1>Admin</h1>
        <p className="muted">These screens are for the school’s admins; {access.school ? `this account is ${access.role ?? 'not a member'} at ${access.school.name}.` : 'sign in with an admin account in Settings.'}</p>
      </section>
    );
  }
  return (
    <section className="screen admin" aria-label="Admin">
      <h1>{access?.school ? `Admin · ${access.school.name}` : 'Admin'}</h1>
      <nav className="admin-sections" aria-label="Admin sections">
        {SECTIONS.map((s) => (
          <button key={s.key} type="button" className={section === s.key ? 'tab active' : 'tab'} aria-current={section === s.key ? 'page' : undefined} onClick={() => show(s.key)}>
            {s.label}
          </button>
        ))}
      </nav>
      {section === 'events' ? <EventsSection /> : null}
      {section === 'people' ? <PeopleSection /> : null}
      {section === 'users' ? <UsersSection /> : null}
      {section === 'storage' ? <StorageSection /> : null}
      {section === 'audit' ? <AuditSection /> : null}
    </section>
  );
}
