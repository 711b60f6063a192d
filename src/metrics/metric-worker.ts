/**
 * Runs some of an evaluation's metrics in a worker thread while the others run here: the
 * worker tokenizes the same captions itself (cheaper than copying millions of token
 * strings across) and sends back only its column arrays, moved, not copied.
 */
import { Worker } from 'node:worker_threads';
import type { TokenizerId } from './tokenize.js';
import type { MetricRecipe, MetricResult } from './types.js';

export interface WorkerJob {
  ids: string[];
  candidates: string[];
  references: (readonly string[])[];
  tokenizer: TokenizerId;
  recipes: MetricRecipe[];
}

export type WorkerReply =
  | { ok: true; results: MetricResult[] }
  | { ok: false; name: string; message: string };

export interface RunningJob {
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
    return { results: Promise.resolve(null), stop: () => {} };
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
  return { results, stop: () => void worker.terminate() };
}
