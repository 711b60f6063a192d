import type { MetricResult } from './types.js';

/**
 * Recomputes a metric's corpus values on a resample of its items, given how many times
 * each item was drawn (`weights[k]` for item k; 0 when left out). Metrics whose corpus
 * value is not the mean of their per-item values (BLEU sums n-gram counts first) register
 * one for each result they return; for the others the bootstrap takes the weighted mean
 * of the per-item values.
 */
export type CorpusResampler = (weights: ArrayLike<number>) => Record<string, number>;

export const CORPUS_RESAMPLERS = new WeakMap<MetricResult, CorpusResampler>();
