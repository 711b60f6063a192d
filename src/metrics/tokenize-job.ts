/**
 * The coco tokenizer over many captions in chunks that helper threads take
 * (resample-helpers.ts) while the main thread takes them too: on a machine with cores to
 * spare, tokenizing was the main thread's longest step before the n-gram index. Each chunk
 * is encoded on its own (CaptionEncoder) and the chunks are joined in order, which gives
 * the ids one encoder would have given (joinEncoded); a caption's tokens do not depend on
 * which thread tokenized it, since every thread reads the whole run (forEachCocoTokens).
 */

import { chunkCount, createClaims, runClaimedChunks, sharedArray } from './shared-memory.js';
import { CaptionEncoder, type EncodedSentences } from './token-ids.js';
import { forEachCocoLine, joinCaptionLines } from './tokenize.js';

/** Captions per claim: small enough for seven threads to share 150,000 evenly. */
const CHUNK_CAPTIONS = 4096;

export interface TokenizeJob {
  /** The candidates' run, then the references' run, each joined one caption a line. */
  runs: [string, string];
  /** Per chunk, four numbers: its run, the offset of its first caption there, its captions. */
  chunks: Int32Array;
  /** shared-memory.ts createClaims. */
  claims: Int32Array;
}

/** A chunk's captions, encoded on their own. */
export interface TokenizedChunk {
  chunk: number;
  sentences: EncodedSentences;
}

const CHUNK_FIELDS = 3;

export function createTokenizeJob(
  candidates: readonly string[],
  references: readonly string[],
  chunkCaptions = CHUNK_CAPTIONS,
): TokenizeJob {
  const texts = [candidates, references] as const;
  const table: number[] = [];
  texts.forEach((run, r) => {
    let offset = 0;
    for (let first = 0; first < run.length; first += chunkCaptions) {
      const stop = Math.min(run.length, first + chunkCaptions);
      table.push(r, offset, stop - first);
      for (let i = first; i < stop; i++) offset += run[i]!.length + 1;
    }
  });
  const chunks = sharedArray(Int32Array, table.length);
  chunks.set(table);
  return {
    runs: [joinCaptionLines(candidates), joinCaptionLines(references)],
    chunks,
    claims: createClaims(table.length / CHUNK_FIELDS),
  };
}

/** Claims chunks until none is left; returns those this thread tokenized. */
export function runTokenizeChunks(job: TokenizeJob): TokenizedChunk[] {
  const done: TokenizedChunk[] = [];
  runClaimedChunks(job.claims, (chunk) =>
    done.push({ chunk, sentences: tokenizeChunk(job, chunk) }),
  );
  return done;
}

function tokenizeChunk(job: TokenizeJob, chunk: number): EncodedSentences {
  const at = chunk * CHUNK_FIELDS;
  const [run, offset, captions] = [job.chunks[at]!, job.chunks[at + 1]!, job.chunks[at + 2]!];
  const encoder = new CaptionEncoder();
  forEachCocoLine(job.runs[run as 0 | 1], offset, captions, (words, count, forms) =>
    encoder.add(words, count, forms),
  );
  return encoder.sentences();
}

/**
 * Every chunk's sentences in order: this thread claims chunks as the helpers do, takes
 * those that they hand to `take` as each of them answers (`helped` resolves once all have
 * answered or died), and tokenizes itself the chunks that a helper claimed and never
 * handed over (it died).
 */
export async function tokenizedChunks(
  job: TokenizeJob,
  helped: (take: (chunks: readonly TokenizedChunk[]) => void) => Promise<void>,
): Promise<EncodedSentences[]> {
  const count = chunkCount(job.claims);
  const parts: (EncodedSentences | undefined)[] = new Array(count);
  let missing = count;
  let allIn: () => void = () => {};
  const complete = new Promise<void>((resolve) => {
    allIn = resolve;
  });
  const take = (chunks: readonly TokenizedChunk[]) => {
    for (const { chunk, sentences } of chunks) {
      if (parts[chunk] !== undefined) continue;
      parts[chunk] = sentences;
      missing -= 1;
    }
    if (missing === 0) allIn();
  };
  const answered = helped(take);
  take(runTokenizeChunks(job));
  // A helper that claimed nothing need not be waited for once every chunk is in.
  await Promise.race([answered, complete]);
  for (let chunk = 0; chunk < count; chunk++) parts[chunk] ??= tokenizeChunk(job, chunk);
  return parts as EncodedSentences[];
}
