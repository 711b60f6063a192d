/**
 * Worker-thread side of resample-helpers.ts: makes the with-metrics CSV's caption columns
 * when asked, draws the bootstrap's resamples ahead until the bootstrap itself comes, takes
 * chunks of METEOR, of the n-gram pass and of the metric cells when they come, and takes
 * resamples as the other threads do.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { parseCaptionsJsonl } from '../formats/captions-jsonl.js';
import { captionParts } from '../formats/metric-files.js';
import { drawAheadUntil, runResamples } from './bootstrap.js';
import { defaultMeteorScorer, runMeteorChunks } from './meteor/chunks.js';
import { sharedDefaultWordNet } from './meteor/index.js';
import type { MeteorScorer } from './meteor/scorer.js';
import { runMetricCellChunks } from './metric-cells-job.js';
import { runNgramStatsChunks } from './ngram-stats.js';
import type {
  CaptionPartsAnswer,
  FromResampleHelper,
  HelperData,
  ToResampleHelper,
} from './resample-helpers.js';

const answer = (done: FromResampleHelper) => parentPort!.postMessage(done);

if ((workerData as HelperData | undefined)?.wordnet === true) {
  try {
    sharedDefaultWordNet();
  } catch {
    // The METEOR job loads it again, and this thread dies of the error then: the main
    // thread scores its chunks and reports it.
  }
}
let meteorScorer: MeteorScorer | undefined;

let resampling = false;

parentPort!.on('message', async (message: ToResampleHelper) => {
  if ('meteor' in message) {
    meteorScorer ??= defaultMeteorScorer();
    runMeteorChunks(message.meteor, meteorScorer);
    answer('meteor');
    return;
  }
  if ('ngramStats' in message) {
    runNgramStatsChunks(message.ngramStats);
    answer('ngramStats');
    return;
  }
  if ('metricCells' in message) {
    runMetricCellChunks(message.metricCells);
    answer('metricCells');
    return;
  }
  if ('captionParts' in message) {
    const { bytes, path } = message.captionParts;
    let answer: CaptionPartsAnswer = { captionParts: null };
    try {
      answer = { captionParts: captionParts(parseCaptionsJsonl(bytes, path)) };
    } catch {
      // The main thread's parse of the same bytes reports it.
    }
    const moved = answer.captionParts === null ? [] : [answer.captionParts.bytes.buffer];
    parentPort!.postMessage(answer, moved as ArrayBuffer[]);
    return;
  }
  if ('resample' in message) {
    resampling = true;
    runResamples(message.resample);
    answer('resample');
    return;
  }
  await drawAheadUntil(message.draw, () => resampling, 4);
});
