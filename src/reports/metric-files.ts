/**
 * Evaluation output files (SPEC §6): the captions CSV with one column per metric, the
 * per-image detail CSV and the aggregate JSON. Pure functions from results to text.
 */
import { stringify } from 'csv-stringify/sync';
import type { ColumnSummary } from '../metrics/score.js';
import { CAPTION_COLUMNS, type CaptionRow, captionRowToRecord } from './captions-csv.js';

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
  tokenizer: string;
  metrics: string[];
  bootstrap: number;
  seed: number;
  rougeStemmer: boolean;
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

/** `medical_captions_{split}_with_metrics.csv`: every captions row, metric cells empty when unscored. */
export function formatCaptionsWithMetricsCsv(
  rows: readonly CaptionRow[],
  columns: readonly string[],
  perItem: ReadonlyMap<string, Record<string, number>>,
): string {
  const withConcepts = rows.some((row) => row.concepts !== undefined);
  const header: string[] = [...CAPTION_COLUMNS];
  if (withConcepts) header.push('concepts');
  header.push(...columns);
  const records = rows.map((row) => {
    const scores = row.status === 'ok' ? perItem.get(row.imageId) : undefined;
    return [
      ...captionRowToRecord(row, withConcepts),
      ...columns.map((c) => formatMetricValue(scores?.[c])),
    ];
  });
  return stringify([header, ...records]);
}

/** `medical_{split}_detailed.csv`: image_id + one column per metric, scored items only. */
export function formatDetailedCsv(
  ids: readonly string[],
  columns: readonly string[],
  perItem: ReadonlyMap<string, Record<string, number>>,
): string {
  const records = ids.map((id) => [
    id,
    ...columns.map((c) => formatMetricValue(perItem.get(id)?.[c])),
  ]);
  return stringify([['image_id', ...columns], ...records]);
}

export function formatAggregateJson(report: AggregateReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
