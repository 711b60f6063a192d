/**
 * N-gram ids shared by BLEU and CIDEr-D: every n-gram (n = 1..4) of every caption of an
 * evaluation gets a numeric id once, so the metrics count numbers instead of strings.
 * Sentences are split as pycocoevalcap's scorers split them (Python's str.split()).
 */
import { splitPythonWhitespace } from './tokenize.js';
import type { MetricInput } from './types.js';

export const MAX_ORDER = 4;

export interface SentenceNgrams {
  /** Token count. */
  length: number;
  /** Distinct n-gram keys of all orders, ascending (key = id * 8 + order). */
  keys: Float64Array;
  /** How often each key occurs. */
  counts: Int32Array;
}

export interface NgramIndex {
  candidates: SentenceNgrams[];
  references: SentenceNgrams[][];
  /** Distinct n-grams of each order (index 1..4), for dense per-order tables. */
  orderSizes: number[];
}

/** The id (dense within its order) of an n-gram key. */
export function idOf(key: number): number {
  return Math.floor(key / 8);
}

/** Token ids stay below 2^26 and n-gram ids below 2^26 per order: keys fit in 2^52. */
const SHIFT = 2 ** 26;

class Interner {
  private readonly tokens = new Map<string, number>();
  private readonly orders: Map<number, number>[] = [];

  constructor() {
    for (let n = 1; n < MAX_ORDER; n++) this.orders.push(new Map());
  }

  sentence(tokens: readonly string[]): SentenceNgrams {
    const words = splitPythonWhitespace(tokens);
    const length = words.length;
    const starts = [0];
    let total = 0;
    for (let n = 1; n <= MAX_ORDER; n++) {
      total += Math.max(0, length - n + 1);
      starts.push(total);
    }
    const ids = new Float64Array(total);
    const unigram = new Array<number>(length);
    for (let i = 0; i < length; i++) {
      const word = words[i]!;
      let id = this.tokens.get(word);
      if (id === undefined) {
        id = this.tokens.size;
        this.tokens.set(word, id);
      }
      unigram[i] = id;
      ids[i] = id;
    }
    // Order n id = intern(order n-1 id at i, unigram at i+n-1).
    let previous = unigram;
    for (let n = 2; n <= MAX_ORDER; n++) {
      const map = this.orders[n - 2]!;
      const count = Math.max(0, length - n + 1);
      const current = new Array<number>(count);
      const offset = starts[n - 1]!;
      for (let i = 0; i < count; i++) {
        const key = previous[i]! * SHIFT + unigram[i + n - 1]!;
        let id = map.get(key);
        if (id === undefined) {
          id = map.size;
          map.set(key, id);
        }
        current[i] = id;
        // Tag the order in the low bits so ids of different orders never collide.
        ids[offset + i] = id * 8 + n;
      }
      previous = current;
    }
    for (let i = 0; i < length; i++) ids[i] = unigram[i]! * 8 + 1;
    ids.sort();
    let distinct = 0;
    for (let i = 0; i < ids.length; i++) if (i === 0 || ids[i] !== ids[i - 1]) distinct++;
    const keys = new Float64Array(distinct);
    const counts = new Int32Array(distinct);
    let j = -1;
    for (let i = 0; i < ids.length; i++) {
      if (i === 0 || ids[i] !== ids[i - 1]) {
        j++;
        keys[j] = ids[i]!;
      }
      counts[j]! += 1;
    }
    return { length, keys, counts };
  }

  orderSizes(): number[] {
    return [0, this.tokens.size, ...this.orders.map((m) => m.size)];
  }
}

const cache = new WeakMap<object, NgramIndex>();

/** The n-gram ids of an input's tokens, computed once per input. */
export function ngramIndex(input: MetricInput): NgramIndex {
  const known = cache.get(input.candidateTokens);
  if (known && cache.get(input.referenceTokens) === known) return known;
  const interner = new Interner();
  const candidates = input.candidateTokens.map((tokens) => interner.sentence(tokens));
  const references = input.referenceTokens.map((refs) => refs.map((t) => interner.sentence(t)));
  const index: NgramIndex = { candidates, references, orderSizes: interner.orderSizes() };
  cache.set(input.candidateTokens, index);
  cache.set(input.referenceTokens, index);
  return index;
}

/** The order (1..4) of an n-gram key. */
export function orderOf(key: number): number {
  return key % 8;
}

/**
 * Per key, the maximum count over several sentences (BLEU's clipping counts over an
 * item's references), as sorted keys + counts.
 */
export function maxCounts(sentences: readonly SentenceNgrams[]): {
  keys: Float64Array;
  counts: Int32Array;
} {
  if (sentences.length === 1) return sentences[0]!;
  const max = new Map<number, number>();
  for (const s of sentences) {
    for (let i = 0; i < s.keys.length; i++) {
      const k = s.keys[i]!;
      const c = s.counts[i]!;
      if (c > (max.get(k) ?? 0)) max.set(k, c);
    }
  }
  const keys = Float64Array.from(max.keys()).sort();
  const counts = Int32Array.from(keys, (k) => max.get(k)!);
  return { keys, counts };
}
