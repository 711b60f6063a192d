/**
 * Decodes DICOM files in worker threads. The codecs (CharLS, OpenJPEG in WASM, the lossless
 * JPEG decoder in JavaScript) are synchronous: in the main thread a JPEG 2000 slice would
 * stop everything else (journal writes, server requests) for tens of milliseconds, and only
 * one core would decode. Jobs go to the least busy of a few workers; a worker that dies fails
 * only its own jobs and is replaced. Where no worker can start, files decode in this thread.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ImageError } from '../../core/errors.js';
import { type DicomRenderOptions, dicomToPng } from './decode.js';

export interface DecodeJob {
  id: number;
  bytes: Uint8Array;
  path: string;
  window: [number, number] | undefined;
}

export type DecodeReply =
  | { id: number; ok: true; png: Uint8Array }
  | { id: number; ok: false; message: string; code: string };

interface Pending {
  path: string;
  resolve(png: Uint8Array): void;
  reject(error: Error): void;
}

/** The worker's entry module; from the TypeScript sources (tests, tsx) it loads through tsx. */
function bootCode(): string {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(`./decode-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url).href;
  const register = fromSource ? "(await import('tsx/esm/api')).register();" : '';
  return `(async () => { ${register} await import(${JSON.stringify(entry)}); })();`;
}

class DecoderWorker {
  readonly pending = new Map<number, Pending>();
  private readonly worker: Worker;

  constructor(onExit: (worker: DecoderWorker) => void) {
    this.worker = new Worker(bootCode(), { eval: true });
    this.worker.unref();
    this.worker.on('message', (reply: DecodeReply) => {
      const job = this.pending.get(reply.id);
      if (!job) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      if (reply.ok) job.resolve(reply.png);
      else job.reject(new ImageError(reply.message, { code: reply.code }));
    });
    const fail = (reason: string) => {
      onExit(this);
      for (const job of this.pending.values())
        job.reject(
          new ImageError(`${job.path}: the DICOM decoder stopped (${reason})`, {
            code: 'DICOM_DECODER',
          }),
        );
      this.pending.clear();
    };
    this.worker.on('error', (error) => fail(error.message));
    this.worker.on('exit', (code) => fail(`exit code ${code}`));
  }

  decode(job: DecodeJob, pending: Pending): void {
    this.pending.set(job.id, pending);
    // A worker with work keeps the process alive until the work is done.
    this.worker.ref();
    this.worker.postMessage(job);
  }
}

const POOL_SIZE = Math.max(1, Math.min(4, availableParallelism() - 1));
const workers: DecoderWorker[] = [];
let nextId = 0;
let workersUnavailable = false;

function leastBusy(): DecoderWorker | undefined {
  if (workersUnavailable) return undefined;
  if (workers.length < POOL_SIZE) {
    try {
      const worker = new DecoderWorker((gone) => {
        const at = workers.indexOf(gone);
        if (at >= 0) workers.splice(at, 1);
      });
      workers.push(worker);
      return worker;
    } catch {
      workersUnavailable = true;
      return undefined;
    }
  }
  return workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
}

/** dicomToPng in a worker thread (or here, where workers are not available). */
export function dicomToPngInWorker(
  bytes: Uint8Array,
  path: string,
  options: DicomRenderOptions = {},
): Promise<Uint8Array> {
  const worker = leastBusy();
  if (!worker) return dicomToPng(bytes, path, options);
  return new Promise((resolve, reject) => {
    worker.decode({ id: nextId++, bytes, path, window: options.window }, { path, resolve, reject });
  });
}
