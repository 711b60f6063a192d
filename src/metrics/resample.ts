import type { MetricResult } from './types.js';

/**
 * How a metric's corpus values are recomputed on a resample of its items, for metrics
 * whose corpus value is not the mean of their per-item values (BLEU sums n-gram counts
 * first): per item, `width` numbers (`stats`, item-major) whose sums, weighted by how
 * often each item was drawn, `corpusOf` turns into the corpus values. Such metrics
 * register one for each result they return; for the others the bootstrap takes the
 * weighted mean of the per-item values.
 */
export interface CorpusResampler {
  readonly width: number;
  readonly stats: Float64Array;
  corpusOf(sums: ArrayLike<number>): Record<string, number>;
}

export const CORPUS_RESAMPLERS = new WeakMap<MetricResult, CorpusResampler>();
