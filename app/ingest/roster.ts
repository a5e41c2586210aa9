import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { Catalog } from '../catalog/catalog.ts';
import { CONSENT_PURPOSES, type ConsentPurpose } from '../shared/domain.ts';
import { AppError, toAppError } from '../shared/errors.ts';
import type { PersonId } from '../shared/ids.ts';

/** A person read from one roster line. */
export interface RosterEntry {
  ok: true;
  /** 1-based line of the file where the row starts (the header is line 1). */
  line: number;
  name: string;
  classGroup: string | null;
  familyEmail: string | null;
  /** Only the purposes the roster has a column for; an empty cell in such a column is `false` (consent is opt-in). */
  consent: Partial<Record<ConsentPurpose, boolean>>;
}

/** A roster line that cannot be imported, and why. */
export interface RosterLineError {
  ok: false;
  line: number;
  message: string;
}

/** One data row of a roster: a person, or the reason the row is skipped. */
export type RosterRow = RosterEntry | RosterLineError;

/** What {@link RosterImporter.import} did. */
export interface RosterImportResult {
  created: number;
  updated: number;
  errors: Array<{ line: number; message: string }>;
}

type Field = 'name' | 'firstName' | 'lastName' | 'classGroup' | 'familyEmail' | ConsentPurpose;

// Header names after normalisation (lower case, `_`, `-`, `.` and runs of spaces as one space), in preference order.
const ALIASES: Record<Field, string[]> = {
  name: ['name', 'full name', 'fullname', 'student', 'student name', 'pupil', 'pupil name', 'child', 'child name'],
  firstName: ['first name', 'firstname', 'first', 'given name', 'givenname', 'given', 'forename'],
  lastName: ['last name', 'lastname', 'last', 'surname', 'family name', 'familyname', 'family'],
  classGroup: ['class', 'class group', 'classgroup', 'group', 'form', 'form group', 'tutor group', 'homeroom', 'home room'],
  familyEmail: [
    'family email',
    'guardian email',
    'parent email',
    'email',
    'e mail',
    'email address',
    'family email address',
    'guardian email address',
    'parent email address',
    'parent e mail',
    'guardian e mail',
  ],
  publish: ['publish', 'consent publish', 'photo consent', 'publish consent', 'consent to publish'],
  yearbook: ['yearbook', 'consent yearbook', 'yearbook consent', 'consent to yearbook'],
};

const GRANTED = new Set(['yes', 'y', 'true', '1', 'granted']);
const DENIED = new Set(['no', 'n', 'false', '0', 'denied', '']);
const DELIMITERS = [',', ';', '\t'] as const;
const EMAIL = /^[^\s@,;]+@[^\s@,;]+\.[^\s@,;]+$/;

/**
 * Reads a roster CSV (header row first; `,` `;` or tab, sniffed from the header; BOM, quoted fields with
 * delimiters or line breaks, and blank lines handled). Throws `invalid-input` when no column holds names or the
 * CSV is malformed; a row without a name or with an unreadable value comes back as a {@link RosterLineError}.
 */
export function parseRoster(csvText: string): RosterRow[] {
  // csv-parse miscounts lines after CRLF blank lines; one line ending makes the reported line numbers exact.
  const text = csvText.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  let records: ParsedRecord[];
  try {
    // csv-parse's types do not model the `{ record, info, raw }` shape that `info` and `raw` produce.
    records = parse(text, {
      delimiter: sniffDelimiter(text),
      info: true,
      raw: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
    }) as unknown as ParsedRecord[];
  } catch (error) {
    throw new AppError('invalid-input', `The roster is not a readable CSV file: ${(error as Error).message}`, { cause: error });
  }
  const rows = records
    .map(({ record, info, raw }) => ({ cells: record.map((cell) => cell.trim()), line: startLine(info.lines, raw) }))
    .filter((row) => row.cells.some((cell) => cell !== ''));
  const header = rows.shift();
  const columns = resolveColumns(header?.cells ?? []);
  return rows.map((row) => toRosterRow(row.cells, row.line, columns));
}

/** Imports a roster into the catalog's people and their consent, all or nothing. */
export class RosterImporter {
  private readonly catalog: Pick<Catalog, 'people' | 'transaction' | 'assertWritable'>;

  constructor(deps: { catalog: Pick<Catalog, 'people' | 'transaction' | 'assertWritable'> }) {
    this.catalog = deps.catalog;
  }

