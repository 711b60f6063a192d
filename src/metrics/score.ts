import { usableCores } from '../core/cgroup.js';
import { ConfigError, DatasetError, MetricError } from '../core/errors.js';
import {
  createDraws,
  createResampleJob,
  drawAheadUntil,
  type PrecomputedDraws,
  runLeftoverResamples,
  runResamples,
} from './bootstrap.js';
import { createMeteorJob, defaultMeteorScorer, meteorResultOf } from './meteor/chunks.js';
import { type IdleWorker, type RunningJob, startWorkerJob } from './metric-worker.js';
import { ngramStatsShared } from './ngram-stats.js';
import { orderColumns } from './registry.js';
import { CORPUS_RESAMPLERS, type CorpusResampler } from './resample.js';
import { type ResampleHelpers, spareCores, startResampleHelpers } from './resample-helpers.js';
import { type Distribution, describe, percentile } from './statistics.js';
import {
  CaptionEncoder,
  type EncodedSentences,
  encodedCaptions,
  inputFromEncoded,
  joinEncoded,
  pythonSplitCaptions,
} from './token-ids.js';
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
  /**
   * Once aborted, scoring stops with the abort's reason (an AbortError): between metrics,
   * while the worker thread scores, during the bootstrap and inside BERTScore.
   */
  signal?: AbortSignal;
  /**
   * A worker started ahead (prestartWorker), for the metrics a worker would score. Taken
   * over: used, or stopped when none is wanted.
   */
  worker?: IdleWorker;
  /**
   * Worker threads that help with METEOR (on up to three of them, when there are two or
   * more), BLEU and CIDEr-D's per-item pass and the bootstrap (resample-helpers.ts), when
   * there is a bootstrap. Default: one per core beyond the main thread and the metric
   * worker (at most 6), with at least 5,000 items. The values and intervals are the same
   * with any number.
   */
  resampleHelpers?: number;
  /** Resample helpers started ahead (startResampleHelpers), taken over: used, or stopped. */
  helpers?: ResampleHelpers;
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
  /** Metrics that were scored in other threads (see ScoreOptions.parallel), in metric order. */
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
  const add = (words: readonly string[], count: number, forms?: readonly number[]) =>
    encoder.add(words, count, forms);
  forEachTokenized(tokenizer, text.candidates, add);
  forEachTokenized(
    tokenizer,
    items.flatMap((item) => item.references),
    add,
  );
  return inputFromEncoded(text, encoder.finish(items.map((item) => item.references.length)));
}

/**
 * metricInput with the first candidates tokenized in the worker thread meanwhile (the same
 * ids: see joinEncoded); here when the worker does not send them.
 */
async function metricInputWithWorker(
  items: readonly CaptionItem[],
  tokenizer: TokenizerId,
  text: CaptionText,
  job: RunningJob,
  inWorker: number,
): Promise<MetricInput> {
  const rest = new CaptionEncoder();
  const add = (words: readonly string[], count: number, forms?: readonly number[]) =>
    rest.add(words, count, forms);
  forEachTokenized(tokenizer, text.candidates, add, inWorker);
  forEachTokenized(
    tokenizer,
    items.flatMap((item) => item.references),
    add,
  );
  const restTokens = rest.sentences();
  const firstTokens =
    (await job.candidateTokens) ?? encodeSentences(tokenizer, text.candidates, inWorker);
  const counts = items.map((item) => item.references.length);
  return inputFromEncoded(text, joinEncoded(firstTokens, restTokens, counts));
}

