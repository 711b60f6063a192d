import type { MetricResult } from './types.js';

/**
 * Recomputes a metric's corpus values on a resample of its items (indices into the scored
 * items, repeats allowed). Metrics whose corpus value is not the mean of their per-item
 * values (BLEU sums n-gram counts first) register one for each result they return; for
 * the others the bootstrap resamples the per-item values' mean.
 */
export type CorpusResampler = (indices: ArrayLike<number>) => Record<string, number>;

export const CORPUS_RESAMPLERS = new WeakMap<MetricResult, CorpusResampler>();
