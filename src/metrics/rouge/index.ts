/**
 * ROUGE, in the two forms caption papers report:
 *
 * - `rouge_l`: pycocoevalcap's Rouge on the run's tokens: LCS precision and recall against
 *   each reference, the maxima of each over the references, F with beta = 1.2.
 *   pycocoevalcap splits captions on single spaces, so an empty caption is one empty
 *   token; that is kept (an empty candidate scores 1 against an empty reference).
 * - `rouge_1`, `rouge_2`: Google's rouge_score F-measure on the raw strings with its own
 *   tokenization (lower case, every character outside a-z and 0-9 a separator, optional
 *   Porter stemming of tokens longer than 3 characters), best over the references (the
 *   first reference with the highest F wins, as `score_multi`), whatever the run's
 *   tokenizer is.
 *
 * Corpus values: means of the per-item values.
 */
import { MetricError } from '../../core/errors.js';
import { porterStem } from '../meteor/porter.js';
import { PairTable, sortSmallIntegers } from '../ngrams.js';
import type { Metric, MetricInput, MetricResult } from '../types.js';

export const ROUGE_COLUMNS = ['rouge_l', 'rouge_1', 'rouge_2'] as const;

export interface RougeOptions {
  /** Porter stemming in ROUGE-1/2 (rouge_score's use_stemmer). */
  stemmer?: boolean;
}

const BETA = 1.2;

/** Length of the longest common subsequence of two id sequences. */
export function lcsLength(a: Int32Array, b: Int32Array): number {
  const [long, short] = a.length >= b.length ? [a, b] : [b, a];
  if (short.length === 0) return 0;
  let prev = new Int32Array(short.length + 1);
  let curr = new Int32Array(short.length + 1);
  for (let i = 1; i <= long.length; i++) {
    const x = long[i - 1]!;
    for (let j = 1; j <= short.length; j++) {
      if (x === short[j - 1]) curr[j] = prev[j - 1]! + 1;
      else {
        const up = prev[j]!;
        const left = curr[j - 1]!;
        curr[j] = Math.max(up, left);
      }
    }
    [prev, curr] = [curr, prev];
  }
  return prev[short.length]!;
}

/** pycocoevalcap's Rouge.calc_score on space-split token id sequences. */
export function rougeL(candidate: Int32Array, references: readonly Int32Array[]): number {
  let precMax = 0;
  let recMax = 0;
  for (const ref of references) {
    const lcs = lcsLength(ref, candidate);
    const prec = lcs / candidate.length;
    const rec = lcs / ref.length;
    if (prec > precMax) precMax = prec;
    if (rec > recMax) recMax = rec;
  }
  if (precMax === 0 || recMax === 0) return 0;
  return ((1 + BETA ** 2) * precMax * recMax) / (recMax + BETA ** 2 * precMax);
}

const NON_ALNUM = /[^a-z0-9]+/g;

/** rouge_score's default tokenizer. */
export function rougeScoreTokens(text: string, stem: boolean): string[] {
  const tokens = text.toLowerCase().replace(NON_ALNUM, ' ').split(/\s+/);
  const out: string[] = [];
  for (const token of tokens) {
    if (token === '') continue;
    out.push(stem && token.length > 3 ? porterStem(token) : token);
  }
  // rouge_score then keeps tokens matching ^[a-z0-9]+$: after the replacement above every
  // non-empty token does, and a stem of one is still letters and digits.
  return out;
}

function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

/** Size of the multiset intersection of two ascending id lists (sum of the smaller counts). */
function overlap(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  let j = 0;
  let shared = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === y) {
      shared++;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return shared;
}

/** rouge_score's ROUGE-N F-measure from the n-gram id lists of a target and a prediction. */
export function rougeN(target: readonly number[], prediction: readonly number[]): number {
  const shared = overlap(target, prediction);
  return fmeasure(shared / Math.max(prediction.length, 1), shared / Math.max(target.length, 1));
}

/** Unigrams and bigrams of rouge_score tokens as ascending id lists (one entry per occurrence). */
class NgramIds {
  private readonly tokens = new Map<string, number>();
  private readonly bigrams = new PairTable();

  grams(tokens: readonly string[]): { unigrams: number[]; bigrams: number[] } {
    const unigrams: number[] = [];
    for (const token of tokens) {
      let id = this.tokens.get(token);
      if (id === undefined) {
        id = this.tokens.size;
        this.tokens.set(token, id);
      }
      unigrams.push(id);
    }
    const bigrams: number[] = [];
    for (let i = 0; i + 1 < unigrams.length; i++)
      bigrams.push(this.bigrams.intern(unigrams[i]!, unigrams[i + 1]!));
    sortSmallIntegers(unigrams);
    sortSmallIntegers(bigrams);
    return { unigrams, bigrams };
  }
}

class SpaceTokenIds {
  private readonly ids = new Map<string, number>();

  /** pycocoevalcap's `' '.join(tokens).split(' ')`: no tokens gives one empty token. */
  encode(tokens: readonly string[]): Int32Array {
    const words = tokens.length === 0 ? [''] : tokens;
    const out = new Int32Array(words.length);
    words.forEach((w, i) => {
      let id = this.ids.get(w);
      if (id === undefined) {
        id = this.ids.size;
        this.ids.set(w, id);
      }
      out[i] = id;
    });
    return out;
  }
}

export function createRougeMetric(options: RougeOptions = {}): Metric {
  const stem = options.stemmer ?? false;
  return {
    id: 'rouge',
    columns: ROUGE_COLUMNS,
    corpusDependent: false,
    async score(input: MetricInput): Promise<MetricResult> {
      const ids = new SpaceTokenIds();
      const grams = new NgramIds();
      const perItem = new Map<string, Record<string, number>>();
      const sums = [0, 0, 0];
      input.ids.forEach((id, k) => {
        const refTokens = input.referenceTokens[k]!;
        const refTexts = input.references[k]!;
        if (refTokens.length === 0 || refTexts.length === 0) {
          throw new MetricError(`rouge: item ${id} has no reference caption`);
        }
        const l = rougeL(
          ids.encode(input.candidateTokens[k]!),
          refTokens.map((t) => ids.encode(t)),
        );
        const pred = grams.grams(rougeScoreTokens(input.candidates[k]!, stem));
        let best1 = Number.NEGATIVE_INFINITY;
        let best2 = Number.NEGATIVE_INFINITY;
        for (const ref of refTexts) {
          const target = grams.grams(rougeScoreTokens(ref, stem));
          const f1 = rougeN(target.unigrams, pred.unigrams);
          const f2 = rougeN(target.bigrams, pred.bigrams);
          if (f1 > best1) best1 = f1;
          if (f2 > best2) best2 = f2;
        }
        perItem.set(id, { rouge_l: l, rouge_1: best1, rouge_2: best2 });
        sums[0]! += l;
        sums[1]! += best1;
        sums[2]! += best2;
      });
      const n = input.ids.length;
      const mean = (s: number) => (n === 0 ? 0 : s / n);
      return {
        corpus: { rouge_l: mean(sums[0]!), rouge_1: mean(sums[1]!), rouge_2: mean(sums[2]!) },
        perItem,
      };
    },
  };
}
