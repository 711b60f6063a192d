/**
 * The coco tokenizer's work shared between threads. Its two runs (all candidates, then all
 * references) are cut into chunks of whole captions; the main thread and the helper
 * threads each claim chunks from shared memory, one at a time, and encode them with an
 * encoder of their own. joinSentenceParts then gives every token the id that one encoder
 * would have given it, so the tokens do not depend on how many threads took part.
 *
 * The runs' texts are written once into shared memory, one caption a line (a structured
 * clone would cost the main thread a copy per helper). A thread reads only a window of
 * them: a chunk's lines and some text after them, since a caption's tokens can depend on
 * the captions after it (forEachCocoTokens). When the tokenizer looked as far as the
 * window's end, the chunk is read again with a longer window.
 */
import { InternalError } from '../core/errors.js';
import {
  CaptionEncoder,
  type EncodedCaptions,
  type EncodedSentences,
  joinSentenceParts,
} from './token-ids.js';
import { forEachCocoLine, joinLines } from './tokenize.js';

/** Numbers per chunk in TokenizeShare.chunks. */
const CHUNK_FIELDS = 3;
/** Chunks per thread: enough for a thread that starts late to still find work. */
const CHUNKS_PER_THREAD = 6;
/** Characters of text read after a chunk's last line at first (then 16 times as many). */
const WINDOW_MARGIN = 1024;

export interface TokenizeShare {
  /** The runs' texts, one caption a line, in shared memory. */
  runs: SharedText[];
  /** Per chunk: its run, its captions, and where its first caption's line starts. */
  chunks: Int32Array;
  /** Per chunk, the thread that claimed it (-1: none yet); in shared memory. */
  owners: Int32Array;
}

/** A text in shared memory: Latin-1 when every character fits in a byte, else UTF-16. */
export interface SharedText {
  bytes: Uint8Array;
  encoding: 'latin1' | 'utf16le';
  /** Its length in characters. */
  length: number;
}

/** One chunk a thread encoded: its sentences and the vocabulary words new since its last. */
export interface EncodedChunk {
  chunk: number;
  tokens: Int32Array;
  /** Sentence s is tokens[starts[s], starts[s + 1]). */
  starts: Int32Array;
  /** Words this thread's vocabulary gained with this chunk, in id order. */
  added: string[];
}

/**
 * Writes the runs into shared memory and cuts them into about CHUNKS_PER_THREAD chunks per
 * thread, of about equal text.
 */
export function planTokenizeShare(
  runs: readonly (readonly string[])[],
  threads: number,
): TokenizeShare {
  const total = runs.reduce((sum, run) => sum + run.reduce((n, text) => n + text.length + 1, 0), 0);
  const target = Math.max(1, Math.ceil(total / (threads * CHUNKS_PER_THREAD)));
  const chunks: number[] = [];
  runs.forEach((captions, run) => {
    let first = 0;
    let offset = 0;
    let length = 0;
    captions.forEach((caption, i) => {
      length += caption.length + 1;
      if (length >= target || i === captions.length - 1) {
        chunks.push(run, i + 1 - first, offset);
        first = i + 1;
        offset += length;
        length = 0;
      }
    });
  });
  const owners = new Int32Array(new SharedArrayBuffer(4 * (chunks.length / CHUNK_FIELDS)));
  owners.fill(-1);
  return {
    runs: runs.map((captions) => sharedText(joinLines(captions))),
    chunks: Int32Array.from(chunks),
    owners,
  };
}

function sharedText(text: string): SharedText {
  const oneByte = !/[^\u0000-\u00ff]/.test(text);
  const encoding = oneByte ? 'latin1' : 'utf16le';
  const bytes = new Uint8Array(new SharedArrayBuffer(text.length * (oneByte ? 1 : 2)));
  Buffer.from(bytes.buffer).write(text, encoding);
  return { bytes, encoding, length: text.length };
}

/** text[start, end) of a shared text. */
function readShared({ bytes, encoding }: SharedText, start: number, end: number): string {
  const width = encoding === 'latin1' ? 1 : 2;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(
    encoding,
    start * width,
    end * width,
  );
}