  /**
   * Adds or updates everyone in the CSV at `csvPath` (a person is matched by name and class) and records their
   * consent as set by `roster:<file name>`, in one transaction. Rows with problems are skipped and reported by line.
   */
  async import(csvPath: string): Promise<RosterImportResult> {
    let bytes: Buffer;
    try {
      bytes = await readFile(csvPath);
    } catch (error) {
      throw toAppError(error, `The roster ${csvPath}`);
    }
    const rows = parseRoster(decodeText(bytes));
    this.catalog.assertWritable();
    const setBy = `roster:${path.basename(csvPath)}`;
    const errors = rows.flatMap((row) => (row.ok ? [] : [{ line: row.line, message: row.message }]));
    const entries = rows.filter((row): row is RosterEntry => row.ok);

    let counts: { created: number; updated: number };
    try {
      counts = this.catalog.transaction(() => {
        const created = new Set<PersonId>();
        const updated = new Set<PersonId>();
        for (const entry of entries) {
          const { person, created: isNew } = this.catalog.people.upsert({
            name: entry.name,
            classGroup: entry.classGroup,
            familyEmail: entry.familyEmail,
          });
          // A name listed twice is one person: count them once, as created if this import made them.
          if (isNew) created.add(person.id);
          else if (!created.has(person.id)) updated.add(person.id);
          for (const purpose of CONSENT_PURPOSES) {
            const granted = entry.consent[purpose];
            if (granted !== undefined) this.catalog.people.setConsent(person.id, purpose, granted, setBy);
          }
        }
        return { created: created.size, updated: updated.size };
      });
    } catch (error) {
      throw toAppError(error, `The roster ${path.basename(csvPath)} could not be imported (nothing was changed)`);
    }
    return { ...counts, errors };
  }
}

interface ParsedRecord {
  record: string[];
  info: { lines: number };
  raw: string;
}

interface Columns {
  indexes: Partial<Record<Field, number>>;
}

function resolveColumns(header: string[]): Columns {
  const normalised = header.map(normaliseHeader);
  const indexes: Partial<Record<Field, number>> = {};
  for (const field of Object.keys(ALIASES) as Field[]) {
    for (const alias of ALIASES[field]) {
      const index = normalised.indexOf(alias);
      if (index >= 0) {
        indexes[field] = index;
        break;
      }
    }
  }
  if (indexes.name === undefined && indexes.firstName === undefined && indexes.lastName === undefined) {
    const found = header.filter((cell) => cell !== '').map((cell) => `"${cell}"`);
    throw new AppError(
      'invalid-input',
      `The roster has no column with the students' names. Found columns: ${found.length > 0 ? found.join(', ') : '(none)'}. ` +
        'Expected "name" (or "first name" and "last name"), and optionally "class", "family email", "publish" and "yearbook".',
    );
  }
  return { indexes };
}

function toRosterRow(cells: string[], line: number, { indexes }: Columns): RosterRow {
  const cell = (field: Field): string => {
    const index = indexes[field];
    return index === undefined ? '' : (cells[index] ?? '');
  };
  const problems: string[] = [];
  const fullName = cell('name') || [cell('firstName'), cell('lastName')].filter(Boolean).join(' ');
  const name = fullName.normalize('NFC').replace(/\s+/g, ' ').trim();
  if (!name) problems.push('the name is empty');

  const email = cell('familyEmail');
  if (email && !EMAIL.test(email)) problems.push(`"${email}" is not one email address`);

  const consent: Partial<Record<ConsentPurpose, boolean>> = {};
  for (const purpose of CONSENT_PURPOSES) {
    if (indexes[purpose] === undefined) continue;
    const value = cell(purpose);
    const lower = value.toLowerCase();
    if (GRANTED.has(lower)) consent[purpose] = true;
    else if (DENIED.has(lower)) consent[purpose] = false;
    else problems.push(`"${value}" is not a ${purpose} consent value (use yes or no; empty means no)`);
  }

  if (problems.length > 0) return { ok: false, line, message: capitalise(problems.join('; ')) };
  const classGroup = cell('classGroup').normalize('NFC').replace(/\s+/g, ' ');
  return { ok: true, line, name, classGroup: classGroup || null, familyEmail: email || null, consent };
}

/** The delimiter that splits the header line most, counting outside quotes; `,` when none does. */
function sniffDelimiter(text: string): string {
  const counts = new Map<string, number>(DELIMITERS.map((delimiter) => [delimiter, 0]));
  let inQuotes = false;
  for (const char of text.replace(/^\n+/, '')) {
    if (char === '"') inQuotes = !inQuotes;
    else if (char === '\n' && !inQuotes) break;
    else if (!inQuotes && counts.has(char)) counts.set(char, counts.get(char)! + 1);
  }
  let best: string = ',';
  for (const [delimiter, count] of counts) if (count > counts.get(best)!) best = delimiter;
  return best;
}

/** csv-parse reports the line a record ends on; subtract the line breaks inside it to get where it starts. */
function startLine(endLine: number, raw: string): number {
  const body = raw.replace(/^\n+/, '').replace(/\n$/, '');
  return endLine - (body.match(/\n/g)?.length ?? 0);
}

function normaliseHeader(cell: string): string {
  return cell
    .normalize('NFC')
    .toLowerCase()
    .replace(/[\s_\-.]+/g, ' ')
    .trim();
}

/** Rosters come from Excel as UTF-8 (with or without BOM), UTF-16 ("Unicode text") or Windows-1252 ("CSV"). */
function decodeText(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder('windows-1252').decode(bytes);
  }
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
