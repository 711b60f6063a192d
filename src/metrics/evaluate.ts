/**
 * `evaluate()`: reads a captions file (the captions CSV of `medcap caption`, or JSONL lines
 * `{"id", "candidate", "references": [...]}`), scores it and writes the SPEC §6 files.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import type { EvaluateConfig, MetricId } from '../config/types.js';
import { usableCores } from '../core/cgroup.js';
import { ConfigError, DatasetError } from '../core/errors.js';
import {
  ensureWritableDir,
  readFileShared,
  removeStaleTempFiles,
  writeFileAtomic,
} from '../core/files.js';
import { checkInputPath } from '../core/input-path.js';
import type { Logger } from '../core/logger.js';
import { outputPaths } from '../core/paths.js';
import {
  type CaptionRow,
  hasEmptyCaption,
  REFERENCE_SEPARATOR,
  readCaptionsCsv,
} from '../formats/captions-csv.js';
import { isScoredRow, parseCaptionsJsonl, scoredItemOf } from '../formats/captions-jsonl.js';
import { readFileLines } from '../formats/file-lines.js';
import {
  type JournalLine,
  sessionsPeakRssBytes,
  sessionsWallTimeS,
} from '../formats/journal-types.js';
import {
  type AggregateReport,
  type CaptionParts,
  captionParts,
  formatAggregateJson,
  formatCaptionsWithMetricsCsv,
  formatDetailedCsv,
  type MetricCells,
  metricCells,
  type RunInfo,
} from '../formats/metric-files.js';
import { type ExcludedItem, formatSummary } from '../reports/summary.js';
import { readBaselineFile } from './bertscore/baseline.js';
import type { BertScoreMetric } from './bertscore/index.js';
import {
  defaultModelCache,
  isOffline,
  localModelFolder,
  resolveModelFolder,
} from './bertscore/model-source.js';
import { createMetricCellsJob, metricCellsOf, runMetricCellChunks } from './metric-cells-job.js';
import { type IdleWorker, prestartWorker } from './metric-worker.js';
import { createMetric } from './registry.js';
import { type ResampleHelpers, spareCores, startResampleHelpers } from './resample-helpers.js';
import {
  type CaptionItem,
  METEOR_HELPERS,
  METEOR_HELPERS_MIN,
  type StagedScores,
  scoreCaptionsStaged,
} from './score.js';
import { mode } from './statistics.js';
import type { Metric } from './types.js';

/** What BERTScore ran with (model, layer, idf, baseline), for the aggregate JSON. */
function bertScoreSetup(metrics: readonly Metric[]): Pick<RunInfo, 'bertscore'> {
  const metric = metrics.find((m) => m.id === 'bertscore') as Partial<BertScoreMetric> | undefined;
  return metric?.setup ? { bertscore: metric.setup } : {};
}

export interface EvaluationPaths {
  withMetrics: string;
  detailed: string;
  aggregate: string;
  summary: string;
}

export interface EvaluationResult {
  aggregate: AggregateReport;
  paths: EvaluationPaths;
  /** Rows with status=error, not scored. */
  failed: ExcludedItem[];
  /** Rows without a reference caption, not scored. */
  unreferenced: ExcludedItem[];
  emptyCaptions: ExcludedItem[];
}

export type EvaluateOptions = Pick<EvaluateConfig, 'captions' | 'out' | 'split'> &
  Partial<
    Pick<
      EvaluateConfig,
      | 'metrics'
      | 'bertscore'
      | 'tokenizer'
      | 'bootstrap'
      | 'bertscoreModel'
      | 'bertscoreIdf'
      | 'bertscoreLayer'
      | 'bertscoreBaseline'
      | 'bertscoreDevice'
      | 'bertscoreDtype'
      | 'bertscoreBatchSize'
      | 'rougeStemmer'
      | 'seed'
    >
  > & { offline?: boolean };

/**
 * The captions file's rows. A JSONL file's bytes also go to `worker`, which parses them too,
 * and to a helper, which makes the with-metrics CSV's caption columns from them meanwhile
 * (`parts`; undefined: made here when the file is written).
 */
