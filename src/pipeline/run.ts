import { cpus, totalmem } from 'node:os';
import { basename, resolve } from 'node:path';
import { formatBytes } from '../config/size.js';
import type { CaptionConfig } from '../config/types.js';
import { describeError, EngineError, looksLikeOutOfMemory, OutputError } from '../core/errors.js';
import { removeStaleTempFiles, writeFileAtomic } from '../core/files.js';
import { onHardStop } from '../core/hard-stop.js';
import { type Logger, silentLogger } from '../core/logger.js';
import { type OutputLock, withOutputLock } from '../core/out-lock.js';
import { outputPaths } from '../core/paths.js';
import type { DatasetLoader, Sample } from '../datasets/types.js';
import { LIVE_PNG_OPTIONS } from '../engines/openai/image-uri.js';
import { engineFactory } from '../engines/registry.js';
import type {
  CaptionEngine,
  CaptionOutcome,
  EngineSettings,
  PreparedImage,
} from '../engines/types.js';
import { type CaptionRow, hasEmptyCaption, okRowWarnings } from '../formats/captions-csv.js';
import type {
  JournalItem,
  JournalLine,
  JournalStage,
  JournalStart,
} from '../formats/journal-types.js';
import { prepareEncodedImage } from '../images/encoded.js';
import { preprocessImage } from '../images/preprocess.js';
import { Batcher, type FailedItem, type ReadyItem } from './batcher.js';
import { CheckpointWriter, missingCheckpoints, warnIfCheckpointsShared } from './checkpoints.js';
import type { Suspect } from './crash-suspects.js';
import { generationSettings } from './generation-settings.js';
import { type HangWatchdog, startHangWatchdog } from './hang-watchdog.js';
import { JournalWriter } from './journal.js';
import {
  describeMemory,
  type MemoryCeiling,
  MemoryProbe,
  memoryBudget,
  memoryCeiling,
} from './memory.js';
import {
  type Plan,
  type PreviousWork,
  planRun,
  previousWork,
  warnIfEngineChanged,
} from './plan.js';
import { type PreparedItem, prefetch, prepareSafely } from './prefetch.js';
import { createProgress, formatDuration } from './progress.js';
import { RunState } from './run-state.js';
import { preprocessOptions, type SelectedDataset, selectDataset } from './selection.js';

/** Batches a server engine may have in flight at once (its own limit caps the requests). */
const SERVER_BATCHES_IN_FLIGHT = 4;
/** Memory journal lines at most this often (ms). */
const MEMORY_SAMPLE_MS = 5_000;
/**
 * After the stop signal, batches in flight get this long to finish and be journaled; then
 * they are cancelled and left for `--resume`, so a stop never waits on a slow batch.
 */
export const STOP_GRACE_MS = 3_000;

export interface CaptionDeps {
  logger?: Logger;
  /** An engine to use instead of creating one from `config.engine` (tests, library users). */
  engine?: CaptionEngine;
  /** Draw a progress bar (stderr is a terminal). */
  interactive?: boolean;
  progressWrite?: (text: string) => void;
  /**
   * Stops the run gracefully: no new batch starts, batches in flight get STOP_GRACE_MS to
   * finish and be journaled (later ones are cancelled; `--resume` redoes them), and the
   * outputs are written.
   */
  signal?: AbortSignal;
  memory?: MemoryProbe;
  /** What this process may use (default: RAM, or the cgroup limit when lower). */
  memoryCeiling?: MemoryCeiling;
  /**
   * The lock of `config.out` and `config.split`, when the caller holds it (`run` keeps it
   * through evaluate and report); else caption takes it and releases it when done.
   */
  outputLock?: OutputLock;
  /**
   * The dataset of `config` as selectDataset chose it, when the caller did so before making
   * --out (`run`, which makes it for the whole pipeline); else caption chooses it.
   */
  dataset?: SelectedDataset;
}

export interface CaptionRunResult {
  out: string;
  captionsPath: string;
  journalPath: string;
  /** Every row, in dataset order (including rows finished by earlier, resumed runs). */
  rows: CaptionRow[];
  /** Images captioned by this invocation. */
  processed: number;
  /** Images that were already done in the journal (--resume). */
  resumed: number;
  failed: number;
  /** Rows that are ok but whose generated caption is empty (warned in their `error` cell). */
  emptyCaptions: number;
  wallTimeS: number;
  imagesPerS: number;
  peakRssBytes: number;
  engine: string;
  model: string;
  device: string;
  /** Batch size in force at the end (after any out-of-memory back-off). */
  batchSize: number;
  peakCacheBytes: number;
  cachingStopped: boolean;
  /** The signal stopped the run before every image was done. */
  interrupted: boolean;
}

