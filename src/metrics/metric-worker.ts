/**
 * Runs some of an evaluation's metrics in a worker thread while the others run here. The
 * worker starts at once (loading its modules meanwhile), then gets the captions' token ids
 * from this thread as soon as they exist (typed arrays, cheap to copy, unlike millions of
 * token strings) and sends back only its column arrays, moved, not copied.
 */
import { Worker } from 'node:worker_threads';
import type { PrecomputedDraws, ResampleJob } from './bootstrap.js';
import type { EncodedCaptions } from './token-ids.js';
import type { MetricRecipe, MetricResult } from './types.js';

export interface WorkerJob {
  ids: string[];
  candidates: string[];
  references: (readonly string[])[];
  recipes: MetricRecipe[];
  /** The bootstrap to come: once done scoring, the worker draws its resamples ahead. */
  bootstrap?: { resamples: number; seed: number };
}

/** After the token ids (EncodedCaptions), what the worker may be sent. */
export type ToWorker = { resample: ResampleJob };

export type WorkerReply =
  | { ok: true; results: MetricResult[]; draws?: PrecomputedDraws }
  | { ok: false; name: string; message: string };

export interface RunningJob {
  /** Hands the worker the captions' tokens (encodedCaptions of the same items). */
  sendTokens(encoded: EncodedCaptions): void;
  /** The recipes' results in order; null when no worker could run them (score them here). */
  readonly results: Promise<MetricResult[] | { failed: Error } | null>;
  /**
   * Once the results are in, has the worker take part in a bootstrap (runResamples);
   * resolves when it has no more resamples to claim, false if it could not help.
   */
  resample(job: ResampleJob): Promise<boolean>;
  /** The resamples the worker draws ahead once its results are in (see WorkerJob.bootstrap). */
  drawsAhead(): PrecomputedDraws | undefined;
  stop(): void;
}

/** The worker's entry module; from the TypeScript sources (tests, tsx) it loads through tsx. */
function bootCode(): string {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(`./score-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url).href;
  const register = fromSource ? "(await import('tsx/esm/api')).register();" : '';
  return `(async () => { ${register} await import(${JSON.stringify(entry)}); })();`;
}

/**
 * The job as the worker receives it: the texts as one string and where each ends, which
 * crosses threads as one copy instead of a structured clone of 10^5 strings.
 */
export interface PackedWorkerJob {
  text: string;
  /** End offset in `text` of each id, then each candidate, then each reference. */
  ends: Uint32Array;
  referenceCounts: Uint32Array;
  recipes: MetricRecipe[];
  bootstrap?: WorkerJob['bootstrap'];
}

export function packWorkerJob(job: WorkerJob): PackedWorkerJob {
  const items = job.ids.length;
  const references = job.references.flat();
  const parts = [...job.ids, ...job.candidates, ...references];
  const ends = new Uint32Array(parts.length);
  let end = 0;
  parts.forEach((part, i) => {
    end += part.length;
    ends[i] = end;
  });
  const referenceCounts = new Uint32Array(items);
  for (let k = 0; k < items; k++) referenceCounts[k] = job.references[k]!.length;
  return {
    text: parts.join(''),
    ends,
    referenceCounts,
    recipes: job.recipes,
    ...(job.bootstrap === undefined ? {} : { bootstrap: job.bootstrap }),
  };
}

export function unpackWorkerJob(packed: PackedWorkerJob): WorkerJob {
  const { text, ends, referenceCounts } = packed;
  const items = referenceCounts.length;
  let i = 0;
  const next = () => text.slice(i === 0 ? 0 : ends[i - 1]!, ends[i++]!);
  const ids = Array.from({ length: items }, next);
  const candidates = Array.from({ length: items }, next);
  const references = Array.from(referenceCounts, (count) => Array.from({ length: count }, next));
  return {
    ids,
    candidates,
    references,
    recipes: packed.recipes,
    ...(packed.bootstrap === undefined ? {} : { bootstrap: packed.bootstrap }),
  };
}

export function startWorkerJob(job: WorkerJob): RunningJob {
  let worker: Worker;
  try {
    worker = new Worker(bootCode(), { eval: true, workerData: packWorkerJob(job) });
  } catch {
    return {
      sendTokens: () => {},
      results: Promise.resolve(null),
      resample: async () => false,
      drawsAhead: () => undefined,
      stop: () => {},
    };
  }
  let alive = true;
  let drawsAhead: PrecomputedDraws | undefined;
  /** Set once the worker's results are in (so resample can post without waiting a tick). */
  let scored = false;
  const ended = new Promise<void>((resolve) => {
    worker.once('exit', () => {
      alive = false;
      resolve();
    });
  });
  const results = new Promise<MetricResult[] | { failed: Error } | null>((resolve) => {
    worker.once('message', (reply: WorkerReply) => {
      if (reply.ok) {
        drawsAhead = reply.draws;
        scored = true;
        // It stays for the bootstrap, without holding the process open meanwhile.
        worker.unref();
        resolve(reply.results);
      } else {
        const failed = new Error(reply.message);
        failed.name = reply.name;
        resolve({ failed });
        void worker.terminate();
      }
    });
    // The worker could not start or died: the caller scores those metrics itself.
    worker.once('error', () => resolve(null));
    void ended.then(() => resolve(null));
  });
  return {
    sendTokens: (encoded) => worker.postMessage(encoded),
    results,
    async resample(job) {
      // Posted before the first await when the results are in: the caller goes on with
      // its own share at once, and the worker must not wait for that to yield.
      if (!scored && !Array.isArray(await results)) return false;
      if (!alive) return false;
      worker.ref();
      const done = new Promise<boolean>((resolve) => {
        worker.once('message', () => resolve(true));
        void ended.then(() => resolve(false));
      });
      worker.postMessage({ resample: job } satisfies ToWorker);
      const helped = await done;
      worker.unref();
      return helped;
    },
    drawsAhead: () => drawsAhead,
    stop: () => void worker.terminate(),
  };
}
