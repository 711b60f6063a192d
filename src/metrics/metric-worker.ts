/**
 * Runs some of an evaluation's metrics in a worker thread while the others run here. The
 * worker starts at once (loading its modules meanwhile), then gets the captions' token ids
 * from this thread as soon as they exist (typed arrays, cheap to copy, unlike millions of
 * token strings) and sends back only its column arrays, moved, not copied.
 */
import { Worker } from 'node:worker_threads';
import type { EncodedCaptions } from './token-ids.js';
import type { MetricRecipe, MetricResult } from './types.js';

export interface WorkerJob {
  ids: string[];
  candidates: string[];
  references: (readonly string[])[];
  recipes: MetricRecipe[];
}

export type WorkerReply =
  | { ok: true; results: MetricResult[] }
  | { ok: false; name: string; message: string };

export interface RunningJob {
  /** Hands the worker the captions' tokens (encodedCaptions of the same items). */
  sendTokens(encoded: EncodedCaptions): void;
  /** The recipes' results in order; null when no worker could run them (score them here). */
  readonly results: Promise<MetricResult[] | { failed: Error } | null>;
  stop(): void;
}

/** The worker's entry module; from the TypeScript sources (tests, tsx) it loads through tsx. */
function bootCode(): string {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(`./score-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url).href;
  const register = fromSource ? "(await import('tsx/esm/api')).register();" : '';
  return `(async () => { ${register} await import(${JSON.stringify(entry)}); })();`;
}

export function startWorkerJob(job: WorkerJob): RunningJob {
  let worker: Worker;
  try {
    worker = new Worker(bootCode(), { eval: true, workerData: job });
  } catch {
    return { sendTokens: () => {}, results: Promise.resolve(null), stop: () => {} };
  }
  const results = new Promise<MetricResult[] | { failed: Error } | null>((resolve) => {
    worker.once('message', (reply: WorkerReply) => {
      if (reply.ok) resolve(reply.results);
      else {
        const failed = new Error(reply.message);
        failed.name = reply.name;
        resolve({ failed });
      }
      void worker.terminate();
    });
    // The worker could not start or died: the caller scores those metrics itself.
    worker.once('error', () => resolve(null));
    worker.once('exit', () => resolve(null));
  });
  return {
    sendTokens: (encoded) => worker.postMessage(encoded),
    results,
    stop: () => void worker.terminate(),
  };
}
