/**
 * Worker-thread side of resample-helpers.ts: draws the bootstrap's resamples ahead until
 * the bootstrap itself comes, takes chunks of the n-gram pass when it comes, then takes
 * resamples as the other threads do.
 */
import { parentPort } from 'node:worker_threads';
import { drawAheadUntil, runResamples } from './bootstrap.js';
import { runNgramStatsChunks } from './ngram-stats.js';
import type { ToResampleHelper } from './resample-helpers.js';

let resampling = false;

parentPort!.on('message', async (message: ToResampleHelper) => {
  if ('ngramStats' in message) {
    runNgramStatsChunks(message.ngramStats);
    parentPort!.postMessage('counted');
    return;
  }
  if ('resample' in message) {
    resampling = true;
    runResamples(message.resample);
    parentPort!.postMessage('resampled');
    return;
  }
  await drawAheadUntil(message.draw, () => resampling, 4);
});
