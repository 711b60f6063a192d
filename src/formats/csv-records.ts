import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { DatasetError } from '../core/errors.js';
import { utf8Guard } from '../core/utf8.js';

export interface CsvRecord {
  /** 1-based line number where the record starts (the header is line 1). */
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

interface CsvParseError extends Error {
  code?: string;
  lines?: number;
}

/**
 * Streams a comma-separated file with a header row, record by record: quotes, commas and
 * newlines inside fields, a UTF-8 BOM and CRLF line ends are all handled. Every error names
 * the file and line: bytes that are not UTF-8, an unbalanced quote, a missing or repeated
 * column. A row whose cell count differs from the header's is yielded with a `problem`
 * (an unquoted comma in a caption would otherwise cut it short without a word).
 */
export async function* readCsvRecords(
  path: string,
  options: { requiredColumns: readonly string[] },
): AsyncGenerator<CsvRecord> {
  // The last line of the last record parsed, kept as records are parsed (the stream may
  // fail before it hands out the records ahead of the bad one): a bad record starts after it.
  let lastLine = 0;
  // Loaded here, not at start-up: commands that read no CSV (evaluate on JSONL) skip it.
  const { parse } = await import('csv-parse');
  const parser = parse({
    bom: true,
    skip_empty_lines: true,
    relax_column_count: true,
    // Hands out each record with the line it ends on (cheaper than `info: true`).
    on_record: ((record: string[], context: { lines: number }) => {
      lastLine = context.lines;
      return { record, lines: context.lines };
    }) as unknown as (record: string[]) => string[],
  });
  pipeline(createReadStream(path), utf8Guard(path), parser, () => {});
  let header: string[] | undefined;
  try {
    for await (const { record, lines } of parser as AsyncIterable<{
      record: string[];
      lines: number;
    }>) {
      const line = lines - record.reduce((sum, cell) => sum + newlines(cell), 0);
      if (!header) {
        header = checkedHeader(path, record, options.requiredColumns);
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
    throw new DatasetError(parseErrorMessage(path, error as CsvParseError, lastLine + 1), {
      cause: error,
    });
  }
  if (!header) {
    throw new DatasetError(
      `${path}: empty file (expected a header row with ${options.requiredColumns.join(', ')})`,
    );
  }
}

function newlines(cell: string): number {
  let count = 0;
  for (let i = cell.indexOf('\n'); i !== -1; i = cell.indexOf('\n', i + 1)) count += 1;
  return count;
}

function checkedHeader(path: string, record: string[], required: readonly string[]): string[] {
  const names = record.map((name) => name.trim());
  const missing = required.filter((column) => !names.includes(column));
  if (missing.length > 0) {
    const other =
      names.length === 1 ? OTHER_DELIMITERS.find(([d]) => names[0]!.includes(d)) : undefined;
    const hint = other
      ? `; the file looks ${other[1]}-separated, medcap reads comma-separated CSV`
      : missing
          .map((column) => {
            const near = names.find((name) => name.toLowerCase() === column.toLowerCase());
            return near ? `; '${near}' must be spelled '${column}'` : '';
          })
          .join('');
    throw new DatasetError(
      `${path}:1: missing column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `'${c}'`).join(', ')} (the header has: ${names.join(', ')})${hint}`,
    );
  }
  const repeated = names.find((name, i) => name !== '' && names.indexOf(name) !== i);
  if (repeated !== undefined)
    throw new DatasetError(`${path}:1: column '${repeated}' appears twice in the header`);
  return names;
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
