/**
 * Sentence-level METEOR as NLTK's `meteor_score` computes it, on pre-tokenized input.
 *
 * Alignment, in three stages, each greedy: hypothesis words are visited from last to
 * first and each takes the last still-unmatched reference word that fits (1. same
 * lower-cased word, 2. same Porter stem, 3. the reference stem is a WordNet lemma name
 * of a synset of the hypothesis stem). Stages 2 and 3 see only what the earlier stages
 * left. Then P = m/|hyp|, R = m/|ref|, Fmean = PR / (αP + (1-α)R), chunks are maximal
 * runs of matches adjacent in both sentences (in hypothesis order),
 * penalty = γ (chunks/m)^β, score = (1 - penalty) Fmean, and 0 whenever NLTK would
 * divide by zero (empty hypothesis or reference, no match). With several references the
 * best score counts.
 *
 * Words and stems are numbered once per scorer (lower-cased word → id → stem id), so the
 * alignment compares integers; a word's stem, a hypothesis stem's Morphy candidates and
 * the lemma names of the synsets a reference stem names (as sets) are computed once per
 * scorer and reused for every later pair; working arrays are reused too. WordNet is
 * loaded on the first pair that reaches stage 3.
 */
import { MetricError } from '../../core/errors.js';
import { type EncodedCaptions, Vocabulary } from '../token-ids.js';
import { porterStem } from './porter.js';
import { type NamedLemmas, namesWordOrExtra, type WordNet } from './wordnet.js';

export interface MeteorParameters {
  /** Relative weight of precision and recall. */
  alpha: number;
  /** Shape of the fragmentation penalty. */
  beta: number;
  /** Weight of the fragmentation penalty. */
  gamma: number;
}

/** NLTK's defaults. */
export const NLTK_METEOR_PARAMETERS: Readonly<MeteorParameters> = Object.freeze({
  alpha: 0.9,
  beta: 3,
  gamma: 0.5,
});

export interface MeteorScorerOptions {
  /** Called once, the first time a synonym lookup is needed. */
  loadWordNet: () => WordNet;
  parameters?: Partial<MeteorParameters>;
}

/** 2^27 + 1: splits a double into two halves whose products are exact. */
const SPLITTER = 134217729;

/**
 * x^n for a small whole n, correctly rounded (barring exact-midpoint cases): the running
 * product is kept as a double-double. V8's `**` is off by one ulp for about 9% of the
 * fractions chunks/matches; the C library's pow that Python calls is correctly rounded
 * for all but about 0.05% of them, so this matches NLTK far more often.
 */
function integerPower(x: number, n: number): number {
  if (n === 0) return 1;
  const t = SPLITTER * x;
  const xHigh = t - (t - x);
  const xLow = x - xHigh;
  let high = x;
  let low = 0;
  for (let k = 1; k < n; k += 1) {
    const product = high * x;
    const u = SPLITTER * high;
    const hHigh = u - (u - high);
    const hLow = high - hHigh;
    const error = hHigh * xHigh - product + hHigh * xLow + hLow * xHigh + hLow * xLow;
    const tail = error + low * x;
    high = product + tail;
    low = tail - (high - product);
  }
  return high;
}

function power(x: number, exponent: number): number {
  return Number.isInteger(exponent) && exponent >= 0 && exponent <= 64 && x >= 0 && x <= 1
    ? integerPower(x, exponent)
    : x ** exponent;
}

/** Morphy's extra candidates per part of speech. */
type MorphyExtras = readonly (readonly string[])[];

/** No id yet. */
const UNKNOWN = -1;

export class MeteorScorer {
  private readonly loadWordNet: () => WordNet;
  private wordnet: WordNet | undefined;
  private readonly alpha: number;
  private readonly beta: number;
  private readonly gamma: number;

