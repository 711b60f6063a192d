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
import { idOf, MAX_ORDER, ngramIndex, orderOf, type SentenceNgrams } from '../ngrams.js';
import type { Metric, MetricInput, MetricResult } from '../types.js';

export const CIDER_COLUMN = 'cider';

export interface CiderOptions {
  /** Gaussian length-penalty width (default 6). */
  sigma?: number;
}

interface TfIdf {
  keys: readonly number[];
  weights: Float64Array;
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
      // Document frequency: in how many items' reference sets each n-gram occurs
      // (dense tables per order; `stamp` marks n-grams already counted for this item).
      const df = index.orderSizes.map((size) => new Int32Array(size));
      const stamp = index.orderSizes.map((size) => new Int32Array(size).fill(-1));
      index.references.forEach((refs, k) => {
        for (const ref of refs) {
          for (let i = 0; i < ref.keys.length; i++) {
            const key = ref.keys[i]!;
            const o = orderOf(key);
            const id = idOf(key);
            if (stamp[o]![id] !== k) {
              stamp[o]![id] = k;
              df[o]![id]! += 1;
            }
          }
        }
      });
      const refLength = Math.log(n);
      const idf = df.map((counts) =>
        Float64Array.from(counts, (c) => refLength - Math.log(Math.max(1, c))),
      );

      const vector = (sentence: SentenceNgrams): TfIdf => {
        const weights = new Float64Array(sentence.keys.length);
        const norms = [0, 0, 0, 0];
        for (let i = 0; i < sentence.keys.length; i++) {
          const key = sentence.keys[i]!;
          const o = orderOf(key);
          const w = sentence.counts[i]! * idf[o]![idOf(key)]!;
          weights[i] = w;
          norms[o - 1]! += w ** 2;
        }
        return {
          keys: sentence.keys,
          weights,
          norms: norms.map(Math.sqrt),
          bigrams: Math.max(0, sentence.length - 1),
        };
      };

      const perItem = new Map<string, Record<string, number>>();
      let sum = 0;
      input.ids.forEach((id, k) => {
        const refs = index.references[k]!;
        if (refs.length === 0) throw new MetricError(`cider: item ${id} has no reference caption`);
        const hyp = vector(index.candidates[k]!);
        const total = [0, 0, 0, 0];
        for (const ref of refs) {
          const vr = vector(ref);
          const val = [0, 0, 0, 0];
          let i = 0;
          let j = 0;
          while (i < hyp.keys.length && j < vr.keys.length) {
            const a = hyp.keys[i]!;
            const b = vr.keys[j]!;
            if (a === b) {
              const wh = hyp.weights[i]!;
              const wr = vr.weights[j]!;
              val[orderOf(a) - 1]! += Math.min(wh, wr) * wr;
              i++;
              j++;
            } else if (a < b) i++;
            else j++;
          }
          const delta = hyp.bigrams - vr.bigrams;
          const penalty = Math.E ** (-(delta ** 2) / (2 * sigma ** 2));
          for (let o = 0; o < MAX_ORDER; o++) {
            if (hyp.norms[o] !== 0 && vr.norms[o] !== 0) val[o]! /= hyp.norms[o]! * vr.norms[o]!;
            total[o]! += val[o]! * penalty;
          }
        }
        let value = (total[0]! + total[1]! + total[2]! + total[3]!) / MAX_ORDER;
        value /= refs.length;
        value *= 10;
        sum += value;
        perItem.set(id, { [CIDER_COLUMN]: value });
      });
      return { corpus: { [CIDER_COLUMN]: n === 0 ? 0 : sum / n }, perItem };
    },
  };
}
