/**
 * The tokens of every caption of a metric input as integer ids, laid out back to back in
 * one typed array, so that metrics compare and count numbers instead of strings and
 * allocate nothing per caption. Built once per input and shared by the metrics.
 */
import { InternalError } from '../core/errors.js';
import { chunkFormIds, splitPythonWhitespace } from './tokenize.js';
import type { MetricInput } from './types.js';

export interface EncodedCaptions {
  /** Token of each id. */
  readonly vocabulary: readonly string[];
  /** Token ids of every sentence, back to back: all candidates, then all references. */
  readonly tokens: Int32Array;
  /** Sentence s is tokens[starts[s], starts[s + 1]). Candidate of item k: sentence k. */
  readonly starts: Int32Array;
  /** The references of item k: sentences referenceStarts[k] to referenceStarts[k + 1] - 1. */
  readonly referenceStarts: Int32Array;
  /** Sentences in all (items + references). */
  readonly sentences: number;
}

/** Sentences encoded on their own: an EncodedCaptions without the items' structure. */
export interface EncodedSentences {
  readonly vocabulary: readonly string[];
  readonly tokens: Int32Array;
  /** Sentence s is tokens[starts[s], starts[s + 1]); one more entry than sentences. */
  readonly starts: Int32Array;
}

/** Ids for strings, first come first numbered. */
export class Vocabulary {
  private readonly ids = new Map<string, number>();
  readonly tokens: string[] = [];

  id(token: string): number {
    let id = this.ids.get(token);
    if (id === undefined) {
      id = this.tokens.length;
      this.ids.set(token, id);
      this.tokens.push(token);
    }
    return id;
  }
}

/** An Int32Array that grows as values are pushed (no boxed numbers, little garbage). */
export class IntList {
  private data: Int32Array;
  length = 0;

  constructor(capacity = 1024) {
    this.data = new Int32Array(Math.max(4, capacity));
  }

  push(value: number): void {
    if (this.length === this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = value;
  }

  /** The values as an array of their own. */
  toArray(): Int32Array {
    return this.data.slice(0, this.length);
  }
}

/**
 * Ids for substrings of texts, ASCII letters lower-cased, looked up in place: a span seen
 * before costs a hash over its characters and a comparison, no new string.
 */
export class AsciiLowerSpanVocabulary {
  readonly tokens: string[] = [];
  private hashes = new Int32Array(1 << 12);
  private ids = new Int32Array(1 << 12).fill(-1);

  id(text: string, start: number, end: number): number {
    let hash = SPAN_HASH_START;
    for (let i = start; i < end; i++) hash = spanHashStep(hash, text.charCodeAt(i));
    return this.idWithHash(text, start, end, hash);
  }

  /** {@link id} for a caller that hashed the span as it read it (spanHashStep). */
  idWithHash(text: string, start: number, end: number, hash: number): number {
    const mask = this.ids.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const id = this.ids[slot]!;
      if (id === -1) {
        const created = this.tokens.length;
        this.tokens.push(text.slice(start, end).toLowerCase());
        this.hashes[slot] = hash;
        this.ids[slot] = created;
        if (this.tokens.length * 2 > this.ids.length) this.grow();
        return created;
      }
      if (this.hashes[slot] === hash && sameLowered(this.tokens[id]!, text, start, end)) return id;
    }
  }

  private grow(): void {
    const { hashes, ids } = this;
    this.hashes = new Int32Array(ids.length * 2);
    this.ids = new Int32Array(ids.length * 2).fill(-1);
    const mask = this.ids.length - 1;
    for (let old = 0; old < ids.length; old++) {
      if (ids[old] === -1) continue;
      let slot = hashes[old]! & mask;
      while (this.ids[slot] !== -1) slot = (slot + 1) & mask;
      this.hashes[slot] = hashes[old]!;
      this.ids[slot] = ids[old]!;
    }
  }
}

/** FNV-1a over ASCII-lower-cased code units: the hash AsciiLowerSpanVocabulary uses. */
export const SPAN_HASH_START = 0x811c9dc5 | 0;

export function spanHashStep(hash: number, unit: number): number {
  return Math.imul(hash ^ lowerAscii(unit), 0x01000193);
}

function lowerAscii(unit: number): number {
  return unit >= 65 && unit <= 90 ? unit + 32 : unit;
}

