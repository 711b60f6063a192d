/**
 * Evaluation output files (SPEC §6): the captions CSV with one column per metric, the
 * per-image detail CSV and the aggregate JSON. Pure functions from results to text.
 */
import { readFile } from 'node:fs/promises';
import { DatasetError, InternalError } from '../core/errors.js';
import type { Baseline } from '../metrics/bertscore/baseline.js';
import { METRIC_COLUMNS, type MetricColumn } from '../metrics/columns.js';
import type { ColumnSummary } from '../metrics/score.js';
import { CAPTION_COLUMNS, type CaptionRow, captionRowToRecord } from './captions-csv.js';
import { csvField, csvLine, Utf8Buffer } from './csv-text.js';
import type { GenerationSettings } from './journal-types.js';
import { parseCsv } from './parse-csv.js';

/** What BERTScore ran with: its values compare only with values computed alike. */
export interface BertScoreSetup {
  /** --bertscore-model as given. */
  model: string;
  layer: number;
  idf: boolean;
  /** The encoder's matrix products: fp32, fp16, or 8-bit weights with fp16 activations. */
  dtype: 'fp32' | 'fp16' | 'q8';
  /**
   * The bert_score baseline the values were rescaled with, (raw - b) / (1 - b); null: raw
   * values. Its file, its layer and b for P, R and F1 (as float32, as bert_score reads them).
   */
  baseline: Baseline | null;
}

/** What is known about the run that produced the captions (journal, CSV) and the evaluation. */
export interface RunInfo {
  engine: string | null;
  model: string | null;
  device: string | null;
  dtype: string | null;
  batchSize: number | 'auto' | null;
  /** Images captioned (ok + failed). */
  images: number | null;
  failed: number | null;
  wallTimeS: number | null;
  imagesPerS: number | null;
  peakRssBytes: number | null;
  /** The prompt and image settings of the journal's last start line; null: not recorded. */
  generation?: GenerationSettings | null;
  tokenizer: string;
  metrics: string[];
  bootstrap: number;
  seed: number;
  rougeStemmer: boolean;
  /** Present when BERTScore was computed. */
  bertscore?: BertScoreSetup;
  /** The captions file that was scored. */
  evaluatedFile: string;
  medcapVersion: string;
  /** Where the run facts came from: the journal, the captions CSV, or nothing. */
  source: 'journal' | 'captions' | 'none';
}

/** `medical_{split}_aggregate.json`. */
export interface AggregateReport {
  split: string;
  /** Items scored. */
  n: number;
  metrics: Record<string, ColumnSummary>;
  run: RunInfo;
}

export function formatMetricValue(value: number | undefined): string {
  return value === undefined || Number.isNaN(value) ? '' : String(value);
}

/** Per-item metric values: per column, one value per id, aligned with `ids`. */
export interface ItemScores {
  ids: readonly string[];
  values: Readonly<Record<string, ArrayLike<number>>>;
}

/**
 * Per item (aligned with `scores.ids`), its metric cells as CSV text, `,v1,v2,...` in
 * `columns` order: item k's are `bytes[offsets[k], offsets[k + 1])`. Both per-item files
 * take them, so each number is formatted once.
 */
export interface MetricCells {
  bytes: Buffer;
  offsets: Uint32Array;
}

export function metricCells(columns: readonly string[], scores: ItemScores): MetricCells {
  const columnValues = columns.map((c) => scores.values[c]);
  const items = scores.ids.length;
  const bytes = Buffer.allocUnsafe(items * cellBytesBound(columns.length));
  const ends = new Uint32Array(items);
  writeMetricCells(columnValues, 0, items, bytes, 0, ends);
  const offsets = new Uint32Array(items + 1);
  offsets.set(ends, 1);
  return { bytes: bytes.subarray(0, offsets[items]), offsets };
}

/**
 * Room for one item's metric cells: a comma and at most 24 characters a value (the
 * longest String(x) of a double, "-1.2345678901234567e-308").
 */
export function cellBytesBound(columns: number): number {
  return columns * 25;
}

/**
 * Items [from, to)'s metric cells (see MetricCells), one item after the other from byte `at`
 * of `out`, which has room for cellBytesBound per item; ends[k]: the byte after item k's.
 */
export function writeMetricCells(
  columnValues: readonly (ArrayLike<number> | undefined)[],
  from: number,
  to: number,
  out: Buffer,
  at: number,
  ends: Uint32Array,
): void {
  let end = at;
  for (let k = from; k < to; k++) {
    let cells = '';
    for (const values of columnValues) cells += `,${formatMetricValue(values?.[k])}`;
    // Digits, signs, '.', 'e', "Infinity": one byte a character.
    end += out.write(cells, end, 'latin1');
    ends[k] = end;
  }
}

