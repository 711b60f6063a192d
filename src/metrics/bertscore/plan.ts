/**
 * The order in which BERTScore embeds sentences: items are scored in chunks, each distinct
 * token sequence is embedded once (in the first chunk that uses it) and its embeddings are
 * dropped after the last chunk that uses it, so memory holds about two chunks' sentences
 * however large the corpus, and a sentence shared by many items is still encoded once.
 */

export interface Chunk {
  /** Items start..end-1. */
  start: number;
  end: number;
  /** Sequences first used in this chunk: embed them before scoring it. */
  embed: number[];
  /** Sequences last used in this chunk: drop them after scoring it. */
  release: number[];
}

/**
 * `uses[i]` lists the sequences item i needs (its candidate and its references), as indexes
 * into a table of distinct sequences.
 */
export function planChunks(uses: readonly (readonly number[])[], itemsPerChunk: number): Chunk[] {
  if (!Number.isInteger(itemsPerChunk) || itemsPerChunk < 1) {
    throw new RangeError(`items per chunk must be a whole number >= 1, got ${itemsPerChunk}`);
  }
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  const chunks: Chunk[] = [];
  for (let start = 0; start < uses.length; start += itemsPerChunk) {
    const k = chunks.length;
    const end = Math.min(uses.length, start + itemsPerChunk);
    chunks.push({ start, end, embed: [], release: [] });
    for (let i = start; i < end; i++) {
      for (const s of uses[i]!) {
        if (!first.has(s)) first.set(s, k);
        last.set(s, k);
      }
    }
  }
  for (const [s, k] of first) chunks[k]!.embed.push(s);
  for (const [s, k] of last) chunks[k]!.release.push(s);
  return chunks;
}

/**
 * Padding a forward pass is worth avoiding only down to a point: each pass also costs a
 * fixed amount (hundreds of kernel launches, the copies in and out), counted here as this
 * many tokens of arithmetic.
 */
export const PASS_OVERHEAD_TOKENS = 512;

export interface BatchLimits {
  /** Most sequences in one pass. */
  maxSequences: number;
  /** Most tokens in one pass, padding included (a longer sequence still gets a pass). */
  maxTokens: number;
  /** The fixed cost of a pass, in tokens. @default PASS_OVERHEAD_TOKENS */
  overheadTokens?: number;
}

/**
 * Splits sequences sorted longest first into forward passes (padded to their first, longest
 * sequence) at the least total cost: padded tokens plus `overheadTokens` per pass. Fixed
 * batches of a chunk's sentences padded about 30% more tokens than the sentences have on
 * ROCOv2-like captions, since a batch spans a wide band of lengths; this finds the cuts by
 * dynamic programming over the sorted lengths. Returns where each pass ends.
 */
export function planBatches(lengthsLongestFirst: readonly number[], limits: BatchLimits): number[] {
  const { maxSequences, maxTokens, overheadTokens = PASS_OVERHEAD_TOKENS } = limits;
  if (!Number.isInteger(maxSequences) || maxSequences < 1) {
    throw new RangeError(`sequences per pass must be a whole number >= 1, got ${maxSequences}`);
  }
  const n = lengthsLongestFirst.length;
  for (let i = 1; i < n; i++) {
    if (lengthsLongestFirst[i]! > lengthsLongestFirst[i - 1]!) {
      throw new RangeError('sequence lengths must be sorted longest first');
    }
  }
  // cost[i]: the least cost of passes over sequences i..n-1; end[i]: where the first ends.
  const cost = new Float64Array(n + 1);
  const end = new Int32Array(n + 1);
  for (let i = n - 1; i >= 0; i--) {
    const longest = Math.max(1, lengthsLongestFirst[i]!);
    const most = Math.min(n - i, maxSequences, Math.max(1, Math.floor(maxTokens / longest)));
    let best = Number.POSITIVE_INFINITY;
    for (let size = 1; size <= most; size++) {
      const c = overheadTokens + longest * size + cost[i + size]!;
      if (c < best) {
        best = c;
        end[i] = i + size;
      }
    }
    cost[i] = best;
  }
  const ends: number[] = [];
  for (let i = 0; i < n; i = end[i]!) ends.push(end[i]!);
  return ends;
}
