import type { MetricId } from '../config/types.js';

/**
 * What every metric sees. Text is tokenized once, up front, by the run's tokenizer
 * (`coco` or `whitespace`); metrics that define their own tokenization (ROUGE-1/2 as
 * rouge_score, BERTScore's subwords) use the raw strings.
 */
export interface MetricInput {
  ids: readonly string[];
  candidates: readonly string[];
  /** One or more references per item. */
  references: readonly (readonly string[])[];
  candidateTokens: readonly (readonly string[])[];
  referenceTokens: readonly (readonly (readonly string[])[])[];
  /** Once aborted, a long metric (BERTScore) stops early with an AbortError. */
  signal?: AbortSignal;
}

/** The raw text of a metric input, before any tokenization. */
export type RawCaptions = Pick<MetricInput, 'ids' | 'candidates' | 'references'>;

export interface MetricResult {
  /** Corpus-level value per column (e.g. bleu_1..bleu_4). */
  corpus: Record<string, number>;
  /** Per-item values per column, aligned with `MetricInput.ids`. */
  values: Record<string, Float64Array>;
}

/**
 * How to build a metric again from the registry, in a worker thread: set on the built-in
 * metrics that are pure computation on the input (no model, no device).
 */
export interface MetricRecipe {
  readonly id: MetricId;
  /** ROUGE-1/2 Porter stemming (the only option of these metrics). */
  readonly rougeStemmer?: boolean;
}

export interface Metric {
  /** A registry id (`bleu`, `meteor`, ...), or any name for a metric of the caller's own. */
  readonly id: string;
  /** Present when the metric may run in a worker thread (see scoreCaptions). */
  readonly recipe?: MetricRecipe;
  /** Output columns this metric fills, named as in SPEC §6. */
  readonly columns: readonly string[];
  /**
   * True when an item's score depends on the other items (CIDEr-D takes its document
   * frequencies from the evaluated references): per-item values change with the set.
   */
  readonly corpusDependent: boolean;
  score(input: MetricInput): Promise<MetricResult>;
  /**
   * Work that needs only the raw text, done ahead of score() (a worker thread does it
   * while the main thread tokenizes); score() of an input with the same text arrays then
   * reuses it. The results are the same with or without it.
   */
  prepare?(text: RawCaptions): void;
  dispose?(): Promise<void>;
}
