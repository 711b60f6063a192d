import type { JournalLine } from '../../core/journal-types.js';
import type { CaptionRow } from '../captions-csv.js';

/** Metric columns the report knows, in display order (SPEC §6). */
export const METRIC_COLUMNS = Object.freeze([
  'bleu_1',
  'bleu_2',
  'bleu_3',
  'bleu_4',
  'rouge_l',
  'meteor',
  'cider',
  'rouge_1',
  'rouge_2',
  'bertscore_precision',
  'bertscore_recall',
  'bertscore_f1',
] as const);

export type MetricColumn = (typeof METRIC_COLUMNS)[number];

export const METRIC_LABELS: Readonly<Record<MetricColumn, string>> = Object.freeze({
  bleu_1: 'BLEU-1',
  bleu_2: 'BLEU-2',
  bleu_3: 'BLEU-3',
  bleu_4: 'BLEU-4',
  rouge_l: 'ROUGE-L',
  meteor: 'METEOR',
  cider: 'CIDEr-D',
  rouge_1: 'ROUGE-1',
  rouge_2: 'ROUGE-2',
  bertscore_precision: 'BERTScore P',
  bertscore_recall: 'BERTScore R',
  bertscore_f1: 'BERTScore F1',
});

export function isMetricColumn(name: string): name is MetricColumn {
  return (METRIC_COLUMNS as readonly string[]).includes(name);
}

export function metricLabel(name: string): string {
  return isMetricColumn(name) ? METRIC_LABELS[name] : name;
}

/** One metric's entry in `medical_{split}_aggregate.json`. */
export interface AggregateMetric {
  corpus: number | null;
  mean: number | null;
  std: number | null;
  median: number | null;
  min: number | null;
  max: number | null;
  ci95: [number, number] | null;
}

/** `medical_{split}_aggregate.json`, as far as the report reads it. */
export interface Aggregate {
  split?: string;
  n?: number;
  metrics: Partial<Record<string, AggregateMetric>>;
  run?: Record<string, unknown>;
}

/** Everything read from a run directory, before any computation. */
export interface RunFiles {
  dir: string;
  split: string;
  captions: CaptionRow[];
  /** Per-item metric values by image id (from the detailed or with-metrics CSV). */
  itemMetrics: Map<string, Partial<Record<MetricColumn, number>>> | null;
  /** Metric columns present in the per-item CSV, in display order. */
  metricColumns: MetricColumn[];
  aggregate: Aggregate | null;
  journal: JournalLine[];
  /** File names that fed the report (for the footer). */
  sources: string[];
}