function sameLowered(token: string, text: string, start: number, end: number): boolean {
  if (token.length !== end - start) return false;
  for (let i = 0; i < token.length; i++) {
    if (token.charCodeAt(i) !== lowerAscii(text.charCodeAt(start + i))) return false;
  }
  return true;
}

const asGiven = new WeakMap<MetricInput, EncodedCaptions>();
const pythonSplit = new WeakMap<MetricInput, EncodedCaptions>();

/** The input's tokens as given (ROUGE-L, which splits at single spaces as pycocoevalcap's Rouge). */
export function encodedCaptions(input: MetricInput): EncodedCaptions {
  let encoded = asGiven.get(input);
  if (encoded === undefined) {
    encoded = encode(input);
    asGiven.set(input, encoded);
  }
  return encoded;
}

/**
 * The input's tokens re-split with Python's str.split(), as pycocoevalcap's BLEU and CIDEr
 * do, and METEOR's token lists in Python: this also breaks tokens at the no-break spaces the PTB tokenizer leaves in a few
 * (`1\u00a01/2`). The same object as {@link encodedCaptions} when no token holds one.
 */
export function pythonSplitCaptions(input: MetricInput): EncodedCaptions {
  let encoded = pythonSplit.get(input);
  if (encoded === undefined) {
    encoded = splitAtPythonWhitespace(encodedCaptions(input));
    pythonSplit.set(input, encoded);
  }
  return encoded;
}

/**
 * A MetricInput over captions already encoded (in another thread, say): the string token
 * arrays are built only if a metric asks for them; encodedCaptions() returns `encoded`.
 */
export function inputFromEncoded(
  text: Pick<MetricInput, 'ids' | 'candidates' | 'references'>,
  encoded: EncodedCaptions,
): MetricInput {
  const sentence = (s: number) =>
    Array.from(encoded.tokens.subarray(encoded.starts[s], encoded.starts[s + 1]), (id) => {
      return encoded.vocabulary[id]!;
    });
  let candidateTokens: string[][] | undefined;
  let referenceTokens: string[][][] | undefined;
  const input: MetricInput = {
    ids: text.ids,
    candidates: text.candidates,
    references: text.references,
    get candidateTokens() {
      candidateTokens ??= text.ids.map((_, k) => sentence(k));
      return candidateTokens;
    },
    get referenceTokens() {
      referenceTokens ??= text.ids.map((_, k) => {
        const refs: string[][] = [];
        for (let s = encoded.referenceStarts[k]!; s < encoded.referenceStarts[k + 1]!; s++) {
          refs.push(sentence(s));
        }
        return refs;
      });
      return referenceTokens;
    },
  };
  asGiven.set(input, encoded);
  return input;
}

/**
 * Builds EncodedCaptions sentence by sentence: every item's candidate first, then the
 * references, item by item.
 */
export class CaptionEncoder {
  private readonly vocabulary = new Vocabulary();
  private readonly tokens = new IntList(1 << 16);
  private readonly starts = new IntList();

  /**
   * Adds the next sentence, words[0, count); `forms`: the coco tokenizer's chunk-cache
   * indexes of the words (see chunkFormIds), whose ids are then looked up there.
   */
  add(words: readonly string[], count = words.length, forms?: readonly number[]): void {
    this.starts.push(this.tokens.length);
    if (forms === undefined) {
      for (let i = 0; i < count; i++) this.tokens.push(this.vocabulary.id(words[i]!));
      return;
    }
    const ids = chunkFormIds(this.vocabulary);
    for (let i = 0; i < count; i++) {
      const form = forms[i]!;
      const known = form >= 0 && form < ids.length;
      let id = known ? ids[form]! : -1;
      if (id < 0) {
        id = this.vocabulary.id(words[i]!);
        if (known) ids[form] = id;
      }
      this.tokens.push(id);
    }
  }

  /** The sentences added so far (the encoder is done with after this). */
  sentences(): EncodedSentences {
    this.starts.push(this.tokens.length);
    return {
      vocabulary: this.vocabulary.tokens,
      tokens: this.tokens.toArray(),
      starts: this.starts.toArray(),
    };
  }

  /** The captions, given how many references each item has. */
  finish(referenceCounts: ArrayLike<number>): EncodedCaptions {
    const referenceStarts = referenceStartsOf(referenceCounts);
    const sentence = referenceStarts[referenceCounts.length]!;
    if (this.starts.length !== sentence) {
      throw new InternalError(`${this.starts.length} sentences added for ${sentence} captions`);
    }
    this.starts.push(this.tokens.length);
    return {
      vocabulary: this.vocabulary.tokens,
      tokens: this.tokens.toArray(),
      starts: this.starts.toArray(),
      referenceStarts,
      sentences: sentence,
    };
  }
}

