/**
 * Worker-thread side of metric-worker.ts: waits for its job, tokenizes the candidates if
 * asked, waits for the token ids, scores, replies.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isScoredRow, parseCaptionsJsonl, scoredItemOf } from '../formats/captions-jsonl.js';
import { drawAheadUntil, runResamples } from './bootstrap.js';
import { sharedDefaultWordNet } from './meteor/index.js';
import {
  type BeforeJob,
  type CaptionsCheck,
  captionsCheck,
  type PackedWorkerJob,
  type ToWorker,
  unpackWorkerJob,
  type WorkerAhead,
  type WorkerJob,
  type WorkerReply,
} from './metric-worker.js';
import { metricFromRecipe } from './registry.js';
import { CaptionEncoder, type EncodedCaptions, inputFromEncoded } from './token-ids.js';
import { forEachTokenized } from './tokenize.js';
import type { Metric, MetricResult } from './types.js';

// Started ahead of its job (prestartWorker): what it can do while the job is being read.
if ((workerData as WorkerAhead | undefined)?.wordnet === true) {
  try {
    sharedDefaultWordNet();
  } catch {
    // METEOR reports it when it loads WordNet itself.
  }
}

// The captions file's bytes may come first (shareCaptionsJsonl): parsed here while the main
// thread parses them too, so that the job comes without its texts.
let parsed: Pick<WorkerJob, 'ids' | 'candidates' | 'references'> | undefined;
const packed = await new Promise<PackedWorkerJob>((resolve) => {
  const onMessage = (message: BeforeJob | PackedWorkerJob) => {
    if (!('captionsJsonl' in message)) {
      parentPort!.off('message', onMessage);
      resolve(message);
      return;
    }
    const { bytes, path } = message.captionsJsonl;
    try {
      const items = parseCaptionsJsonl(bytes, path).filter(isScoredRow).map(scoredItemOf);
      parsed = {
        ids: items.map((item) => item.id),
        candidates: items.map((item) => item.candidate),
        references: items.map((item) => item.references),
      };
    } catch {
      // The main thread's parse fails the same way, and no job comes.
    }
  };
  parentPort!.on('message', onMessage);
});
const job = jobWithTexts(unpackWorkerJob(packed), packed.fromCaptionsJsonl);

/** The job with the texts this thread parsed, when it came without them. */
function jobWithTexts(job: WorkerJob, check: CaptionsCheck | undefined): WorkerJob {
  if (check === undefined) return job;
  const got = parsed === undefined ? undefined : captionsCheck(parsed);
  if (
    got === undefined ||
    got.items !== check.items ||
    got.references !== check.references ||
    got.length !== check.length
  ) {
    // Ends this worker: the main thread then scores its metrics itself.
    throw new Error("the captions parsed in the worker are not the job's items");
  }
  return { ...job, ...parsed };
}

async function run(): Promise<WorkerReply> {
  try {
    if (job.tokenizeCandidates !== undefined) {
      const encoder = new CaptionEncoder();
      forEachTokenized(
        job.tokenizeCandidates,
        job.candidates,
        (words, count, forms) => encoder.add(words, count, forms),
        0,
        job.candidatesToTokenize ?? job.candidates.length,
      );
      const candidates = encoder.sentences();
      parentPort!.postMessage({ candidates }, [
        candidates.tokens.buffer as ArrayBuffer,
        candidates.starts.buffer as ArrayBuffer,
      ]);
    }
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
// Then it helps with the bootstrap, in shared memory, until the main thread ends it:
// drawing resamples ahead while the main thread scores, then taking resamples as it does.
if (reply.ok) {
  let resampling = false;
  parentPort!.on('message', (message: ToWorker) => {
    resampling = true;
    runResamples(message.resample);
    parentPort!.postMessage('resampled');
  });
  if (job.draws !== undefined) await drawAheadUntil(job.draws, () => resampling, 4);
}
