/**
 * The BERTScore encoder's ONNX Runtime session, on a thread of its own.
 *
 * onnxruntime-node runs a session synchronously on the thread that calls it. On the main
 * thread that kept the GPU waiting while medcap matched the previous chunk's tokens, collected
 * garbage and filled the next batch. In a worker thread the session runs batch after batch
 * while the main thread does the rest; the batches and their embeddings cross without a copy.
 * If the worker cannot load the model, the session is loaded on this thread instead.
 */
import { Worker } from 'node:worker_threads';
import { describeError, MetricError } from '../../core/errors.js';
import { workerBootCode } from '../../core/worker-boot.js';
import type { EngineDevice } from '../../engines/transformers/devices.js';

/** What to load: an ONNX model folder as Transformers.js reads it, on one device. */
export interface SessionSpec {
  folder: string;
  subfolder: string;
  device: EngineDevice;
  externalData: boolean;
  /** The output to return: float32 [batch, tokens, hidden]. */
  output: string;
}

/** One padded batch: token ids and attention mask, both [rows, tokens] row-major. */
export interface SessionBatch {
  ids: BigInt64Array;
  mask: BigInt64Array;
  rows: number;
  tokens: number;
}

export interface SessionOutput {
  data: Float32Array;
  /** [rows, tokens, hidden] */
  dims: number[];
}

export interface EncoderSession {
  /** Whether it runs on a worker thread. */
  readonly threaded: boolean;
  /** Runs one batch; batches given before the last one finished wait their turn. */
  run(batch: SessionBatch): Promise<SessionOutput>;
  dispose(): Promise<void>;
}

type TransformersModule = typeof import('@huggingface/transformers');

/** Loads the session on this thread. */
export async function loadSessionHere(spec: SessionSpec): Promise<EncoderSession> {
  const tf: TransformersModule = await import('@huggingface/transformers');
  const model = await tf.AutoModel.from_pretrained(spec.folder, {
    local_files_only: true,
    dtype: 'fp32',
    device: spec.device,
    subfolder: spec.subfolder,
    session_options: { logSeverityLevel: 3 },
    ...(spec.externalData ? { use_external_data_format: true } : {}),
  });
  let queue: Promise<unknown> = Promise.resolve();
  const runNow = async (batch: SessionBatch): Promise<SessionOutput> => {
    const dims = [batch.rows, batch.tokens];
    const result = (await model({
      input_ids: new tf.Tensor('int64', batch.ids, dims),
      attention_mask: new tf.Tensor('int64', batch.mask, dims),
    })) as Record<string, { data: unknown; dims: number[] }>;
    const hidden = result[spec.output];
    if (!hidden || !(hidden.data instanceof Float32Array) || hidden.dims.length !== 3) {
      throw new MetricError(
        `BERTScore model ${spec.folder}: expected a float32 [batch, tokens, hidden] output ${spec.output}`,
      );
    }
    return { data: hidden.data, dims: hidden.dims };
  };
  return {
    threaded: false,
    run: (batch) => {
      const next = queue.then(() => runNow(batch));
      queue = next.catch(() => undefined);
      return next;
    },
    dispose: async () => {
      await queue;
      await model.dispose();
    },
  };
}

/** Messages to the worker (session-worker.ts). */
export type SessionRequest =
  | { id: number; type: 'run'; batch: SessionBatch }
  | { id: number; type: 'dispose' };

/** Messages from the worker: the first one answers the load (id 0). */
export type SessionReply =
  | { id: number; ok: true; output?: SessionOutput }
  | { id: number; ok: false; message: string };

/** Loads the session on a worker thread; rejects with the worker's reason if it cannot. */
export function loadSessionThread(spec: SessionSpec): Promise<EncoderSession> {
  const worker = new Worker(workerBootCode(import.meta.url, 'session-worker'), {
    eval: true,
    workerData: spec,
  });
  const waiting = new Map<
    number,
    { resolve: (r: SessionReply) => void; reject: (e: Error) => void }
  >();
  let nextId = 1;
  let stopped: Error | undefined;
  const stop = (error: Error) => {
    stopped ??= error;
    for (const { reject } of waiting.values()) reject(stopped);
    waiting.clear();
  };
  worker.on('message', (reply: SessionReply) => {
    const entry = waiting.get(reply.id);
    waiting.delete(reply.id);
    entry?.resolve(reply);
  });
  worker.on('error', (error) => stop(error));
  worker.on('exit', (code) => stop(new Error(`the encoder thread exited (code ${code})`)));
  const ask = (request: SessionRequest, transfer: ArrayBuffer[] = []): Promise<SessionReply> =>
    new Promise((resolve, reject) => {
      if (stopped) return reject(stopped);
      waiting.set(request.id, { resolve, reject });
      worker.postMessage(request, transfer);
    });
  const loaded = new Promise<SessionReply>((resolve, reject) => {
    waiting.set(0, { resolve, reject });
  });

  const session: EncoderSession = {
    threaded: true,
    run: async (batch) => {
      let reply: SessionReply;
      try {
        reply = await ask({ id: nextId++, type: 'run', batch }, [
          batch.ids.buffer as ArrayBuffer,
          batch.mask.buffer as ArrayBuffer,
        ]);
      } catch (error) {
        throw new MetricError(`BERTScore: the encoder thread stopped: ${describeError(error)}`, {
          cause: error,
        });
      }
      if (!reply.ok) throw new MetricError(reply.message);
      return reply.output!;
    },
    dispose: async () => {
      if (!stopped) await ask({ id: nextId++, type: 'dispose' }).catch(() => undefined);
      await worker.terminate();
    },
  };
  return loaded.then(
    async (reply) => {
      if (reply.ok) return session;
      await worker.terminate();
      throw new Error(reply.message);
    },
    async (error: unknown) => {
      await worker.terminate();
      throw error;
    },
  );
}

/**
 * The session on a worker thread, or on this thread if the worker cannot load it (`onFallback`
 * is told why). Fails with this thread's error when neither can.
 */
export async function loadSession(
  spec: SessionSpec,
  onFallback: (reason: unknown) => void,
): Promise<EncoderSession> {
  try {
    return await loadSessionThread(spec);
  } catch (error) {
    const here = await loadSessionHere(spec);
    onFallback(error);
    return here;
  }
}
