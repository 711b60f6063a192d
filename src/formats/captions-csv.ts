import { stringify } from 'csv-stringify/sync';
import { DatasetError } from '../core/errors.js';
import { readCsvRecords } from './csv-records.js';

/** Columns of `medical_captions_{split}.csv`, in order (SPEC §6). */
export const CAPTION_COLUMNS = [
  'image_id',
  'image_path',
  'reference_caption',
  'generated_caption',
  'processing_time_s',
  'batch_size',
  'engine',
  'model',
  'status',
  'error',
] as const;

export type CaptionStatus = 'ok' | 'error';

/** One row of the captions CSV, in camelCase. */
export interface CaptionRow {
  imageId: string;
  imagePath: string;
  /** All references; the CSV joins several with ` ||| `. */
  references: string[];
  generatedCaption: string;
  processingTimeS: number;
  batchSize: number;
  engine: string;
  model: string;
  status: CaptionStatus;
  error: string;
  concepts?: string[];
}

/** The `error` cell's warning on an `ok` row whose generated caption is empty. */
export const EMPTY_CAPTION_WARNING = 'empty caption';

/**
 * The `error` cell of a captioned (`ok`) row: the dataset's and the engine's warnings,
 * if any, and "empty caption" when the model said nothing; the row stays `ok` (SPEC §2).
 */
export function okRowWarnings(caption: string, ...warnings: (string | undefined)[]): string {
  return [...warnings, caption.trim() === '' ? EMPTY_CAPTION_WARNING : '']
    .filter(Boolean)
    .join('; ');
}

/** An `ok` row whose generated caption is empty (or only white space). */
export function hasEmptyCaption(row: Pick<CaptionRow, 'status' | 'generatedCaption'>): boolean {
  return row.status === 'ok' && row.generatedCaption.trim() === '';
}

/** Several references share one CSV cell, separated by this. */
export const REFERENCE_SEPARATOR = ' ||| ';

export function captionRowToRecord(row: CaptionRow, withConcepts: boolean): string[] {
  const record = [
    row.imageId,
    row.imagePath,
    row.references.join(REFERENCE_SEPARATOR),
    row.generatedCaption,
    formatSeconds(row.processingTimeS),
    Number.isFinite(row.batchSize) ? String(row.batchSize) : '',
    row.engine,
    row.model,
    row.status,
    row.error,
  ];
  if (withConcepts) record.push((row.concepts ?? []).join(';'));
  return record;
}

function formatSeconds(seconds: number): string {
  return Number.isFinite(seconds) ? seconds.toFixed(4) : '';
}

/** The header record; the `concepts` column appears when any row carries concepts. */
export function captionsCsvHeader(withConcepts: boolean): string[] {
  const header: string[] = [...CAPTION_COLUMNS];
  if (withConcepts) header.push('concepts');
  return header;
}

/** The whole captions CSV as text (header + rows), RFC 4180 quoting. */
export function formatCaptionsCsv(rows: readonly CaptionRow[]): string {
  const withConcepts = rows.some((row) => row.concepts !== undefined);
  return stringify([
    captionsCsvHeader(withConcepts),
    ...rows.map((row) => captionRowToRecord(row, withConcepts)),
  ]);
}

/** A ROCOv2 captions file (`ID,Caption`) holds references only: say what evaluate needs. */
function explainHeader(names: readonly string[]): string | undefined {
  const lower = names.map((name) => name.toLowerCase());
  if (!lower.includes('id') || !lower.includes('caption')) return undefined;
  return 'this looks like a dataset\'s captions file (ID, Caption: the references only); evaluate needs the generated captions too: caption the images with `medcap caption --data DIR`, or write JSONL lines {"id", "candidate", "references": [...]}';
}

/**
 * Reads a captions CSV written by `medcap caption` (or by hand with the same columns). Any
 * row medcap cannot take as written (a cell too many or too few, an unknown status, with
 * `unique` a repeated image id) is an error naming the file and line: scoring a table with a
 * row silently left out or cut short would publish wrong numbers. `scoring` requires the
 * reference_caption column.
 */
export async function readCaptionsCsv(
  path: string,
  options: { unique?: boolean; scoring?: boolean } = {},
): Promise<CaptionRow[]> {
  const rows: CaptionRow[] = [];
  const lines = new Map<string, number>();
  const requiredColumns = options.scoring
    ? ['image_id', 'reference_caption', 'generated_caption']
    : ['image_id', 'generated_caption'];
  for await (const { line, fields, problem } of readCsvRecords(path, {
    requiredColumns,
    optionalColumns: [...CAPTION_COLUMNS, 'concepts'],
    explainHeader,
  })) {
    if (problem) throw new DatasetError(`${path}:${line}: ${problem}`);
    const status = fields.status ?? '';
    if (status !== '' && status !== 'ok' && status !== 'error') {
      throw new DatasetError(`${path}:${line}: status must be ok or error, got '${status}'`);
    }
    const row = recordToCaptionRow(fields);
    if (options.scoring && row.imageId.trim() === '') {
      throw new DatasetError(`${path}:${line}: image_id is empty`);
    }
    if (options.unique) {
      const first = lines.get(row.imageId);
      if (first !== undefined) {
        throw new DatasetError(
          `${path}:${line}: image id '${row.imageId}' appears again (first at line ${first})`,
        );
      }
      lines.set(row.imageId, line);
    }
    rows.push(row);
  }
  return rows;
}

export function recordToCaptionRow(record: Record<string, string | undefined>): CaptionRow {
  const reference = record.reference_caption ?? '';
  const row: CaptionRow = {
    imageId: record.image_id ?? '',
    imagePath: record.image_path ?? '',
    references: reference === '' ? [] : reference.split(REFERENCE_SEPARATOR),
    generatedCaption: record.generated_caption ?? '',
    processingTimeS: numberOrNaN(record.processing_time_s),
    batchSize: numberOrNaN(record.batch_size),
    engine: record.engine ?? '',
    model: record.model ?? '',
    status: record.status === 'error' ? 'error' : 'ok',
    error: record.error ?? '',
  };
  if (record.concepts !== undefined) {
    row.concepts = record.concepts === '' ? [] : record.concepts.split(';');
  }
  return row;
}

/** An empty or missing cell is NaN (unknown), not 0. */
function numberOrNaN(cell: string | undefined): number {
  return cell === undefined || cell.trim() === '' ? Number.NaN : Number(cell);
}