/** texts[0, stop) encoded on their own, each tokenized as in the run of all `texts`. */
function encodeSentences(
  tokenizer: TokenizerId,
  texts: readonly string[],
  stop: number,
): EncodedSentences {
  const encoder = new CaptionEncoder();
  forEachTokenized(
    tokenizer,
    texts,
    (words, count, forms) => encoder.add(words, count, forms),
    0,
    stop,
  );
  return encoder.sentences();
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

/**
 * The share of the candidates that the worker tokenizes while this thread tokenizes the
 * others and the references. With METEOR the worker's metrics take longer than this
 * thread's n-gram metrics already, and a second tokenizer (with a cache of its own, cold)
 * costs more CPU than it saves: none (measured with the default metrics). Else half.
 */
export function workerCandidateShare(inWorker: readonly Metric[]): number {
  return inWorker.some((metric) => metric.recipe?.id === 'meteor') ? 0 : 0.5;
}

/** Items from which a second thread repays its start-up. */
const WORKER_MIN_ITEMS = 5000;
/** The metrics worth moving: they need no n-gram index (BLEU and CIDEr-D share one). */
const WORKER_METRICS: ReadonlySet<string> = new Set(['rouge', 'meteor']);

/** The metrics that read ngram-stats.ts's per-item pass, when scored in this thread. */
function usesNgramStats(metric: Metric, inWorker: readonly Metric[]): boolean {
  const id = metric.recipe?.id;
  return (id === 'bleu' || id === 'cider') && !inWorker.includes(metric);
}

/**
 * METEOR is scored in chunks on this many helpers (each with WordNet of its own, about
 * 60 MB), or on fewer down to METEOR_HELPERS_MIN, rather than in the metric worker, where it
 * was the longest thread's work on 16 cores (docs/PERFORMANCE.md). Three take it below the
 * main thread's n-gram work; more would cost memory and gain nothing.
 */
export const METEOR_HELPERS = 3;
export const METEOR_HELPERS_MIN = 2;

/** The metrics to score in a worker thread (none when it would not pay). */
function workerShare(
  metrics: readonly Metric[],
  items: number,
  parallel: boolean | undefined,
): Metric[] {
  if (parallel === false) return [];
  if (parallel === undefined && (items < WORKER_MIN_ITEMS || usableCores() < 2)) {
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

/** Scores whose summary (statistics and bootstrap intervals) is still to be computed. */
export interface StagedScores extends Omit<ScoredCaptions, 'summary'> {
  /**
   * Computes the summary. The bootstrap's resamples are shared with the worker thread
   * when there is one; `meanwhile` starts here while the worker starts on them, and this
   * thread takes the resamples still unclaimed as soon as `meanwhile` first waits.
   */
  summarize(meanwhile?: () => Promise<void>): Promise<ScoredCaptions>;
  /**
   * The helper threads (none on a machine without cores to spare), until summarize ends:
   * a job given to them before summarize is taken before its resamples.
   */
  readonly helpers: ResampleHelpers;
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
  return (await scoreCaptionsStaged(items, options)).summarize();
}

/** Every item has a reference and an id of its own; else a MetricError naming it. */
function checkItems(items: readonly CaptionItem[]): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    // A library caller's items (JavaScript, or data from JSON) may hold anything.
    if (typeof item?.id !== 'string') throw new MetricError(`item #${i + 1}: id must be a string`);
    if (typeof item.candidate !== 'string') {
      throw new MetricError(
        `item ${item.id} (#${i + 1}): candidate must be a string, got ${typeName(item.candidate)}`,
      );
    }
    const { references } = item;
    if (!Array.isArray(references) || references.some((r) => typeof r !== 'string')) {
      throw new MetricError(`item ${item.id} (#${i + 1}): references must be an array of strings`);
    }
    if (item.references.length === 0) {
      throw new MetricError(`item ${item.id} (#${i + 1}) has no reference caption`);
    }
    if (seen.has(item.id)) throw new MetricError(`item id ${item.id} appears twice`);
    seen.add(item.id);
  });
}

const typeName = (value: unknown) => (value === null ? 'null' : typeof value);

/** `bootstrap`, `seed`: whole numbers from 0 up, else a ConfigError naming the option. */
function checkCounts(options: ScoreOptions): void {
  for (const key of ['bootstrap', 'seed'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
      throw new ConfigError(`${key}: a whole number from 0 up, got ${value}`);
    }
  }
}

