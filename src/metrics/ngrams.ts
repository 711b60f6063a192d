/**
 * N-gram ids shared by BLEU and CIDEr-D: every n-gram (n = 1..4) seen more than once in
 * the captions of an evaluation gets one integer id, unique across orders, so the metrics
 * count with dense typed-array tables instead of maps of strings. Sentences are split as pycocoevalcap's
 * scorers split them (Python's str.split()).
 */
import { MetricError } from '../core/errors.js';
import { sharedArray } from './shared-memory.js';
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
  /**
   * df[id]: the n-gram's document frequency, in how many items' references it occurs
   * (CIDEr-D's). An n-gram that occurs once has 1 in a reference, 0 in a candidate.
   */
  df: Int32Array;
}

/**
 * The "id" of an n-gram that occurs once in all the captions (most of them do: 2.1 million
 * of 2.7 million on the 60,000 bench pairs). Its counts are known without a table (term
 * frequency 1, document frequency 0 or 1, no match), so it gets no row in one; an n-gram
 * that extends it occurs once too.
 */
export const ONCE = -2;

const cache = new WeakMap<EncodedCaptions, NgramIndex>();

/**
 * The n-gram ids of an input's captions, computed once per input; `shared`: their arrays in
 * shared memory, for helper threads (plain arrays otherwise: a process holding them in
 * shared memory peaked about 40 MB higher at 60,000 pairs).
 */
export function ngramIndex(input: MetricInput, shared = false): NgramIndex {
  const captions = pythonSplitCaptions(input);
  let index = cache.get(captions);
  if (index === undefined) {
    index = buildIndex(
      captions,
      shared ? (n) => sharedArray(Int32Array, n) : (n) => new Int32Array(n),
    );
    cache.set(captions, index);
  }
  return index;
}

/**
 * Order 1: the token ids, ONCE for a token seen once. Order n: the n-grams at the
 * positions whose n-1-gram has an id are grouped by that id (a counting sort); in each
 * group the next tokens are counted in a table indexed by token id, and every token seen
 * more than once in the group makes an n-gram id. All reads and writes but the sort's are
 * sequential or within tables of the vocabulary's size, instead of one probe of a hash
 * table of millions of n-grams per position. Ids are given group by group; only their
 * identity matters. A group holds its positions in order, so each item's references are
 * together in it: the document frequencies are counted on the way.
 */
function buildIndex(
  captions: EncodedCaptions,
  gramArray: (length: number) => Int32Array,
): NgramIndex {
  const { tokens, sentences, vocabulary, referenceStarts } = captions;
  const items = referenceStarts.length - 1;
  // The item whose reference sentence s is, -1 for a candidate.
  const itemOf = new Int32Array(sentences).fill(-1);
  for (let k = 0; k < items; k++) itemOf.fill(k, referenceStarts[k]!, referenceStarts[k + 1]!);
  const unigrams = unigramIds(tokens, vocabulary.length, gramArray(tokens.length));
  let df = new Int32Array(Math.max(16, vocabulary.length * 4));
  tokenDocumentFrequencies(captions, df);
  const grams: Int32Array[] = [unigrams];
  const scratch: Scratch = {
    seenIn: new Int32Array(vocabulary.length).fill(-1),
    count: new Int32Array(vocabulary.length),
    idOf: new Int32Array(vocabulary.length),
    lastItem: new Int32Array(vocabulary.length),
    grouped: new Int32Array(tokens.length),
    nextTokens: new Int32Array(tokens.length),
    groupedItems: new Int32Array(tokens.length),
  };
  let size = vocabulary.length;
  // The ids of order n - 1 are [prefixBase, prefixBase + prefixes).
  let prefixBase = 0;
  let prefixes = vocabulary.length;
  for (let n = 2; n <= MAX_ORDER; n++) {
    const previous = grams[n - 2]!;
    const current = gramArray(tokens.length).fill(-1);
    const groupStarts = groupSizes(captions, n, previous, current, prefixBase, prefixes);
    // An id needs two positions: this order adds at most half of them.
    const most = size + (groupStarts[prefixes]! >> 1);
    if (df.length < most) {
      const grown = new Int32Array(Math.max(df.length * 2, most));
      grown.set(df);
      df = grown;
    }
    group(captions, n, previous, itemOf, groupStarts, prefixBase, prefixes, scratch);
    const next = assignIds(groupStarts, prefixes, size, current, df, scratch);
    // Each order's groups are numbered from 0 again: no token may keep a group's mark.
    scratch.seenIn.fill(-1);
    prefixBase = size;
    prefixes = next - size;
    size = next;
    if (size >= 2 ** 31) {
      throw new MetricError(`more than 2^31 distinct n-grams: too many for one evaluation`);
    }
    grams.push(current);
  }
  return { captions, grams, size, df: df.subarray(0, size) };
}

// The phases of buildIndex are functions of their own: optimized code for one loop does
// not deoptimize when the next loop starts, as it did in one long function run once.

