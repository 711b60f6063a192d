/** Worker-thread side of metric-worker.ts: waits for the token ids, scores, replies. */
import { parentPort, workerData } from 'node:worker_threads';
import { runResamples } from './bootstrap.js';
import {
  type PackedWorkerJob,
  type ToWorker,
  unpackWorkerJob,
  type WorkerReply,
} from './metric-worker.js';
import { metricFromRecipe } from './registry.js';
import { type EncodedCaptions, inputFromEncoded } from './token-ids.js';
import type { Metric, MetricResult } from './types.js';

const job = unpackWorkerJob(workerData as PackedWorkerJob);

async function run(): Promise<WorkerReply> {
  try {
    const metrics: Metric[] = [];
    for (const recipe of job.recipes) metrics.push(await metricFromRecipe(recipe));
    // While the main thread tokenizes: what needs only the raw text.
    for (const metric of metrics) metric.prepare?.(job);
    const encoded = await new Promise<EncodedCaptions>((resolve) => {
      parentPort!.once('message', resolve);
    });
    const input = inputFromEncoded(job, encoded);
    const results: MetricResult[] = [];
    for (const metric of metrics) {
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
// Then it helps with the bootstrap, in shared memory, until the main thread ends it.
if (reply.ok) {
  parentPort!.on('message', (message: ToWorker) => {
    runResamples(message.resample);
    parentPort!.postMessage('resampled');
  });
}
