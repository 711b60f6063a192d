/**
 * Worker-thread side of decode-pool.ts: decodes one DICOM file to PNG per message, one file
 * at a time, so that when the worker dies the file it died on is the oldest it was given.
 */
import { parentPort } from 'node:worker_threads';
import { CaptionToolError } from '../../core/errors.js';
import { dicomToPng } from './decode.js';
import type { DecodeJob, DecodeReply } from './decode-pool.js';

async function decode(job: DecodeJob): Promise<void> {
  let reply: DecodeReply;
  try {
    const png = await dicomToPng(job.bytes, job.path, job.options);
    reply = { id: job.id, ok: true, png };
    parentPort!.postMessage(reply, [png.buffer as ArrayBuffer]);
    return;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const code = error instanceof CaptionToolError ? error.code : 'IMAGE';
    reply = { id: job.id, ok: false, message, code };
  }
  parentPort!.postMessage(reply);
}

let queue = Promise.resolve();
parentPort!.on('message', (job: DecodeJob) => {
  queue = queue.then(() => decode(job));
});
