/**
 * N-gram ids shared by BLEU and CIDEr-D: every n-gram (n = 1..4) of every caption of an
 * evaluation gets a numeric id once, so the metrics count numbers instead of strings.
 * Sentences are split as pycocoevalcap's scorers split them (Python's str.split()).
 */
import { MetricError } from '../core/errors.js';
import { splitPythonWhitespace } from './tokenize.js';
import type { MetricInput } from './types.js';

export const MAX_ORDER = 4;
/** Keys are `id * 8 + order` in an Int32Array, so ids stay below 2^28. */
const MAX_ID = 2 ** 28;

export interface SentenceNgrams {
  /** Token count. */
  length: number;
  /** Distinct n-gram keys of all orders, ascending (key = id * 8 + order). */
  keys: readonly number[];
  /** How often each key occurs. */
  counts: readonly number[];
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

/**
 * Open-addressing hash table from a pair of small integers to a dense id. A Map keyed by
 * `a * 2^26 + b` hashes heap numbers and was most of BLEU's time on 60,000 pairs.
 */
export class PairTable {
  private first = new Int32Array(1 << 12);
  private second = new Int32Array(1 << 12);
  private ids = new Int32Array(1 << 12).fill(-1);
  size = 0;

  /** The id of (a, b), assigning the next id when the pair is new. */
  intern(a: number, b: number): number {
    if (this.size * 2 >= this.ids.length) this.grow();
    const mask = this.ids.length - 1;
    let slot = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) & mask;
    for (;;) {
      const id = this.ids[slot]!;
      if (id === -1) {
        this.first[slot] = a;
        this.second[slot] = b;
        this.ids[slot] = this.size;
        return this.size++;
      }
      if (this.first[slot] === a && this.second[slot] === b) return id;
      slot = (slot + 1) & mask;
    }
  }

  private grow(): void {
    const { first, second, ids } = this;
    const capacity = ids.length * 2;
    this.first = new Int32Array(capacity);
    this.second = new Int32Array(capacity);
    this.ids = new Int32Array(capacity).fill(-1);
    const mask = capacity - 1;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === -1) continue;
      let slot = (Math.imul(first[i]!, 0x9e3779b1) ^ Math.imul(second[i]!, 0x85ebca6b)) & mask;
      while (this.ids[slot] !== -1) slot = (slot + 1) & mask;
      this.first[slot] = first[i]!;
      this.second[slot] = second[i]!;
      this.ids[slot] = ids[i]!;
    }
  }
}

class Interner {
  private readonly tokens = new Map<string, number>();
  private readonly orders: PairTable[] = [];

  constructor() {
    for (let n = 1; n < MAX_ORDER; n++) this.orders.push(new PairTable());
  }

  /**
   * The sentence's n-gram keys and counts. Plain arrays of small integers throughout: a
   * typed array per sentence costs more to allocate than the whole count.
   */
  sentence(tokens: readonly string[]): SentenceNgrams {
    const words = splitPythonWhitespace(tokens);
    const length = words.length;
    const unigram: number[] = [];
    const ids: number[] = [];
    for (let i = 0; i < length; i++) {
      const word = words[i]!;
      let id = this.tokens.get(word);
      if (id === undefined) {
        id = this.tokens.size;
        this.tokens.set(word, id);
      }
      unigram.push(id);
      ids.push(id * 8 + 1);
    }
    // Order n id = intern(order n-1 id at i, unigram at i+n-1).
    let previous = unigram;
    for (let n = 2; n <= MAX_ORDER; n++) {
      const map = this.orders[n - 2]!;
      const current: number[] = [];
      for (let i = 0; i + n <= length; i++) {
        const id = map.intern(previous[i]!, unigram[i + n - 1]!);
        if (id >= MAX_ID) {
          throw new MetricError(
            `more than ${MAX_ID} distinct ${n}-grams: too many for one evaluation`,
          );
        }
        current.push(id);
        // Tag the order in the low bits so ids of different orders never collide.
        ids.push(id * 8 + n);
      }
      previous = current;
    }
    sortSmallIntegers(ids);
    const keys: number[] = [];
    const counts: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      if (i === 0 || ids[i] !== ids[i - 1]) {
        keys.push(ids[i]!);
        counts.push(1);
      } else {
        counts[counts.length - 1]! += 1;
      }
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
  keys: readonly number[];
  counts: readonly number[];
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
  const keys = [...max.keys()];
  sortSmallIntegers(keys);
  const counts = keys.map((k) => max.get(k)!);
  return { keys, counts };
}

/** Sorts integers below 2^31 ascending: insertion sort for the short lists of one caption. */
export function sortSmallIntegers(values: number[]): void {
  if (values.length > 64) {
    const sorted = Int32Array.from(values).sort();
    for (let i = 0; i < values.length; i++) values[i] = sorted[i]!;
    return;
  }
  for (let i = 1; i < values.length; i++) {
    const value = values[i]!;
    let j = i - 1;
    while (j >= 0 && values[j]! > value) {
      values[j + 1] = values[j]!;
      j--;
    }
    values[j + 1] = value;
  }
}