/**
 * Captions a dataset (SPEC §1, §5, §6): streams items, preprocesses ahead of the engine,
 * batches images of one grid, appends every finished batch to the fsync'd journal, writes
 * checkpoints and the captions CSV. Items that fail become error rows; the run goes on.
 */
export async function caption(
  config: CaptionConfig,
  deps: CaptionDeps = {},
): Promise<CaptionRunResult> {
  const out = resolve(config.out);
  const logger = deps.logger ?? silentLogger;
  // Before --out is made: a --data that holds no dataset of its layout leaves no folder.
  const dataset = deps.dataset ?? (await selectDataset(config, logger));
  // A caller holding the lock (`run`) has made and checked the folder.
  if (deps.outputLock) return captionInto(out, config, dataset, deps);
  // Before anything is read or cleaned up: another process may be writing this run.
  return withOutputLock(out, config.split, logger, () => captionInto(out, config, dataset, deps));
}

/** caption() once `out` exists and its lock is held. */
async function captionInto(
  out: string,
  config: CaptionConfig,
  { loader, source }: SelectedDataset,
  deps: CaptionDeps,
): Promise<CaptionRunResult> {
  const logger = deps.logger ?? silentLogger;
  const memory = deps.memory ?? new MemoryProbe();
  const started = performance.now();
  const paths = outputPaths(out, config.split);
  const ownFiles = new Set([basename(paths.captions)]);
  await removeStaleTempFiles(
    out,
    (name) => ownFiles.has(name) || /^checkpoint_\d+\.csv$/.test(name),
  );

  const previous = await previousWork(paths.journal, config, logger);
  const plan = await planRun(loader, source, config, previous.items, logger);
  logger.info(
    `plan: ${plan.todo} image${plan.todo === 1 ? '' : 's'} to caption` +
      (previous.items.size > 0 ? ` (${plan.alreadyDone} already done in the journal)` : '') +
      (config.shard ? ` in shard ${config.shard.index}/${config.shard.count}` : ''),
  );

  const engine =
    deps.engine ??
    (plan.todo === 0
      ? engineNotLoaded(config, previous.start, logger)
      : await engineFactory(config.engine)(engineSettings(config), { logger }));
  const journal = await JournalWriter.open(paths.journal, { fresh: !config.resume });
  const state = new RunState(
    config,
    previous.items,
    plan.alreadyDone,
    engine.batchSize,
    await missingCheckpoints(out, config, previous.items.size),
  );
  const budget = memoryBudget(config, deps.memoryCeiling ?? memoryCeiling());
  for (const note of budget.notes) logger[note.level](note.message);
  const batcher = new Batcher({
    batchSize: () => state.batchSize,
    cacheBudget: budget.cache,
    groupByGrid: engine.batchSize === undefined,
    logger,
  });
  warnIfEngineChanged(previous.start, engine, logger);
  const progress = createProgress({
    total: plan.todo,
    interactive: deps.interactive ?? false,
    logger,
    ...(deps.progressWrite ? { write: deps.progressWrite } : {}),
  });
  const stop = stopControl(deps.signal);
  // Only an engine that blocks this thread needs it: servers have their own request
  // timeouts, and a library caller's async engine would have its host process killed.
  const watchdog = startHangWatchdog(
    engine.blocksThread === true ? config.batchTimeout : 0,
    config.logFormat,
  );
  await warnIfCheckpointsShared(out, config.split, config.checkpointEvery, logger);
  const checkpoints = new CheckpointWriter(out, config.split, config.keepCheckpoints, logger);
  let lastMemorySample = 0;
  const sampleMemory = async (announce: string | undefined): Promise<JournalLine> => {
    const snapshot = await memory.snapshot();
    lastMemorySample = performance.now();
    if (announce)
      logger.info(`memory (${announce}): ${describeMemory(snapshot, batcher.cacheBytes)}`);
    return {
      kind: 'memory',
      time: Date.now(),
      rssBytes: snapshot.rssBytes,
      heapUsedBytes: snapshot.heapUsedBytes,
      cacheBytes: batcher.cacheBytes,
      gpuUsedBytes: snapshot.gpuUsedBytes,
      done: state.finished,
    };
  };

  let sessionStarted = false;
  let unhookHardStop = () => {};
  try {
    logger.info(
      `engine: ${engine.id}, model ${engine.model}, device ${engine.device}, batch size ${config.batchSize}` +
        (config.batchSize === 'auto' ? ` (starting at ${state.batchSize})` : '') +
        `, cache ${config.cache ? formatBytes(budget.cache) : 'off'}, prefetch ${budget.ahead}`,
    );
    const startMemory = await sampleMemory('start');
    if (memory.hasGpuInfo === false)
      logger.info('memory: no nvidia-smi found; GPU memory is not reported');
    await journal.append([startLine(config, engine, loader, plan.todo), startMemory]);
    if (plan.refreshed.length > 0) {
      await journal.append(plan.refreshed);
      logger.info(
        `resume: ${plan.refreshed.length} captioned images have other references, concepts or paths in the dataset now; the journal and CSV take them`,
      );
    }
    sessionStarted = true;
    unhookHardStop = onHardStop(() =>
      journal.note({ kind: 'stop', time: Date.now(), reason: 'stopped by a second stop signal' }),
    );
    for (const checkpoint of state.rebuiltCheckpoints.splice(0)) {
      await checkpoints.add(checkpoint);
      logger.info(`resume: rewriting checkpoint_${checkpoint.n}.csv, missing after the crash`);
    }

    const { imageEncoding } = engine;
    const prepare = (sample: Sample) =>
      sample.readImage().then((bytes) =>
        imageEncoding
          ? prepareEncodedImage(sample.id, sample.imagePath, bytes, {
              ...preprocessOptions(config),
              encoding: imageEncoding,
              png: LIVE_PNG_OPTIONS,
            })
          : preprocessImage(sample.id, sample.imagePath, bytes, preprocessOptions(config)),
      );
    // Stage lines tell a later --resume which images were being read or captioned if the
    // process dies (see crash-suspects.ts).
    const prepareNoting =
      (alone: boolean) =>
      async (sample: Sample): Promise<PreparedImage> => {
        journal.note(stageLine('prepare', [sample.index], alone));
        try {
          return await prepare(sample);
        } finally {
          journal.note(stageLine('wait', [sample.index], false));
        }
      };
    const batchContext = (alone: boolean): BatchContext => ({
      engine,
      config,
      state,
      logger,
      signal: stop.engineSignal,
      enterEngine: (indexes) => journal.note(stageLine('engine', indexes, alone)),
      watchdog,
    });

    const finish = async (finished: JournalItem[]) => {
      const lines: JournalLine[] = [...finished];
      for (const checkpoint of state.record(finished)) {
        await checkpoints.add(checkpoint);
        lines.push(await sampleMemory(`checkpoint ${checkpoint.n}`));
      }
      if (performance.now() - lastMemorySample > MEMORY_SAMPLE_MS)
        lines.push(await sampleMemory(undefined));
      await journal.append(lines);
      progress.update(state.finishedHere, state.failedHere);
    };

    // Server engines keep several batches in flight, so one slow request does not idle the
    // others; the embedded engine runs one batch at a time (it uses every core already).
    // Finished batches are recorded one at a time, in the order they finish.
    const window = engine.batchSize !== undefined ? SERVER_BATCHES_IN_FLIGHT : 1;
    const inFlight = new Map<
      number,
      Promise<{ key: number; finished: JournalItem[] | null; stop?: { error: unknown } }>
    >();
    let interrupted = false;
    // The images in progress when the run before crashed, first, one at a time with nothing
    // else in progress, so that one that brings the process down again is alone in its stage
    // when it does. Once, they are only tried (the result is dropped, and they are captioned
    // in their turn below, so that the files come out as an uninterrupted run's); after a
    // second crash they are captioned alone for good.
    for (const { sample, suspect } of await crashSuspectSamples(plan, previous)) {
      if (deps.signal?.aborted) {
        interrupted = true;
        break;
      }
      const item = await prepareSafely(sample, prepareNoting(true));
      const keep = suspect.crashes > 1;
      if (!keep && (suspect.stage === 'prepare' || !isReady(item))) continue;
      const finished = isReady(item)
        ? await captionBatch([item], batchContext(true))
        : [failedRow(item, state, engine)];
      if (!keep) journal.note(stageLine('wait', [sample.index], false));
      else if (finished) await finish(finished);
    }

    const items = prefetch(
      samplesAfterCrash(plan.samples(), previous, logger),
      prepareNoting(false),
      budget.ahead,
    );
    const outputs = batcher.batches(items)[Symbol.asyncIterator]();
    let nextKey = 0;
    let exhausted = false;
    for (;;) {
      while (!exhausted && inFlight.size < window) {
        if (deps.signal?.aborted) {
          interrupted = true;
          break;
        }
        const next = await outputs.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const output = next.value;
        const key = nextKey++;
        const work =
          output.kind === 'failed'
            ? Promise.resolve(output.items.map((item) => failedRow(item, state, engine)))
            : captionBatch(output.items, batchContext(false));
        inFlight.set(
          key,
          work.then(
            (finished) => ({ key, finished }),
            // Kept until the loop looks: a batch can fail while the next is being read.
            (error: unknown) => ({ key, finished: null, stop: { error } }),
          ),
        );
      }
      if (inFlight.size === 0) break;
      const next = await Promise.race([...inFlight.values(), stop.graceOver]);
      if (next === 'grace-over') {
        logger.warn(
          `interrupt: cancelled ${inFlight.size} batch${inFlight.size === 1 ? '' : 'es'} still running; --resume redoes ${inFlight.size === 1 ? 'it' : 'them'}`,
        );
        inFlight.clear();
        interrupted = true;
        break;
      }
      inFlight.delete(next.key);
      if (next.stop) throw next.stop.error;
      if (next.finished) await finish(next.finished);
      if (interrupted && inFlight.size === 0) break;
    }
    if (interrupted) {
      logger.warn(
        `interrupted after ${state.finishedHere} images (${state.finished} in the journal ${paths.journal}); ` +
          'run the same command again with --resume to continue',
      );
    }
    progress.finish();

    await checkpoints.drain();
    const rows = state.rowsInOrder();
    await writeFileAtomic(paths.captions, state.captionsCsv());
    const endMemory = await sampleMemory('end');
    const wallTimeS = (performance.now() - started) / 1000;
    await journal.append([
      endMemory,
      {
        kind: 'end',
        time: Date.now(),
        done: rows.length,
        failed: rows.filter((r) => r.status === 'error').length,
        wallTimeS,
        peakRssBytes: memory.peakRssBytes,
      },
    ]);
    const result: CaptionRunResult = {
      out,
      captionsPath: paths.captions,
      journalPath: paths.journal,
      rows,
      processed: state.finishedHere,
      resumed: plan.alreadyDone,
      failed: rows.filter((r) => r.status === 'error').length,
      emptyCaptions: rows.filter(hasEmptyCaption).length,
      wallTimeS,
      imagesPerS: state.finishedHere / wallTimeS,
      peakRssBytes: memory.peakRssBytes,
      engine: engine.id,
      model: engine.model,
      device: engine.device,
      batchSize: state.batchSize,
      peakCacheBytes: batcher.peakCacheBytes,
      cachingStopped: batcher.cachingStopped,
      interrupted,
    };
    // The counts are of every row: after a resume, say how many were done before.
    const before =
      plan.alreadyDone > 0 ? ` (and ${plan.alreadyDone} done before: ${rows.length} rows)` : '';
    logger.info(
      `done: ${state.finishedHere} images in ${formatDuration(wallTimeS)} (${result.imagesPerS.toFixed(2)} img/s)${before}, ` +
        `${result.failed} failed, ${result.emptyCaptions} with an empty caption; wrote ${paths.captions}`,
    );
    return result;
  } catch (error) {
    // Not a crash: the images in progress were not at fault (crash-suspects.ts). Only after
    // this session's start line, or it would close the session before it.
    if (sessionStarted) {
      await journal
        .append([{ kind: 'stop', time: Date.now(), reason: describeError(error) }])
        .catch(() => {});
    }
    if (error instanceof OutputError) {
      throw new OutputError(
        `${error.message}. The journal ${paths.journal} holds the ${state.finished} images finished so far: ` +
          'make room, then run the same command again with --resume to finish the job',
        { cause: error },
      );
    }
    if (error instanceof EngineError && error.stopsRun) {
      throw new EngineError(
        `${error.message}; the run stopped: the journal ${paths.journal} holds the ${state.finished} ` +
          'images finished so far; once this is fixed, run the same command again with --resume',
        { code: error.code, cause: error },
      );
    }
    throw error;
  } finally {
    unhookHardStop();
    stop.dispose();
    watchdog.stop();
    await checkpoints.drain().catch(() => {});
    await journal.close();
    if (!deps.engine) await engine.dispose();
  }
}