/** scoreCaptions in two steps: the per-item values, then (summarize) the summary. */
export async function scoreCaptionsStaged(
  items: readonly CaptionItem[],
  options: ScoreOptions,
): Promise<StagedScores> {
  try {
    checkCounts(options);
    checkItems(items);
  } catch (error) {
    // The threads started ahead are not wanted.
    options.worker?.stop();
    options.helpers?.stop();
    throw error;
  }
  const tokenizer = options.tokenizer ?? 'coco';
  const text = captionText(items);
  const movable = workerShare(options.metrics, items.length, options.parallel);
  // From the metrics that may go to the worker, METEOR among them even when the helpers take
  // it (below): the worker tokenizes no candidates then. Giving it half beside ROUGE alone
  // is not timed on many cores.
  const candidatesInWorker = Math.round(items.length * workerCandidateShare(movable));
  const resamples = options.bootstrap ?? 0;
  const seed = options.seed ?? 12345;
  const manyItems = options.parallel !== false && items.length >= WORKER_MIN_ITEMS;
  const meteorMovable = movable.find((metric) => metric.recipe?.id === 'meteor');
  const helpers = startResampleHelpers(
    resamples > 0 && items.length >= 2
      ? (options.resampleHelpers ?? (manyItems ? spareCores(movable.length > 0 ? 1 : 0) : 0))
      : 0,
    options.helpers,
    { meteorHelpers: meteorMovable === undefined ? 0 : METEOR_HELPERS },
  );
  // METEOR, the longest metric, in chunks on the helpers when there are enough of them.
  const onHelpers =
    meteorMovable !== undefined && helpers.meteorCount >= METEOR_HELPERS_MIN
      ? meteorMovable
      : undefined;
  const inWorker = movable.filter((metric) => metric !== onHelpers);
  if (inWorker.length === 0) options.worker?.stop();
  // Drawn ahead by every thread with nothing else to do, from the helpers' start on.
  const draws =
    resamples > 0 && (inWorker.length > 0 || helpers.count > 0)
      ? createDraws(items.length, resamples, seed)
      : undefined;
  if (draws !== undefined) helpers.draw(draws);
  const job =
    inWorker.length === 0
      ? undefined
      : startWorkerJob(
          {
            ...text,
            recipes: inWorker.map((metric) => metric.recipe!),
            ...(draws === undefined ? {} : { draws }),
            ...(candidatesInWorker > 0
              ? { tokenizeCandidates: tokenizer, candidatesToTokenize: candidatesInWorker }
              : {}),
          },
          options.worker,
        );
  const stopThreads = () => {
    job?.stop();
    helpers.stop();
  };
  const byMetric = new Map<Metric, MetricResult>();
  const elsewhere = new Set<Metric>();
  try {
    const input =
      job === undefined || candidatesInWorker === 0
        ? metricInput(items, tokenizer, text)
        : await metricInputWithWorker(items, tokenizer, text, job, candidatesInWorker);
    // On the input itself: a copy ({ ...input }) would run its getters, building every
    // caption's string tokens, and lose its encoded tokens (encodedCaptions encodes again).
    if (options.signal !== undefined) input.signal = options.signal;
    job?.sendTokens(encodedCaptions(input));
    const meteorJob = onHelpers && createMeteorJob(pythonSplitCaptions(input));
    const meteorHelped = meteorJob && helpers.meteor(meteorJob);
    if (helpers.count > 0 && options.metrics.some((m) => usesNgramStats(m, inWorker))) {
      // BLEU and CIDEr-D's shared per-item pass, with the helpers, before they resample.
      await ngramStatsShared(input, (stats) => helpers.ngramStats(stats));
    }
    for (const metric of options.metrics) {
      options.signal?.throwIfAborted();
      if (!inWorker.includes(metric) && metric !== onHelpers) {
        byMetric.set(metric, await metric.score(input));
      }
    }
    if (meteorJob) {
      await unlessAborted(meteorHelped!, options.signal);
      byMetric.set(onHelpers!, meteorResultOf(meteorJob, defaultMeteorScorer));
      elsewhere.add(onHelpers!);
    }
    // Done before the worker: draw the bootstrap's resamples ahead until its results come.
    const fromWorker =
      job === undefined
        ? []
        : await unlessAborted(
            draws === undefined
              ? job.results
              : drawWhileWaiting(job.results, draws, options.signal),
            options.signal,
          );
    if (fromWorker !== null && 'failed' in fromWorker) throw asToolError(fromWorker.failed);
    for (const [k, metric] of inWorker.entries()) {
      const result = fromWorker?.[k];
      if (result !== undefined) elsewhere.add(metric);
      byMetric.set(metric, result ?? (await metric.score(input)));
    }
  } catch (error) {
    stopThreads();
    throw error;
  }
  const workerMetrics = options.metrics.filter((m) => elsewhere.has(m)).map((m) => m.id);
  const results = options.metrics.map((metric) => ({ metric, result: byMetric.get(metric)! }));
  const columns = orderColumns(results.flatMap(({ metric }) => metric.columns));
  const values: Record<string, Float64Array> = {};
  for (const { metric, result } of results) {
    for (const column of metric.columns) {
      const got = result.values[column];
      if (got === undefined || got.length !== items.length) {
        stopThreads();
        throw new MetricError(
          `${metric.id} returned ${got === undefined ? 'no' : got.length} values for column ` +
            `${column}, expected one per item (${items.length})`,
        );
      }
      values[column] = got;
    }
  }
  const scores = {
    ids: text.ids,
    columns,
    values,
    corpusDependentColumns: results
      .filter(({ metric }) => metric.corpusDependent)
      .flatMap(({ metric }) => [...metric.columns]),
    workerMetrics,
  };
  return {
    ...scores,
    helpers,
    async summarize(meanwhile) {
      // Also done while the worker resamples: each column's distribution.
      const distributions = new Map<string, Distribution>();
      const describeThenMeanwhile = async () => {
        for (const column of columns) distributions.set(column, describe(values[column]!));
        await meanwhile?.();
      };
      let ci: Map<string, [number, number]>;
      try {
        ci = await bootstrapIntervals(
          results,
          items.length,
          // Every resample of one item is that item: an interval of width 0 would read as certainty.
          items.length < 2 ? 0 : resamples,
          seed,
          { job, helpers, draws },
          describeThenMeanwhile,
          options.signal,
        );
      } finally {
        stopThreads();
      }
      const summary: Record<string, ColumnSummary> = {};
      for (const { metric, result } of results) {
        for (const column of metric.columns) {
          const stats = distributions.get(column)!;
          summary[column] = {
            corpus: result.corpus[column] ?? stats.mean,
            ...stats,
            ci95: ci.get(column) ?? null,
          };
        }
      }
      return { ...scores, summary };
    },
  };
}

