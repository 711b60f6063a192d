/**
 * One pass over every item's n-grams (n = 1..4) that serves both BLEU and CIDEr-D, as
 * pycocoevalcap computes them: BLEU's clipped matches (candidate counts clipped by the
 * largest count in one reference) and CIDEr-D's tf-idf pieces (document frequencies from
 * all items' references; per candidate and per reference the vector norm per order; per
 * reference the clipped dot product Σ min(w_hyp, w_ref)·w_ref). Computed once per input
 * and shared, since walking millions of n-grams through large tables is most of the cost;
 * helper threads can take chunks of the items (ngramStatsShared).
 */
import { MAX_ORDER, type NgramIndex, ngramIndex, ONCE } from './ngrams.js';
import {
  createClaims,
  runClaimedChunks,
  runLeftoverChunks,
  sharedArray,
  sharedCopy,
} from './shared-memory.js';
import type { EncodedCaptions } from './token-ids.js';
import type { MetricInput } from './types.js';

export interface NgramStats {
  captions: EncodedCaptions;
  /** clipped[4k + n]: BLEU's clipped matches of order n + 1 in item k's candidate. */
  clipped: Int32Array;
  /** hypNorm[4k + n]: the norm of item k's candidate tf-idf vector of order n + 1. */
  hypNorm: Float64Array;
  /** refNorm[4s + n], for reference sentence s (a sentence index of `captions`). */
  refNorm: Float64Array;
  /** dot[4s + n]: Σ over n-grams of both of min(candidate weight, reference weight) × reference weight. */
  dot: Float64Array;
}

// Per n-gram id, a row of 8 ints (one 32-byte cache line per look-up; int 0 unused):
const DF = 1; // document frequency: in how many items' reference sets the n-gram occurs
const HYP_OWNER = 2; // item k whose candidate HYP_TF counts (~k once its norm is added)
const HYP_TF = 3;
const REF_OWNER = 4; // sentence s whose count REF_TF is (~s once visited)
const REF_TF = 5;
const MAX_OWNER = 6; // item k whose references MAX_REF is the largest count in
const MAX_REF = 7;
const ROW = 8;
/** Neither an index nor the complement of one. */
const NOBODY = 0x7fffffff;

const cache = new WeakMap<EncodedCaptions, NgramStats>();

export function ngramStats(input: MetricInput): NgramStats {
  const index = ngramIndex(input);
  let stats = cache.get(index.captions);
  if (stats === undefined) {
    const job = createNgramStatsJob(index);
    runNgramStatsChunks(job);
    stats = statsOf(index.captions, job);
    cache.set(index.captions, stats);
  }
  return stats;
}

/**
 * ngramStats with the per-item pass shared: `helpers` has other threads take chunks of
 * items (runNgramStatsChunks on the job) and resolves once they are done or gone; this
 * thread takes chunks meanwhile and does any a thread left unfinished. The values are the
 * same whichever thread computes which item.
 */
export async function ngramStatsShared(
  input: MetricInput,
  helpers: (job: NgramStatsJob) => Promise<void>,
): Promise<NgramStats> {
  const index = ngramIndex(input, true);
  let stats = cache.get(index.captions);
  if (stats === undefined) {
    const job = createNgramStatsJob(index, true);
    const helped = helpers(job);
    runNgramStatsChunks(job);
    await helped;
    // The chunks a thread claimed and did not finish (it died), from zero.
    let context: ItemStats | undefined;
    runLeftoverChunks(job.claims, (c) => {
      context ??= itemStatsContext(job);
      clearChunk(context, c);
      runChunk(context, c);
    });
    stats = statsOf(index.captions, job);
    cache.set(index.captions, stats);
  }
  return stats;
}

/** Items per claim: a few dozen chunks at ROCOv2's size, to balance the threads. */
export const NGRAM_CHUNK_ITEMS = 1024;

/** The per-item pass over an n-gram index, in shared memory, in chunks of items to claim. */
export interface NgramStatsJob {
  grams: Int32Array[];
  starts: Int32Array;
  referenceStarts: Int32Array;
  /** df[id] (ngrams.ts), for ids below `df.length`. */
  df: Int32Array;
  clipped: Int32Array;
  hypNorm: Float64Array;
  refNorm: Float64Array;
  dot: Float64Array;
  /** Chunks of NGRAM_CHUNK_ITEMS items (shared-memory.ts createClaims). */
  claims: Int32Array;
}