/**
 * Where each item's references start among the sentences (the candidates come first, one per
 * item), and at [items] the number of sentences.
 */
function referenceStartsOf(referenceCounts: ArrayLike<number>): Int32Array {
  const items = referenceCounts.length;
  const starts = new Int32Array(items + 1);
  let sentence = items;
  for (let k = 0; k < items; k++) {
    starts[k] = sentence;
    sentence += referenceCounts[k]!;
  }
  starts[items] = sentence;
  return starts;
}

/**
 * The captions' sentences (candidates, then references) encoded in two parts apart (in
 * two threads), `first` the sentences before `rest`, as one CaptionEncoder would have
 * encoded them: the same ids, since an id is given in order of first sight, and the
 * ids of `rest` are in that order too.
 */
export function joinEncoded(
  first: EncodedSentences,
  rest: EncodedSentences,
  referenceCounts: ArrayLike<number>,
): EncodedCaptions {
  const referenceStarts = referenceStartsOf(referenceCounts);
  const sentence = referenceStarts[referenceCounts.length]!;
  const firstSentences = first.starts.length - 1;
  const restSentences = rest.starts.length - 1;
  if (firstSentences + restSentences !== sentence) {
    throw new InternalError(
      `${firstSentences} + ${restSentences} sentences encoded for ${sentence} captions`,
    );
  }
  const known = new Map<string, number>();
  first.vocabulary.forEach((token, id) => {
    known.set(token, id);
  });
  const vocabulary = [...first.vocabulary];
  const remap = new Int32Array(rest.vocabulary.length);
  rest.vocabulary.forEach((token, local) => {
    let id = known.get(token);
    if (id === undefined) {
      id = vocabulary.length;
      vocabulary.push(token);
    }
    remap[local] = id;
  });
  const offset = first.tokens.length;
  const tokens = new Int32Array(offset + rest.tokens.length);
  tokens.set(first.tokens);
  const from = rest.tokens;
  for (let i = 0; i < from.length; i++) tokens[offset + i] = remap[from[i]!]!;
  const starts = new Int32Array(sentence + 1);
  starts.set(first.starts.subarray(0, firstSentences));
  for (let s = 0; s <= restSentences; s++) starts[firstSentences + s] = rest.starts[s]! + offset;
  return { vocabulary, tokens, starts, referenceStarts, sentences: sentence };
}

function encode(input: MetricInput): EncodedCaptions {
  const items = input.candidateTokens.length;
  const encoder = new CaptionEncoder();
  for (let k = 0; k < items; k++) encoder.add(input.candidateTokens[k]!);
  const referenceCounts = new Int32Array(items);
  for (let k = 0; k < items; k++) {
    const refs = input.referenceTokens[k] ?? [];
    referenceCounts[k] = refs.length;
    for (const ref of refs) encoder.add(ref);
  }
  return encoder.finish(referenceCounts);
}

function splitAtPythonWhitespace(encoded: EncodedCaptions): EncodedCaptions {
  const { vocabulary, tokens, starts, sentences } = encoded;
  // The pieces of each token that holds white space; none: nothing to do.
  const split = new Map<number, readonly string[]>();
  vocabulary.forEach((token, id) => {
    const parts = splitPythonWhitespace([token]);
    if (parts.length !== 1 || parts[0] !== token) split.set(id, parts);
  });
  if (split.size === 0) return encoded;
  const extended = new Vocabulary();
  for (const token of vocabulary) extended.id(token);
  const pieces = new Map<number, number[]>();
  for (const [id, parts] of split)
    pieces.set(
      id,
      parts.map((part) => extended.id(part)),
    );
  const out: number[] = [];
  const newStarts = new Int32Array(sentences + 1);
  for (let s = 0; s < sentences; s++) {
    newStarts[s] = out.length;
    for (let p = starts[s]!; p < starts[s + 1]!; p++) {
      const parts = pieces.get(tokens[p]!);
      if (parts === undefined) out.push(tokens[p]!);
      else out.push(...parts);
    }
  }
  newStarts[sentences] = out.length;
  return {
    vocabulary: extended.tokens,
    tokens: Int32Array.from(out),
    starts: newStarts,
    referenceStarts: encoded.referenceStarts,
    sentences,
  };
}