  /** Lower-cased words. */
  private words = new Vocabulary();
  /** Porter stems. */
  private stems = new Vocabulary();
  /** Word id → stem id. */
  private stemOfWord: number[] = [];
  /** Stem id → lemma names of the synsets the stem names as a reference (null: none). */
  private namedByStem: (NamedLemmas | null)[] = [];
  /** Stem id → Morphy's extra candidates per part of speech, as a hypothesis. */
  private extrasOfStem: MorphyExtras[] = [];
  /** Stem id → the stem lower-cased, as a hypothesis. */
  private lemmaOfStem: string[] = [];

  // Scratch space reused by every pair (grown on demand).
  private hypothesisStems = new Int32Array(64);
  private referenceStems = new Int32Array(64);
  private matchOf = new Int32Array(64);
  private referenceUsed = new Uint8Array(64);
  private referenceNamed: (NamedLemmas | null)[] = [];
  private previousOfKey = new Int32Array(64);
  // Per word or stem id, for alignEqual: valid while keyOwner[key] is the current stage.
  private lastOfKey = new Int32Array(0);
  private keyOwner = new Int32Array(0);
  private stage = 0;

  constructor(options: MeteorScorerOptions) {
    this.loadWordNet = options.loadWordNet;
    const parameters = { ...NLTK_METEOR_PARAMETERS, ...options.parameters };
    this.alpha = parameters.alpha;
    this.beta = parameters.beta;
    this.gamma = parameters.gamma;
  }

  /** METEOR of one hypothesis against its references: the best single-reference score. */
  score(hypothesis: readonly string[], references: readonly (readonly string[])[]): number {
    if (references.length === 0) {
      throw new MetricError('meteor needs at least one reference per item');
    }
    const hypothesisWords = this.wordIdsOf(hypothesis);
    let best = Number.NEGATIVE_INFINITY;
    for (const reference of references) {
      const value = this.scoreWords(
        hypothesisWords,
        0,
        hypothesis.length,
        this.wordIdsOf(reference),
        0,
        reference.length,
      );
      if (value > best) best = value;
    }
    return best;
  }

  /** NLTK's `single_meteor_score(reference, hypothesis)`. */
  scorePair(hypothesis: readonly string[], reference: readonly string[]): number {
    return this.score(hypothesis, [reference]);
  }

  /**
   * The word id of every token of encoded captions (`captions.tokens` mapped), for
   * {@link scoreEncoded}.
   */
  wordIdsOfCaptions(captions: EncodedCaptions): Int32Array {
    const byToken = Int32Array.from(captions.vocabulary, (token) =>
      this.words.id(token.toLowerCase()),
    );
    const out = new Int32Array(captions.tokens.length);
    for (let p = 0; p < out.length; p++) out[p] = byToken[captions.tokens[p]!]!;
    return out;
  }

  /**
   * METEOR of item k of encoded captions (`words` from {@link wordIdsOfCaptions}): its
   * candidate against each of its references, the best.
   */
  scoreEncoded(captions: EncodedCaptions, words: Int32Array, k: number): number {
    const { starts, referenceStarts } = captions;
    const firstRef = referenceStarts[k]!;
    const endRef = referenceStarts[k + 1]!;
    if (endRef === firstRef) throw new MetricError('meteor needs at least one reference per item');
    let best = Number.NEGATIVE_INFINITY;
    for (let s = firstRef; s < endRef; s++) {
      const value = this.scoreWords(
        words,
        starts[k]!,
        starts[k + 1]!,
        words,
        starts[s]!,
        starts[s + 1]!,
      );
      if (value > best) best = value;
    }
    return best;
  }

  /** Forget every cached stem and synonym set (the WordNet data stays loaded). */
  clearCache(): void {
    this.words = new Vocabulary();
    this.stems = new Vocabulary();
    this.stemOfWord = [];
    this.namedByStem = [];
    this.extrasOfStem = [];
    this.lemmaOfStem = [];
  }

