/**
 * Worker threads that help the main thread on machines with cores to spare beyond it and
 * the metric worker: they draw the bootstrap's resamples ahead while the metrics are
 * scored, take chunks of items of METEOR (meteor/chunks.ts), of BLEU and CIDEr-D's
 * per-item pass (ngram-stats.ts) and of the files' metric cells (metric-cells-job.ts),
 * and take resamples as the other threads do (bootstrap.ts). Every number and byte is the
 * same whichever thread computes it, so nothing depends on how many helpers there are.
 */

import { Worker } from 'node:worker_threads';
import { usableCores } from '../core/cgroup.js';
import { workerBootCode } from '../core/worker-boot.js';
import type { CaptionParts } from '../formats/metric-files.js';
import type { PrecomputedDraws, ResampleJob } from './bootstrap.js';
import type { MeteorJob } from './meteor/chunks.js';
import type { MetricCellsJob } from './metric-cells-job.js';
import type { NgramStatsJob } from './ngram-stats.js';

/** More helpers than this gain little: 1,000 resamples are about 1 s of one core's work. */
export const MAX_RESAMPLE_HELPERS = 6;

export type ToResampleHelper =
  | { draw: PrecomputedDraws }
  | { meteor: MeteorJob }
  | { ngramStats: NgramStatsJob }
  | { metricCells: MetricCellsJob }
  | { resample: ResampleJob }
  | { captionParts: CaptionsJsonl };

/** A JSONL captions file's bytes (in shared memory: not copied) and its path. */
export interface CaptionsJsonl {
  bytes: Uint8Array;
  path: string;
}

/** The answer to a captionParts job: the parts, or null when the file did not parse. */
export type CaptionPartsAnswer = { captionParts: CaptionParts | null };

/** A helper's answer to a job, once it has no more of it to claim. */
export type FromResampleHelper = 'meteor' | 'ngramStats' | 'metricCells' | 'resample';

/** What helpers are started for. */
export interface HelperStart {
  /**
   * The first this many load the bundled WordNet as they start, for a METEOR job to come,
   * which goes to them alone (each holds about 60 MB for it).
   */
  meteorHelpers?: number;
}

export interface ResampleHelpers {
  readonly count: number;
  /** Has them draw resamples ahead into `draws`, claiming them as the other threads do. */
  draw(draws: PrecomputedDraws): void;
  /** Helpers that take METEOR jobs (HelperStart.meteorHelpers, at most count). */
  readonly meteorCount: number;
  /** Has them take chunks of `job`; resolves once none has more to claim, or has died. */
  meteor(job: MeteorJob): Promise<void>;
  /** The same for BLEU and CIDEr-D's per-item pass. */
  ngramStats(job: NgramStatsJob): Promise<void>;
  /** The same for the metric cells (before a resample job: they take jobs in order). */
  metricCells(job: MetricCellsJob): Promise<void>;
  /** Has them take part in `job`; resolves once none has more to claim, or has died. */
  resample(job: ResampleJob): Promise<void>;
  /**
   * Has the last helper (one of METEOR's only when all are) parse the captions file and make the
   * with-metrics CSV's caption columns (captionParts), before any job given after this;
   * undefined when there is no helper, it fails or it ends first.
   */
  captionParts(file: CaptionsJsonl): Promise<CaptionParts | undefined>;
  stop(): void;
}

/** The cores left for helpers once the main thread and `busyThreads` others have one each. */
export function spareCores(busyThreads: number, cores = usableCores()): number {
  return Math.max(0, Math.min(MAX_RESAMPLE_HELPERS, cores - 1 - busyThreads));
}

/** Helpers that have exited. */
const ended = new WeakSet<Worker>();
/**
 * Per helper, its jobs not yet answered: it holds the process open while there is one,
 * whichever ResampleHelpers (the one started ahead, the one that took it over) gave them.
 */
const pending = new WeakMap<Worker, number>();
/** The threads of each ResampleHelpers. */
const workersOf = new WeakMap<ResampleHelpers, Worker[]>();

