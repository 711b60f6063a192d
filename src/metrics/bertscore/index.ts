import { resolve } from 'node:path';
import { MetricError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { DeviceChoice } from '../../engines/transformers/devices.js';
import type { BertScoreSetup } from '../../formats/metric-files.js';
import type { Metric, MetricInput, MetricResult } from '../types.js';
import { type Baseline, baselineFor, readBaselineFile, rescale } from './baseline.js';
import { type BertScoreDtype, loadEncoder } from './encoder.js';
import { defaultModelCache, isOffline } from './model-source.js';
import { planChunks } from './plan.js';
import {
  bestOf,
  type Embedded,
  idfWeights,
  type Prf,
  scoreFromMatches,
  uniformWeights,
} from './scoring.js';
import { createMatcher } from './similarity.js';

export interface BertScoreOptions {
  /** Model id or local folder. */
  model: string;
  /** Where the encoder runs. @default 'cpu' */
  device?: DeviceChoice;
  /** Precision of the matrix products (auto: fp16 on a GPU, fp32 on the CPU). @default 'fp32' */
  dtype?: BertScoreDtype;
  /** idf weights from the references. */
  idf: boolean;
  offline: boolean;
  logger: Logger;
  /**
   * Hidden layer to match (bert_score's num_layers; 0 = the embedding layer). Default: the
   * layer bert_score uses for known models (17 for roberta-large), else the last layer.
   */
  layer?: number;
  /**
   * bert_score baseline file (LAYER,P,R,F rows): P, R and F1 are rescaled as (x - b) / (1 - b)
   * with the row of the layer in use, as bert_score's rescale_with_baseline. Relative to `cwd`.
   */
  baseline?: string;
  /** Sentences per forward pass. Default: DEFAULT_BATCH_SIZE for the device it runs on. */
  batchSize?: number;
  /** Items whose new sentences are embedded together (bounds memory). @default 512 */
  itemsPerChunk?: number;
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

/** The BERTScore metric, with what it runs with (recorded in the aggregate JSON). */
export interface BertScoreMetric extends Metric {
  readonly setup: BertScoreSetup;
}

/** The Hub model BERTScore uses unless told otherwise (its ONNX export is at the repo root). */
export const DEFAULT_BERTSCORE_MODEL = 'FacebookAI/roberta-large';

/** Items whose new sentences are embedded together (bounds the memory the embeddings take). */
const ITEMS_PER_CHUNK = 512;
const MAX_BATCH_TOKENS = 16_384;

/**
 * BERTScore (Zhang et al. 2020) as the bert_score package computes it: contextual token
 * embeddings of one hidden layer, greedy cosine matching, precision / recall / F1, optional
 * idf weights from the evaluated references, best over several references. Per item:
 * bertscore_precision, bertscore_recall, bertscore_f1, rescaled with a baseline when one is
 * given (as bert_score's `rescale_with_baseline`); corpus value: their mean. With idf the
 * per-item values depend on the whole set of references (corpusDependent).
 */
export async function createBertScoreMetric(options: BertScoreOptions): Promise<BertScoreMetric> {
  const { batchSize } = options;
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1)) {
    throw new MetricError(`BERTScore batch size must be a whole number >= 1, got ${batchSize}`);
  }
  if (
    options.itemsPerChunk !== undefined &&
    (!Number.isInteger(options.itemsPerChunk) || options.itemsPerChunk < 1)
  ) {
    throw new MetricError(
      `BERTScore items per chunk must be a whole number >= 1, got ${options.itemsPerChunk}`,
    );
  }
  if (options.layer !== undefined && (!Number.isInteger(options.layer) || options.layer < 0)) {
    throw new MetricError(
      `--bertscore-layer must be a whole number >= 0 (0 = embeddings), got ${options.layer}`,
    );
  }
  const { logger } = options;
  const cwd = options.cwd ?? process.cwd();
  const baselineFile = options.baseline === undefined ? undefined : resolve(cwd, options.baseline);
  // Read before the encoder loads: a bad file should not wait for a 1.6 GB download.
  const baselineTable =
    baselineFile === undefined ? undefined : await readBaselineFile(baselineFile);
  const encoder = await loadEncoder({
    model: options.model,
    ...(options.layer === undefined ? {} : { layer: options.layer }),
    device: options.device ?? 'cpu',
    dtype: options.dtype ?? 'fp32',
    offline: isOffline(options.offline),
    cacheDir: options.cacheDir ?? defaultModelCache(),
    cwd,
    ...(batchSize === undefined ? {} : { batchSize }),
    maxBatchTokens: MAX_BATCH_TOKENS,
    logger,
  });
  // A chunk holds about 8 batches' worth of items, so that large batches still come out full
  // and length-sorted.
  const itemsPerChunk = options.itemsPerChunk ?? Math.max(ITEMS_PER_CHUNK, 8 * encoder.batchSize);

  let baseline: Baseline | undefined;
  try {
    if (baselineTable) baseline = baselineFor(baselineTable, encoder.layer, baselineFile!);
  } catch (error) {
    await encoder.dispose();
    throw error;
  }
  if (baseline) {
    logger.info(
      `BERTScore: P, R and F1 rescaled with the baseline of layer ${baseline.layer} in ` +
        `${baseline.file} (P ${baseline.precision}, R ${baseline.recall}, F ${baseline.f1})`,
    );
  }
  const setup: BertScoreSetup = {
    model: options.model,
    layer: encoder.layer,
    idf: options.idf,
    dtype: encoder.dtype,
    baseline: baseline ?? null,
  };

  const matcher = await createMatcher().catch(async (error: unknown) => {
    await encoder.dispose();
    throw error;
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

    // Each distinct token sequence once: equal strings are tokenized once, and strings that
    // tokenize alike (e.g. differing in outer whitespace) share one embedding.
    const texts = [...new Set([...input.candidates, ...input.references.flat()])];
    const encoded = await encoder.encodeAll(texts);
    const sequences: number[][] = [];
    const byIds = new Map<string, number>();
    const byText = new Map<string, number>();
    texts.forEach((text, i) => {
      const ids = encoded[i]!;
      const key = ids.join(',');
      let index = byIds.get(key);
      if (index === undefined) {
        index = sequences.length;
        sequences.push(ids);
        byIds.set(key, index);
      }
      byText.set(text, index);
    });
    const sequenceOf = (sentence: string): number => byText.get(sentence)!;
    const candidateOf = input.candidates.map(sequenceOf);
    const referencesOf = input.references.map((refs) => refs.map(sequenceOf));
    byText.clear();
    byIds.clear();
    const weights = options.idf
      ? idfWeights(referencesOf.flatMap((refs) => refs.map((r) => sequences[r]!)))
      : uniformWeights(encoder.clsId, encoder.sepId);
    logger.debug(
      `BERTScore: ${n} items, ${sequences.length} distinct sentences to embed on ${encoder.device}`,
    );

    const before = { ...encoder.passes };
    const precision = new Float64Array(n);
    const recall = new Float64Array(n);
    const f1 = new Float64Array(n);
    const totals = [0, 0, 0];
    let empty = 0;
    let cleared = 0;
    const chunks = planChunks(
      candidateOf.map((c, i) => [c, ...referencesOf[i]!]),
      itemsPerChunk,
    );
    const store = new Map<number, Embedded>();
    const embedChunk = (k: number) =>
      encoder.embed(
        chunks[k]!.embed.map((s) => sequences[s]!),
        input.signal,
      );
    // The next chunk's encoding is started before this one is scored. With the session on its
    // own thread (on a GPU) the two overlap; on this thread they interleave batch by batch.
    let pending: Promise<Embedded[]> | undefined = chunks.length > 0 ? embedChunk(0) : undefined;
    try {
      for (const [k, chunk] of chunks.entries()) {
        const embedded = await pending!;
        input.signal?.throwIfAborted();
        chunk.embed.forEach((s, j) => {
          store.set(s, embedded[j]!);
        });
        pending = k + 1 < chunks.length ? embedChunk(k + 1) : undefined;
        const pairs: [Embedded, Embedded][] = [];
        for (let i = chunk.start; i < chunk.end; i++) {
          const candidate = store.get(candidateOf[i]!)!;
          for (const r of referencesOf[i]!) pairs.push([candidate, store.get(r)!]);
        }
        const matches = await matcher.match(pairs);
        let pair = 0;
        for (let i = chunk.start; i < chunk.end; i++) {
          const candidate = store.get(candidateOf[i]!)!;
          if (candidate.ids.length === 2) empty++;
          const scores: Prf[] = referencesOf[i]!.map((r) => {
            const m = matches[pair++]!;
            const s = scoreFromMatches(
              candidate.ids,
              store.get(r)!.ids,
              m.candidate,
              m.reference,
              weights,
            );
            if (s.undefinedCleared) cleared++;
            return s;
          });
          const raw = bestOf(scores);
          // bert_score rescales last: after the idf-weighted means and the best over references
          const best = baseline ? rescale(raw, baseline) : raw;
          precision[i] = best.precision;
          recall[i] = best.recall;
          f1[i] = best.f1;
          totals[0]! += best.precision;
          totals[1]! += best.recall;
          totals[2]! += best.f1;
        }
        for (const s of chunk.release) store.delete(s);
        logger.debug(`BERTScore: ${chunk.end} of ${n} items scored`);
      }
    } finally {
      pending?.catch(() => undefined);
    }
    const count = encoder.passes.count - before.count;
    const tokens = encoder.passes.tokens - before.tokens;
    const padded = encoder.passes.padded - before.padded;
    logger.info(
      `BERTScore: ${sequences.length} sentences, ${tokens} tokens in ${count} forward passes ` +
        `(${tokens > 0 ? (((padded - tokens) / tokens) * 100).toFixed(1) : '0.0'}% more with padding) on ${encoder.device}` +
        (encoder.sessionThread ? ' (its own thread)' : ''),
    );
    if (empty > 0) {
      logger.warn(
        `BERTScore: ${empty} empty candidate caption(s) scored 0${baseline ? ' before rescaling' : ''}, as bert_score does`,
      );
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
    setup,
    score,
    dispose: async () => {
      await Promise.all([encoder.dispose(), matcher.dispose()]);
    },
  };
}
