/** Metric output columns in file order (SPEC §6), and how people read their names. */
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

/**
 * The display name of a column (the column itself when unknown); BERTScore's marked
 * "(rescaled)" when the run rescaled it with a baseline, so that it is never read as raw.
 */
export function metricLabel(column: string, options: { rescaledBertScore?: boolean } = {}): string {
  if (!isMetricColumn(column)) return column;
  const rescaled = options.rescaledBertScore && column.startsWith('bertscore_');
  return rescaled ? `${METRIC_LABELS[column]} (rescaled)` : METRIC_LABELS[column];
}