/** What captionBatch needs besides the batch. */
interface BatchContext {
  engine: CaptionEngine;
  config: CaptionConfig;
  state: RunState;
  logger: Logger;
  signal: AbortSignal;
  /** Called as the batch goes to the engine, with the images' dataset indexes. */
  enterEngine: (indexes: number[]) => void;
  watchdog: HangWatchdog;
}

async function captionBatch(
  items: ReadyItem[],
  context: BatchContext,
): Promise<JournalItem[] | null> {
  const { engine, config, state, logger, signal } = context;
  const started = performance.now();
  try {
    context.enterEngine(items.map((item) => item.sample.index));
    context.watchdog.enter(items.map((item) => item.sample.id));
    let outcomes: CaptionOutcome[];
    try {
      outcomes = await engine.generate(
        items.map((item) => item.image),
        { prompt: config.prompt, maxNewTokens: config.maxNewTokens },
        signal,
      );
    } finally {
      context.watchdog.leave();
    }
    const perImage = (performance.now() - started) / 1000 / items.length;
    return items.map((item, i) => {
      const outcome = outcomes[i];
      if (!outcome)
        return itemLine(item, engine, state, perImage, {
          ok: false,
          error: 'engine returned no caption for this image',
        });
      return itemLine(item, engine, state, perImage, outcome);
    });
  } catch (error) {
    // Cancelled by a stop: not journaled, so --resume captions these images.
    if (signal.aborted) return null;
    // No image can succeed (the server refused the key, lost the model, died): not error rows
    // that --resume would skip, but the end of the run.
    if (error instanceof EngineError && error.stopsRun) throw error;
    if (looksLikeOutOfMemory(error) && items.length > 1) {
      const half = Math.ceil(items.length / 2);
      state.batchSize = Math.min(state.batchSize, half);
      logger.warn(
        `out of memory with a batch of ${items.length}; retrying the same images in batches of ${half}`,
      );
      const first = await captionBatch(items.slice(0, half), context);
      const second = await captionBatch(items.slice(half), context);
      return first && second ? [...first, ...second] : null;
    }
    const perImage = (performance.now() - started) / 1000 / items.length;
    const reason = looksLikeOutOfMemory(error)
      ? `out of memory even with a batch of 1: ${describeError(error)}`
      : `engine error: ${describeError(error)}`;
    logger.error(`${reason} (images ${items.map((i) => i.sample.id).join(', ')})`);
    return items.map((item) =>
      itemLine(item, engine, state, perImage, { ok: false, error: reason }),
    );
  }
}

