/**
 * ROUGE, in the two forms caption papers report:
 *
 * - `rouge_l`: pycocoevalcap's Rouge on the run's tokens: LCS precision and recall against
 *   each reference, the maxima of each over the references, F with beta = 1.2.
 *   pycocoevalcap splits captions on single spaces, so an empty caption is one empty
 *   token; that is kept (an empty candidate scores 1 against an empty reference).
 * - `rouge_1`, `rouge_2`: Google's rouge_score F-measure on the raw strings with its own
 *   tokenization (lower case, every character outside a-z and 0-9 a separator, optional
 *   Porter stemming of tokens longer than 3 characters), best over the references (the
 *   first reference with the highest F wins, as `score_multi`), whatever the run's
 *   tokenizer is.
 *
 * Corpus values: means of the per-item values.
 */
import { MetricError } from '../../core/errors.js';
import { porterStem } from '../meteor/porter.js';
import {
  AsciiLowerSpanVocabulary,
  type EncodedCaptions,
  encodedCaptions,
  IntList,
  SPAN_HASH_START,
  spanHashStep,
} from '../token-ids.js';
import type { Metric, MetricResult, RawCaptions } from '../types.js';

export const ROUGE_COLUMNS = ['rouge_l', 'rouge_1', 'rouge_2'] as const;

export interface RougeOptions {
  /** Porter stemming in ROUGE-1/2 (rouge_score's use_stemmer). */
  stemmer?: boolean;
}

const BETA = 1.2;

/** DP rows for {@link lcsLength}, grown on demand and reused by every call. */
let rowA = new Int32Array(64);
let rowB = new Int32Array(64);
/** Per token id + 1: the positions where it occurs in the shorter sequence, as bits. */
let positionBits = new Int32Array(1024);
/** Per token id + 1: the call whose bits positionBits holds. */
let bitsOwner = new Int32Array(1024);
let lcsCall = 0;

/** Length of the longest common subsequence of two id sequences (ids ≥ -1). */
export function lcsLength(a: Int32Array, b: Int32Array): number {
  const [long, short] = a.length >= b.length ? [a, b] : [b, a];
  if (short.length === 0) return 0;
  return short.length <= 31 ? lcsBitParallel(long, short) : lcsTable(long, short);
}

/**
 * The LCS length with the shorter sequence as the bits of one integer (Allison and Dix;
 * Hyyrö): a zero bit of V marks where the LCS so far can grow; each token of the longer
 * sequence updates all of them at once.
 */
function lcsBitParallel(long: Int32Array, short: Int32Array): number {
  let largest = 0;
  for (let j = 0; j < short.length; j++) largest = Math.max(largest, short[j]! + 1);
  for (let i = 0; i < long.length; i++) largest = Math.max(largest, long[i]! + 1);
  if (positionBits.length <= largest) {
    positionBits = new Int32Array(2 * largest + 2);
    bitsOwner = new Int32Array(2 * largest + 2);
    lcsCall = 0;
  }
  const call = ++lcsCall;
  for (let j = 0; j < short.length; j++) {
    const key = short[j]! + 1;
    if (bitsOwner[key] !== call) {
      bitsOwner[key] = call;
      positionBits[key] = 0;
    }
    positionBits[key]! |= 1 << j;
  }
  const mask = short.length === 31 ? 0x7fffffff : (1 << short.length) - 1;
  let v = mask;
  for (let i = 0; i < long.length; i++) {
    const key = long[i]! + 1;
    if (bitsOwner[key] !== call) continue;
    const u = v & positionBits[key]!;
    v = ((v + u) | (v - u)) & mask;
  }
  let unmatched = 0;
  for (let bits = v; bits !== 0; bits &= bits - 1) unmatched++;
  return short.length - unmatched;
}