async function readRows(
  path: string,
  worker: IdleWorker | undefined,
  helpers: ResampleHelpers | undefined,
): Promise<{ rows: CaptionRow[]; parts?: Promise<CaptionParts | undefined> }> {
  await checkInputPath('--captions', path, 'file');
  const ext = extname(path).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') {
    const bytes = await readFileShared(path);
    worker?.shareCaptionsJsonl(bytes, path);
    const parts = helpers?.captionParts({ bytes, path });
    return { rows: parseCaptionsJsonl(bytes, path), ...(parts ? { parts } : {}) };
  }
  if (ext === '.csv') return { rows: await readCaptionsCsv(path, { unique: true, scoring: true }) };
  throw new ConfigError(`--captions: expected a .csv or .jsonl file, got '${path}'`);
}

function readJournal(path: string, logger: Logger | undefined): JournalLine[] {
  if (!existsSync(path)) return [];
  const out: JournalLine[] = [];
  const { lines, tail } = readFileLines(path);
  const all = [...lines, tail];
  const damaged: number[] = [];
  all.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as JournalLine);
    } catch {
      // A torn last line is what a crash leaves: skipped without a word.
      if (all.slice(i + 1).some((rest) => rest.trim() !== '')) damaged.push(i + 1);
    }
  });
  if (damaged.length > 0) {
    logger?.warn(
      `${path}: ${damaged.length} line${damaged.length === 1 ? '' : 's'} cannot be read (line ` +
        `${damaged.slice(0, 3).join(', ')}), skipped: the run facts (images, wall time, images/s) ` +
        'may not count every image; the scores come from the captions file and are not affected',
    );
  }
  return out;
}

/** Run facts from the journal next to the captions file, else from the captions rows. */
export function runFacts(
  captionsPath: string,
  split: string,
  rows: readonly CaptionRow[],
  logger?: Logger,
): Pick<
  RunInfo,
  | 'engine'
  | 'model'
  | 'device'
  | 'dtype'
  | 'batchSize'
  | 'images'
  | 'failed'
  | 'wallTimeS'
  | 'imagesPerS'
  | 'peakRssBytes'
  | 'generation'
  | 'source'
> {
  const journalPath = outputPaths(dirname(captionsPath), split).journal;
  const journal = readJournal(journalPath, logger);
  const starts = journal.filter((l) => l.kind === 'start');
  const items = journal.filter((l) => l.kind === 'item');
  if (starts.length > 0 || items.length > 0) {
    const start = starts.at(-1);
    const status = new Map<string, 'ok' | 'error'>();
    for (const item of items) status.set(item.id, item.status);
    const images = status.size;
    const failed = [...status.values()].filter((s) => s === 'error').length;
    const wallTimeS = sessionsWallTimeS(journal);
    const peakRss = sessionsPeakRssBytes(journal);
    return {
      engine: start?.engine ?? mode(items.map((i) => i.engine)) ?? null,
      model: start?.model ?? mode(items.map((i) => i.model)) ?? null,
      device: start?.device ?? null,
      dtype: start?.dtype ?? null,
      batchSize: start?.batchSize ?? mode(items.map((i) => i.batchSize)) ?? null,
      images,
      failed,
      wallTimeS,
      imagesPerS: wallTimeS !== null && wallTimeS > 0 ? images / wallTimeS : null,
      peakRssBytes: peakRss,
      generation: starts.findLast((s) => s.generation !== undefined)?.generation ?? null,
      source: 'journal',
    };
  }
  const known = rows.filter((r) => r.engine !== '' || r.model !== '');
  if (known.length === 0) {
    return {
      engine: null,
      model: null,
      device: null,
      dtype: null,
      batchSize: null,
      images: null,
      failed: null,
      wallTimeS: null,
      imagesPerS: null,
      peakRssBytes: null,
      generation: null,
      source: 'none',
    };
  }
  const times = rows.map((r) => r.processingTimeS).filter((t) => Number.isFinite(t));
  const wall = times.length > 0 ? times.reduce((a, b) => a + b, 0) : null;
  const batch = mode(rows.map((r) => r.batchSize).filter((b) => Number.isFinite(b))) ?? null;
  return {
    engine: mode(known.map((r) => r.engine)) ?? null,
    model: mode(known.map((r) => r.model)) ?? null,
    device: null,
    dtype: null,
    batchSize: batch,
    images: rows.length,
    failed: rows.filter((r) => r.status === 'error').length,
    wallTimeS: wall,
    imagesPerS: wall !== null && wall > 0 ? rows.length / wall : null,
    peakRssBytes: null,
    generation: null,
    source: 'captions',
  };
}