function itemLine(
  item: ReadyItem | FailedItem,
  engine: CaptionEngine,
  state: RunState,
  processingTimeS: number,
  outcome: CaptionOutcome,
): JournalItem {
  const { sample } = item;
  const warning = sample.problem && !sample.problem.fatal ? sample.problem.message : '';
  const line: JournalItem = {
    kind: 'item',
    id: sample.id,
    index: sample.index,
    path: sample.imagePath,
    references: sample.references,
    caption: outcome.ok ? outcome.caption : '',
    status: outcome.ok ? 'ok' : 'error',
    error: outcome.ok ? okRowWarnings(outcome.caption, warning, outcome.warning) : outcome.error,
    processingTimeS,
    batchSize: state.batchSize,
    engine: engine.id,
    model: engine.model,
    time: Date.now(),
  };
  if (sample.concepts !== undefined) line.concepts = sample.concepts;
  return line;
}

function failedRow(item: FailedItem, state: RunState, engine: CaptionEngine): JournalItem {
  return itemLine(item, engine, state, item.prepareTimeS, { ok: false, error: item.error });
}

function stageLine(stage: JournalStage['stage'], indexes: number[], alone: boolean): JournalStage {
  return { kind: 'stage', time: Date.now(), stage, indexes, ...(alone ? { alone: true } : {}) };
}