/** The LCS length by the textbook table, one row at a time. */
function lcsTable(long: Int32Array, short: Int32Array): number {
  const m = short.length;
  if (rowA.length <= m) {
    rowA = new Int32Array(2 * m + 2);
    rowB = new Int32Array(2 * m + 2);
  }
  let prev = rowA;
  let curr = rowB;
  prev.fill(0, 0, m + 1);
  curr[0] = 0;
  for (let i = 0; i < long.length; i++) {
    const x = long[i]!;
    for (let j = 1; j <= m; j++) {
      if (x === short[j - 1]) curr[j] = prev[j - 1]! + 1;
      else {
        const up = prev[j]!;
        const left = curr[j - 1]!;
        curr[j] = Math.max(up, left);
      }
    }
    const t = prev;
    prev = curr;
    curr = t;
  }
  return prev[m]!;
}

/**
 * pycocoevalcap's Rouge.calc_score: LCS precision and recall against each reference, the
 * maxima of each, F with beta 1.2.
 */
export function rougeL(candidate: Int32Array, references: readonly Int32Array[]): number {
  let precMax = 0;
  let recMax = 0;
  for (const ref of references) {
    const lcs = lcsLength(ref, candidate);
    const prec = lcs / candidate.length;
    const rec = lcs / ref.length;
    if (prec > precMax) precMax = prec;
    if (rec > recMax) recMax = rec;
  }
  if (precMax === 0 || recMax === 0) return 0;
  return ((1 + BETA ** 2) * precMax * recMax) / (recMax + BETA ** 2 * precMax);
}

/**
 * The raw captions as rouge_score tokenizes them (lower case; every run of a-z and 0-9 is
 * a token, everything else separates; optionally the Porter stem of tokens longer than 3
 * characters), as ids in the {@link EncodedCaptions} layout. rouge_score then keeps only
 * tokens matching ^[a-z0-9]+$: every run does, and so does a stem of one.
 */
export function rougeScoreCaptions(input: RawCaptions, stem: boolean): EncodedCaptions {
  const vocabulary = new AsciiLowerSpanVocabulary();
  const stemIds: number[] = [];
  const tokens = new IntList(1 << 16);
  const starts: number[] = [];
  const referenceStarts: number[] = [];
  const add = (caption: string) => {
    starts.push(tokens.length);
    // Python's lower() first. Only a non-ASCII character can lower to an ASCII letter (the
    // Kelvin sign to k, say); otherwise lower-casing A-Z as we go is the same.
    const text = NON_ASCII.test(caption) ? caption.toLowerCase() : caption;
    let from = -1;
    let hash = SPAN_HASH_START;
    for (let i = 0; i <= text.length; i++) {
      const unit = i < text.length ? text.charCodeAt(i) : 0;
      const alnum =
        (unit >= 97 && unit <= 122) || (unit >= 65 && unit <= 90) || (unit >= 48 && unit <= 57);
      if (alnum) {
        if (from < 0) {
          from = i;
          hash = SPAN_HASH_START;
        }
        hash = spanHashStep(hash, unit);
        continue;
      }
      if (from < 0) continue;
      let id = vocabulary.idWithHash(text, from, i, hash);
      from = -1;
      if (stem && vocabulary.tokens[id]!.length > 3) {
        let stemId = stemIds[id];
        if (stemId === undefined) {
          const stemmed = porterStem(vocabulary.tokens[id]!);
          stemId = vocabulary.id(stemmed, 0, stemmed.length);
          stemIds[id] = stemId;
        }
        id = stemId;
      }
      tokens.push(id);
    }
  };
  for (const candidate of input.candidates) add(candidate);
  input.references.forEach((refs, k) => {
    referenceStarts[k] = starts.length;
    for (const ref of refs) add(ref);
  });
  referenceStarts.push(starts.length);
  const sentences = starts.length;
  starts.push(tokens.length);
  return {
    vocabulary: vocabulary.tokens,
    tokens: tokens.toArray(),
    starts: Int32Array.from(starts),
    referenceStarts: Int32Array.from(referenceStarts),
    sentences,
  };
}

const NON_ASCII = /[^\0-\x7f]/;

function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

