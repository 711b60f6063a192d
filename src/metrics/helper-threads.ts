/**
 * Worker threads that help on machines with cores to spare beyond the main thread and the
 * metric worker: they take chunks of the coco tokenizer's work as the main thread does
 * (tokenize-shares.ts), draw the bootstrap's resamples ahead while the metrics are scored,
 * then take resamples as the other threads do (bootstrap.ts). The tokens and the sums are
 * the same whichever thread does which part, so nothing depends on how many helpers there
 * are.
 */

import { Worker } from 'node:worker_threads';
import { usableCores } from '../core/cgroup.js';
import { workerBootCode } from '../core/worker-boot.js';
import type { PrecomputedDraws, ResampleJob } from './bootstrap.js';
import type { EncodedChunk, TokenizeJoin, TokenizeShare } from './tokenize-shares.js';

/** More helpers than this gain little: 1,000 resamples are about 1 s of one core's work. */
export const MAX_HELPER_THREADS = 6;

export type ToHelperThread =
  | { tokenize: TokenizeShare; thread: number }
  | { draw: PrecomputedDraws }
  | { resample: ResampleJob };

export type FromHelperThread = { tokenized: EncodedChunk } | 'tokenized all' | 'resampled';

export interface HelperThreads {
  readonly count: number;
  /**
   * Has them claim chunks of `share` as thread 1, 2, ... and hands what they encode to
   * `join` (the chunks of a helper that dies go to join.lost).
   */
  tokenize(share: TokenizeShare, join: TokenizeJoin): void;
  /** Has them draw resamples ahead into `draws`, claiming them as the other threads do. */
  draw(draws: PrecomputedDraws): void;
  /** Has them take part in `job`; resolves once none has more to claim, or has died. */
  resample(job: ResampleJob): Promise<void>;
  stop(): void;
}

/** The cores left for helpers once the main thread and `busyThreads` others have one each. */
export function spareCores(busyThreads: number, cores = usableCores()): number {
  return Math.max(0, Math.min(MAX_HELPER_THREADS, cores - 1 - busyThreads));
}

/** Helpers that have exited. */
const ended = new WeakSet<Worker>();
/** The threads of each HelperThreads. */
const workersOf = new WeakMap<HelperThreads, Worker[]>();

/**
 * Starts `count` helpers; they hold the process open only while they work. Those of
 * `ahead` (started before the captions were read, say) are taken over first, and the ones
 * beyond `count` stopped.
 */
export function startHelperThreads(count: number, ahead?: HelperThreads): HelperThreads {
  const taken = ahead === undefined ? [] : (workersOf.get(ahead) ?? []);
  for (const worker of taken.slice(count)) void worker.terminate();
  const workers = taken.slice(0, count);
  while (workers.length < count) {
    const worker = startHelper();
    if (worker === undefined) break;
    workers.push(worker);
  }
  const helpers = helperThreads(workers);
  workersOf.set(helpers, workers);
  return helpers;
}

function startHelper(): Worker | undefined {
  try {
    const worker = new Worker(workerBootCode(import.meta.url, 'helper-worker'), { eval: true });
    worker.unref();
    // A helper that dies leaves its claimed work to the others (runLeftoverResamples, TokenizeJoin.lost).
    worker.on('error', () => {});
    worker.once('exit', () => ended.add(worker));
    return worker;
  } catch {
    return undefined;
  }
}

function helperThreads(workers: readonly Worker[]): HelperThreads {
  const post = (message: ToHelperThread) => {
    for (const worker of workers) if (!ended.has(worker)) worker.postMessage(message);
  };
  return {
    count: workers.length,
    tokenize(share, join) {
      workers.forEach((worker, i) => {
        const thread = i + 1;
        if (ended.has(worker)) {
          join.lost(thread);
          return;
        }
        const onMessage = (message: FromHelperThread) => {
          if (typeof message === 'object') join.add(thread, message.tokenized);
          else done();
        };
        const onExit = () => {
          done();
          join.lost(thread);
        };
        const done = () => {
          worker.off('message', onMessage);
          worker.off('exit', onExit);
          worker.unref();
        };
        worker.ref();
        worker.on('message', onMessage);
        worker.on('exit', onExit);
        worker.postMessage({ tokenize: share, thread } satisfies ToHelperThread);
      });
    },
    draw: (draws) => post({ draw: draws }),
    async resample(job) {
      await Promise.all(
        workers
          .filter((worker) => !ended.has(worker))
          .map(
            (worker) =>
              new Promise<void>((resolve) => {
                const done = () => {
                  worker.off('message', done);
                  worker.off('exit', done);
                  worker.unref();
                  resolve();
                };
                worker.ref();
                worker.on('message', done);
                worker.on('exit', done);
                worker.postMessage({ resample: job } satisfies ToHelperThread);
              }),
          ),
      );
    },
    stop() {
      for (const worker of workers) void worker.terminate();
    },
  };
}
