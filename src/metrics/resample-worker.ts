/**
 * Worker-thread side of resample-helpers.ts: draws the bootstrap's resamples ahead until
 * the bootstrap itself comes, takes chunks of the n-gram pass and of the metric cells
 * when they come, and takes resamples as the other threads do.
 */
import { parentPort } from 'node:worker_threads';
import { drawAheadUntil, runResamples } from './bootstrap.js';
import { runMetricCellChunks } from './metric-cells-job.js';
import { runNgramStatsChunks } from './ngram-stats.js';
import type { FromResampleHelper, ToResampleHelper } from './resample-helpers.js';

const answer = (done: FromResampleHelper) => parentPort!.postMessage(done);

let resampling = false;

parentPort!.on('message', async (message: ToResampleHelper) => {
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
  if ('resample' in message) {
    resampling = true;
    runResamples(message.resample);
    answer('resample');
    return;
  }
  await drawAheadUntil(message.draw, () => resampling, 4);
});