/**
 * Claims chunks until none is left, encoding each as `thread` and handing it to `take`.
 * `encoder` is the thread's own: its vocabulary goes on from chunk to chunk.
 */
export function tokenizeClaimed(
  share: TokenizeShare,
  thread: number,
  encoder: CaptionEncoder,
  take: (chunk: EncodedChunk) => void,
): void {
  const { owners } = share;
  for (let chunk = 0; chunk < owners.length; chunk++) {
    if (Atomics.compareExchange(owners, chunk, -1, thread) !== -1) continue;
    const { tokens, starts, added } = encodeChunk(share, chunk, encoder);
    take({ chunk, tokens, starts, added });
  }
}

/**
 * A chunk's sentences, read from a window of its run long enough for its tokens, and the
 * words the encoder's vocabulary gained with them.
 */
function encodeChunk(
  share: TokenizeShare,
  chunk: number,
  encoder: CaptionEncoder,
): EncodedSentences & { added: string[] } {
  const at = chunk * CHUNK_FIELDS;
  const run = share.runs[share.chunks[at]!]!;
  const lines = share.chunks[at + 1]!;
  const start = share.chunks[at + 2]!;
  const next = chunk + 1 < share.owners.length ? share.chunks[at + CHUNK_FIELDS + 2]! : run.length;
  const linesEnd = next > start ? next : run.length;
  const added: string[] = [];
  for (let margin = WINDOW_MARGIN; ; margin *= 16) {
    const end = Math.min(run.length, linesEnd + margin);
    const read = forEachCocoLine(readShared(run, start, end), 0, lines, (words, count, forms) =>
      encoder.add(words, count, forms),
    );
    const sentences = encoder.flush();
    for (const word of sentences.added) added.push(word);
    // It looked at the window's last character: the text after it might change the tokens.
    if (end === run.length || read < end - start - 1) return { ...sentences, added };
  }
}

/**
 * The main thread's side: the chunks it encodes itself and those the helpers hand it, then
 * the captions joined. A chunk whose helper died before handing it over is encoded here.
 */
export class TokenizeJoin {
  private readonly parts: (EncodedSentences | undefined)[];
  private readonly vocabularies = new Map<number, string[]>();
  private missing: number;
  private wake: (() => void) | undefined;

  constructor(private readonly share: TokenizeShare) {
    this.parts = new Array(share.owners.length).fill(undefined);
    this.missing = share.owners.length;
  }

  /** Claims chunks here, as thread 0, until none is left. */
  tokenizeHere(): void {
    tokenizeClaimed(this.share, 0, new CaptionEncoder(), (chunk) => this.add(0, chunk));
  }

  /** A chunk encoded by `thread` (chunks of one thread come in the order it encoded them). */
  add(thread: number, chunk: EncodedChunk): void {
    let vocabulary = this.vocabularies.get(thread);
    if (vocabulary === undefined) {
      vocabulary = [];
      this.vocabularies.set(thread, vocabulary);
    }
    for (const word of chunk.added) vocabulary.push(word);
    this.put(chunk.chunk, { vocabulary, tokens: chunk.tokens, starts: chunk.starts });
  }

  /** `thread` is gone: the chunks it claimed and did not hand over are encoded here. */
  lost(thread: number): void {
    const encoder = new CaptionEncoder();
    this.share.owners.forEach((owner, chunk) => {
      if (owner === thread && this.parts[chunk] === undefined) {
        this.put(chunk, encodeChunk(this.share, chunk, encoder));
      }
    });
  }

  private put(chunk: number, sentences: EncodedSentences): void {
    if (this.parts[chunk] !== undefined) {
      throw new InternalError(`chunk ${chunk} of the tokens was encoded twice`);
    }
    this.parts[chunk] = sentences;
    this.missing -= 1;
    if (this.missing === 0) this.wake?.();
  }

  /** Waits for every chunk, then joins them (see joinSentenceParts). */
  async joined(referenceCounts: ArrayLike<number>): Promise<EncodedCaptions> {
    if (this.missing > 0) await new Promise<void>((resolve) => (this.wake = resolve));
    return joinSentenceParts(this.parts as EncodedSentences[], referenceCounts);
  }
}
