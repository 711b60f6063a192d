/**
 * N-gram ids shared by BLEU and CIDEr-D: every n-gram (n = 1..4) of every caption of an
 * evaluation gets one integer id, unique across orders, so the metrics count with dense
 * typed-array tables instead of maps of strings. Sentences are split as pycocoevalcap's
 * scorers split them (Python's str.split()).
 */
import { MetricError } from '../core/errors.js';
import { type EncodedCaptions, pythonSplitCaptions } from './token-ids.js';
import type { MetricInput } from './types.js';

export const MAX_ORDER = 4;

export interface NgramIndex {
  captions: EncodedCaptions;
  /**
   * grams[n - 1][p]: the id of the n-gram that starts at token position p of
   * `captions.tokens`, or -1 when it would run past the end of its sentence.
   */
  grams: Int32Array[];
  /** Distinct n-grams of all orders: ids are below this. */
  size: number;
}

/**
 * Open-addressing hash table from a pair of small integers to a dense id. A Map keyed by
 * `a * 2^26 + b` hashes heap numbers and was most of BLEU's time on 60,000 pairs. A slot
 * is three adjacent ints (first, second, id), so a probe touches one cache line.
 */
export class PairTable {
  private capacity: number;
  private slots: Int32Array;
  size = 0;

  /** `expected`: about how many pairs will be interned (the table grows past it). */
  constructor(expected = 1 << 11) {
    this.capacity = 1 << Math.ceil(Math.log2(Math.max(2 * expected, 1 << 12)));
    this.slots = new Int32Array(3 * this.capacity).fill(-1);
  }

  /** The id of (a, b), assigning the next id when the pair is new. */
  intern(a: number, b: number): number {
    if (this.size * 2 >= this.capacity) this.grow();
    const mask = this.capacity - 1;
    const slots = this.slots;
    let slot = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) & mask;
    for (;;) {
      const at = slot * 3;
      const id = slots[at + 2]!;
      if (id === -1) {
        slots[at] = a;
        slots[at + 1] = b;
        slots[at + 2] = this.size;
        return this.size++;
      }
      if (slots[at] === a && slots[at + 1] === b) return id;
      slot = (slot + 1) & mask;
    }
  }

  private grow(): void {
    const old = this.slots;
    this.capacity *= 2;
    this.slots = new Int32Array(this.capacity * 3).fill(-1);
    const mask = this.capacity - 1;
    for (let at = 0; at < old.length; at += 3) {
      if (old[at + 2] === -1) continue;
      const a = old[at]!;
      const b = old[at + 1]!;
      let slot = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) & mask;
      while (this.slots[slot * 3 + 2] !== -1) slot = (slot + 1) & mask;
      this.slots[slot * 3] = a;
      this.slots[slot * 3 + 1] = b;
      this.slots[slot * 3 + 2] = old[at + 2]!;
    }
  }
}

const cache = new WeakMap<EncodedCaptions, NgramIndex>();

/** The n-gram ids of an input's captions, computed once per input. */
export function ngramIndex(input: MetricInput): NgramIndex {
  const captions = pythonSplitCaptions(input);
  let index = cache.get(captions);
  if (index === undefined) {
    index = buildIndex(captions);
    cache.set(captions, index);
  }
  return index;
}

function buildIndex(captions: EncodedCaptions): NgramIndex {
  const { tokens, starts, sentences } = captions;
  // Order 1: the token ids themselves; order n: the pair (n-1-gram at p, token at p+n-1).
  const grams: Int32Array[] = [tokens];
  let size = captions.vocabulary.length;
  // An order has at least about as many distinct n-grams as the one before: sizing each
  // table for that (twice the vocabulary for bigrams) spares most of its growing.
  let expected = 2 * captions.vocabulary.length;
  for (let n = 2; n <= MAX_ORDER; n++) {
    const previous = grams[n - 2]!;
    const current = new Int32Array(tokens.length).fill(-1);
    const table = new PairTable(expected);
    const base = size;
    for (let s = 0; s < sentences; s++) {
      const end = starts[s + 1]! - n + 1;
      for (let p = starts[s]!; p < end; p++) {
        current[p] = base + table.intern(previous[p]!, tokens[p + n - 1]!);
      }
    }
    size += table.size;
    expected = table.size;
    if (size >= 2 ** 31) {
      throw new MetricError(`more than 2^31 distinct n-grams: too many for one evaluation`);
    }
    grams.push(current);
  }
  return { captions, grams, size };
}
