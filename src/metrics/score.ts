import { availableParallelism } from 'node:os';
import { ConfigError, DatasetError, MetricError } from '../core/errors.js';
import { startWorkerJob } from './metric-worker.js';
import { orderColumns } from './registry.js';
import { CORPUS_RESAMPLERS, type CorpusResampler } from './resample.js';
import { describe, percentile, seededRandom } from './statistics.js';
import { CaptionEncoder, encodedCaptions, inputFromEncoded } from './token-ids.js';
import { forEachTokenized, type TokenizerId } from './tokenize.js';
import type { Metric, MetricInput, MetricResult } from './types.js';

/** One caption to score. */
export interface CaptionItem {
  id: string;
  candidate: string;
  /** At least one. */
  references: readonly string[];
}

export interface ScoreOptions {
  metrics: readonly Metric[];
  /** Default `coco`. */
  tokenizer?: TokenizerId;
  /** Bootstrap resamples for 95% confidence intervals; 0 (default) for none. */
  bootstrap?: number;
  /** Seed of the bootstrap (default 12345). */
  seed?: number;
  /**
   * Score ROUGE and METEOR (built by the registry) in a worker thread, in parallel with the
   * other metrics. Default: when there are at least 5,000 items and a second core.
   */
  parallel?: boolean;
}

export interface ColumnSummary {
  /** The metric's corpus value (BLEU: from summed counts; the others: the mean). */
  corpus: number;
  mean: number;
  std: number;
  median: number;
  min: number;
  max: number;
  /** 2.5th and 97.5th percentiles of the corpus value over item resamples. */
  ci95: [number, number] | null;
}

export interface ScoredCaptions {
  /** Item ids in input order. */
  ids: string[];
  /** Metric columns in file order. */
  columns: string[];
  /** Per column, the value of each item, aligned with `ids` (NaN: not scored). */
  values: Record<string, Float64Array>;
  summary: Record<string, ColumnSummary>;
  /** Columns whose per-item values depend on the whole item set (CIDEr-D). */
  corpusDependentColumns: string[];
  /** Metrics that were scored in a worker thread (see ScoreOptions.parallel). */
  workerMetrics: string[];
}

/**
 * What the metrics score: the items' text, tokenized once (all candidates, then all
 * references, each as one run in item order, as pycocoevalcap does) straight into token
 * ids; the string token arrays are built only if a metric asks for them.
 */
export function metricInput(
  items: readonly CaptionItem[],
  tokenizer: TokenizerId,
  text: CaptionText = captionText(items),
): MetricInput {
  const encoder = new CaptionEncoder();
  const add = (words: readonly string[], count: number) => encoder.add(words, count);
  forEachTokenized(tokenizer, text.candidates, add);
  forEachTokenized(
    tokenizer,
    items.flatMap((item) => item.references),
    add,
  );
  return inputFromEncoded(text, encoder.finish(items.map((item) => item.references.length)));
}

/** The items' ids and text as the parallel arrays a MetricInput holds. */
interface CaptionText {
  ids: string[];
  candidates: string[];
  references: (readonly string[])[];
}

function captionText(items: readonly CaptionItem[]): CaptionText {
  return {
    ids: items.map((item) => item.id),
    candidates: items.map((item) => item.candidate),
    references: items.map((item) => item.references),
  };
}

/** Items from which a second thread repays its start-up. */
const WORKER_MIN_ITEMS = 5000;
/** The metrics worth moving: they need no n-gram index (BLEU and CIDEr-D share one). */
const WORKER_METRICS: ReadonlySet<string> = new Set(['rouge', 'meteor']);

/** The metrics to score in a worker thread (none when it would not pay). */
function workerShare(
  metrics: readonly Metric[],
  items: number,
  parallel: boolean | undefined,
): Metric[] {
  if (parallel === false) return [];
  if (parallel === undefined && (items < WORKER_MIN_ITEMS || availableParallelism() < 2)) {
    return [];
  }
  const movable = metrics.filter((m) => m.recipe !== undefined && WORKER_METRICS.has(m.recipe.id));
  // Moving every metric would leave this thread idle: keep one here.
  if (movable.length === metrics.length) movable.pop();
  return movable;
}

/** The worker's failure as the error class it had there. */
function asToolError(error: Error): Error {
  if (error.name === 'ConfigError') return new ConfigError(error.message);
  if (error.name === 'DatasetError') return new DatasetError(error.message);
  return new MetricError(error.message);
}

/**
 * Scores captions against their references with the given metrics (see metricInput). With
 * enough items and a second core, ROUGE and METEOR run in a worker thread on the same
 * tokens meanwhile; the results are the same either way.
 */
