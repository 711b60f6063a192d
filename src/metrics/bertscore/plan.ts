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
