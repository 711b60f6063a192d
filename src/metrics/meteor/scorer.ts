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
 * Every lower-cased word is interned once; its stem and its synonym set are computed
 * once per scorer and reused for every later pair.
 */
import { MetricError } from '../../core/errors.js';
import { porterStem } from './porter.js';
import type { WordNet } from './wordnet.js';

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

const UNKNOWN = -1;

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

  /** Raw token → id of its lower-cased form. */
  private tokenIds = new Map<string, number>();
  /** Interned strings (lower-cased words and stems share one id space). */
  private strings: string[] = [];
  private stringIds = new Map<string, number>();
  /** id → id of its Porter stem, or UNKNOWN. */
  private stemIds: number[] = [];
  /** stem id → lemma names of its synsets. */
  private synonymSets: (Set<string> | undefined)[] = [];

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
    const hypothesisIds = this.idsOf(hypothesis);
    let best = Number.NEGATIVE_INFINITY;
    for (const reference of references) {
      const value = this.scoreIds(hypothesisIds, this.idsOf(reference));
      if (value > best) best = value;
    }
    return best;
  }

  /** NLTK's `single_meteor_score(reference, hypothesis)`. */
  scorePair(hypothesis: readonly string[], reference: readonly string[]): number {
    return this.scoreIds(this.idsOf(hypothesis), this.idsOf(reference));
  }

  /** Forget every cached word (the WordNet data stays loaded). */
  clearCache(): void {
    this.tokenIds = new Map();
    this.strings = [];
    this.stringIds = new Map();
    this.stemIds = [];
    this.synonymSets = [];
  }

  private intern(text: string): number {
    let id = this.stringIds.get(text);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(text);
      this.stringIds.set(text, id);
      this.stemIds.push(UNKNOWN);
      this.synonymSets.push(undefined);
    }
    return id;
  }

  private idsOf(tokens: readonly string[]): Int32Array {
    const ids = new Int32Array(tokens.length);
    for (let k = 0; k < tokens.length; k += 1) {
      const token = tokens[k]!;
      let id = this.tokenIds.get(token);
      if (id === undefined) {
        id = this.intern(token.toLowerCase());
        this.tokenIds.set(token, id);
      }
      ids[k] = id;
    }
    return ids;
  }

  private stemOf(id: number): number {
    let stem = this.stemIds[id]!;
    if (stem === UNKNOWN) {
      stem = this.intern(porterStem(this.strings[id]!));
      this.stemIds[id] = stem;
    }
    return stem;
  }

  private synonymsOf(stemId: number): Set<string> {
    let synonyms = this.synonymSets[stemId];
    if (synonyms === undefined) {
      if (this.wordnet === undefined) this.wordnet = this.loadWordNet();
      synonyms = this.wordnet.synonyms(this.strings[stemId]!);
      this.synonymSets[stemId] = synonyms;
    }
    return synonyms;
  }

  private scoreIds(hypothesis: Int32Array, reference: Int32Array): number {
    const hypothesisLength = hypothesis.length;
    const referenceLength = reference.length;
    if (hypothesisLength === 0 || referenceLength === 0) return 0;

    // matchOf[i]: reference position aligned with hypothesis position i, or -1.
    const matchOf = new Int32Array(hypothesisLength).fill(-1);
    const referenceUsed = new Uint8Array(referenceLength);
    let matches = 0;

    // Stage 1: exact (lower-cased) words.
    for (let i = hypothesisLength - 1; i >= 0; i -= 1) {
      const word = hypothesis[i]!;
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
      for (let i = hypothesisLength - 1; i >= 0; i -= 1) {
        if (matchOf[i] !== -1) continue;
        const stem = this.stemOf(hypothesis[i]!);
        for (let j = referenceLength - 1; j >= 0; j -= 1) {
          if (referenceUsed[j] === 0 && this.stemOf(reference[j]!) === stem) {
            matchOf[i] = j;
            referenceUsed[j] = 1;
            matches += 1;
            break;
          }
        }
      }
    }

    // Stage 3: WordNet synonyms of the hypothesis stem against the reference stems.
    if (matches < hypothesisLength && matches < referenceLength) {
      for (let i = hypothesisLength - 1; i >= 0; i -= 1) {
        if (matchOf[i] !== -1) continue;
        const stem = this.stemOf(hypothesis[i]!);
        const synonyms = this.synonymsOf(stem);
        for (let j = referenceLength - 1; j >= 0; j -= 1) {
          if (referenceUsed[j] !== 0) continue;
          const referenceStem = this.stemOf(reference[j]!);
          if (referenceStem === stem || synonyms.has(this.strings[referenceStem]!)) {
            matchOf[i] = j;
            referenceUsed[j] = 1;
            matches += 1;
            break;
          }
        }
        if (matches === referenceLength) break;
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
