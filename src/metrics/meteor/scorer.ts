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
 * A word's stem, a hypothesis stem's Morphy candidates and the synsets a reference stem
 * names are computed once per scorer and reused for every later pair; working arrays
 * are reused too. WordNet is loaded on the first pair that reaches stage 3.
 */
import { MetricError } from '../../core/errors.js';
import { porterStem } from './porter.js';
import { namesWordOrExtra, type WordNet } from './wordnet.js';

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

export class MeteorScorer {
  private readonly loadWordNet: () => WordNet;
  private wordnet: WordNet | undefined;
  private readonly alpha: number;
  private readonly beta: number;
  private readonly gamma: number;

  /** Lower-cased word → its Porter stem. */
  private stems = new Map<string, string>();
  /** Hypothesis stem → Morphy's extra candidates per part of speech (WordNet.morphyExtras). */
  private stemExtras = new Map<string, readonly (readonly string[])[]>();
  /** Reference stem → lemma names of the synsets it names (WordNet.namedSynsetLemmas). */
  private namedLemmas = new Map<string, readonly (readonly string[])[] | null>();

  // Scratch space reused by every pair (grown on demand).
  private hypothesisWords: string[] = [];
  private referenceWords: string[] = [];
  private hypothesisStems: string[] = [];
  private referenceStems: string[] = [];
  private matchOf = new Int32Array(64);
  private referenceUsed = new Uint8Array(64);
  private referenceNamed: (readonly (readonly string[])[] | null)[] = [];

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
    lowerInto(hypothesis, this.hypothesisWords);
    let best = Number.NEGATIVE_INFINITY;
    for (const reference of references) {
      lowerInto(reference, this.referenceWords);
      const value = this.scoreLowered(hypothesis.length, reference.length);
      if (value > best) best = value;
    }
    return best;
  }

  /** NLTK's `single_meteor_score(reference, hypothesis)`. */
  scorePair(hypothesis: readonly string[], reference: readonly string[]): number {
    lowerInto(hypothesis, this.hypothesisWords);
    lowerInto(reference, this.referenceWords);
    return this.scoreLowered(hypothesis.length, reference.length);
  }

  /** Forget every cached stem and synonym set (the WordNet data stays loaded). */
  clearCache(): void {
    this.stems = new Map();
    this.stemExtras = new Map();
    this.namedLemmas = new Map();
  }

  private stemOf(word: string): string {
    let stem = this.stems.get(word);
    if (stem === undefined) {
      stem = porterStem(word);
      this.stems.set(word, stem);
    }
    return stem;
  }

  private wordNet(): WordNet {
    if (this.wordnet === undefined) this.wordnet = this.loadWordNet();
    return this.wordnet;
  }

  private extrasOf(stem: string): readonly (readonly string[])[] {
    let extras = this.stemExtras.get(stem);
    if (extras === undefined) {
      extras = this.wordNet().morphyExtrasByPos(stem);
      this.stemExtras.set(stem, extras);
    }
    return extras;
  }

  private namedBy(stem: string): readonly (readonly string[])[] | null {
    let named = this.namedLemmas.get(stem);
    if (named === undefined) {
      named = this.wordNet().namedSynsetLemmas(stem) ?? null;
      this.namedLemmas.set(stem, named);
    }
    return named;
  }

  /** Scores hypothesisWords[0..hypothesisLength) against referenceWords[0..referenceLength). */
  private scoreLowered(hypothesisLength: number, referenceLength: number): number {
    if (hypothesisLength === 0 || referenceLength === 0) return 0;
    const hypothesis = this.hypothesisWords;
    const reference = this.referenceWords;
    if (this.matchOf.length < hypothesisLength) {
      this.matchOf = new Int32Array(hypothesisLength * 2);
    }
    if (this.referenceUsed.length < referenceLength) {
      this.referenceUsed = new Uint8Array(referenceLength * 2);
    }
    // matchOf[i]: reference position aligned with hypothesis position i, or -1.
    const matchOf = this.matchOf;
    const referenceUsed = this.referenceUsed;
    matchOf.fill(-1, 0, hypothesisLength);
    referenceUsed.fill(0, 0, referenceLength);
    let matches = 0;

    // Stage 1: exact (lower-cased) words.
    for (let i = hypothesisLength - 1; i >= 0; i -= 1) {
      const word = hypothesis[i];
      for (let j = referenceLength - 1; j >= 0; j -= 1) {
        if (referenceUsed[j] === 0 && reference[j] === word) {
          matchOf[i] = j;
          referenceUsed[j] = 1;
          matches += 1;
          break;
        }
      }
    }

    // Stage 2: Porter stems of what is left.
    if (matches < hypothesisLength && matches < referenceLength) {
      const hypothesisStems = this.hypothesisStems;
      const referenceStems = this.referenceStems;
      for (let i = 0; i < hypothesisLength; i += 1) {
        hypothesisStems[i] = matchOf[i] === -1 ? this.stemOf(hypothesis[i]!) : '';
      }
      for (let j = 0; j < referenceLength; j += 1) {
        referenceStems[j] = referenceUsed[j] === 0 ? this.stemOf(reference[j]!) : '';
      }
      for (let i = hypothesisLength - 1; i >= 0; i -= 1) {
        if (matchOf[i] !== -1) continue;
        const stem = hypothesisStems[i];
        for (let j = referenceLength - 1; j >= 0; j -= 1) {
          if (referenceUsed[j] === 0 && referenceStems[j] === stem) {
            matchOf[i] = j;
            referenceUsed[j] = 1;
            matches += 1;
            break;
          }
        }
      }

      // Stage 3: a reference stem that is a lemma name of a synset of the hypothesis stem
      // (NLTK: `reference word in {lemma names of wordnet.synsets(hypothesis word)}`),
      // decided as WordNet.isSynonym does: from the synsets the reference stem names,
      // against the hypothesis stem and its Morphy candidates. Only references that
      // name some synset can match at all. (An unmatched hypothesis stem never equals
      // an unmatched reference stem here: stage 2 would have paired them, so NLTK's
      // "the word itself" adds nothing.)
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
          const lemma = stem.toLowerCase();
          const extras = this.extrasOf(stem);
          for (let j = referenceLength - 1; j >= 0; j -= 1) {
            if (referenceUsed[j] !== 0) continue;
            const named = referenceNamed[j];
            if (named != null && namesWordOrExtra(named, lemma, extras)) {
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

/** Python's str.lower and JavaScript's toLowerCase agree (full Unicode mappings). */
function lowerInto(tokens: readonly string[], into: string[]): void {
  for (let k = 0; k < tokens.length; k += 1) into[k] = tokens[k]!.toLowerCase();
}