/** Per token id, within one group: the group it was last seen in, its count, its n-gram
 * id, the last item whose references counted towards that n-gram's df; then the grouped
 * positions, the token that ends each one's n-gram, the item of its reference. */
interface Scratch {
  seenIn: Int32Array;
  count: Int32Array;
  idOf: Int32Array;
  lastItem: Int32Array;
  grouped: Int32Array;
  nextTokens: Int32Array;
  groupedItems: Int32Array;
}

/** Order 1 into `unigrams`: the token ids, ONCE for a token seen once. */
function unigramIds(tokens: Int32Array, vocabularySize: number, unigrams: Int32Array): Int32Array {
  const tokenCounts = new Int32Array(vocabularySize);
  for (let p = 0; p < tokens.length; p++) tokenCounts[tokens[p]!]! += 1;
  for (let p = 0; p < tokens.length; p++) {
    unigrams[p] = tokenCounts[tokens[p]!] === 1 ? ONCE : tokens[p]!;
  }
  return unigrams;
}

/** df[token]: in how many items' references the token occurs. */
function tokenDocumentFrequencies(captions: EncodedCaptions, df: Int32Array): void {
  const { tokens, starts, referenceStarts, vocabulary } = captions;
  const dfItem = new Int32Array(vocabulary.length).fill(-1);
  for (let k = 0; k < referenceStarts.length - 1; k++) {
    const end = starts[referenceStarts[k + 1]!]!;
    for (let p = starts[referenceStarts[k]!]!; p < end; p++) {
      const token = tokens[p]!;
      if (dfItem[token] !== k) {
        dfItem[token] = k;
        df[token]! += 1;
      }
    }
  }
}

/**
 * The start of each group of order n (groupStarts[g], g = prefix id - prefixBase; one more
 * entry for the end); marks ONCE where the prefix is ONCE.
 */
function groupSizes(
  captions: EncodedCaptions,
  n: number,
  previous: Int32Array,
  current: Int32Array,
  prefixBase: number,
  prefixes: number,
): Int32Array {
  const { starts, sentences } = captions;
  const groupStarts = new Int32Array(prefixes + 1);
  for (let s = 0; s < sentences; s++) {
    const end = starts[s + 1]! - n + 1;
    for (let p = starts[s]!; p < end; p++) {
      const prefix = previous[p]!;
      if (prefix === ONCE) current[p] = ONCE;
      else groupStarts[prefix - prefixBase + 1]! += 1;
    }
  }
  for (let g = 1; g <= prefixes; g++) groupStarts[g]! += groupStarts[g - 1]!;
  return groupStarts;
}

/** The positions of order n into their groups, in order (a counting sort). */
function group(
  captions: EncodedCaptions,
  n: number,
  previous: Int32Array,
  itemOf: Int32Array,
  groupStarts: Int32Array,
  prefixBase: number,
  prefixes: number,
  scratch: Scratch,
): void {
  const { tokens, starts, sentences } = captions;
  const { grouped, nextTokens, groupedItems } = scratch;
  const cursor = groupStarts.slice(0, prefixes);
  for (let s = 0; s < sentences; s++) {
    const end = starts[s + 1]! - n + 1;
    const item = itemOf[s]!;
    for (let p = starts[s]!; p < end; p++) {
      const prefix = previous[p]!;
      if (prefix === ONCE) continue;
      const at = cursor[prefix - prefixBase]!++;
      grouped[at] = p;
      nextTokens[at] = tokens[p + n - 1]!;
      groupedItems[at] = item;
    }
  }
}

/** Ids from `size` on for the n-grams seen twice or more, and their dfs; returns the next id. */
function assignIds(
  groupStarts: Int32Array,
  prefixes: number,
  size: number,
  current: Int32Array,
  df: Int32Array,
  scratch: Scratch,
): number {
  const { seenIn, count, idOf, lastItem, grouped, nextTokens, groupedItems } = scratch;
  let next = size;
  for (let g = 0; g < prefixes; g++) {
    const from = groupStarts[g]!;
    const to = groupStarts[g + 1]!;
    if (to - from === 1) {
      current[grouped[from]!] = ONCE;
      continue;
    }
    for (let i = from; i < to; i++) {
      const token = nextTokens[i]!;
      if (seenIn[token] !== g) {
        seenIn[token] = g;
        count[token] = 0;
        idOf[token] = -1;
      }
      count[token]! += 1;
    }
    for (let i = from; i < to; i++) {
      const token = nextTokens[i]!;
      if (count[token] === 1) {
        current[grouped[i]!] = ONCE;
        continue;
      }
      let id = idOf[token]!;
      if (id === -1) {
        id = next++;
        idOf[token] = id;
        lastItem[token] = -1;
      }
      current[grouped[i]!] = id;
      const item = groupedItems[i]!;
      if (item >= 0 && lastItem[token] !== item) {
        lastItem[token] = item;
        df[id]! += 1;
      }
    }
  }
  return next;
}
