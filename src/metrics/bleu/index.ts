/**
 * BLEU-1..4 as pycocoevalcap's Bleu(4): clipped n-gram counts against the maximum count
 * over an item's references, brevity penalty with the closest reference length (ties go
 * to the shorter reference). Corpus value: counts summed over all items first (not a mean
 * of the per-item values); per-item values: pycocoevalcap's per-sentence list, including
 * its smoothing constants (1e-15 / 1e-9).
 */
import { MetricError } from '../../core/errors.js';
import { MAX_ORDER, type NgramIndex, ngramIndex } from '../ngrams.js';
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

/**
 * Clipped n-gram matches of every item, counted with dense tables over the n-gram ids
 * (`stamp` marks which sentence or item an entry currently belongs to, so nothing is
 * cleared between items).
 */
class ClippedCounter {
  /**
   * Per n-gram id, four ints side by side (one cache line per look-up): the sentence
   * whose count this is, the count, the item whose maximum this is, the maximum.
   */
  private readonly table: Int32Array;

  constructor(private readonly index: NgramIndex) {
    this.table = new Int32Array(index.size * 4).fill(-1);
  }

  /** Adds item k's clipped matches per order (1..4) to `correct[0..3]`. */
  matches(k: number, correct: Float64Array): void {
    const { grams, captions } = this.index;
    const { starts, referenceStarts } = captions;
    const table = this.table;
    // Per n-gram, its largest count in one of the item's references.
    for (let s = referenceStarts[k]!; s < referenceStarts[k + 1]!; s++) {
      for (let p = starts[s]!; p < starts[s + 1]!; p++) {
        for (let n = 0; n < MAX_ORDER; n++) {
          const g = grams[n]![p]!;
          if (g < 0) break;
          const at = 4 * g;
          if (table[at] !== s) {
            table[at] = s;
            table[at + 1] = 0;
          }
          const c = ++table[at + 1]!;
          if (table[at + 2] !== k) {
            table[at + 2] = k;
            table[at + 3] = c;
          } else if (c > table[at + 3]!) table[at + 3] = c;
        }
      }
    }
    // Candidate occurrences beyond that maximum do not count. The candidate is sentence k,
    // never a reference sentence, so the count slot can be reused for it.
    for (let p = starts[k]!; p < starts[k + 1]!; p++) {
      for (let n = 0; n < MAX_ORDER; n++) {
        const g = grams[n]![p]!;
        if (g < 0) break;
        const at = 4 * g;
        if (table[at] !== k) {
          table[at] = k;
          table[at + 1] = 0;
        }
        if (table[at + 2] === k && ++table[at + 1]! <= table[at + 3]!) correct[n]! += 1;
      }
    }
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
      const index = ngramIndex(input);
      const { starts, referenceStarts } = index.captions;
      const items = input.ids.length;
      const counter = new ClippedCounter(index);
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
        correct.fill(0);
        counter.matches(k, correct);
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
      const corpusOf = (weights: ArrayLike<number>): Record<string, number> => {
        const sums = new Float64Array(STATS);
        for (let k = 0; k < items; k++) {
          const w = weights[k]!;
          if (w === 0) continue;
          const base = k * STATS;
          for (let j = 0; j < STATS; j++) sums[j]! += w * stats[base + j]!;
        }
        const out = [0, 0, 0, 0];
        if (items > 0) {
          const correctSums = sums.slice(0, MAX_ORDER);
          const guessSums = sums.slice(MAX_ORDER, 2 * MAX_ORDER);
          bleuInto(out, correctSums, guessSums, sums[2 * MAX_ORDER]!, sums[2 * MAX_ORDER + 1]!);
        }
        return rowOf(out);
      };
      const everyItemOnce = new Uint32Array(items).fill(1);
      const result: MetricResult = {
        corpus: corpusOf(everyItemOnce),
        values: Object.fromEntries(BLEU_COLUMNS.map((column, n) => [column, columns[n]!])),
      };
      CORPUS_RESAMPLERS.set(result, corpusOf);
      return result;
    },
  };
}