/**
 * The captions columns of every row of the with-metrics CSV, as CSV text: row r's are
 * `bytes[offsets[r], offsets[r + 1])`, without the metric cells and the line end. Made apart
 * from the cells, so that another thread can make them while the metrics are scored.
 */
export interface CaptionParts {
  /** Whether the rows carry a concepts column (one row with concepts gives all one). */
  withConcepts: boolean;
  bytes: Uint8Array;
  offsets: Uint32Array;
}

export function captionParts(rows: readonly CaptionRow[]): CaptionParts {
  const withConcepts = rows.some((row) => row.concepts !== undefined);
  const out = new Utf8Buffer();
  const offsets = new Uint32Array(rows.length + 1);
  rows.forEach((row, r) => {
    out.write(csvLine(captionRowToRecord(row, withConcepts)));
    offsets[r + 1] = out.length;
  });
  return { withConcepts, bytes: out.bytes(), offsets };
}

/** `medical_captions_{split}_with_metrics.csv`: every captions row, metric cells empty when unscored. */
export function formatCaptionsWithMetricsCsv(
  rows: readonly CaptionRow[],
  columns: readonly string[],
  scores: ItemScores,
  cells: MetricCells = metricCells(columns, scores),
  parts: CaptionParts = captionParts(rows),
): Buffer {
  if (parts.offsets.length !== rows.length + 1) {
    throw new InternalError(`caption text of ${parts.offsets.length - 1} rows for ${rows.length}`);
  }
  const indexOf = new Map(scores.ids.map((id, k) => [id, k]));
  const header: string[] = [...CAPTION_COLUMNS];
  if (parts.withConcepts) header.push('concepts');
  header.push(...columns);
  const unscored = `${','.repeat(columns.length)}\n`;
  const headerLine = `${csvLine(header)}\n`;
  const out = new Utf8Buffer(
    headerLine.length * 3 + parts.bytes.length + cells.bytes.length + rows.length * unscored.length,
  );
  out.write(headerLine);
  rows.forEach((row, r) => {
    const k = row.status === 'ok' ? indexOf.get(row.imageId) : undefined;
    out.append(parts.bytes.subarray(parts.offsets[r], parts.offsets[r + 1]));
    if (k === undefined) out.write(unscored);
    else {
      out.append(cells.bytes.subarray(cells.offsets[k], cells.offsets[k + 1]));
      out.write('\n');
    }
  });
  return out.bytes();
}

/** `medical_{split}_detailed.csv`: image_id + one column per metric, scored items only. */
export function formatDetailedCsv(
  columns: readonly string[],
  scores: ItemScores,
  cells: MetricCells = metricCells(columns, scores),
): Buffer {
  const out = new Utf8Buffer();
  out.write(`${csvLine(['image_id', ...columns])}\n`);
  scores.ids.forEach((id, k) => {
    out.write(csvField(id));
    out.append(cells.bytes.subarray(cells.offsets[k], cells.offsets[k + 1]));
    out.write('\n');
  });
  return out.bytes();
}

export function formatAggregateJson(report: AggregateReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** Reads `image_id` + metric columns from the detailed CSV or the captions-with-metrics CSV. */
export async function readMetricsCsv(path: string): Promise<{
  columns: MetricColumn[];
  values: Map<string, Partial<Record<MetricColumn, number>>>;
}> {
  let records: string[][];
  try {
    records = parseCsv(await readFile(path, 'utf8'));
  } catch (error) {
    throw new DatasetError(`${path}: cannot read metrics CSV: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const values = new Map<string, Partial<Record<MetricColumn, number>>>();
  const header = records[0];
  if (!header) return { columns: [], values };
  const idIndex = header.indexOf('image_id');
  if (idIndex === -1) {
    throw new DatasetError(`${path}: missing column 'image_id' (has: ${header.join(', ')})`);
  }
  const columns = METRIC_COLUMNS.filter((c) => header.includes(c));
  const indexes = columns.map((c) => header.indexOf(c));
  for (let r = 1; r < records.length; r += 1) {
    const record = records[r]!;
    if (record.length !== header.length) {
      throw new DatasetError(
        `${path}: row ${r + 1} has ${record.length} fields, the header has ${header.length}`,
      );
    }
    const scores: Partial<Record<MetricColumn, number>> = {};
    for (let k = 0; k < columns.length; k += 1) {
      const text = record[indexes[k]!]!.trim();
      if (text === '' || /^(nan|null|none)$/i.test(text)) continue;
      const value = Number(text);
      if (!Number.isFinite(value)) {
        throw new DatasetError(
          `${path}: row ${r + 1}, column '${columns[k]}': expected a number, got '${text.slice(0, 40)}'`,
        );
      }
      scores[columns[k]!] = value;
    }
    values.set(record[idIndex]!, scores);
  }
  return { columns, values };
}
