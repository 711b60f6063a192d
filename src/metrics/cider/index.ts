/**
 * CIDEr-D as pycocoevalcap's Cider: n = 1..4, tf-idf vectors with document frequencies
 * taken from the references of the evaluated items (so an item's value depends on the
 * whole set: `corpusDependent`), clipped candidate weights, a Gaussian length penalty
 * with sigma 6, averaged over orders and references and scaled by 10. Corpus value: mean.
 *
 * Quirk kept for parity: the "length" in the penalty is the number of bigrams, as in
 * pycocoevalcap (its counts2vec adds term frequencies when the order index is 1).
 */
import { MetricError } from '../../core/errors.js';
import { ngramStats } from '../ngram-stats.js';
import { MAX_ORDER } from '../ngrams.js';
import type { Metric, MetricInput, MetricResult } from '../types.js';

export const CIDER_COLUMN = 'cider';

export interface CiderOptions {
  /** Gaussian length-penalty width (default 6). */
  sigma?: number;
}

export function createCiderMetric(options: CiderOptions = {}): Metric {
  const sigma = options.sigma ?? 6;
  return {
    id: 'cider',
    columns: [CIDER_COLUMN],
    corpusDependent: true,
    async score(input: MetricInput): Promise<MetricResult> {
      const items = input.ids.length;
      const { captions, hypNorm, refNorm, dot } = ngramStats(input);
      const { starts, referenceStarts } = captions;
      const total = new Float64Array(MAX_ORDER);
      const scores = new Float64Array(items);
      let sum = 0;
      for (let k = 0; k < items; k++) {
        const firstRef = referenceStarts[k]!;
        const endRef = referenceStarts[k + 1]!;
        if (endRef === firstRef) {
          throw new MetricError(`cider: item ${input.ids[k]} has no reference caption`);
        }
        const hypBigrams = Math.max(0, starts[k + 1]! - starts[k]! - 1);
        total.fill(0);
        for (let s = firstRef; s < endRef; s++) {
          const delta = hypBigrams - Math.max(0, starts[s + 1]! - starts[s]! - 1);
          const penalty = Math.E ** (-(delta ** 2) / (2 * sigma ** 2));
          for (let n = 0; n < MAX_ORDER; n++) {
            const hyp = hypNorm[k * MAX_ORDER + n]!;
            const ref = refNorm[s * MAX_ORDER + n]!;
            let v = dot[s * MAX_ORDER + n]!;
            if (hyp !== 0 && ref !== 0) v /= hyp * ref;
            total[n]! += v * penalty;
          }
        }
        let value = (total[0]! + total[1]! + total[2]! + total[3]!) / MAX_ORDER;
        value /= endRef - firstRef;
        value *= 10;
        scores[k] = value;
        sum += value;
      }
      return {
        corpus: { [CIDER_COLUMN]: items === 0 ? 0 : sum / items },
        values: { [CIDER_COLUMN]: scores },
      };
    },
  };
}
