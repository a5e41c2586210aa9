import { writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/catalog.ts';
import { tempDir, type TempDir } from '../test/fixtures.ts';
import { RosterImporter } from './roster.ts';

let dir: TempDir;
let catalog: Catalog;

beforeEach(async () => {
  dir = await tempDir('keepsake-roster-');
  catalog = Catalog.open(dir.path);
});

afterEach(async () => {
  catalog.close();
  await dir.cleanup();
});

async function rosterFile(name: string, content: string | Buffer): Promise<string> {
  const file = dir.join(name);
  await writeFile(file, content);
  return file;
}

const summary = (): Array<[string, string | null, string | null, boolean, boolean]> =>
  catalog.people.list().map((person) => [person.name, person.classGroup, person.familyEmail, person.consent.publish, person.consent.yearbook]);

describe(RosterImporter.name, () => {
  it('creates people with their consent, denying what the roster leaves empty', async () => {
    const file = await rosterFile(
      'class-3b.csv',
      'name,class,family email,publish,yearbook\nAna Lima,3B,lima@example.org,yes,\nBo Chen,3B,,,yes\nCara Diaz,3B,,,\n',
    );

    const result = await new RosterImporter({ catalog }).import(file);

    expect(result).toEqual({ created: 3, updated: 0, errors: [] });
    expect(summary()).toEqual([
      ['Ana Lima', '3B', 'lima@example.org', true, false],
      ['Bo Chen', '3B', null, false, true],
      ['Cara Diaz', '3B', null, false, false],
    ]);
  });

  it('updates people on re-import instead of duplicating them', async () => {
    const importer = new RosterImporter({ catalog });
    await importer.import(await rosterFile('roster.csv', 'name,class,email,publish\nAna Lima,3B,,yes\nBo Chen,3B,,no\n'));

    const result = await importer.import(
      await rosterFile('roster-v2.csv', 'name,class,email,publish\nana lima,3B,lima@example.org,no\nBo Chen,3B,,yes\nCara Diaz,3B,,yes\n'),
    );

    expect(result).toEqual({ created: 1, updated: 2, errors: [] });
    expect(summary()).toEqual([
      ['Ana Lima', '3B', 'lima@example.org', false, false],
      ['Bo Chen', '3B', null, true, false],
      ['Cara Diaz', '3B', null, true, false],
    ]);
  });

  it('keeps consent given elsewhere when the roster has no column for it', async () => {
    const { person } = catalog.people.upsert({ name: 'Ana Lima', classGroup: '3B' });
    catalog.people.setConsent(person.id, 'yearbook', true, 'admin@example.org');

    await new RosterImporter({ catalog }).import(await rosterFile('publish-only.csv', 'name,class,publish\nAna Lima,3B,yes\n'));

    expect(catalog.people.get(person.id)?.consent).toEqual({ publish: true, yearbook: true });
  });

  it('reports bad rows with their line numbers and imports the others', async () => {
    const file = await rosterFile('roster.csv', 'name,class,publish\nAna Lima,3B,yes\n,3B,yes\nBo Chen,3B,perhaps\n\nCara Diaz,3B,no\n');

    const result = await new RosterImporter({ catalog }).import(file);

    expect(result).toEqual({
      created: 2,
      updated: 0,
      errors: [
        { line: 3, message: 'The name is empty' },
        { line: 4, message: '"perhaps" is not a publish consent value (use yes or no; empty means no)' },
      ],
    });
    expect(summary().map(([name]) => name)).toEqual(['Ana Lima', 'Cara Diaz']);
  });

  it('reads an Excel export with a BOM, semicolons and a line break inside a quoted field', async () => {
    const csv = 'Name;Class;Guardian Email;Photo Consent;Yearbook\r\n"Lima,\r\nAna";3B;lima@example.org;Y;N\r\nBo Chen;3B;;granted;denied\r\n';
    const file = await rosterFile('excel.csv', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(csv, 'utf8')]));

    const result = await new RosterImporter({ catalog }).import(file);

    expect(result).toEqual({ created: 2, updated: 0, errors: [] });
    expect(summary()).toEqual([
      ['Bo Chen', '3B', null, true, false],
      ['Lima, Ana', '3B', 'lima@example.org', true, false],
    ]);
  });

  it('reads UTF-16 and Windows-1252 rosters', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('name,class\nJosé Lima,3B\n', 'utf16le')]);
    const cp1252 = Buffer.from('name,class\nInês Sá,3B\n', 'latin1');
    const importer = new RosterImporter({ catalog });

    await importer.import(await rosterFile('unicode.csv', utf16));
    await importer.import(await rosterFile('ansi.csv', cp1252));

    expect(summary().map(([name]) => name)).toEqual(['Inês Sá', 'José Lima']);
  });

  it('leaves nothing half-imported when the catalog fails mid-way', async () => {
    let calls = 0;
    const failing = {
      people: {
        upsert: catalog.people.upsert.bind(catalog.people),
        setConsent: (...args: Parameters<typeof catalog.people.setConsent>) => {
          if (++calls === 3) throw new Error('disk I/O error');
          catalog.people.setConsent(...args);
        },
      } as unknown as Catalog['people'],
      transaction: catalog.transaction.bind(catalog),
      assertWritable: catalog.assertWritable.bind(catalog),
    };
    const file = await rosterFile('roster.csv', 'name,publish\nAna Lima,yes\nBo Chen,yes\nCara Diaz,yes\n');

    await expect(new RosterImporter({ catalog: failing }).import(file)).rejects.toMatchObject({
      message: expect.stringContaining('nothing was changed'),
    });
    expect(catalog.people.list()).toEqual([]);
  });

  it('imports nothing from a file without a name column', async () => {
    const file = await rosterFile('wrong.csv', 'pupil id,class\n17,3B\n');
    await expect(new RosterImporter({ catalog }).import(file)).rejects.toMatchObject({ code: 'invalid-input' });
    expect(catalog.people.list()).toEqual([]);
  });

  it('throws not-found for a roster that does not exist', async () => {
    await expect(new RosterImporter({ catalog }).import(dir.join('missing.csv'))).rejects.toMatchObject({
      code: 'not-found',
      message: expect.stringContaining('missing.csv'),
    });
  });
});
