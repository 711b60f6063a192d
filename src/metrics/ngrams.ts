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
   * `captions.tokens`; {@link ONCE} when that n-gram occurs only there in all captions; -1
   * when it would run past the end of its sentence.
   */
  grams: Int32Array[];
  /** Ids are below this (n-grams that occur once have none). */
  size: number;
}

/**
 * The "id" of an n-gram that occurs once in all the captions (most of them do: 2.1 million
 * of 2.7 million on the 60,000 bench pairs). Its counts are known without a table (term
 * frequency 1, document frequency 0 or 1, no match), so it gets no row in one; an n-gram
 * that extends it occurs once too.
 */
export const ONCE = -2;

/**
 * Open-addressing hash table from a pair of small integers to a dense id, counting how
 * often each pair was interned. A Map keyed by `a * 2^26 + b` hashes heap numbers and was
 * most of BLEU's time on 60,000 pairs. A slot is four adjacent ints (first, second, id,
 * count), so a probe touches one cache line.
 */
export class PairTable {
  private capacity: number;
  private slots: Int32Array;
  size = 0;

  /** `expected`: about how many pairs will be interned (the table grows past it). */
  constructor(expected = 1 << 11) {
    this.capacity = 1 << Math.ceil(Math.log2(Math.max(2 * expected, 1 << 12)));
    this.slots = new Int32Array(SLOT * this.capacity).fill(-1);
  }

  /** The id of (a, b), assigning the next id when the pair is new. */
  intern(a: number, b: number): number {
    if (this.size * 2 >= this.capacity) this.grow();
    const mask = this.capacity - 1;
    const slots = this.slots;
    let slot = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) & mask;
    for (;;) {
      const at = slot * SLOT;
      const id = slots[at + 2]!;
      if (id === -1) {
        slots[at] = a;
        slots[at + 1] = b;
        slots[at + 2] = this.size;
        slots[at + 3] = 1;
        return this.size++;
      }
      if (slots[at] === a && slots[at + 1] === b) {
        slots[at + 3]! += 1;
        return id;
      }
      slot = (slot + 1) & mask;
    }
  }

  /** counts[id]: how many times the pair with that id was interned. */
  counts(): Int32Array {
    const counts = new Int32Array(this.size);
    const slots = this.slots;
    for (let at = 0; at < slots.length; at += SLOT) {
      const id = slots[at + 2]!;
      if (id !== -1) counts[id] = slots[at + 3]!;
    }
    return counts;
  }

  private grow(): void {
    const old = this.slots;
    this.capacity *= 2;
    this.slots = new Int32Array(this.capacity * SLOT).fill(-1);
    const mask = this.capacity - 1;
    for (let at = 0; at < old.length; at += SLOT) {
      if (old[at + 2] === -1) continue;
      const a = old[at]!;
      const b = old[at + 1]!;
      let slot = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) & mask;
      while (this.slots[slot * SLOT + 2] !== -1) slot = (slot + 1) & mask;
      this.slots.set(old.subarray(at, at + SLOT), slot * SLOT);
    }
  }
}

const SLOT = 4;

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
  const { tokens, starts, sentences, vocabulary } = captions;
  // Order 1: the token ids themselves, ONCE for a token seen once.
  const tokenCounts = new Int32Array(vocabulary.length);
  for (let p = 0; p < tokens.length; p++) tokenCounts[tokens[p]!]! += 1;
  const unigrams = new Int32Array(tokens.length);
  for (let p = 0; p < tokens.length; p++) {
    unigrams[p] = tokenCounts[tokens[p]!] === 1 ? ONCE : tokens[p]!;
  }
  const grams: Int32Array[] = [unigrams];
  let size = vocabulary.length;
  // Order n: the pair (n-1-gram at p, token at p+n-1), interned unless that n-1-gram occurs
  // once. An order has at least about as many distinct n-grams as the one before: sizing
  // each table for that (twice the vocabulary for bigrams) spares most of its growing.
  let expected = 2 * vocabulary.length;
  for (let n = 2; n <= MAX_ORDER; n++) {
    const previous = grams[n - 2]!;
    const current = new Int32Array(tokens.length).fill(-1);
    const table = new PairTable(expected);
    for (let s = 0; s < sentences; s++) {
      const end = starts[s + 1]! - n + 1;
      for (let p = starts[s]!; p < end; p++) {
        const prefix = previous[p]!;
        current[p] = prefix === ONCE ? ONCE : table.intern(prefix, tokens[p + n - 1]!);
      }
    }
    // The pairs interned more than once get ids, in order of first sight; the others ONCE.
    const ids = table.counts();
    let next = size;
    for (let p = 0; p < current.length; p++) {
      const pair = current[p]!;
      if (pair < 0) continue;
      const seen = ids[pair]!;
      if (seen < 0) current[p] = ~seen;
      else if (seen === 1) current[p] = ONCE;
      else {
        ids[pair] = ~next;
        current[p] = next++;
      }
    }
    expected = table.size;
    size = next;
    if (size >= 2 ** 31) {
      throw new MetricError(`more than 2^31 distinct n-grams: too many for one evaluation`);
    }
    grams.push(current);
  }
  return { captions, grams, size };
}
