import { describe, expect, it } from 'vitest';
import { AppError } from '../shared/errors.ts';
import { MAX_CLAUSES, MAX_QUERY_LENGTH, parseQuery } from './query-parser.ts';

function errorOf(text: string): AppError {
  try {
    parseQuery(text);
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error(`parseQuery(${JSON.stringify(text)}) did not throw`);
}

describe(parseQuery.name, () => {
  it('returns no clauses for an empty or blank query', () => {
    expect(parseQuery('')).toEqual({ clauses: [] });
    expect(parseQuery('   \t ')).toEqual({ clauses: [] });
  });

  it('reads free words as prefix words', () => {
    expect(parseQuery('soccer  final')).toEqual({
      clauses: [
        { field: 'text', value: 'soccer', phrase: false, negated: false },
        { field: 'text', value: 'final', phrase: false, negated: false },
      ],
    });
  });

  it('reads a quoted phrase as one exact phrase', () => {
    expect(parseQuery('"Ana Lima" relay')).toEqual({
      clauses: [
        { field: 'text', value: 'Ana Lima', phrase: true, negated: false },
        { field: 'text', value: 'relay', phrase: false, negated: false },
      ],
    });
  });

  it('reads tag, person, event and camera filters, quoted or not', () => {
    expect(parseQuery('tag:final tag:"under 11" event:"Sports Day" person:"Ana Lima" camera:canon').clauses).toEqual([
      { field: 'tag', value: 'final', negated: false },
      { field: 'tag', value: 'under 11', negated: false },
      { field: 'event', value: 'Sports Day', negated: false },
      { field: 'person', value: 'Ana Lima', negated: false },
      { field: 'camera', value: 'canon', negated: false },
    ]);
  });

  it('accepts filter keys in any case', () => {
    expect(parseQuery('TAG:final Is:Pick').clauses).toEqual([
      { field: 'tag', value: 'final', negated: false },
      { field: 'is', value: 'pick', negated: false },
    ]);
  });

  it('reads every is: value', () => {
    expect(parseQuery('is:pick is:reject is:video is:photo is:raw is:unreadable is:missing').clauses).toEqual(
      ['pick', 'reject', 'video', 'photo', 'raw', 'unreadable', 'missing'].map((value) => ({ field: 'is', value, negated: false })),
    );
  });

  it('turns every rating comparison into an inclusive star range', () => {
    const range = (text: string) => parseQuery(text).clauses[0];
    expect(range('rating>=4')).toEqual({ field: 'rating', min: 4, max: 5 });
    expect(range('rating:5')).toEqual({ field: 'rating', min: 5, max: 5 });
    expect(range('rating=0')).toEqual({ field: 'rating', min: 0, max: 0 });
    expect(range('rating>3')).toEqual({ field: 'rating', min: 4, max: 5 });
    expect(range('rating<=2')).toEqual({ field: 'rating', min: 0, max: 2 });
    expect(range('rating<3')).toEqual({ field: 'rating', min: 0, max: 2 });
  });

  it('reads a year, a month and a day as half-open ranges of wall-clock time', () => {
    expect(parseQuery('date:2026').clauses).toEqual([{ field: 'date', from: Date.UTC(2026, 0, 1), to: Date.UTC(2027, 0, 1) }]);
    expect(parseQuery('date:2026-05').clauses).toEqual([{ field: 'date', from: Date.UTC(2026, 4, 1), to: Date.UTC(2026, 5, 1) }]);
    expect(parseQuery('date:2026-12').clauses).toEqual([{ field: 'date', from: Date.UTC(2026, 11, 1), to: Date.UTC(2027, 0, 1) }]);
    expect(parseQuery('date:2026-05-14').clauses).toEqual([{ field: 'date', from: Date.UTC(2026, 4, 14), to: Date.UTC(2026, 4, 15) }]);
    expect(parseQuery('date:2024-02-29').clauses).toEqual([{ field: 'date', from: Date.UTC(2024, 1, 29), to: Date.UTC(2024, 2, 1) }]);
  });

  it('reads a date range including its last day, and open-ended ranges', () => {
    expect(parseQuery('date:2026-05-01..2026-05-14').clauses).toEqual([
      { field: 'date', from: Date.UTC(2026, 4, 1), to: Date.UTC(2026, 4, 15) },
    ]);
    expect(parseQuery('date:2025..2026-03').clauses).toEqual([{ field: 'date', from: Date.UTC(2025, 0, 1), to: Date.UTC(2026, 3, 1) }]);
    expect(parseQuery('date:2026-05..').clauses).toEqual([{ field: 'date', from: Date.UTC(2026, 4, 1), to: null }]);
    expect(parseQuery('date:..2026-05-14').clauses).toEqual([{ field: 'date', from: null, to: Date.UTC(2026, 4, 15) }]);
  });

  it('negates words, phrases and filters with a leading minus', () => {
    expect(parseQuery('-rain -"bad light" -tag:blurry -is:reject -person:"Ana Lima"').clauses).toEqual([
      { field: 'text', value: 'rain', phrase: false, negated: true },
      { field: 'text', value: 'bad light', phrase: true, negated: true },
      { field: 'tag', value: 'blurry', negated: true },
      { field: 'is', value: 'reject', negated: true },
      { field: 'person', value: 'Ana Lima', negated: true },
    ]);
  });

  it('keeps a lone minus, a hyphenated word and FTS operators as plain text', () => {
    expect(parseQuery('- t-shirt AND NEAR( * a"b 10:30').clauses).toEqual(
      ['-', 't-shirt', 'AND', 'NEAR(', '*', 'a"b', '10:30'].map((value) => ({ field: 'text', value, phrase: false, negated: false })),
    );
  });

  it('reads a quoted key:value as a phrase, the way to search for text that looks like a filter', () => {
    expect(parseQuery('"foo:bar"').clauses).toEqual([{ field: 'text', value: 'foo:bar', phrase: true, negated: false }]);
  });

  it('reads the brief example', () => {
    expect(parseQuery('soccer tag:final person:"Ana Lima" rating>=4 is:video date:2026-05').clauses).toEqual([
      { field: 'text', value: 'soccer', phrase: false, negated: false },
      { field: 'tag', value: 'final', negated: false },
      { field: 'person', value: 'Ana Lima', negated: false },
      { field: 'rating', min: 4, max: 5 },
      { field: 'is', value: 'video', negated: false },
      { field: 'date', from: Date.UTC(2026, 4, 1), to: Date.UTC(2026, 5, 1) },
    ]);
  });

  it('drops an empty quoted phrase', () => {
    expect(parseQuery('"" relay').clauses).toEqual([{ field: 'text', value: 'relay', phrase: false, negated: false }]);
  });

  describe('errors', () => {
    it.each([
      ['rating>=9', 'rating must be 0–5, got 9.'],
      ['rating:6', 'rating must be 0–5, got 6.'],
      ['rating>5', 'rating>5 matches nothing: ratings go from 0 to 5.'],
      ['rating<0', 'rating<0 matches nothing: ratings go from 0 to 5.'],
      ['rating>=four', 'rating needs a whole number from 0 to 5 after >=, e.g. rating>=4; got "four".'],
      ['rating>=', 'rating needs a whole number from 0 to 5 after >=, e.g. rating>=4; got "".'],
      ['rating:"4"', 'rating needs a whole number from 0 to 5 after :, e.g. rating>=4; got ""4"".'],
      ['-rating>=4', '-rating>=4: a rating cannot be negated; use the opposite comparison instead, e.g. rating<=3 for -rating>=4.'],
      ['date:2026-13', 'date: the month must be 01–12, got 13 in 2026-13.'],
      ['date:2026-00', 'date: the month must be 01–12, got 00 in 2026-00.'],
      ['date:2026-02-30', 'date: 2026-02 has days 01–28, got 30 in 2026-02-30.'],
      ['date:2026-04-31', 'date: 2026-04 has days 01–30, got 31 in 2026-04-31.'],
      ['date:1850', 'date: the year must be 1900–2100, got 1850.'],
      ['date:yesterday', 'date: "yesterday" is not a date. Write a date as 2026, 2026-05 or 2026-05-14, or a range such as 2026-05-01..2026-05-14 (either end may be left open).'],
      ['date:2026/05/14', 'date: "2026/05/14" is not a date. Write a date as 2026, 2026-05 or 2026-05-14, or a range such as 2026-05-01..2026-05-14 (either end may be left open).'],
      ['date:2026-05-14..2026-05-01', 'date: the range 2026-05-14..2026-05-01 ends before it starts; write the earlier date first.'],
      ['date:..', 'date: a range needs at least one end; got "..". Write a date as 2026, 2026-05 or 2026-05-14, or a range such as 2026-05-01..2026-05-14 (either end may be left open).'],
      ['date:2026..2027..2028', 'date: takes one date or one range; got "2026..2027..2028". Write a date as 2026, 2026-05 or 2026-05-14, or a range such as 2026-05-01..2026-05-14 (either end may be left open).'],
      ['-date:2026', '-date:2026: a date cannot be negated; search a range instead, e.g. date:2026-01..2026-04.'],
      ['is:banana', 'is: accepts pick, reject, video, photo, raw, unreadable, missing; got "banana".'],
      ['tag:', 'tag: needs a value, e.g. tag:final or tag:"under 11".'],
      ['person:""', 'person: needs a value, e.g. person:Ana or person:"Ana Lima".'],
      ['event:', 'event: needs a value, e.g. event:"Sports Day".'],
      ['camera:', 'camera: needs a value, e.g. camera:canon.'],
      ['is:', 'is: needs a value, e.g. is:pick.'],
      ['date:', 'date: needs a value, e.g. date:2026-05.'],
      ['"Ana Lima', 'Unclosed quote in "Ana Lima: add a closing " (quotes group words into a phrase or a name).'],
      ['person:"Ana', 'Unclosed quote in person:"Ana: add a closing " (quotes group words into a phrase or a name).'],
      [
        'foo:bar',
        'Unknown filter "foo:" in foo:bar. Use tag:, person:, event:, camera:, is:, date: or rating (e.g. tag:final, person:"Ana Lima", is:pick, date:2026-05, rating>=4); to search for the text itself, put it in quotes: "foo:bar".',
      ],
    ])('rejects %s saying what is wrong and what is allowed', (text, message) => {
      const error = errorOf(text);
      expect(error.code).toBe('invalid-input');
      expect(error.message).toBe(message);
    });

    it('rejects a query longer than the search box allows', () => {
      const error = errorOf('a'.repeat(MAX_QUERY_LENGTH + 1));
      expect(error.code).toBe('invalid-input');
      expect(error.message).toBe(`The search is too long (${MAX_QUERY_LENGTH + 1} characters); keep it under ${MAX_QUERY_LENGTH}.`);
    });

    it('rejects a query with too many parts', () => {
      const error = errorOf(Array.from({ length: MAX_CLAUSES + 1 }, (_, index) => `w${index}`).join(' '));
      expect(error.message).toBe(`The search has ${MAX_CLAUSES + 1} parts; use at most ${MAX_CLAUSES}.`);
    });
  });
});