  private wordIdsOf(tokens: readonly string[]): Int32Array {
    // Lower-cased as Python's str.lower (JavaScript's toLowerCase agrees: full Unicode).
    const ids = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) ids[i] = this.words.id(tokens[i]!.toLowerCase());
    return ids;
  }

  private stemOf(word: number): number {
    let stem = this.stemOfWord[word];
    if (stem === undefined) {
      stem = this.stems.id(porterStem(this.words.tokens[word]!));
      this.stemOfWord[word] = stem;
    }
    return stem;
  }

  private wordNet(): WordNet {
    if (this.wordnet === undefined) this.wordnet = this.loadWordNet();
    return this.wordnet;
  }

  private namedBy(stem: number): NamedLemmas | null {
    let named = this.namedByStem[stem];
    if (named === undefined) {
      named = this.wordNet().namedSynsetLemmas(this.stems.tokens[stem]!) ?? null;
      this.namedByStem[stem] = named;
    }
    return named;
  }

  /**
   * NLTK's stage-3 test: the reference stem is a lemma name of a synset of the hypothesis
   * stem, decided as WordNet.isSynonym does, from the synsets the reference names.
   */
  private isSynonym(hypothesisStem: number, named: NamedLemmas): boolean {
    let extras = this.extrasOfStem[hypothesisStem];
    if (extras === undefined) {
      const stem = this.stems.tokens[hypothesisStem]!;
      extras = this.wordNet().morphyExtrasByPos(stem);
      this.extrasOfStem[hypothesisStem] = extras;
      this.lemmaOfStem[hypothesisStem] = stem.toLowerCase();
    }
    return namesWordOrExtra(named, this.lemmaOfStem[hypothesisStem]!, extras);
  }

  /**
   * One greedy stage over equal keys: each hypothesis position, last to first, takes the
   * last still-unused reference position with the same key (NLTK's nested loops), found
   * through per-key lists of reference positions instead of a scan. Positions whose key
   * is UNKNOWN (already aligned) take no part. Returns the number of new matches.
   */
  private alignEqual(
    hypothesisKeys: Int32Array,
    hypothesisOffset: number,
    hypothesisLength: number,
    referenceKeys: Int32Array,
    referenceOffset: number,
    referenceLength: number,
  ): number {
    const keys = Math.max(this.words.tokens.length, this.stems.tokens.length);
    if (this.lastOfKey.length < keys) {
      this.lastOfKey = new Int32Array(keys * 2);
      this.keyOwner = new Int32Array(keys * 2);
      this.stage = 0;
    }
    if (this.stage === 0x7fffffff) {
      this.keyOwner.fill(0);
      this.stage = 0;
    }
    const stage = ++this.stage;
    const { lastOfKey, keyOwner, previousOfKey, matchOf, referenceUsed } = this;
    // lastOfKey[key]: the highest reference position with the key not yet taken;
    // previousOfKey[j]: the next lower one.
    for (let j = 0; j < referenceLength; j += 1) {
      const key = referenceKeys[referenceOffset + j]!;
      if (key === UNKNOWN) continue;
      if (keyOwner[key] !== stage) {
        keyOwner[key] = stage;
        lastOfKey[key] = -1;
      }
      previousOfKey[j] = lastOfKey[key]!;
      lastOfKey[key] = j;
    }
    let matches = 0;
    for (let i = hypothesisLength - 1; i >= 0; i -= 1) {
      const key = hypothesisKeys[hypothesisOffset + i]!;
      if (key === UNKNOWN || keyOwner[key] !== stage) continue;
      const j = lastOfKey[key]!;
      if (j < 0) continue;
      matchOf[i] = j;
      referenceUsed[j] = 1;
      lastOfKey[key] = previousOfKey[j]!;
      matches += 1;
    }
    return matches;
  }

  private ensureScratch(hypothesisLength: number, referenceLength: number): void {
    if (this.matchOf.length < hypothesisLength) {
      this.matchOf = new Int32Array(hypothesisLength * 2);
      this.hypothesisStems = new Int32Array(hypothesisLength * 2);
    }
    if (this.referenceUsed.length < referenceLength) {
      this.referenceUsed = new Uint8Array(referenceLength * 2);
      this.referenceStems = new Int32Array(referenceLength * 2);
      this.previousOfKey = new Int32Array(referenceLength * 2);
    }
  }

  /** Scores hypothesis words hw[hs, he) against reference words rw[rs, re). */
  private scoreWords(
    hw: Int32Array,
    hs: number,
    he: number,
    rw: Int32Array,
    rs: number,
    re: number,
  ): number {
    const hypothesisLength = he - hs;
    const referenceLength = re - rs;
    if (hypothesisLength === 0 || referenceLength === 0) return 0;
    this.ensureScratch(hypothesisLength, referenceLength);
    // matchOf[i]: reference position aligned with hypothesis position i, or -1.
    const matchOf = this.matchOf;
    const referenceUsed = this.referenceUsed;
    matchOf.fill(-1, 0, hypothesisLength);
    referenceUsed.fill(0, 0, referenceLength);
    let matches = 0;

    // Stage 1: exact (lower-cased) words.
    matches += this.alignEqual(hw, hs, hypothesisLength, rw, rs, referenceLength);

    // Stage 2: Porter stems of what is left.
    if (matches < hypothesisLength && matches < referenceLength) {
      const hypothesisStems = this.hypothesisStems;
      const referenceStems = this.referenceStems;
      for (let i = 0; i < hypothesisLength; i += 1) {
        hypothesisStems[i] = matchOf[i] === -1 ? this.stemOf(hw[hs + i]!) : UNKNOWN;
      }
      for (let j = 0; j < referenceLength; j += 1) {
        referenceStems[j] = referenceUsed[j] === 0 ? this.stemOf(rw[rs + j]!) : UNKNOWN;
      }
      matches += this.alignEqual(
        hypothesisStems,
        0,
        hypothesisLength,
        referenceStems,
        0,
        referenceLength,
      );

      // Stage 3: a reference stem that is a lemma name of a synset of the hypothesis stem
      // (NLTK: `reference word in {lemma names of wordnet.synsets(hypothesis word)}`).
      // Only references that name some synset can match at all. (An unmatched hypothesis
      // stem never equals an unmatched reference stem here: stage 2 would have paired
      // them, so NLTK's "the word itself" adds nothing.)
      if (matches < hypothesisLength && matches < referenceLength) {
        const referenceNamed = this.referenceNamed;
        let candidates = 0;
        for (let j = 0; j < referenceLength; j += 1) {
          const named = referenceUsed[j] === 0 ? this.namedBy(referenceStems[j]!) : null;
          referenceNamed[j] = named;
          if (named !== null) candidates += 1;
        }
        for (let i = hypothesisLength - 1; i >= 0 && candidates > 0; i -= 1) {
          if (matchOf[i] !== -1) continue;
          const stem = hypothesisStems[i]!;
          for (let j = referenceLength - 1; j >= 0; j -= 1) {
            if (referenceUsed[j] !== 0) continue;
            const named = referenceNamed[j];
            if (named != null && this.isSynonym(stem, named)) {
              matchOf[i] = j;
              referenceUsed[j] = 1;
              matches += 1;
              candidates -= 1;
              break;
            }
          }
        }
      }
    }

    if (matches === 0) return 0;

    // Chunks: runs of matches consecutive in both sentences, in hypothesis order.
    let chunks = 0;
    let previousHypothesis = -2;
    let previousReference = -2;
    for (let i = 0; i < hypothesisLength; i += 1) {
      const j = matchOf[i]!;
      if (j === -1) continue;
      if (!(i === previousHypothesis + 1 && j === previousReference + 1)) chunks += 1;
      previousHypothesis = i;
      previousReference = j;
    }

    const precision = matches / hypothesisLength;
    const recall = matches / referenceLength;
    const fmean = (precision * recall) / (this.alpha * precision + (1 - this.alpha) * recall);
    const fragmentation = chunks / matches;
    const penalty = this.gamma * power(fragmentation, this.beta);
    return (1 - penalty) * fmean;
  }
}
