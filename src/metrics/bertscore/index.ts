import { MetricError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Metric, MetricInput, MetricResult } from '../types.js';
import { loadEncoder } from './encoder.js';
import { defaultModelCache, isOffline } from './model-source.js';
import {
  bestOf,
  type Embedded,
  idfWeights,
  type Prf,
  scorePair,
  uniformWeights,
} from './scoring.js';

export interface BertScoreOptions {
  /** Model id or local folder. */
  model: string;
  /** idf weights from the references. */
  idf: boolean;
  offline: boolean;
  logger: Logger;
  /**
   * Hidden layer to match (bert_score's num_layers; 0 = the embedding layer). Default: the
   * layer bert_score uses for known models (17 for roberta-large), else the last layer.
   */
  layer?: number;
  /** Sentences per forward pass. @default 64 */
  batchSize?: number;
  /** Where Hub models are downloaded and pruned copies kept. @default defaultModelCache() */
  cacheDir?: string;
  /** Base for a relative model folder. @default process.cwd() */
  cwd?: string;
}

export const BERTSCORE_COLUMNS = Object.freeze([
  'bertscore_precision',
  'bertscore_recall',
  'bertscore_f1',
] as const);

/** Items whose sentences are embedded together (bounds the memory the embeddings take). */
const ITEMS_PER_CHUNK = 256;
const MAX_BATCH_TOKENS = 16_384;

/**
 * BERTScore (Zhang et al. 2020) as the bert_score package computes it: contextual token
 * embeddings of one hidden layer, greedy cosine matching, precision / recall / F1, optional
 * idf weights from the evaluated references, best over several references. Per item:
 * bertscore_precision, bertscore_recall, bertscore_f1; corpus value: their mean. With idf the
 * per-item values depend on the whole set of references (corpusDependent).
 */
export async function createBertScoreMetric(options: BertScoreOptions): Promise<Metric> {
  const batchSize = options.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new MetricError(`BERTScore batch size must be a whole number >= 1, got ${batchSize}`);
  }
  if (options.layer !== undefined && (!Number.isInteger(options.layer) || options.layer < 0)) {
    throw new MetricError(
      `--bertscore-layer must be a whole number >= 0 (0 = embeddings), got ${options.layer}`,
    );
  }
  const { logger } = options;
  const encoder = await loadEncoder({
    model: options.model,
    ...(options.layer === undefined ? {} : { layer: options.layer }),
    offline: isOffline(options.offline),
    cacheDir: options.cacheDir ?? defaultModelCache(),
    cwd: options.cwd ?? process.cwd(),
    batchSize,
    maxBatchTokens: MAX_BATCH_TOKENS,
    logger,
  });

  const score = async (input: MetricInput): Promise<MetricResult> => {
    const n = input.ids.length;
    if (input.candidates.length !== n || input.references.length !== n) {
      throw new MetricError(
        `BERTScore: ${n} ids, ${input.candidates.length} candidates and ` +
          `${input.references.length} reference lists do not match`,
      );
    }
    input.references.forEach((refs, i) => {
      if (refs.length === 0) {
        throw new MetricError(`BERTScore: item ${input.ids[i]} has no reference caption`);
      }
    });

    const ids = new Map<string, number[]>();
    const encode = (sentence: string): number[] => {
      let found = ids.get(sentence);
      if (!found) {
        found = encoder.encode(sentence);
        ids.set(sentence, found);
      }
      return found;
    };
    const referenceIds = input.references.flatMap((refs) => refs.map(encode));
    const weights = options.idf
      ? idfWeights(referenceIds)
      : uniformWeights(encoder.clsId, encoder.sepId);

    const precision = new Float64Array(n);
    const recall = new Float64Array(n);
    const f1 = new Float64Array(n);
    const totals = [0, 0, 0];
    let empty = 0;
    let cleared = 0;
    for (let start = 0; start < n; start += ITEMS_PER_CHUNK) {
      const end = Math.min(n, start + ITEMS_PER_CHUNK);
      const sentences = new Set<string>();
      for (let i = start; i < end; i++) {
        sentences.add(input.candidates[i]!);
        for (const r of input.references[i]!) sentences.add(r);
      }
      const list = [...sentences];
      const embedded = await encoder.embed(list.map(encode));
      const bySentence = new Map<string, Embedded>(list.map((s, k) => [s, embedded[k]!]));
      for (let i = start; i < end; i++) {
        const candidate = bySentence.get(input.candidates[i]!)!;
        if (candidate.ids.length === 2) empty++;
        const scores: Prf[] = input.references[i]!.map((r) => {
          const s = scorePair(candidate, bySentence.get(r)!, weights);
          if (s.undefinedCleared) cleared++;
          return s;
        });
        const best = bestOf(scores);
        precision[i] = best.precision;
        recall[i] = best.recall;
        f1[i] = best.f1;
        totals[0]! += best.precision;
        totals[1]! += best.recall;
        totals[2]! += best.f1;
      }
      logger.debug(`BERTScore: ${end} of ${n} items scored`);
    }
    if (empty > 0) {
      logger.warn(`BERTScore: ${empty} empty candidate caption(s) scored 0, as bert_score does`);
    }
    if (cleared > 0) {
      logger.warn(
        `BERTScore: ${cleared} precision/recall value(s) were undefined (every token weighs 0 ` +
          'under idf, e.g. a token in every reference) and were set to 0',
      );
    }
    const mean = (total: number) => (n === 0 ? 0 : total / n);
    return {
      corpus: {
        bertscore_precision: mean(totals[0]!),
        bertscore_recall: mean(totals[1]!),
        bertscore_f1: mean(totals[2]!),
      },
      values: { bertscore_precision: precision, bertscore_recall: recall, bertscore_f1: f1 },
    };
  };

  return {
    id: 'bertscore',
    columns: BERTSCORE_COLUMNS,
    corpusDependent: options.idf,
    score,
    dispose: () => encoder.dispose(),
  };
}
