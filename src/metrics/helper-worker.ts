/**
 * Worker-thread side of helper-threads.ts: takes chunks of the tokenizer's work, draws the
 * bootstrap's resamples ahead until the bootstrap itself comes, then takes resamples as the
 * other threads do.
 */
import { parentPort } from 'node:worker_threads';
import { drawAheadUntil, runResamples } from './bootstrap.js';
import type { FromHelperThread, ToHelperThread } from './helper-threads.js';
import { CaptionEncoder } from './token-ids.js';
import { tokenizeClaimed } from './tokenize-shares.js';

const reply = (message: FromHelperThread, transfer: ArrayBuffer[] = []) =>
  parentPort!.postMessage(message, transfer);

let resampling = false;

parentPort!.on('message', async (message: ToHelperThread) => {
  if ('tokenize' in message) {
    tokenizeClaimed(message.tokenize, message.thread, new CaptionEncoder(), (chunk) =>
      reply({ tokenized: chunk }, [chunk.tokens.buffer, chunk.starts.buffer] as ArrayBuffer[]),
    );
    reply('tokenized all');
    return;
  }
  if ('resample' in message) {
    resampling = true;
    runResamples(message.resample);
    reply('resampled');
    return;
  }
  await drawAheadUntil(message.draw, () => resampling, 4);
});