/**
 * Starts `count` helpers; they hold the process open only while they have a job. Those of
 * `ahead` (started before the captions were read, say) are taken over first, and the ones
 * beyond `count` stopped.
 */
export function startResampleHelpers(
  count: number,
  ahead?: ResampleHelpers,
  start: HelperStart = {},
): ResampleHelpers {
  const taken = ahead === undefined ? [] : (workersOf.get(ahead) ?? []);
  for (const worker of taken.slice(count)) void worker.terminate();
  const workers = taken.slice(0, count);
  const meteorHelpers = start.meteorHelpers ?? 0;
  while (workers.length < count) {
    const worker = startHelper(workers.length < meteorHelpers);
    if (worker === undefined) break;
    workers.push(worker);
  }
  const helpers = resampleHelpers(workers, Math.min(workers.length, meteorHelpers));
  workersOf.set(helpers, workers);
  return helpers;
}

function startHelper(wordnet: boolean): Worker | undefined {
  try {
    const worker = new Worker(workerBootCode(import.meta.url, 'resample-worker'), {
      eval: true,
      workerData: { wordnet } satisfies HelperData,
    });
    worker.unref();
    // A helper that dies leaves its claimed resamples to the others (runLeftoverResamples).
    worker.on('error', () => {});
    worker.once('exit', () => ended.add(worker));
    return worker;
  } catch {
    return undefined;
  }
}

/** What a helper gets as it starts (resample-worker.ts). */
export interface HelperData {
  wordnet: boolean;
}

function resampleHelpers(workers: readonly Worker[], meteorCount: number): ResampleHelpers {
  const post = (message: ToResampleHelper) => {
    for (const worker of workers) if (!ended.has(worker)) worker.postMessage(message);
  };
  // Each helper answers a job once it has no more to claim. Jobs may overlap (the metric
  // cells' answer can come after the resample job is posted): a helper holds the process
  // open while any job of it is unanswered.
  const ask = <T>(
    worker: Worker,
    message: ToResampleHelper,
    answerIn: (got: unknown) => T | undefined,
  ): Promise<T | undefined> => {
    if (ended.has(worker)) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const done = (answer: T | undefined) => {
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        const left = (pending.get(worker) ?? 1) - 1;
        pending.set(worker, left);
        if (left === 0) worker.unref();
        resolve(answer);
      };
      const onMessage = (got: unknown) => {
        const answer = answerIn(got);
        if (answer !== undefined) done(answer);
      };
      const onExit = () => done(undefined);
      pending.set(worker, (pending.get(worker) ?? 0) + 1);
      worker.ref();
      worker.on('message', onMessage);
      worker.on('exit', onExit);
      worker.postMessage(message);
    });
  };
  const untilAnswered = async (
    message: ToResampleHelper,
    answer: FromResampleHelper,
    to: readonly Worker[] = workers,
  ) => {
    await Promise.all(
      to.map((worker) => ask(worker, message, (got) => got === answer || undefined)),
    );
  };
  return {
    count: workers.length,
    meteorCount,
    draw: (draws) => post({ draw: draws }),
    meteor: (job) => untilAnswered({ meteor: job }, 'meteor', workers.slice(0, meteorCount)),
    ngramStats: (job) => untilAnswered({ ngramStats: job }, 'ngramStats'),
    metricCells: (job) => untilAnswered({ metricCells: job }, 'metricCells'),
    resample: (job) => untilAnswered({ resample: job }, 'resample'),
    async captionParts(file) {
      const worker = workers.at(-1);
      if (worker === undefined) return undefined;
      const answer = await ask(worker, { captionParts: file }, (got) =>
        typeof got === 'object' && got !== null && 'captionParts' in got
          ? (got as CaptionPartsAnswer)
          : undefined,
      );
      return answer?.captionParts ?? undefined;
    },
    stop() {
      for (const worker of workers) void worker.terminate();
    },
  };
}
