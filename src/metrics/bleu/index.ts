/**
 * BLEU-1..4 as pycocoevalcap's Bleu(4): clipped n-gram counts against the maximum count
 * over an item's references, brevity penalty with the closest reference length (ties go
 * to the shorter reference). Corpus value: counts summed over all items first (not a mean
 * of the per-item values); per-item values: pycocoevalcap's per-sentence list, including
 * its smoothing constants (1e-15 / 1e-9).
 */
import { MetricError } from '../../core/errors.js';
import { ngramStats } from '../ngram-stats.js';
import { MAX_ORDER } from '../ngrams.js';
import { CORPUS_RESAMPLERS } from '../resample.js';
import type { Metric, MetricInput, MetricResult } from '../types.js';

export const BLEU_COLUMNS = ['bleu_1', 'bleu_2', 'bleu_3', 'bleu_4'] as const;

/** Per-item numbers kept for resampling the corpus value. */
const STATS = 2 * MAX_ORDER + 2;
const TINY = 1e-15;
const SMALL = 1e-9;

function closestRefLength(refLengths: readonly number[], testLength: number): number {
  let best = refLengths[0]!;
  let bestDiff = Math.abs(best - testLength);
  for (const l of refLengths) {
    const diff = Math.abs(l - testLength);
    if (diff < bestDiff || (diff === bestDiff && l < best)) {
      best = l;
      bestDiff = diff;
    }
  }
  return best;
}

/** Writes the geometric means for orders 1..4 times the brevity penalty, as pycocoevalcap. */
function bleuInto(
  out: number[],
  correct: ArrayLike<number>,
  guess: ArrayLike<number>,
  testLength: number,
  refLength: number,
): void {
  let product = 1;
  for (let k = 0; k < MAX_ORDER; k++) {
    product *= (correct[k]! + TINY) / (guess[k]! + SMALL);
    out[k] = product ** (1 / (k + 1));
  }
  const ratio = (testLength + TINY) / (refLength + SMALL);
  if (ratio < 1) {
    const penalty = Math.exp(1 - 1 / ratio);
    for (let k = 0; k < MAX_ORDER; k++) out[k]! *= penalty;
  }
}

function rowOf(values: readonly number[]): Record<string, number> {
  const row: Record<string, number> = {};
  BLEU_COLUMNS.forEach((column, n) => {
    row[column] = values[n]!;
  });
  return row;
}

export function createBleuMetric(): Metric {
  return {
    id: 'bleu',
    columns: BLEU_COLUMNS,
    corpusDependent: false,
    async score(input: MetricInput): Promise<MetricResult> {
      const { captions, clipped } = ngramStats(input);
      const { starts, referenceStarts } = captions;
      const items = input.ids.length;
      const columns = BLEU_COLUMNS.map(() => new Float64Array(items));
      // Per item, for resampling: correct and guessed n-grams per order, the candidate's
      // length and the reference length the brevity penalty used.
      const stats = new Float64Array(items * STATS);
      const correct = new Float64Array(MAX_ORDER);
      const guess = new Float64Array(MAX_ORDER);
      const refLengths: number[] = [];
      const values = [0, 0, 0, 0];
      for (let k = 0; k < items; k++) {
        const firstRef = referenceStarts[k]!;
        const endRef = referenceStarts[k + 1]!;
        if (endRef === firstRef) {
          throw new MetricError(`bleu: item ${input.ids[k]} has no reference caption`);
        }
        for (let n = 0; n < MAX_ORDER; n++) correct[n] = clipped[k * MAX_ORDER + n]!;
        const length = starts[k + 1]! - starts[k]!;
        for (let n = 0; n < MAX_ORDER; n++) guess[n] = Math.max(0, length - n);
        refLengths.length = 0;
        for (let s = firstRef; s < endRef; s++) refLengths.push(starts[s + 1]! - starts[s]!);
        const refLength = closestRefLength(refLengths, length);
        bleuInto(values, correct, guess, length, refLength);
        const base = k * STATS;
        for (let n = 0; n < MAX_ORDER; n++) {
          columns[n]![k] = values[n]!;
          stats[base + n] = correct[n]!;
          stats[base + MAX_ORDER + n] = guess[n]!;
        }
        stats[base + 2 * MAX_ORDER] = length;
        stats[base + 2 * MAX_ORDER + 1] = refLength;
      }
      const corpusOf = (sums: ArrayLike<number>): Record<string, number> => {
        const out = [0, 0, 0, 0];
        if (items > 0) {
          const correctSums = Array.from({ length: MAX_ORDER }, (_, n) => sums[n]!);
          const guessSums = Array.from({ length: MAX_ORDER }, (_, n) => sums[MAX_ORDER + n]!);
          bleuInto(out, correctSums, guessSums, sums[2 * MAX_ORDER]!, sums[2 * MAX_ORDER + 1]!);
        }
        return rowOf(out);
      };
      // Every item once (counts are integers: the sums are exact in any order).
      const totals = new Float64Array(STATS);
      for (let k = 0; k < items; k++) {
        for (let j = 0; j < STATS; j++) totals[j]! += stats[k * STATS + j]!;
      }
      const result: MetricResult = {
        corpus: corpusOf(totals),
        values: Object.fromEntries(BLEU_COLUMNS.map((column, n) => [column, columns[n]!])),
      };
      CORPUS_RESAMPLERS.set(result, { width: STATS, stats, corpusOf });
      return result;
    },
  };
}
