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
import { MAX_ORDER, ngramIndex } from '../ngrams.js';
import type { Metric, MetricInput, MetricResult } from '../types.js';

export const CIDER_COLUMN = 'cider';

export interface CiderOptions {
  /** Gaussian length-penalty width (default 6). */
  sigma?: number;
}

/**
 * Term frequencies of one sentence's n-grams in a dense table over n-gram ids: per id an
 * (owner, tf) pair side by side, so that a look-up touches one cache line. An entry is
 * valid while its owner is the sentence (counted) or `~sentence` (counted and visited).
 */
class TermCounts {
  readonly table: Int32Array;

  constructor(size: number) {
    this.table = new Int32Array(size * 2);
    // Owners: neither a sentence index nor the complement of one.
    for (let g = 0; g < size; g++) this.table[2 * g] = 0x7fffffff;
  }
}

export function createCiderMetric(options: CiderOptions = {}): Metric {
  const sigma = options.sigma ?? 6;
  return {
    id: 'cider',
    columns: [CIDER_COLUMN],
    corpusDependent: true,
    async score(input: MetricInput): Promise<MetricResult> {
      const index = ngramIndex(input);
      const { grams, size } = index;
      const { starts, referenceStarts } = index.captions;
      const items = input.ids.length;
      for (let k = 0; k < items; k++) {
        if (referenceStarts[k + 1] === referenceStarts[k]) {
          throw new MetricError(`cider: item ${input.ids[k]} has no reference caption`);
        }
      }

      // Document frequency: in how many items' reference sets each n-gram occurs.
      const df = new Int32Array(size);
      const seenIn = new Int32Array(size).fill(-1);
      for (let k = 0; k < items; k++) {
        const end = starts[referenceStarts[k + 1]!]!;
        for (let p = starts[referenceStarts[k]!]!; p < end; p++) {
          for (let n = 0; n < MAX_ORDER; n++) {
            const g = grams[n]![p]!;
            if (g < 0) break;
            if (seenIn[g] !== k) {
              seenIn[g] = k;
              df[g]! += 1;
            }
          }
        }
      }
      const refLength = Math.log(items);
      const idf = new Float64Array(size);
      for (let g = 0; g < size; g++) idf[g] = refLength - Math.log(Math.max(1, df[g]!));

      const hyp = new TermCounts(size);
      const ref = new TermCounts(size);
      const hypTable = hyp.table;
      const refTable = ref.table;
      const count = (into: TermCounts, s: number) => {
        const { table } = into;
        for (let p = starts[s]!; p < starts[s + 1]!; p++) {
          for (let n = 0; n < MAX_ORDER; n++) {
            const g = grams[n]![p]!;
            if (g < 0) break;
            if (table[2 * g] !== s) {
              table[2 * g] = s;
              table[2 * g + 1] = 0;
            }
            table[2 * g + 1]! += 1;
          }
        }
      };
      const hypNorms = new Float64Array(MAX_ORDER);
      const refNorms = new Float64Array(MAX_ORDER);
      const val = new Float64Array(MAX_ORDER);
      const total = new Float64Array(MAX_ORDER);
      const scores = new Float64Array(items);
      let sum = 0;
      for (let k = 0; k < items; k++) {
        // The candidate's tf-idf norms per order; its n-grams end up owned by ~k.
        count(hyp, k);
        hypNorms.fill(0);
        for (let p = starts[k]!; p < starts[k + 1]!; p++) {
          for (let n = 0; n < MAX_ORDER; n++) {
            const g = grams[n]![p]!;
            if (g < 0) break;
            if (hypTable[2 * g] !== k) continue;
            hypTable[2 * g] = ~k;
            const w = hypTable[2 * g + 1]! * idf[g]!;
            hypNorms[n]! += w ** 2;
          }
        }
        for (let n = 0; n < MAX_ORDER; n++) hypNorms[n] = Math.sqrt(hypNorms[n]!);
        const hypBigrams = Math.max(0, starts[k + 1]! - starts[k]! - 1);

        total.fill(0);
        const firstRef = referenceStarts[k]!;
        const endRef = referenceStarts[k + 1]!;
        for (let s = firstRef; s < endRef; s++) {
          count(ref, s);
          refNorms.fill(0);
          val.fill(0);
          for (let p = starts[s]!; p < starts[s + 1]!; p++) {
            for (let n = 0; n < MAX_ORDER; n++) {
              const g = grams[n]![p]!;
              if (g < 0) break;
              if (refTable[2 * g] !== s) continue;
              refTable[2 * g] = ~s;
              const wr = refTable[2 * g + 1]! * idf[g]!;
              refNorms[n]! += wr ** 2;
              if (hypTable[2 * g] === ~k) {
                const wh = hypTable[2 * g + 1]! * idf[g]!;
                val[n]! += Math.min(wh, wr) * wr;
              }
            }
          }
          const delta = hypBigrams - Math.max(0, starts[s + 1]! - starts[s]! - 1);
          const penalty = Math.E ** (-(delta ** 2) / (2 * sigma ** 2));
          for (let n = 0; n < MAX_ORDER; n++) {
            const refNorm = Math.sqrt(refNorms[n]!);
            let v = val[n]!;
            if (hypNorms[n] !== 0 && refNorm !== 0) v /= hypNorms[n]! * refNorm;
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
