import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DATABASES } from '../test/databases.ts';
import { TEST_SCRYPT, startHarness, type Harness } from '../test/harness.ts';
import { createSchool, hasNoSchool } from './schools.ts';

describe.each(TEST_DATABASES)('school set-up on $name', (target) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(target);
  });
  afterAll(() => h.close());

  it('creates a school with its admin, who can then sign in', async () => {
    expect(await hasNoSchool(h.db.kysely)).toBe(true);
    const made = await createSchool(
      h.db.kysely,
      { name: 'Greenfield Primary', slug: 'greenfield', adminEmail: 'Head@Greenfield.test', adminPassword: 'first password' },
      TEST_SCRYPT,
    );
    expect(made.createdUser).toBe(true);
    expect(await hasNoSchool(h.db.kysely)).toBe(false);
    const session = await h.signIn('head@greenfield.test', 'first password');
    expect(session.memberships).toEqual([{ schoolId: made.schoolId, schoolName: 'Greenfield Primary', schoolSlug: 'greenfield', role: 'admin' }]);
    expect(await h.audit('school.create')).toHaveLength(1);
  });

  it('makes an existing user admin of a second school without touching their password', async () => {
    const made = await createSchool(
      h.db.kysely,
      { name: 'Riverside', slug: 'riverside', adminEmail: 'head@greenfield.test', adminPassword: 'ignored password' },
      TEST_SCRYPT,
    );
    expect(made.createdUser).toBe(false);
    const session = await h.signIn('head@greenfield.test', 'first password');
    expect(session.memberships.map((m) => m.schoolSlug)).toEqual(['greenfield', 'riverside']);
  });

  it('refuses a taken slug, a bad slug and a bad email, and leaves nothing half-made', async () => {
    const base = { name: 'X', adminPassword: 'whatever pw' };
    await expect(createSchool(h.db.kysely, { ...base, slug: 'greenfield', adminEmail: 'new@x.test' }, TEST_SCRYPT)).rejects.toMatchObject({ code: 'conflict' });
    await expect(createSchool(h.db.kysely, { ...base, slug: 'Bad Slug', adminEmail: 'new@x.test' }, TEST_SCRYPT)).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(createSchool(h.db.kysely, { ...base, slug: 'fine', adminEmail: 'nope' }, TEST_SCRYPT)).rejects.toMatchObject({ code: 'invalid-input' });
    expect(await h.db.kysely.selectFrom('users').select('email').where('email', '=', 'new@x.test').execute()).toEqual([]);
  });
});