/**
 * The job over `index`. With `shared` (for other threads to take part; its grams must be in
 * shared memory too, ngramIndex's `shared`) its arrays are in shared memory; else they are
 * plain, and the index's own arrays are used as they are.
 */
export function createNgramStatsJob(index: NgramIndex, shared = false): NgramStatsJob {
  const { starts, referenceStarts, sentences } = index.captions;
  const items = referenceStarts.length - 1;
  const copy = shared ? sharedCopy : (values: Int32Array) => values;
  const array = <T>(
    Type: {
      new (length: number): T;
      new (buffer: SharedArrayBuffer): T;
      BYTES_PER_ELEMENT: number;
    },
    length: number,
  ) => (shared ? sharedArray(Type, length) : new Type(length));
  return {
    grams: index.grams,
    starts: copy(starts),
    referenceStarts: copy(referenceStarts),
    df: copy(index.df),
    clipped: array(Int32Array, items * MAX_ORDER),
    hypNorm: array(Float64Array, items * MAX_ORDER),
    refNorm: array(Float64Array, sentences * MAX_ORDER),
    dot: array(Float64Array, sentences * MAX_ORDER),
    claims: createClaims(Math.ceil(items / NGRAM_CHUNK_ITEMS)),
  };
}

function statsOf(captions: EncodedCaptions, job: NgramStatsJob): NgramStats {
  const { clipped, hypNorm, refNorm, dot } = job;
  return { captions, clipped, hypNorm, refNorm, dot };
}

/** Claims chunks of the job's items until none is left, and computes them. */
export function runNgramStatsChunks(job: NgramStatsJob): void {
  // A thread's table is made when it first gets a chunk.
  let context: ItemStats | undefined;
  runClaimedChunks(job.claims, (c) => {
    context ??= itemStatsContext(job);
    runChunk(context, c);
  });
}

function chunkItems(context: ItemStats, c: number): [number, number] {
  const items = context.referenceStarts.length - 1;
  return [c * NGRAM_CHUNK_ITEMS, Math.min(items, (c + 1) * NGRAM_CHUNK_ITEMS)];
}

function runChunk(context: ItemStats, c: number): void {
  const [from, to] = chunkItems(context, c);
  for (let k = from; k < to; k++) itemStats(context, k);
}

/** Zeroes what a chunk's items add up, for a chunk begun by a thread that died. */
function clearChunk(context: ItemStats, c: number): void {
  const { referenceStarts, clipped, hypNorm, refNorm, dot } = context;
  const [from, to] = chunkItems(context, c);
  clipped.fill(0, from * MAX_ORDER, to * MAX_ORDER);
  hypNorm.fill(0, from * MAX_ORDER, to * MAX_ORDER);
  const [firstRef, endRef] = [referenceStarts[from]!, referenceStarts[to]!];
  refNorm.fill(0, firstRef * MAX_ORDER, endRef * MAX_ORDER);
  dot.fill(0, firstRef * MAX_ORDER, endRef * MAX_ORDER);
}

/** One thread's view of the job: its own table of counts per n-gram id. */
function itemStatsContext(job: NgramStatsJob): ItemStats {
  const { df, referenceStarts } = job;
  const size = df.length;
  const items = referenceStarts.length - 1;
  const table = new Int32Array(size * ROW);
  let maxDf = 0;
  for (let g = 0, at = 0; g < size; g++, at += ROW) {
    table[at + DF] = df[g]!;
    if (df[g]! > maxDf) maxDf = df[g]!;
    table[at + HYP_OWNER] = NOBODY;
    table[at + REF_OWNER] = NOBODY;
    table[at + MAX_OWNER] = -1;
  }
  // CIDEr-D's idf = log(items) - log(max(1, df)); the logarithms of the few df values
  // come from a small table rather than one double per n-gram.
  const logItems = Math.log(items);
  // Index 1 always: the n-grams that occur once (ONCE) have max(1, df) = 1.
  const logOf = new Float64Array(Math.max(1, maxDf) + 1);
  for (let d = 1; d <= maxDf; d++) logOf[d] = Math.log(d);
  // The weight of an n-gram that occurs once (ONCE): term frequency 1, and a document
  // frequency of 1 (in a reference) or 0 (in a candidate), both max(1, df) = 1.
  const onceWeight = 1 * (logItems - logOf[1]!);
  const { grams, starts, clipped, hypNorm, refNorm, dot } = job;
  return {
    grams,
    starts,
    referenceStarts,
    table,
    logItems,
    logOf,
    onceWeight,
    clipped,
    hypNorm,
    refNorm,
    dot,
  };
}

