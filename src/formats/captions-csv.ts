import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify/sync';
import { DatasetError } from '../core/errors.js';

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

/** Several references share one CSV cell, separated by this. */
export const REFERENCE_SEPARATOR = ' ||| ';

export function captionRowToRecord(row: CaptionRow, withConcepts: boolean): string[] {
  const record = [
    row.imageId,
    row.imagePath,
    row.references.join(REFERENCE_SEPARATOR),
    row.generatedCaption,
    formatSeconds(row.processingTimeS),
    String(row.batchSize),
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

/** Reads a captions CSV written by `medcap caption` (or by hand with the same columns). */
export async function readCaptionsCsv(path: string): Promise<CaptionRow[]> {
  const rows: CaptionRow[] = [];
  const parser = createReadStream(path).pipe(
    parse({ columns: true, bom: true, skip_empty_lines: true, relax_column_count: false }),
  );
  let line = 1;
  try {
    for await (const record of parser as AsyncIterable<Record<string, string>>) {
      line += 1;
      if (rows.length === 0 && line === 2) {
        for (const column of ['image_id', 'generated_caption'] as const) {
          if (!(column in record)) {
            throw new DatasetError(
              `${path}: missing column '${column}' (has: ${Object.keys(record).join(', ')})`,
            );
          }
        }
      }
      rows.push(recordToCaptionRow(record));
    }
  } catch (error) {
    if (error instanceof DatasetError) throw error;
    throw new DatasetError(
      `${path}: cannot read captions CSV near row ${line}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
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
