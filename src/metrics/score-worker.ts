/** Worker-thread side of metric-worker.ts: tokenizes, scores the recipes, replies. */
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerJob, WorkerReply } from './metric-worker.js';
import { metricFromRecipe } from './registry.js';
import { metricInput } from './score.js';
import type { MetricResult } from './types.js';

const job = workerData as WorkerJob;

async function run(): Promise<WorkerReply> {
  try {
    const items = job.ids.map((id, k) => ({
      id,
      candidate: job.candidates[k]!,
      references: job.references[k]!,
    }));
    const input = metricInput(items, job.tokenizer);
    const results: MetricResult[] = [];
    for (const recipe of job.recipes) {
      const metric = await metricFromRecipe(recipe);
      const { corpus, values } = await metric.score(input);
      results.push({ corpus, values });
      await metric.dispose?.();
    }
    return { ok: true, results };
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    return { ok: false, name, message };
  }
}

const reply = await run();
// The column arrays move to the main thread instead of being copied.
const buffers = reply.ok
  ? reply.results.flatMap((r) => Object.values(r.values).map((column) => column.buffer))
  : [];
parentPort!.postMessage(reply, buffers as ArrayBuffer[]);
