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
import { countNgrams, MAX_ORDER, ngramIndex, orderOf, type SentenceNgrams } from '../ngrams.js';
import type { Metric, MetricInput, MetricResult } from '../types.js';

export const CIDER_COLUMN = 'cider';

export interface CiderOptions {
  /** Gaussian length-penalty width (default 6). */
  sigma?: number;
}

interface TfIdf {
  weights: Map<number, number>;
  norms: number[];
  bigrams: number;
}

export function createCiderMetric(options: CiderOptions = {}): Metric {
  const sigma = options.sigma ?? 6;
  return {
    id: 'cider',
    columns: [CIDER_COLUMN],
    corpusDependent: true,
    async score(input: MetricInput): Promise<MetricResult> {
      const index = ngramIndex(input);
      const n = input.ids.length;
      // Document frequency: in how many items' reference sets each n-gram occurs.
      const df = new Map<number, number>();
      const refCounts: Map<number, number>[][] = index.references.map((refs) =>
        refs.map(countNgrams),
      );
      for (const counts of refCounts) {
        const seen = new Set<number>();
        for (const c of counts) for (const gram of c.keys()) seen.add(gram);
        for (const gram of seen) df.set(gram, (df.get(gram) ?? 0) + 1);
      }
      const refLength = Math.log(n);

      const vector = (counts: Map<number, number>, sentence: SentenceNgrams): TfIdf => {
        const weights = new Map<number, number>();
        const norms = [0, 0, 0, 0];
        for (const [gram, tf] of counts) {
          const w = tf * (refLength - Math.log(Math.max(1, df.get(gram) ?? 0)));
          weights.set(gram, w);
          norms[orderOf(gram) - 1]! += w ** 2;
        }
        return {
          weights,
          norms: norms.map(Math.sqrt),
          bigrams: Math.max(0, sentence.length - 1),
        };
      };

      const perItem = new Map<string, Record<string, number>>();
      let sum = 0;
      const scores: number[] = [];
      input.ids.forEach((id, k) => {
        const refs = index.references[k]!;
        if (refs.length === 0) throw new MetricError(`cider: item ${id} has no reference caption`);
        const cand = index.candidates[k]!;
        const hyp = vector(countNgrams(cand), cand);
        const total = [0, 0, 0, 0];
        refs.forEach((ref, r) => {
          const vr = vector(refCounts[k]![r]!, ref);
          const val = [0, 0, 0, 0];
          for (const [gram, wh] of hyp.weights) {
            const wr = vr.weights.get(gram) ?? 0;
            val[orderOf(gram) - 1]! += Math.min(wh, wr) * wr;
          }
          const delta = hyp.bigrams - vr.bigrams;
          const penalty = Math.E ** (-(delta ** 2) / (2 * sigma ** 2));
          for (let o = 0; o < MAX_ORDER; o++) {
            if (hyp.norms[o] !== 0 && vr.norms[o] !== 0) val[o]! /= hyp.norms[o]! * vr.norms[o]!;
            total[o]! += val[o]! * penalty;
          }
        });
        let value = (total[0]! + total[1]! + total[2]! + total[3]!) / MAX_ORDER;
        value /= refs.length;
        value *= 10;
        scores.push(value);
        sum += value;
        perItem.set(id, { [CIDER_COLUMN]: value });
      });
      return { corpus: { [CIDER_COLUMN]: n === 0 ? 0 : sum / n }, perItem };
    },
  };
}