/**
 * Waits for `promise` while drawing resamples into `draws`, from the first on, a few at a
 * time so that the worker's message gets in between.
 */
async function drawWhileWaiting<T>(
  promise: Promise<T>,
  draws: PrecomputedDraws,
  signal: AbortSignal | undefined,
): Promise<T> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await drawAheadUntil(draws, () => settled || signal?.aborted === true, 2);
  return promise;
}

/** `promise`, or the abort's reason once `signal` is aborted first. */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Every `step`-th number of `values` from `first` on. */
function strided(values: Float64Array, first: number, step: number): Float64Array {
  const out = new Float64Array(Math.ceil((values.length - first) / step));
  for (let i = 0; i < out.length; i++) out[i] = values[first + i * step]!;
  return out;
}

/**
 * 95% percentile intervals of each column's corpus value over `resamples` resamples of the
 * items (with replacement, seeded; see bootstrap.ts). Per-item values are held fixed
 * (CIDEr-D's document frequencies are not re-estimated); BLEU's corpus value is recomputed
 * from counts. The metric worker and the resample helpers, when there are any, take
 * resamples as this thread does, reading the resamples drawn ahead in `draws`.
 */
async function bootstrapIntervals(
  results: readonly { metric: Metric; result: MetricResult }[],
  n: number,
  resamples: number,
  seed: number,
  threads: { job?: RunningJob; helpers: ResampleHelpers; draws?: PrecomputedDraws },
  meanwhile: (() => Promise<void>) | undefined,
  signal: AbortSignal | undefined,
): Promise<Map<string, [number, number]>> {
  const out = new Map<string, [number, number]>();
  if (resamples <= 0 || n === 0) {
    await meanwhile?.();
    return out;
  }
  // Per item, the columns averaged, then each resampler's numbers.
  const columns: ArrayLike<number>[] = [];
  const means: { column: string; offset: number }[] = [];
  const resamplers: { columns: readonly string[]; resampler: CorpusResampler; offset: number }[] =
    [];
  for (const { metric, result } of results) {
    const resampler = CORPUS_RESAMPLERS.get(result);
    if (resampler) {
      resamplers.push({ columns: metric.columns, resampler, offset: columns.length });
      for (let j = 0; j < resampler.width; j++)
        columns.push(strided(resampler.stats, j, resampler.width));
      continue;
    }
    for (const column of metric.columns) {
      means.push({ column, offset: columns.length });
      columns.push(result.values[column]!);
    }
  }
  const job = createResampleJob(columns, resamples, seed);
  const width = job.columns;
  const { draws } = threads;
  if (draws !== undefined && draws.items === n && draws.seed === seed) job.draws = draws;
  const helped = Promise.all([
    threads.job?.resample(job) ?? Promise.resolve(false),
    threads.helpers.resample(job),
  ]);
  // What `meanwhile` runs until its first wait (I/O, say) goes first; then this thread
  // resamples while that wait lasts.
  const sideWork = meanwhile?.() ?? Promise.resolve();
  sideWork.catch(() => {});
  // A chunk at a time, so that the side work's I/O callbacks run in between.
  try {
    while (!runResamples(job, 1)) {
      await new Promise((resolve) => setImmediate(resolve));
      signal?.throwIfAborted();
    }
  } catch (error) {
    // Aborted: the threads are stopped by the caller; the side work (files being written) is
    // let finish, so that nothing is written after the abort's error reaches the caller.
    helped.catch(() => {});
    await sideWork.catch(() => {});
    throw error;
  }
  await helped;
  // Chunks a helper claimed but did not finish (it died): compute them here.
  runLeftoverResamples(job);
  await sideWork;

  const interval = (draws: Float64Array): [number, number] => {
    const sorted = draws.sort();
    return [percentile(sorted, 2.5), percentile(sorted, 97.5)];
  };
  for (const { column, offset } of means) {
    const draws = new Float64Array(resamples);
    for (let b = 0; b < resamples; b++) draws[b] = job.sums[b * width + offset]! / n;
    out.set(column, interval(draws));
  }
  for (const { columns, resampler, offset } of resamplers) {
    const corpora = Array.from({ length: resamples }, (_, b) =>
      resampler.corpusOf(
        job.sums.subarray(b * width + offset, b * width + offset + resampler.width),
      ),
    );
    for (const column of columns) {
      out.set(
        column,
        interval(Float64Array.from(corpora, (corpus) => corpus[column] ?? Number.NaN)),
      );
    }
  }
  return out;
}