export async function scoreCaptions(
  items: readonly CaptionItem[],
  options: ScoreOptions,
): Promise<ScoredCaptions> {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (item.references.length === 0) {
      throw new MetricError(`item ${item.id} (#${i + 1}) has no reference caption`);
    }
    if (seen.has(item.id)) throw new MetricError(`item id ${item.id} appears twice`);
    seen.add(item.id);
  });
  const tokenizer = options.tokenizer ?? 'coco';
  const text = captionText(items);
  const inWorker = workerShare(options.metrics, items.length, options.parallel);
  const job =
    inWorker.length === 0
      ? undefined
      : startWorkerJob({ ...text, recipes: inWorker.map((metric) => metric.recipe!) });
  const byMetric = new Map<Metric, MetricResult>();
  const workerMetrics: string[] = [];
  try {
    const input = metricInput(items, tokenizer, text);
    job?.sendTokens(encodedCaptions(input));
    for (const metric of options.metrics) {
      if (!inWorker.includes(metric)) byMetric.set(metric, await metric.score(input));
    }
    const fromWorker = job === undefined ? [] : await job.results;
    if (fromWorker !== null && 'failed' in fromWorker) throw asToolError(fromWorker.failed);
    for (const [k, metric] of inWorker.entries()) {
      const result = fromWorker?.[k];
      if (result !== undefined) workerMetrics.push(metric.id);
      byMetric.set(metric, result ?? (await metric.score(input)));
    }
  } finally {
    job?.stop();
  }
  const results = options.metrics.map((metric) => ({ metric, result: byMetric.get(metric)! }));
  const columns = orderColumns(results.flatMap(({ metric }) => metric.columns));
  const values: Record<string, Float64Array> = {};
  for (const { metric, result } of results) {
    for (const column of metric.columns) {
      const got = result.values[column];
      if (got === undefined || got.length !== items.length) {
        throw new MetricError(
          `${metric.id} returned ${got === undefined ? 'no' : got.length} values for column ` +
            `${column}, expected one per item (${items.length})`,
        );
      }
      values[column] = got;
    }
  }

  const ci = bootstrapIntervals(
    results,
    items.length,
    options.bootstrap ?? 0,
    options.seed ?? 12345,
  );
  const summary: Record<string, ColumnSummary> = {};
  for (const { metric, result } of results) {
    for (const column of metric.columns) {
      const stats = describe(values[column]!);
      summary[column] = {
        corpus: result.corpus[column] ?? stats.mean,
        ...stats,
        ci95: ci.get(column) ?? null,
      };
    }
  }
  return {
    ids: text.ids,
    columns,
    values,
    summary,
    corpusDependentColumns: results
      .filter(({ metric }) => metric.corpusDependent)
      .flatMap(({ metric }) => [...metric.columns]),
    workerMetrics,
  };
}

/**
 * 95% percentile intervals of each column's corpus value over `resamples` resamples of the
 * items (with replacement, seeded). Per-item values are held fixed (CIDEr-D's document
 * frequencies are not re-estimated); BLEU's corpus value is recomputed from counts.
 */
function bootstrapIntervals(
  results: readonly { metric: Metric; result: MetricResult }[],
  n: number,
  resamples: number,
  seed: number,
): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  if (resamples <= 0 || n === 0) return out;
  const random = seededRandom(seed);
  const columns: { column: string; values: Float64Array; draws: Float64Array }[] = [];
  const resamplers: {
    columns: readonly string[];
    resample: CorpusResampler;
    draws: Float64Array[];
  }[] = [];
  for (const { metric, result } of results) {
    const resample = CORPUS_RESAMPLERS.get(result);
    if (resample) {
      resamplers.push({
        columns: metric.columns,
        resample,
        draws: metric.columns.map(() => new Float64Array(resamples)),
      });
      continue;
    }
    for (const column of metric.columns) {
      columns.push({ column, values: result.values[column]!, draws: new Float64Array(resamples) });
    }
  }
  // Columns side by side (item-major), so one pass in item order reads all of them.
  const width = columns.length;
  const table = new Float64Array(n * width);
  columns.forEach((c, j) => {
    for (let k = 0; k < n; k++) table[k * width + j] = c.values[k]!;
  });
  const sums = new Float64Array(width);
  // How many times each item is drawn in a resample.
  const weights = new Uint32Array(n);
  for (let b = 0; b < resamples; b++) {
    weights.fill(0);
    for (let i = 0; i < n; i++) weights[Math.floor(random() * n)]! += 1;
    sums.fill(0);
    for (let k = 0; k < n; k++) {
      const w = weights[k]!;
      if (w === 0) continue;
      const base = k * width;
      for (let j = 0; j < width; j++) sums[j]! += w * table[base + j]!;
    }
    columns.forEach((c, j) => {
      c.draws[b] = sums[j]! / n;
    });
    for (const r of resamplers) {
      const values = r.resample(weights);
      r.columns.forEach((column, j) => {
        r.draws[j]![b] = values[column] ?? Number.NaN;
      });
    }
  }
  const interval = (draws: Float64Array): [number, number] => {
    const sorted = draws.slice().sort();
    return [percentile(sorted, 2.5), percentile(sorted, 97.5)];
  };
  for (const c of columns) out.set(c.column, interval(c.draws));
  for (const r of resamplers) {
    r.columns.forEach((column, j) => {
      out.set(column, interval(r.draws[j]!));
    });
  }
  return out;
}
