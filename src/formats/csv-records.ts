import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { DatasetError } from '../core/errors.js';
import { utf8Guard } from '../core/utf8.js';

export interface CsvRecord {
  /**
   * 1-based line number in the file where the record starts (the header is line 1, or 2
   * after Excel's `sep=,` line).
   */
  line: number;
  /** Cells by header name; a short row lacks the last names, a long row's extra cells are dropped. */
  fields: Record<string, string>;
  /** Set when the row has more or fewer cells than the header: the row cannot be trusted. */
  problem?: string;
}

/** Delimiters people use instead of a comma, for the hint when the header is one column. */
const OTHER_DELIMITERS = Object.freeze([
  [';', "';'"],
  ['\t', 'TAB'],
  ['|', "'|'"],
] as const);

export interface HeaderOptions {
  requiredColumns: readonly string[];
  /** Optional columns: one spelled in another case would be ignored without a word, so it is an error. */
  optionalColumns?: readonly string[];
  /** What to add to the missing-column error when the header looks like another known file. */
  explainHeader?: (names: readonly string[]) => string | undefined;
}

interface CsvParseError extends Error {
  code?: string;
  lines?: number;
}

/**
 * Streams a comma-separated file with a header row, record by record: quotes, commas and
 * newlines inside fields, a UTF-8 BOM, CRLF line ends and a first line `sep=,` (Excel
 * writes it to name the separator) are all handled. Every error names the file and line:
 * bytes that are not UTF-8, an unbalanced quote, a missing or repeated column, another
 * separator. A row whose cell count differs from the header's is yielded with a `problem`
 * (an unquoted comma in a caption would otherwise cut it short without a word).
 */