async function medcapVersion(): Promise<string> {
  try {
    const url = new URL('../../package.json', import.meta.url);
    return (JSON.parse(await readFile(url, 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** The metric ids to compute: --metrics, plus bertscore with --bertscore, in registry order. */
export function resolveMetricIds(
  options: Pick<EvaluateOptions, 'metrics' | 'bertscore'>,
): MetricId[] {
  const ids = new Set<MetricId>(options.metrics ?? ['bleu', 'rouge', 'meteor', 'cider']);
  if (options.bertscore) ids.add('bertscore');
  return [...ids];
}

/**
 * Checks the files the scoring will read besides the captions (the BERTScore model and
 * baseline file), so that `run` refuses a wrong one before it captions anything: a local
 * model folder and the baseline are read; a Hub model id must be in the cache, or is
 * downloaded now (offline, a model not cached is refused), not after hours of captioning.
 */
export async function checkScoringFiles(
  config: Pick<
    EvaluateOptions,
    'metrics' | 'bertscore' | 'bertscoreModel' | 'bertscoreBaseline' | 'offline'
  >,
  logger: Logger,
  cwd = process.cwd(),
): Promise<void> {
  if (!resolveMetricIds(config).includes('bertscore')) return;
  const model = config.bertscoreModel;
  const local = model === undefined ? undefined : await localModelFolder(model, cwd);
  if (config.bertscoreBaseline !== undefined)
    await readBaselineFile(resolve(cwd, config.bertscoreBaseline));
  if (model === undefined || local !== undefined) return;
  await resolveModelFolder(model, {
    offline: isOffline(config.offline ?? false),
    cacheDir: defaultModelCache(),
    cwd,
    logger,
    download: async (id, cacheDir) => {
      const { downloadWithTransformers } = await import('./bertscore/encoder.js');
      await downloadWithTransformers(id, cacheDir, logger);
    },
  });
}

export function evaluationPaths(out: string, split: string): EvaluationPaths {
  const { withMetrics, detailed, aggregate, summary } = outputPaths(out, split);
  return { withMetrics, detailed, aggregate, summary };
}

/** Scores a captions file and writes the evaluation files into `config.out`. */
export async function evaluate(
  config: EvaluateOptions,
  deps: { logger: Logger; metrics?: readonly Metric[]; signal?: AbortSignal },
): Promise<EvaluationResult> {
  const captionsPath = resolve(config.captions);
  const worker = deps.metrics === undefined ? workerAhead(config, captionsPath) : undefined;
  const helpers =
    deps.metrics === undefined ? helpersAhead(config, captionsPath, worker) : undefined;
  try {
    return await evaluateWith(config, deps, captionsPath, { worker, helpers });
  } catch (error) {
    worker?.stop();
    helpers?.stop();
    throw error;
  }
}

/**
 * A reference holding ` ||| ` (possible in JSONL) is scored as one, but the with-metrics
 * CSV's reference_caption cell joins references with that separator, so reading the file
 * back (to evaluate it again, or in a report) would split it in two.
 */
function warnSeparatorInReferences(rows: readonly CaptionRow[], logger: Logger): void {
  const holding = rows.filter((row) =>
    row.references.some((reference) => reference.includes(REFERENCE_SEPARATOR)),
  );
  if (holding.length === 0) return;
  logger.warn(
    `${holding.length} rows have a reference holding '${REFERENCE_SEPARATOR.trim()}' (the first: ${holding[0]!.imageId}), ` +
      'scored as one reference; the with-metrics CSV joins references with that separator, so ' +
      'that file read back (evaluate it again, a report) splits such a reference in two',
  );
}

/** Files from this size may hold enough items for a worker thread (5,000: see score.ts). */
const WORKER_AHEAD_MIN_BYTES = 1024 * 1024;

/**
 * A worker thread started before the captions are read, when a large file and a second
 * core make it likely that ROUGE or METEOR will be scored in one: its start-up then
 * overlaps the reading. scoreCaptionsStaged stops it if it is not wanted after all.
 */
function workerAhead(config: EvaluateOptions, captionsPath: string): IdleWorker | undefined {
  const ids = resolveMetricIds(config);
  if (!ids.includes('rouge') && !ids.includes('meteor')) return undefined;
  if (usableCores() < 2 || !isLarge(captionsPath)) return undefined;
  // METEOR with the bundled WordNet (the CLI's) can load it while the file is read, unless
  // the resample helpers will score it (score.ts).
  return prestartWorker({ wordnet: ids.includes('meteor') && !meteorOnHelpers(config) });
}

/** Whether METEOR goes to the resample helpers (helpersAhead starts enough of them). */
function meteorOnHelpers(config: EvaluateOptions): boolean {
  return (config.bootstrap ?? 0) > 0 && spareCores(1) >= METEOR_HELPERS_MIN;
}

/**
 * The bootstrap's helper threads (resample-helpers.ts), on the cores left beside the
 * metric worker, started with it, before the captions are read, when their file is large.
 */
function helpersAhead(
  config: EvaluateOptions,
  captionsPath: string,
  worker: IdleWorker | undefined,
): ResampleHelpers | undefined {
  if ((config.bootstrap ?? 0) <= 0 || !isLarge(captionsPath)) return undefined;
  const spare = spareCores(worker === undefined ? 0 : 1);
  const meteorHelpers = resolveMetricIds(config).includes('meteor') ? METEOR_HELPERS : 0;
  return spare > 0 ? startResampleHelpers(spare, undefined, { meteorHelpers }) : undefined;
}

/** Whether the captions file may hold enough items for more threads (WORKER_AHEAD_MIN_BYTES). */
function isLarge(captionsPath: string): boolean {
  try {
    return statSync(captionsPath).size >= WORKER_AHEAD_MIN_BYTES;
  } catch {
    return false;
  }
}

async function evaluateWith(
  config: EvaluateOptions,
  deps: { logger: Logger; metrics?: readonly Metric[]; signal?: AbortSignal },
  captionsPath: string,
  { worker, helpers }: { worker: IdleWorker | undefined; helpers: ResampleHelpers | undefined },
): Promise<EvaluationResult> {
  const { logger } = deps;
  // Before the scoring, so a bad --out costs no time.
  const { rows, parts: partsMadeElsewhere } = await readRows(captionsPath, worker, helpers);
  const failed: ExcludedItem[] = [];
  const unreferenced: ExcludedItem[] = [];
  const emptyCaptions: ExcludedItem[] = [];
  const items: CaptionItem[] = [];
  // Scored rows with a blank reference beside others, which scoredItemOf leaves out.
  const blankReferences: string[] = [];
  for (const row of rows) {
    if (isScoredRow(row)) {
      const item = scoredItemOf(row);
      if (item.references.length !== row.references.length) blankReferences.push(row.imageId);
      items.push(item);
    } else if (row.status === 'error') failed.push({ id: row.imageId, reason: row.error });
    else unreferenced.push({ id: row.imageId, reason: '' });
    if (hasEmptyCaption(row)) emptyCaptions.push({ id: row.imageId, reason: '' });
  }
  if (items.length === 0) {
    // Scores of nothing would print as 0.0000 and read like a result.
    throw new DatasetError(
      `${captionsPath}: nothing to score (${rows.length} rows: ${failed.length} with status=error, ${unreferenced.length} without a reference caption)`,
    );
  }
  await ensureWritableDir(resolve(config.out), '--out');
  // The metrics a library caller passed in are the ones scored, whatever config.metrics says.
  const metricIds = deps.metrics?.map((metric) => metric.id) ?? resolveMetricIds(config);
  const tokenizer = config.tokenizer ?? 'coco';
  const bootstrap = config.bootstrap ?? 0;
  const seed = config.seed ?? 12345;
  logger.info(
    `evaluating ${items.length} captions from ${basename(captionsPath)} (${metricIds.join(', ')}; tokenizer ${tokenizer})`,
  );
  if (failed.length > 0) logger.warn(`${failed.length} rows with status=error are not scored`);
  if (items.length === 1) {
    logger.warn(
      'only 1 item to score: no confidence intervals, and CIDEr-D is 0 (every n-gram is in all of its 1 document)',
    );
  }
  if (unreferenced.length > 0) {
    logger.warn(`${unreferenced.length} rows have no reference caption and are not scored`);
  }
  if (blankReferences.length > 0) {
    logger.warn(
      `${blankReferences.length} rows have an empty reference beside others (the first: ${blankReferences[0]}); the empty ones are left out`,
    );
  }
  if (emptyCaptions.length > 0) {
    logger.warn(`${emptyCaptions.length} rows have an empty generated caption (scored as empty)`);
  }
  warnSeparatorInReferences(rows, logger);
  const metrics =
    deps.metrics ??
    (await Promise.all(
      resolveMetricIds(config).map((id) =>
        createMetric(id, {
          rougeStemmer: config.rougeStemmer ?? false,
          ...(config.bertscoreModel === undefined ? {} : { bertscoreModel: config.bertscoreModel }),
          bertscoreIdf: config.bertscoreIdf ?? false,
          ...(config.bertscoreLayer === undefined ? {} : { bertscoreLayer: config.bertscoreLayer }),
          ...(config.bertscoreBaseline === undefined
            ? {}
            : { bertscoreBaseline: config.bertscoreBaseline }),
          ...(config.bertscoreDevice === undefined
            ? {}
            : { bertscoreDevice: config.bertscoreDevice }),
          ...(config.bertscoreDtype === undefined ? {} : { bertscoreDtype: config.bertscoreDtype }),
          ...(config.bertscoreBatchSize === undefined
            ? {}
            : { bertscoreBatchSize: config.bertscoreBatchSize }),
          offline: config.offline ?? false,
          logger,
        }),
      ),
    ));
  const started = performance.now();
  let staged: StagedScores;
  try {
    staged = await scoreCaptionsStaged(items, {
      metrics,
      tokenizer,
      bootstrap,
      seed,
      ...(deps.signal ? { signal: deps.signal } : {}),
      ...(worker === undefined ? {} : { worker }),
      ...(helpers === undefined ? {} : { helpers }),
    });
  } finally {
    // Metrics a library caller passed in are theirs to reuse and dispose.
    if (deps.metrics === undefined) for (const metric of metrics) await metric.dispose?.();
  }
  const threads =
    staged.workerMetrics.length > 0 ? ` (${staged.workerMetrics.join(', ')} in other threads)` : '';
  logger.info(`scored in ${((performance.now() - started) / 1000).toFixed(2)} s${threads}`);

  const paths = evaluationPaths(resolve(config.out), config.split);
  const ownFiles = new Set(Object.values(paths).map((path) => basename(path)));
  await removeStaleTempFiles(resolve(config.out), (name) => ownFiles.has(name));
  const summarizing = performance.now();
  // The per-item files need no summary: they are written while the bootstrap runs. Their
  // metric cells are formatted with the helper threads, if any, before they resample.
  const cellsJob =
    staged.helpers.count > 0 ? createMetricCellsJob(staged.columns, staged) : undefined;
  const cellsHelped = cellsJob && staged.helpers.metricCells(cellsJob);
  const scored = await staged.summarize(async () => {
    let cells: MetricCells;
    if (cellsJob === undefined) cells = metricCells(staged.columns, staged);
    else {
      runMetricCellChunks(cellsJob);
      await cellsHelped;
      cells = metricCellsOf(cellsJob);
    }
    const madeElsewhere = await partsMadeElsewhere;
    // Made from the same bytes by the same parser; the row count guards against the unforeseen.
    const parts =
      madeElsewhere !== undefined && madeElsewhere.offsets.length === rows.length + 1
        ? madeElsewhere
        : captionParts(rows);
    // Each file's disk write and fsync overlap the formatting of the next.
    const withMetrics = writeFileAtomic(
      paths.withMetrics,
      formatCaptionsWithMetricsCsv(rows, staged.columns, staged, cells, parts),
    );
    const detailed = writeFileAtomic(
      paths.detailed,
      formatDetailedCsv(staged.columns, staged, cells),
    );
    await Promise.all([withMetrics, detailed]);
  });
  deps.signal?.throwIfAborted();
  const run: RunInfo = {
    ...runFacts(captionsPath, config.split, rows, logger),
    tokenizer,
    metrics: metricIds,
    bootstrap,
    seed,
    rougeStemmer: config.rougeStemmer ?? false,
    ...bertScoreSetup(metrics),
    evaluatedFile: captionsPath,
    medcapVersion: await medcapVersion(),
  };
  const metricsSummary: AggregateReport['metrics'] = {};
  for (const column of scored.columns) metricsSummary[column] = scored.summary[column]!;
  const aggregate: AggregateReport = {
    split: config.split,
    n: scored.ids.length,
    metrics: metricsSummary,
    run,
  };
  await writeFileAtomic(paths.aggregate, formatAggregateJson(aggregate));
  await writeFileAtomic(
    paths.summary,
    formatSummary({
      report: aggregate,
      failed,
      unreferenced,
      emptyCaptions,
      corpusDependentColumns: scored.corpusDependentColumns,
    }),
  );
  logger.info(
    `wrote the files${bootstrap > 0 ? ` and ${bootstrap} bootstrap resamples` : ''} in ` +
      `${((performance.now() - summarizing) / 1000).toFixed(2)} s`,
  );
  return { aggregate, paths, failed, unreferenced, emptyCaptions };
}
