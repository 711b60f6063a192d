/**
 * Worker-thread side of resample-helpers.ts: draws the bootstrap's resamples ahead until
 * the bootstrap itself comes, then takes resamples as the other threads do.
 */
import { parentPort } from 'node:worker_threads';
import { drawNext, runResamples } from './bootstrap.js';
import type { ToResampleHelper } from './resample-helpers.js';

let resampling = false;

parentPort!.on('message', async (message: ToResampleHelper) => {
  if ('resample' in message) {
    resampling = true;
    runResamples(message.resample);
    parentPort!.postMessage('resampled');
    return;
  }
  const weights = new Uint32Array(message.draw.items);
  for (let n = 1; !resampling && drawNext(message.draw, weights); n++) {
    // Now and then, let the bootstrap's start in.
    if (n % 4 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
});