/** What itemStats reads and writes. */
interface ItemStats {
  grams: Int32Array[];
  starts: Int32Array;
  referenceStarts: Int32Array;
  table: Int32Array;
  logItems: number;
  logOf: Float64Array;
  onceWeight: number;
  clipped: Int32Array;
  hypNorm: Float64Array;
  refNorm: Float64Array;
  dot: Float64Array;
}

/**
 * Item k's numbers (a function of its own, called once per item, so that it is optimized
 * as a whole and early instead of loop by loop inside one call).
 */
function itemStats(out: ItemStats, k: number): void {
  const { grams, starts, referenceStarts, table, logItems, logOf, onceWeight } = out;
  const { clipped, hypNorm, refNorm, dot } = out;
  const idfAt = (at: number) => logItems - logOf[Math.max(1, table[at + DF]!)]!;
  for (let p = starts[k]!; p < starts[k + 1]!; p++) {
    for (let n = 0; n < MAX_ORDER; n++) {
      const g = grams[n]![p]!;
      if (g < 0) break;
      const at = g * ROW;
      if (table[at + HYP_OWNER] !== k) {
        table[at + HYP_OWNER] = k;
        table[at + HYP_TF] = 0;
      }
      table[at + HYP_TF]! += 1;
    }
  }
  for (let s = referenceStarts[k]!; s < referenceStarts[k + 1]!; s++) {
    for (let p = starts[s]!; p < starts[s + 1]!; p++) {
      for (let n = 0; n < MAX_ORDER; n++) {
        const g = grams[n]![p]!;
        if (g < 0) break;
        const at = g * ROW;
        if (table[at + REF_OWNER] !== s) {
          table[at + REF_OWNER] = s;
          table[at + REF_TF] = 0;
        }
        const c = ++table[at + REF_TF]!;
        if (table[at + MAX_OWNER] !== k) {
          table[at + MAX_OWNER] = k;
          table[at + MAX_REF] = c;
        } else if (c > table[at + MAX_REF]!) table[at + MAX_REF] = c;
      }
    }
    // Each distinct n-gram of the reference once: its weight, and the dot product.
    for (let p = starts[s]!; p < starts[s + 1]!; p++) {
      for (let n = 0; n < MAX_ORDER; n++) {
        const g = grams[n]![p]!;
        if (g === -1) break;
        if (g === ONCE) {
          refNorm[s * MAX_ORDER + n]! += onceWeight ** 2;
          continue;
        }
        const at = g * ROW;
        if (table[at + REF_OWNER] !== s) continue;
        table[at + REF_OWNER] = ~s;
        const idf = idfAt(at);
        const wr = table[at + REF_TF]! * idf;
        refNorm[s * MAX_ORDER + n]! += wr ** 2;
        if (table[at + HYP_OWNER] === k) {
          const wh = table[at + HYP_TF]! * idf;
          dot[s * MAX_ORDER + n]! += Math.min(wh, wr) * wr;
        }
      }
    }
    for (let n = 0; n < MAX_ORDER; n++) {
      refNorm[s * MAX_ORDER + n] = Math.sqrt(refNorm[s * MAX_ORDER + n]!);
    }
  }
  // Each distinct n-gram of the candidate once: its weight, and its clipped count.
  for (let p = starts[k]!; p < starts[k + 1]!; p++) {
    for (let n = 0; n < MAX_ORDER; n++) {
      const g = grams[n]![p]!;
      if (g === -1) break;
      if (g === ONCE) {
        hypNorm[k * MAX_ORDER + n]! += onceWeight ** 2;
        continue;
      }
      const at = g * ROW;
      if (table[at + HYP_OWNER] !== k) continue;
      table[at + HYP_OWNER] = ~k;
      const w = table[at + HYP_TF]! * idfAt(at);
      hypNorm[k * MAX_ORDER + n]! += w ** 2;
      if (table[at + MAX_OWNER] === k) {
        clipped[k * MAX_ORDER + n]! += Math.min(table[at + HYP_TF]!, table[at + MAX_REF]!);
      }
    }
  }
  for (let n = 0; n < MAX_ORDER; n++) {
    hypNorm[k * MAX_ORDER + n] = Math.sqrt(hypNorm[k * MAX_ORDER + n]!);
  }
}
