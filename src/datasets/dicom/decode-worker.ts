/** Worker-thread side of decode-pool.ts: decodes one DICOM file to PNG per message. */
import { parentPort } from 'node:worker_threads';
import { CaptionToolError } from '../../core/errors.js';
import { dicomToPng } from './decode.js';
import type { DecodeJob, DecodeReply } from './decode-pool.js';

parentPort!.on('message', async (job: DecodeJob) => {
  let reply: DecodeReply;
  try {
    const png = await dicomToPng(job.bytes, job.path, { window: job.window });
    reply = { id: job.id, ok: true, png };
    parentPort!.postMessage(reply, [png.buffer as ArrayBuffer]);
    return;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const code = error instanceof CaptionToolError ? error.code : 'IMAGE';
    reply = { id: job.id, ok: false, message, code };
  }
  parentPort!.postMessage(reply);
});
