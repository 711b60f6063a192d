/**
 * CSV text as csv-stringify writes it by default (RFC 4180: a field is quoted when it holds
 * a quote, comma, CR or LF, and its quotes are doubled; records end in LF), without its
 * per-field option handling, for files of 10^5 rows.
 */

const NEEDS_QUOTES = /[",\n\r]/;

export function csvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** One record, without its line end. */
export function csvLine(fields: readonly string[]): string {
  let line = csvField(fields[0] ?? '');
  for (let i = 1; i < fields.length; i++) line += `,${csvField(fields[i]!)}`;
  return line;
}
