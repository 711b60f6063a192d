/**
 * METEOR as NLTK's `nltk.translate.meteor_score.meteor_score` (NLTK 3.9+ with WordNet
 * 3.0): exact, Porter-stem and WordNet-synonym matching; alpha 0.9, beta 3, gamma 0.5;
 * best over an item's references. Scores the run's tokens (`candidateTokens`,
 * `referenceTokens`); corpus value = mean of the per-item values.
 */
import { MetricError } from '../../core/errors.js';
import { pythonSplitCaptions } from '../token-ids.js';
import type { Metric, MetricInput, MetricResult } from '../types.js';
import { type MeteorParameters, MeteorScorer } from './scorer.js';
import { WordNet } from './wordnet.js';

export { porterStem } from './porter.js';
export { type MeteorParameters, MeteorScorer, NLTK_METEOR_PARAMETERS } from './scorer.js';
export { WordNet } from './wordnet.js';

export interface MeteorMetricOptions {
  /** A WordNet 3.0 `dict` folder; default: the one medcap ships (assets/wordnet-3.0). */
  wordnetDir?: string;
  /** An already loaded WordNet (shared between metrics, or in tests). */
  wordnet?: WordNet;
  /** Override NLTK's alpha / beta / gamma. */
  parameters?: Partial<MeteorParameters>;
}

export const METEOR_COLUMN = 'meteor';

/** The package's WordNet, loaded at most once per process and shared by every metric. */
let defaultWordNet: WordNet | undefined;

/** The bundled WordNet, loaded once per thread (a worker may load it ahead: score-worker.ts). */
export function sharedDefaultWordNet(): WordNet {
  if (defaultWordNet === undefined) defaultWordNet = WordNet.load();
  return defaultWordNet;
}

export function createMeteorMetric(options: MeteorMetricOptions = {}): Metric {
  let wordnet = options.wordnet;
  const loadWordNet = () => {
    if (wordnet === undefined) {
      wordnet =
        options.wordnetDir === undefined
          ? sharedDefaultWordNet()
          : WordNet.load({ dir: options.wordnetDir });
    }
    return wordnet;
  };
  const scorer = new MeteorScorer({
    loadWordNet,
    ...(options.parameters === undefined ? {} : { parameters: options.parameters }),
  });

  return {
    id: 'meteor',
    columns: [METEOR_COLUMN],
    corpusDependent: false,
    prepare() {
      loadWordNet();
    },
    async score(input: MetricInput): Promise<MetricResult> {
      const { ids } = input;
      // Split as str.split() would, like BLEU and CIDEr-D: NLTK's meteor_score takes token
      // lists, which Python pipelines (and tools/parity) make with .split() of the PTB
      // tokens, breaking the few that hold a no-break space (`3\u00a01/2`).
      const captions = pythonSplitCaptions(input);
      if (captions.referenceStarts.length !== ids.length + 1) {
        throw new MetricError(
          `meteor: ${ids.length} ids but ${captions.referenceStarts.length - 1} tokenized items`,
        );
      }
      const words = scorer.wordIdsOfCaptions(captions);
      const values = new Float64Array(ids.length);
      let sum = 0;
      for (let k = 0; k < ids.length; k += 1) {
        if (captions.referenceStarts[k + 1] === captions.referenceStarts[k]) {
          throw new MetricError(`meteor: item ${ids[k]} (row ${k + 1}) has no reference caption`);
        }
        const value = scorer.scoreEncoded(captions, words, k);
        values[k] = value;
        sum += value;
      }
      // Mean of nothing is undefined: NaN (written as null in JSON).
      const corpus = { meteor: ids.length === 0 ? Number.NaN : sum / ids.length };
      return { corpus, values: { [METEOR_COLUMN]: values } };
    },
    async dispose(): Promise<void> {
      scorer.clearCache();
    },
  };
}
