/**
 * The coco tokenizer over many captions in chunks that helper threads take
 * (resample-helpers.ts) while the main thread takes them too: on a machine with cores to
 * spare, tokenizing was the main thread's longest step before the n-gram index. Each chunk
 * is encoded on its own (CaptionEncoder) and the chunks are joined in order, which gives
 * the ids one encoder would have given (joinEncoded).
 *
 * The captions go to the helpers once, as UTF-8 in shared memory; a helper decodes the
 * window of the run that a chunk needs: its captions and what follows, up to
 * LOOKAHEAD_BYTES. A caption's tokens may depend on the captions after it (forEachCocoLine
 * says how far they did); when they reach the window's end, the chunk is tokenized again
 * with the rest of the run. So its tokens never depend on which thread made them.
 */

import { chunkCount, createClaims, runClaimedChunks, sharedArray } from './shared-memory.js';
import { CaptionEncoder, type EncodedSentences } from './token-ids.js';
import { forEachCocoLine, joinCaptionLines } from './tokenize.js';

/** Captions per claim: small enough for seven threads to share 150,000 evenly. */
const CHUNK_CAPTIONS = 4096;
/** How much of the run after a chunk its window holds (almost always more than it reads). */
const LOOKAHEAD_BYTES = 4096;

export interface TokenizeJob {
  /** The candidates' run, then the references' run, each joined one caption a line. */
  utf8: Uint8Array;
  /**
   * Per chunk, CHUNK_FIELDS numbers: its run (0, 1), its first caption's offset in that
   * run's text and in `utf8`, its captions, where its run ends in `utf8`.
   */
  chunks: Int32Array;
  /** shared-memory.ts createClaims. */
  claims: Int32Array;
}

const CHUNK_FIELDS = 5;

/** A chunk's captions, encoded on their own. */
export interface TokenizedChunk {
  chunk: number;
  sentences: EncodedSentences;
}

/** The runs as this thread holds them (texts of joinCaptionLines), and the job for helpers. */
export interface TokenizeWork {
  runs: readonly [string, string];
  job: TokenizeJob;
}

/**
 * The work of tokenizing the candidates and the references; undefined when a text holds
 * a lone surrogate, which UTF-8 cannot carry (the main thread then tokenizes alone).
 */
export function createTokenizeWork(
  candidates: readonly string[],
  references: readonly string[],
  chunkCaptions = CHUNK_CAPTIONS,
): TokenizeWork | undefined {
  const runs = [joinCaptionLines(candidates), joinCaptionLines(references)] as const;
  if (!runs.every(isWellFormed)) return undefined;
  // Per chunk: [run, offset, captions] and its text, to be measured and encoded.
  const table: number[] = [];
  const pieces: string[] = [];
  [candidates, references].forEach((texts, run) => {
    let offset = 0;
    for (let first = 0; first < texts.length; first += chunkCaptions) {
      const stop = Math.min(texts.length, first + chunkCaptions);
      let end = offset;
      for (let i = first; i < stop; i++) end += texts[i]!.length + 1;
      table.push(run, offset, stop - first);
      pieces.push(runs[run]!.slice(offset, end));
      offset = end;
    }
  });
  const count = pieces.length;
  const chunks = sharedArray(Int32Array, count * CHUNK_FIELDS);
  let bytes = 0;
  for (let c = 0; c < count; c++) {
    const at = c * CHUNK_FIELDS;
    chunks.set([table[c * 3]!, table[c * 3 + 1]!, bytes, table[c * 3 + 2]!], at);
    bytes += Buffer.byteLength(pieces[c]!, 'utf8');
    if (c === count - 1 || table[(c + 1) * 3] !== table[c * 3]) {
      // The last chunk of its run: the run's end, for each of its chunks.
      for (let k = c; k >= 0 && chunks[k * CHUNK_FIELDS] === chunks[at]; k--) {
        chunks[k * CHUNK_FIELDS + 4] = bytes;
      }
    }
  }
  const utf8 = sharedArray(Uint8Array, bytes);
  const encoder = new TextEncoder();
  for (let c = 0; c < count; c++) {
    encoder.encodeInto(pieces[c]!, utf8.subarray(chunks[c * CHUNK_FIELDS + 2]!));
  }
  return { runs, job: { utf8, chunks, claims: createClaims(count) } };
}