function isReady(item: PreparedItem): item is ReadyItem {
  return item.error === undefined && item.image !== undefined;
}

/** The crash suspects among the samples to caption, in dataset order. */
async function crashSuspectSamples(
  plan: Plan,
  previous: PreviousWork,
): Promise<{ sample: Sample; suspect: Suspect }[]> {
  if (previous.suspects.size === 0) return [];
  const found: { sample: Sample; suspect: Suspect }[] = [];
  for await (const sample of plan.samples()) {
    const suspect = previous.suspects.get(sample.index);
    if (suspect) found.push({ sample, suspect });
  }
  return found;
}

/**
 * The samples to caption in batches: those captioned alone for good (suspects of a second
 * crash) left out, and those alone in their stage when a run crashed turned into error rows,
 * so that the rest can finish.
 */
async function* samplesAfterCrash(
  samples: AsyncIterable<Sample>,
  previous: PreviousWork,
  logger: Logger,
): AsyncGenerator<Sample> {
  for await (const sample of samples) {
    if ((previous.suspects.get(sample.index)?.crashes ?? 0) > 1) continue;
    const stage = previous.poisoned.get(sample.index);
    if (stage === undefined) {
      yield sample;
      continue;
    }
    const doing = stage === 'prepare' ? 'read' : 'captioned';
    const message =
      `the run ended abruptly (killed, crashed, out of memory or hung) while this image was being ${doing} ` +
      'with no other image in progress, after it had been in progress at an earlier abrupt end: ' +
      'left out so that the rest can finish (--resume --retry-failed tries it again)';
    logger.error(`resume: ${sample.id} (${sample.imagePath}): ${message}`);
    yield { ...sample, problem: { message, fatal: true } };
  }
}

