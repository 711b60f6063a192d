import type { Aggregate } from '../../formats/aggregate-json.js';
import type { CaptionRow } from '../../formats/captions-csv.js';
import type { JournalLine } from '../../formats/journal-types.js';
import type { MetricColumn } from '../../metrics/columns.js';

export type { Aggregate, AggregateMetric } from '../../formats/aggregate-json.js';
export {
  isMetricColumn,
  METRIC_COLUMNS,
  METRIC_LABELS,
  type MetricColumn,
  metricLabel,
} from '../../metrics/columns.js';

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
  /**
   * Why evaluate's outputs in the folder were left out (they score other captions than
   * these); absent when none were.
   */
  scoresLeftOut?: string;
}