function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/** A chunk's place: its run, offsets and captions (see TokenizeJob.chunks). */
function chunkAt(job: TokenizeJob, chunk: number) {
  const at = chunk * CHUNK_FIELDS;
  const field = (k: number) => job.chunks[at + k]!;
  return { run: field(0), offset: field(1), byte: field(2), captions: field(3), runEnd: field(4) };
}

function encodeLines(text: string, start: number, lines: number) {
  const encoder = new CaptionEncoder();
  const furthest = forEachCocoLine(text, start, lines, (words, count, forms) =>
    encoder.add(words, count, forms),
  );
  return { sentences: encoder.sentences(), furthest };
}

const decoder = new TextDecoder();

/** A chunk tokenized from the shared bytes (a helper's way). */
function tokenizeChunkFromBytes(job: TokenizeJob, chunk: number): EncodedSentences {
  const { byte, captions, runEnd } = chunkAt(job, chunk);
  const next = chunk + 1 < chunkCount(job.claims) ? chunkAt(job, chunk + 1).byte : runEnd;
  let end = Math.min(runEnd, next + LOOKAHEAD_BYTES);
  // Not inside a character: back to the start of one (UTF-8 continuation bytes are 10xxxxxx).
  while (end < runEnd && (job.utf8[end]! & 0xc0) === 0x80) end -= 1;
  const window = decoder.decode(job.utf8.subarray(byte, end));
  const got = encodeLines(window, 0, captions);
  if (end === runEnd || got.furthest < window.length - 1) return got.sentences;
  // Its tokens read to the window's end: again, with the rest of the run.
  return encodeLines(decoder.decode(job.utf8.subarray(byte, runEnd)), 0, captions).sentences;
}

/** How much of a captions file a helper tokenizes to warm up (warmUpTokenizer). */
const WARM_UP_BYTES = 1 << 20;

/**
 * Tokenizes the start of a captions file's bytes (its first MB, whole lines, as text: JSON
 * or CSV syntax and all), for nothing but speed: a thread's first chunk of captions took
 * about 120 ms against 20-40 ms for the next ones (on this machine's 2 cores, the bench
 * pairs), because the lexer's automaton is built as characters are met, the chunk cache
 * starts empty and V8 has not yet optimized the code. Helpers do this while the main
 * thread parses the file.
 */
export function warmUpTokenizer(bytes: Uint8Array): void {
  let end = Math.min(bytes.length, WARM_UP_BYTES);
  while (end < bytes.length && end > 0 && bytes[end - 1] !== 0x0a) end -= 1;
  const text = decoder.decode(bytes.subarray(0, end));
  let lines = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines += 1;
  encodeLines(text, 0, lines);
}

/** Claims chunks until none is left; returns those this thread tokenized. */
export function runTokenizeChunks(job: TokenizeJob): TokenizedChunk[] {
  const done: TokenizedChunk[] = [];
  runClaimedChunks(job.claims, (chunk) =>
    done.push({ chunk, sentences: tokenizeChunkFromBytes(job, chunk) }),
  );
  return done;
}

/**
 * Every chunk's sentences in order: this thread claims chunks as the helpers do (reading
 * its own copy of the runs), takes those that the helpers hand to `take` as each of them
 * answers (`helped` resolves once all have answered or died), and tokenizes itself the
 * chunks that a helper claimed and never handed over (it died).
 */
export async function tokenizedChunks(
  { runs, job }: TokenizeWork,
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
  const here = (chunk: number) => {
    const { run, offset, captions } = chunkAt(job, chunk);
    return encodeLines(runs[run]!, offset, captions).sentences;
  };
  const answered = helped(take);
  const own: TokenizedChunk[] = [];
  runClaimedChunks(job.claims, (chunk) => own.push({ chunk, sentences: here(chunk) }));
  take(own);
  // A helper that claimed nothing need not be waited for once every chunk is in.
  await Promise.race([answered, complete]);
  for (let chunk = 0; chunk < count; chunk++) parts[chunk] ??= here(chunk);
  return parts as EncodedSentences[];
}
