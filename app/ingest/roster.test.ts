import { describe, expect, it } from 'vitest';
import { isAppError } from '../shared/errors.ts';
import { parseRoster } from './roster.ts';

describe(parseRoster.name, () => {
  it('reads columns by any of their names, in any case', () => {
    const rows = parseRoster(
      'Student Name,Homeroom,Guardian Email,Photo Consent,Consent_Yearbook\nAna Lima,3B,ana.family@example.org,yes,no\n',
    );
    expect(rows).toEqual([
      {
        ok: true,
        line: 2,
        name: 'Ana Lima',
        classGroup: '3B',
        familyEmail: 'ana.family@example.org',
        consent: { publish: true, yearbook: false },
      },
    ]);
  });

  it('joins first and last name columns', () => {
    const rows = parseRoster('given,family,form\nAna,Lima,3B\nBo,,3B\n');
    expect(rows.map((row) => row.ok && row.name)).toEqual(['Ana Lima', 'Bo']);
  });

  it('prefers the name column over first and last names', () => {
    const rows = parseRoster('first name,last name,name\nAna,Lima,Ana Lima-Souza\n');
    expect(rows[0]).toMatchObject({ name: 'Ana Lima-Souza' });
  });

  it('reads every accepted consent value and denies an empty cell', () => {
    const values = ['yes', 'no', 'Y', 'n', 'TRUE', 'false', '1', '0', 'granted', 'Denied', ''];
    const csv = ['name,publish', ...values.map((value, i) => `P${i},${value}`)].join('\n');
    const consents = parseRoster(csv).map((row) => row.ok && row.consent.publish);
    expect(consents).toEqual([true, false, true, false, true, false, true, false, true, false, false]);
  });

  it('leaves out consent for a purpose the roster has no column for', () => {
    const rows = parseRoster('name,consent_publish\nAna Lima,yes\n');
    expect(rows[0]).toMatchObject({ consent: { publish: true } });
    expect(rows[0]!.ok && 'yearbook' in rows[0]!.consent).toBe(false);
  });

  it('sniffs a semicolon delimiter, as European Excel writes', () => {
    const rows = parseRoster('Name;Class;Email;Publish\n"Lima, Ana";3B;ana@example.org;ja?\nBo Chen;4A;;yes\n');
    expect(rows).toEqual([
      { ok: false, line: 2, message: '"ja?" is not a publish consent value (use yes or no; empty means no)' },
      { ok: true, line: 3, name: 'Bo Chen', classGroup: '4A', familyEmail: null, consent: { publish: true } },
    ]);
  });

  it('sniffs a tab delimiter', () => {
    expect(parseRoster('name\tclass\nAna Lima\t3B\n')).toMatchObject([{ name: 'Ana Lima', classGroup: '3B' }]);
  });

  it('drops a byte-order mark before the header', () => {
    expect(parseRoster('\uFEFFname,class\nAna Lima,3B\n')).toMatchObject([{ ok: true, name: 'Ana Lima' }]);
  });

  it('keeps commas and line breaks inside quoted fields and counts lines from where each row starts', () => {
    const csv = 'name,class,email\r\n"Lima, Ana","3B\r\nafternoon",a@example.org\r\n\r\n\r\nBo Chen,4A,\r\n,4A,x@example.org\r\n';
    expect(parseRoster(csv)).toEqual([
      { ok: true, line: 2, name: 'Lima, Ana', classGroup: '3B afternoon', familyEmail: 'a@example.org', consent: {} },
      { ok: true, line: 6, name: 'Bo Chen', classGroup: '4A', familyEmail: null, consent: {} },
      { ok: false, line: 7, message: 'The name is empty' },
    ]);
  });

  it('reports a row without a name and a bad email by line, and reads the rest', () => {
    const rows = parseRoster('name,class,email\nAna Lima,3B,\n   ,3B,\nBo Chen,4A,not-an-email\nCara Diaz,4A,cara@example.org\n');
    expect(rows.map((row) => (row.ok ? row.name : `${row.line}: ${row.message}`))).toEqual([
      'Ana Lima',
      '3: The name is empty',
      '4: "not-an-email" is not one email address',
      'Cara Diaz',
    ]);
  });

  it('normalises names to NFC and single spaces', () => {
    expect(parseRoster('name\n  Jose\u0301   Lima \n')).toMatchObject([{ name: 'Jos\u00e9 Lima' }]);
  });

  it('throws invalid-input naming the columns it found when there is no name column', () => {
    let error: unknown;
    try {
      parseRoster('Class,Email\n3B,a@example.org\n');
    } catch (caught) {
      error = caught;
    }
    expect(isAppError(error, 'invalid-input')).toBe(true);
    expect((error as Error).message).toContain('Found columns: "Class", "Email"');
    expect((error as Error).message).toContain('Expected "name" (or "first name" and "last name")');
  });

  it('throws invalid-input for an empty file and for an unclosed quote', () => {
    expect(() => parseRoster('')).toThrow(/Found columns: \(none\)/);
    expect(() => parseRoster('name\n"Ana Lima\n')).toThrow(/not a readable CSV/);
  });
});
