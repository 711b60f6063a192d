/**
 * BLEU-1..4 as pycocoevalcap's Bleu(4): clipped n-gram counts against the maximum count
 * over an item's references, brevity penalty with the closest reference length (ties go
 * to the shorter reference). Corpus value: counts summed over all items first (not a mean
 * of the per-item values); per-item values: pycocoevalcap's per-sentence list, including
 * its smoothing constants (1e-15 / 1e-9).
 */
import { MetricError } from '../../core/errors.js';
import { MAX_ORDER, maxCounts, ngramIndex, orderOf } from '../ngrams.js';
import { CORPUS_RESAMPLERS } from '../resample.js';
import type { Metric, MetricInput, MetricResult } from '../types.js';

export const BLEU_COLUMNS = ['bleu_1', 'bleu_2', 'bleu_3', 'bleu_4'] as const;

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

/** The geometric means for orders 1..4 times the brevity penalty, as pycocoevalcap. */
function bleuFromCounts(
  correct: readonly number[],
  guess: readonly number[],
  testLength: number,
  refLength: number,
): number[] {
  const out: number[] = [];
  let product = 1;
  for (let k = 0; k < MAX_ORDER; k++) {
    product *= (correct[k]! + TINY) / (guess[k]! + SMALL);
    out.push(product ** (1 / (k + 1)));
  }
  const ratio = (testLength + TINY) / (refLength + SMALL);
  if (ratio < 1) {
    const penalty = Math.exp(1 - 1 / ratio);
    for (let k = 0; k < MAX_ORDER; k++) out[k]! *= penalty;
  }
  return out;
}

export function createBleuMetric(): Metric {
  return {
    id: 'bleu',
    columns: BLEU_COLUMNS,
    corpusDependent: false,
    async score(input: MetricInput): Promise<MetricResult> {
      const index = ngramIndex(input);
      const perItem = new Map<string, Record<string, number>>();
      const totalCorrect = [0, 0, 0, 0];
      const totalGuess = [0, 0, 0, 0];
      let totalTest = 0;
      let totalRef = 0;
      // Per item: correct[4], guess[4], test length, reference length (for resampling).
      const stats = new Float64Array(input.ids.length * 10);
      input.ids.forEach((id, k) => {
        const refs = index.references[k]!;
        if (refs.length === 0) throw new MetricError(`bleu: item ${id} has no reference caption`);
        const ref = maxCounts(refs);
        const cand = index.candidates[k]!;
        const correct = [0, 0, 0, 0];
        // Clipped matches: merge the two ascending key lists.
        let i = 0;
        let j = 0;
        while (i < cand.keys.length && j < ref.keys.length) {
          const a = cand.keys[i]!;
          const b = ref.keys[j]!;
          if (a === b) {
            correct[orderOf(a) - 1]! += Math.min(cand.counts[i]!, ref.counts[j]!);
            i++;
            j++;
          } else if (a < b) i++;
          else j++;
        }
        const guess = [1, 2, 3, 4].map((n) => Math.max(0, cand.length - n + 1));
        const refLength = closestRefLength(
          refs.map((r) => r.length),
          cand.length,
        );
        const values = bleuFromCounts(correct, guess, cand.length, refLength);
        const row: Record<string, number> = {};
        BLEU_COLUMNS.forEach((column, n) => {
          row[column] = values[n]!;
        });
        perItem.set(id, row);
        for (let n = 0; n < MAX_ORDER; n++) {
          totalCorrect[n]! += correct[n]!;
          totalGuess[n]! += guess[n]!;
          stats[k * 10 + n] = correct[n]!;
          stats[k * 10 + 4 + n] = guess[n]!;
        }
        stats[k * 10 + 8] = cand.length;
        stats[k * 10 + 9] = refLength;
        totalTest += cand.length;
        totalRef += refLength;
      });
      const corpusValues =
        input.ids.length === 0
          ? [0, 0, 0, 0]
          : bleuFromCounts(totalCorrect, totalGuess, totalTest, totalRef);
      const corpus: Record<string, number> = {};
      BLEU_COLUMNS.forEach((column, n) => {
        corpus[column] = corpusValues[n]!;
      });
      const result: MetricResult = { corpus, perItem };
      CORPUS_RESAMPLERS.set(result, (indices) => {
        const c = [0, 0, 0, 0];
        const g = [0, 0, 0, 0];
        let t = 0;
        let r = 0;
        for (let i = 0; i < indices.length; i++) {
          const base = indices[i]! * 10;
          for (let n = 0; n < MAX_ORDER; n++) {
            c[n]! += stats[base + n]!;
            g[n]! += stats[base + 4 + n]!;
          }
          t += stats[base + 8]!;
          r += stats[base + 9]!;
        }
        const values = indices.length === 0 ? [0, 0, 0, 0] : bleuFromCounts(c, g, t, r);
        const out: Record<string, number> = {};
        BLEU_COLUMNS.forEach((column, n) => {
          out[column] = values[n]!;
        });
        return out;
      });
      return result;
    },
  };
}
