import { describe, expect, it } from 'vitest';
import { RenameTemplate, sanitizeFileName } from './rename-template.ts';

const context = {
  capturedAt: '2026-05-14T09:05:07+02:00',
  eventName: 'Sports Day',
  seq: 7,
  cameraModel: 'Canon EOS R6',
  originalName: 'IMG_0042.JPG',
};

describe(RenameTemplate.name, () => {
  it('renders the brief\'s template with the wall-clock time as shot', () => {
    expect(RenameTemplate.parse('{date:YYYYMMDD}-{event}-{seq:4}').render(context)).toBe('20260514-Sports Day-0007.jpg');
  });

  it('renders every token', () => {
    expect(RenameTemplate.parse('{date:YYYY-MM-DD}_{time}_{camera}_{original}_{seq:2}').render(context)).toBe(
      '2026-05-14_090507_Canon EOS R6_IMG_0042_07.jpg',
    );
  });

  it('keeps the original name by default token', () => {
    expect(RenameTemplate.parse('{original}').render(context)).toBe('IMG_0042.jpg');
  });

  it('makes names safe on every file system', () => {
    const name = RenameTemplate.parse('{event}-{seq}').render({ ...context, eventName: 'Year 6: "Leavers"/Trip?' });
    expect(name).toBe('Year 6_ _Leavers__Trip_-0007.jpg');
  });

  it('cuts very long names without splitting a character', () => {
    const name = RenameTemplate.parse('{event}-{seq}').render({ ...context, eventName: 'é'.repeat(300) });
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(200);
    expect(name.endsWith('.jpg')).toBe(true);
    expect(name).not.toContain('\uFFFD');
  });

  it('names an unknown token and lists the allowed ones', () => {
    expect(() => RenameTemplate.parse('{date}-{shutter}')).toThrow(/unknown token "\{shutter\}".*\{date\} \{time\} \{event\} \{seq\} \{camera\} \{original\}/);
  });

  it('rejects a template that would give every file the same name', () => {
    expect(() => RenameTemplate.parse('{date:YYYYMMDD}-{event}')).toThrow(/add \{seq\}, \{original\} or \{time\}/);
  });

  it('rejects bad formats and unmatched braces', () => {
    expect(() => RenameTemplate.parse('{seq:12}')).toThrow(/width must be 1–9/);
    expect(() => RenameTemplate.parse('{date:QQ}-{seq}')).toThrow(/date format may use/);
    expect(() => RenameTemplate.parse('{seq}}')).toThrow(/unmatched "\}"/);
  });
});

describe('sanitizeFileName', () => {
  it('normalises unicode to NFC so names compare equal across macOS and Linux', () => {
    expect(sanitizeFileName('Cafe\u0301')).toBe('Caf\u00e9');
  });
});