export async function* readCsvRecords(
  path: string,
  options: HeaderOptions,
): AsyncGenerator<CsvRecord> {
  // The line the last record parsed ends on, kept as records are parsed (the stream may
  // fail before it hands out the records ahead of the bad one): a bad record starts after it.
  let lastLine = 0;
  // csv-parse counts a CR and an LF inside a quoted cell as a line each; editors count a
  // CRLF as one: the CRLFs inside the cells read so far, to subtract.
  let crlfSoFar = 0;
  // The first two records (a `sep=` line and the header), for the header's error when the
  // parser fails on a later line before the loop below has seen them.
  const leading: LineRecord[] = [];
  // Loaded here, not at start-up: commands that read no CSV (evaluate on JSONL) skip it.
  const { parse } = await import('csv-parse');
  const parser = parse({
    bom: true,
    skip_empty_lines: true,
    relax_column_count: true,
    // Every line end, so that a file with mixed line ends (rows pasted from another system)
    // is read row by row; auto-detection takes the first one it sees and leaves a CR at the
    // end of the other rows' last cell, or joins them.
    record_delimiter: ['\r\n', '\n', '\r'],
    // Hands out each record with the line it starts on (cheaper than `info: true`).
    on_record: ((record: string[], context: { lines: number }) => {
      const { breaks, crlf } = lineBreaks(record);
      const end = context.lines - crlfSoFar - crlf;
      crlfSoFar += crlf;
      lastLine = end;
      const lineRecord = { record, line: end - (breaks - crlf) };
      if (leading.length < 2) leading.push(lineRecord);
      return lineRecord;
    }) as unknown as (record: string[]) => string[],
  });
  pipeline(createReadStream(path), utf8Guard(path), parser, () => {});
  let header: string[] | undefined;
  let excelLine = false;
  try {
    for await (const { record, line } of parser as AsyncIterable<LineRecord>) {
      if (!header) {
        const separator = line === 1 ? excelSeparator(record) : undefined;
        if (separator === ',') {
          excelLine = true;
          continue;
        }
        if (separator !== undefined) throw excelSeparatorError(path, separator);
        header = checkedHeader(path, record, line, options);
        continue;
      }
      const fields: Record<string, string> = {};
      for (let i = 0; i < Math.min(header.length, record.length); i++)
        fields[header[i]!] = record[i]!;
      const csvRecord: CsvRecord = { line, fields };
      if (record.length !== header.length) {
        csvRecord.problem =
          record.length > header.length
            ? `row has ${record.length} cells but the header has ${header.length} (an unquoted comma? quote the field: "a, b")`
            : `row has ${record.length} cell${record.length === 1 ? '' : 's'} but the header has ${header.length}`;
      }
      yield csvRecord;
    }
  } catch (error) {
    if (error instanceof DatasetError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DatasetError(`${path}: file not found`, { cause: error });
    if (!header) checkHeaderFirst(path, leading, options);
    throw new DatasetError(parseErrorMessage(path, error as CsvParseError, lastLine + 1), {
      cause: error,
    });
  }
  if (!header) {
    throw new DatasetError(
      `${path}: ${excelLine ? "no header row after Excel's 'sep=,' line" : 'empty file'} (expected a header row with ${options.requiredColumns.join(', ')})`,
    );
  }
}

interface LineRecord {
  record: string[];
  line: number;
}

/** The separator a first record names when it is Excel's `sep=X` line, else undefined. */
function excelSeparator(record: readonly string[]): string | undefined {
  // Read as comma-separated, `sep=,` is the two cells 'sep=' and ''.
  if (record.length === 2 && record[0] === 'sep=' && record[1] === '') return ',';
  const cell = record.length === 1 ? record[0]! : '';
  return cell.length === 5 && cell.startsWith('sep=') ? cell[4] : undefined;
}

function excelSeparatorError(path: string, separator: string): DatasetError {
  const shown = OTHER_DELIMITERS.find(([d]) => d === separator)?.[1] ?? `'${separator}'`;
  const line = `sep=${separator === '\t' ? '<TAB>' : separator}`;
  return new DatasetError(
    `${path}:1: the file is ${shown}-separated (its first line is Excel's '${line}'), medcap reads comma-separated CSV`,
  );
}

/**
 * Throws the header's error when the parser failed on a later line before the header was
 * checked, if the header shows why: a first line `sep=X` with another separator, or a header
 * that is one cell which, split at ';', TAB or '|', has every required column. Such a file
 * quotes each cell that holds its separator, and reading it comma-separated breaks on those
 * quotes: the quote error's advice would be wrong.
 */
function checkHeaderFirst(path: string, leading: readonly LineRecord[], options: HeaderOptions) {
  const [first, second] = leading;
  const separator = first?.line === 1 ? excelSeparator(first.record) : undefined;
  if (separator !== undefined && separator !== ',') throw excelSeparatorError(path, separator);
  const head = separator === ',' ? second : first;
  if (head === undefined || head.record.length !== 1) return;
  const otherSeparated = OTHER_DELIMITERS.some(([d]) => {
    const names = head.record[0]!.split(d).map((name) => name.trim());
    return options.requiredColumns.every((column) => names.includes(column));
  });
  // The header is one cell, so it lacks the columns: checkedHeader throws, naming the separator.
  if (otherSeparated) checkedHeader(path, head.record, head.line, options);
}

/** The CR and LF characters inside a record's cells, and how many of them pair up as CRLF. */
function lineBreaks(record: readonly string[]): { breaks: number; crlf: number } {
  let breaks = 0;
  let crlf = 0;
  for (const cell of record) {
    if (cell.indexOf('\n') === -1 && cell.indexOf('\r') === -1) continue;
    for (let i = 0; i < cell.length; i++) {
      const code = cell.charCodeAt(i);
      if (code === 0x0a) breaks += 1;
      else if (code === 0x0d) {
        breaks += 1;
        if (cell.charCodeAt(i + 1) === 0x0a) crlf += 1;
      }
    }
  }
  return { breaks, crlf };
}

function checkedHeader(
  path: string,
  record: string[],
  line: number,
  options: HeaderOptions,
): string[] {
  const required = options.requiredColumns;
  const names = record.map((name) => name.trim());
  const missing = required.filter((column) => !names.includes(column));
  if (missing.length > 0) {
    const other =
      names.length === 1 ? OTHER_DELIMITERS.find(([d]) => names[0]!.includes(d)) : undefined;
    const explained = options.explainHeader?.(names);
    const hint = other
      ? `; the file looks ${other[1]}-separated, medcap reads comma-separated CSV`
      : explained !== undefined
        ? `; ${explained}`
        : missing.map((column) => spellingHint(names, column)).join('');
    throw new DatasetError(
      `${path}:${line}: missing column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `'${c}'`).join(', ')} (the header has: ${names.join(', ')})${hint}`,
    );
  }
  for (const column of options.optionalColumns ?? []) {
    const near = names.includes(column) ? undefined : nearName(names, column);
    if (near !== undefined) {
      throw new DatasetError(
        `${path}:${line}: column '${near}' must be spelled '${column}' (as written it would be ignored)`,
      );
    }
  }
  const repeated = names.find((name, i) => name !== '' && names.indexOf(name) !== i);
  if (repeated !== undefined)
    throw new DatasetError(`${path}:${line}: column '${repeated}' appears twice in the header`);
  return names;
}

/** The header's name for `column` in another case, if it has one. */
function nearName(names: readonly string[], column: string): string | undefined {
  return names.find((name) => name.toLowerCase() === column.toLowerCase());
}

/** "; 'X' must be spelled 'x'" when the header has `column` in another case, else ''. */
function spellingHint(names: readonly string[], column: string): string {
  const near = nearName(names, column);
  return near === undefined ? '' : `; '${near}' must be spelled '${column}'`;
}

/** csv-parse's errors, reworded to say where the bad record starts and what to do. */
function parseErrorMessage(path: string, error: CsvParseError, start: number): string {
  const at =
    error.lines !== undefined && error.lines !== start
      ? ` (the parser gave up at line ${error.lines})`
      : '';
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return `${path}:${start}: unbalanced quote: a quoted field in the record starting here is never closed, so the rest of the file would be one cell${at}`;
    case 'CSV_INVALID_CLOSING_QUOTE':
      return `${path}:${start}: unbalanced quote: a quote inside a quoted field must be doubled ("")${at}`;
    case 'INVALID_OPENING_QUOTE':
      return `${path}:${start}: unbalanced quote: a quote inside an unquoted field (quote the whole field and double the quote: "5"" nodule")${at}`;
    default:
      return `${path}:${start}: malformed CSV: ${error.message}`;
  }
}