/**
 * rouge_score's ROUGE-1 and ROUGE-2 F-measures of candidate sentences against reference
 * sentences: unigram multisets intersected through a dense count table over token ids,
 * bigram multisets through a small hash table of the reference's bigrams, made afresh for
 * each pair (it stays in the cache; a table of all the captions' bigrams did not).
 */
class RougeN {
  private readonly count: Int32Array;
  private readonly owner: Int32Array;
  /** The bigram table: slot i holds (first[i], second[i]) with count pairs[i] while stamp[i] is `pass`. */
  private first = new Int32Array(64);
  private second = new Int32Array(64);
  private pairs = new Int32Array(64);
  private stamp = new Int32Array(64);
  private pass = 0;

  constructor(private readonly captions: EncodedCaptions) {
    const size = captions.vocabulary.length;
    this.count = new Int32Array(size);
    this.owner = new Int32Array(size).fill(-1);
  }

  /** [ROUGE-1 F, ROUGE-2 F] of sentence `candidate` against sentence `reference`. */
  score(candidate: number, reference: number, out: Float64Array): void {
    out[0] = this.unigramF(candidate, reference);
    out[1] = this.bigramF(candidate, reference);
  }

  private unigramF(candidate: number, reference: number): number {
    const { starts, tokens } = this.captions;
    const { count, owner } = this;
    const refEnd = starts[reference + 1]!;
    const candEnd = starts[candidate + 1]!;
    for (let p = starts[reference]!; p < refEnd; p++) {
      const g = tokens[p]!;
      if (owner[g] !== reference) {
        owner[g] = reference;
        count[g] = 0;
      }
      count[g]! += 1;
    }
    let shared = 0;
    for (let p = starts[candidate]!; p < candEnd; p++) {
      const g = tokens[p]!;
      if (owner[g] === reference && count[g]! > 0) {
        count[g]! -= 1;
        shared++;
      }
    }
    // Counts left behind belong to `reference`; the next call for it must recount.
    for (let p = starts[reference]!; p < refEnd; p++) owner[tokens[p]!] = -1;
    const refCount = refEnd - starts[reference]!;
    const candCount = candEnd - starts[candidate]!;
    return fmeasure(shared / Math.max(candCount, 1), shared / Math.max(refCount, 1));
  }

  private bigramF(candidate: number, reference: number): number {
    const { starts, tokens } = this.captions;
    const refEnd = starts[reference + 1]! - 1;
    const candEnd = starts[candidate + 1]! - 1;
    const refCount = Math.max(0, refEnd - starts[reference]!);
    const candCount = Math.max(0, candEnd - starts[candidate]!);
    // At most half full.
    let capacity = 16;
    while (capacity < 2 * refCount) capacity *= 2;
    if (capacity > this.stamp.length) {
      this.first = new Int32Array(capacity);
      this.second = new Int32Array(capacity);
      this.pairs = new Int32Array(capacity);
      this.stamp = new Int32Array(capacity);
      this.pass = 0;
    }
    const { first, second, pairs, stamp } = this;
    const pass = ++this.pass;
    const mask = capacity - 1;
    for (let p = starts[reference]!; p < refEnd; p++) {
      const a = tokens[p]!;
      const b = tokens[p + 1]!;
      let slot = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) & mask;
      for (;;) {
        if (stamp[slot] !== pass) {
          stamp[slot] = pass;
          first[slot] = a;
          second[slot] = b;
          pairs[slot] = 1;
          break;
        }
        if (first[slot] === a && second[slot] === b) {
          pairs[slot]! += 1;
          break;
        }
        slot = (slot + 1) & mask;
      }
    }
    let shared = 0;
    for (let p = starts[candidate]!; p < candEnd; p++) {
      const a = tokens[p]!;
      const b = tokens[p + 1]!;
      let slot = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) & mask;
      while (stamp[slot] === pass) {
        if (first[slot] === a && second[slot] === b) {
          if (pairs[slot]! > 0) {
            pairs[slot]! -= 1;
            shared++;
          }
          break;
        }
        slot = (slot + 1) & mask;
      }
    }
    return fmeasure(shared / Math.max(candCount, 1), shared / Math.max(refCount, 1));
  }
}

