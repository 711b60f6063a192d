/**
 * A small, fast RFC 4180 reader (quoted fields, doubled quotes, CR/LF or LF line ends,
 * optional BOM) for the per-item metrics CSV, which can hold 10^5 rows of numbers.
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const n = text.length;
  while (i < n) {
    let field: string;
    if (text.charCodeAt(i) === 34 /* " */) {
      let value = '';
      let start = i + 1;
      for (;;) {
        const close = text.indexOf('"', start);
        if (close === -1) throw new Error(`unterminated quoted field in row ${rows.length + 1}`);
        value += text.slice(start, close);
        if (text.charCodeAt(close + 1) === 34) {
          value += '"';
          start = close + 2;
        } else {
          i = close + 1;
          break;
        }
      }
      field = value;
    } else {
      let end = i;
      while (end < n) {
        const c = text.charCodeAt(end);
        if (c === 44 || c === 10 || c === 13) break;
        end += 1;
      }
      field = text.slice(i, end);
      i = end;
    }
    row.push(field);
    const c = text.charCodeAt(i);
    if (c === 44) {
      i += 1;
      if (i === n) row.push('');
    } else if (c === 13 || c === 10 || i >= n) {
      if (c === 13 && text.charCodeAt(i + 1) === 10) i += 2;
      else i += 1;
      if (!(row.length === 1 && row[0] === '')) rows.push(row);
      row = [];
    } else {
      throw new Error(`unexpected character after a quoted field in row ${rows.length + 1}`);
    }
  }
  if (row.length > 0) rows.push(row);
  return rows;
}
