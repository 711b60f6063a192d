import { describe, expect, it } from 'vitest';
import { parseCsv } from './parse-csv.js';

describe('parseCsv', () => {
  it('reads plain and quoted fields, doubled quotes, embedded commas and newlines', () => {
    const text = 'image_id,bleu_1\n"a,""b""\nc",0.5\nplain,\n';
    expect(parseCsv(text)).toEqual([
      ['image_id', 'bleu_1'],
      ['a,"b"\nc', '0.5'],
      ['plain', ''],
    ]);
  });

  it('handles CRLF, a BOM, blank lines and a missing final newline', () => {
    expect(parseCsv('\ufeffa,b\r\n1,2\r\n\r\n3,4')).toEqual([
      ['a', 'b'],
      ['1', '2'],
      ['3', '4'],
    ]);
  });

  it('keeps a trailing empty field', () => {
    expect(parseCsv('a,b\n1,')).toEqual([
      ['a', 'b'],
      ['1', ''],
    ]);
  });

  it('rejects an unterminated quote and junk after a closing quote', () => {
    expect(() => parseCsv('a\n"open')).toThrow(/unterminated quoted field in row 2/);
    expect(() => parseCsv('"a"b,c\n')).toThrow(/unexpected character/);
  });
});