function startLine(
  config: CaptionConfig,
  engine: CaptionEngine,
  loader: DatasetLoader,
  planned: number,
): JournalLine {
  return {
    kind: 'start',
    time: Date.now(),
    engine: engine.id,
    model: engine.model,
    device: engine.device,
    dtype: config.dtype ?? null,
    batchSize: config.batchSize,
    split: config.split,
    dataset: resolve(config.data),
    format: loader.format,
    resumed: config.resume,
    planned,
    limit: Number.isFinite(config.limit) ? config.limit : null,
    ...(config.shard ? { shard: { index: config.shard.index, count: config.shard.count } } : {}),
    generation: generationSettings(config),
    host: {
      platform: `${process.platform}-${process.arch}`,
      cpus: cpus().length,
      totalMemoryBytes: totalmem(),
      node: process.version,
    },
  };
}

/**
 * The engine as configured, not loaded: with nothing left to caption (a finished run resumed
 * again), loading a model (gigabytes, up to minutes) or asking a server would buy nothing,
 * and the files are still rewritten from the journal. The device is the one the journal's
 * last session used, when it ran the same engine and model.
 */
function engineNotLoaded(
  config: CaptionConfig,
  start: JournalStart | undefined,
  logger: Logger,
): CaptionEngine {
  logger.info('nothing left to caption: the engine is not started');
  const same =
    start !== undefined && start.engine === config.engine && start.model === config.model;
  return {
    id: config.engine,
    model: config.model,
    device: same ? start.device : config.device,
    generate: () => Promise.reject(new Error('the engine was not started: nothing to caption')),
    dispose: async () => {},
  };
}

function engineSettings(config: CaptionConfig): EngineSettings {
  return {
    model: config.model,
    device: config.device,
    dtype: config.dtype,
    offline: config.offline,
    endpoints: config.endpoint,
    concurrency: config.concurrency,
    timeoutSeconds: config.timeout,
    retries: config.retries,
    imageEncoding: config.imageEncoding,
  };
}

/**
 * The grace period after the stop signal: `graceOver` resolves STOP_GRACE_MS after it,
 * when `engineSignal` cancels the batches still running.
 */
function stopControl(signal: AbortSignal | undefined) {
  const engineAbort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let startGrace = () => {};
  const graceOver = new Promise<'grace-over'>((resolve) => {
    startGrace = () => {
      timer = setTimeout(() => {
        engineAbort.abort();
        resolve('grace-over');
      }, STOP_GRACE_MS);
      timer.unref();
    };
  });
  if (signal?.aborted) startGrace();
  else signal?.addEventListener('abort', startGrace, { once: true });
  return {
    engineSignal: engineAbort.signal,
    graceOver,
    dispose() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', startGrace);
    },
  };
}
