// Runs the BERTScore encoder's session on a worker thread (session.ts): loads it, then runs
// the batches in the order they come and sends each output back without a copy.
import { parentPort, workerData } from 'node:worker_threads';
import { describeError } from '../../core/errors.js';
import {
  type EncoderSession,
  loadSessionHere,
  type SessionReply,
  type SessionRequest,
  type SessionSpec,
} from './session.js';

const port = parentPort!;
const send = (reply: SessionReply) => {
  const buffer = reply.ok ? reply.output?.data.buffer : undefined;
  try {
    port.postMessage(reply, buffer ? [buffer as ArrayBuffer] : []);
  } catch {
    port.postMessage(reply); // a buffer ONNX Runtime owns cannot move: copied instead
  }
};
const failure = (id: number, error: unknown): SessionReply => ({
  id,
  ok: false,
  message: describeError(error).split('\n')[0]!,
});

let session: EncoderSession | undefined;
try {
  session = await loadSessionHere(workerData as SessionSpec);
  send({ id: 0, ok: true });
} catch (error) {
  send(failure(0, error));
}

// The session runs its batches one at a time, in the order given, and disposes after them.
port.on('message', (request: SessionRequest) => {
  const done =
    request.type === 'dispose'
      ? session?.dispose().then(() => ({ id: request.id, ok: true }) as SessionReply)
      : session
          ?.run(request.batch)
          .then((output): SessionReply => ({ id: request.id, ok: true, output }));
  (done ?? Promise.reject(new Error('the encoder session did not load'))).then(send, (error) =>
    send(failure(request.id, error)),
  );
});