/** pycocoevalcap's `' '.join(tokens).split(' ')`: no tokens gives one empty token. */
function sentenceForRougeL(
  captions: EncodedCaptions,
  s: number,
  emptyToken: Int32Array,
): Int32Array {
  const start = captions.starts[s]!;
  const end = captions.starts[s + 1]!;
  return end === start ? emptyToken : captions.tokens.subarray(start, end);
}

/** Per item, the best ROUGE-1 and ROUGE-2 F over its references (-Infinity: none). */
interface RougeNColumns {
  rouge1: Float64Array;
  rouge2: Float64Array;
}

function rougeNColumns(text: RawCaptions, stem: boolean): RougeNColumns {
  const rawCaptions = rougeScoreCaptions(text, stem);
  const raw = new RougeN(rawCaptions);
  const items = text.ids.length;
  const rouge1 = new Float64Array(items);
  const rouge2 = new Float64Array(items);
  const pair = new Float64Array(2);
  for (let k = 0; k < items; k++) {
    let best1 = Number.NEGATIVE_INFINITY;
    let best2 = Number.NEGATIVE_INFINITY;
    for (let s = rawCaptions.referenceStarts[k]!; s < rawCaptions.referenceStarts[k + 1]!; s++) {
      raw.score(k, s, pair);
      if (pair[0]! > best1) best1 = pair[0]!;
      if (pair[1]! > best2) best2 = pair[1]!;
    }
    rouge1[k] = best1;
    rouge2[k] = best2;
  }
  return { rouge1, rouge2 };
}

export function createRougeMetric(options: RougeOptions = {}): Metric {
  const stem = options.stemmer ?? false;
  // ROUGE-1/2 need no tokens: prepare() computes them ahead for score() of the same text.
  let prepared: { text: RawCaptions; columns: RougeNColumns } | undefined;
  const rougeN = (text: RawCaptions): RougeNColumns => {
    if (
      prepared === undefined ||
      prepared.text.candidates !== text.candidates ||
      prepared.text.references !== text.references
    ) {
      prepared = { text, columns: rougeNColumns(text, stem) };
    }
    return prepared.columns;
  };
  return {
    id: 'rouge',
    columns: ROUGE_COLUMNS,
    corpusDependent: false,
    prepare(text) {
      rougeN(text);
    },
    async score(input): Promise<MetricResult> {
      const items = input.ids.length;
      const captions = encodedCaptions(input);
      const { rouge1, rouge2 } = rougeN(input);
      // An id no token has, for the empty token ('' may itself be a token of the input).
      const emptyIndex = captions.vocabulary.indexOf('');
      const emptyToken = Int32Array.of(emptyIndex >= 0 ? emptyIndex : -1);
      const lColumn = new Float64Array(items);
      const sums = [0, 0, 0];
      const references: Int32Array[] = [];
      for (let k = 0; k < items; k++) {
        const firstRef = captions.referenceStarts[k]!;
        const endRef = captions.referenceStarts[k + 1]!;
        const refTexts = input.references[k]!;
        if (endRef === firstRef || refTexts.length === 0) {
          throw new MetricError(`rouge: item ${input.ids[k]} has no reference caption`);
        }
        references.length = 0;
        for (let s = firstRef; s < endRef; s++) {
          references.push(sentenceForRougeL(captions, s, emptyToken));
        }
        const l = rougeL(sentenceForRougeL(captions, k, emptyToken), references);
        lColumn[k] = l;
        sums[0]! += l;
        sums[1]! += rouge1[k]!;
        sums[2]! += rouge2[k]!;
      }
      const mean = (sum: number) => (items === 0 ? 0 : sum / items);
      const columns = [lColumn, rouge1, rouge2];
      return {
        corpus: { rouge_l: mean(sums[0]!), rouge_1: mean(sums[1]!), rouge_2: mean(sums[2]!) },
        values: Object.fromEntries(ROUGE_COLUMNS.map((column, i) => [column, columns[i]!])),
      };
    },
  };
}
