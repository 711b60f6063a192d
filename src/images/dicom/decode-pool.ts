/**
 * Decodes DICOM files in worker threads. The codecs (CharLS, OpenJPEG in WASM, the lossless
 * JPEG decoder in JavaScript) are synchronous: in the main thread a JPEG 2000 slice would
 * stop everything else (journal writes, server requests) for tens of milliseconds, and only
 * one core would decode. Jobs go to the least busy of a few workers. A worker that dies, or
 * spends longer than DECODE_TIMEOUT_MS on one file (a damaged file that sends a codec into a
 * loop: without a limit, every --resume would stall on it again), fails the file it was
 * decoding (an error row) and its other files go to the others; where no worker can start,
 * files decode in this thread.
 */

import { Worker } from 'node:worker_threads';
import { usableCores } from '../../core/cgroup.js';
import { ImageError } from '../../core/errors.js';
import { workerBootCode } from '../../core/worker-boot.js';
import { type DicomRenderOptions, dicomToPng } from './decode.js';

export interface DecodeJob {
  id: number;
  bytes: Uint8Array;
  path: string;
  options: DicomRenderOptions;
}

export type DecodeReply =
  | { id: number; ok: true; png: Uint8Array }
  | { id: number; ok: false; message: string; code: string };

interface Pending {
  job: DecodeJob;
  resolve(png: Uint8Array): void;
  reject(error: Error): void;
}

/** The longest one file may take to decode; the largest real studies take a few seconds. */
export const DECODE_TIMEOUT_MS = 120_000;

export function startDecodeWorker(): Worker {
  return new Worker(workerBootCode(import.meta.url, 'decode-worker'), { eval: true });
}

class PoolWorker {
  /** Jobs sent and not answered, oldest first (the worker decodes them in this order). */
  readonly pending = new Map<number, Pending>();
  /** Ends the worker when the file it is decoding takes too long. */
  private watchdog: NodeJS.Timeout | undefined;
  private readonly die: (reason: string) => void;

  constructor(
    private readonly worker: Worker,
    onDeath: (gone: PoolWorker, reason: string) => void,
    private readonly timeoutMs: number,
  ) {
    worker.unref();
    worker.on('message', (reply: DecodeReply) => {
      const entry = this.pending.get(reply.id);
      if (!entry) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      this.watch();
      if (reply.ok) entry.resolve(reply.png);
      else entry.reject(new ImageError(reply.message, { code: reply.code }));
    });
    let dead = false;
    this.die = (reason: string) => {
      if (dead) return;
      dead = true;
      clearTimeout(this.watchdog);
      onDeath(this, reason);
    };
    worker.on('error', (error) => this.die(error.message));
    worker.on('exit', (code) => this.die(`exit code ${code}`));
  }

  send(entry: Pending): void {
    this.pending.set(entry.job.id, entry);
    // A worker with work keeps the process alive until the work is done.
    this.worker.ref();
    this.worker.postMessage(entry.job);
    if (this.pending.size === 1) this.watch();
  }

  /** Times the oldest job, the one being decoded (none: no timer). */
  private watch(): void {
    clearTimeout(this.watchdog);
    if (this.pending.size === 0) return;
    this.watchdog = setTimeout(() => {
      this.die(`it took longer than ${Math.round(this.timeoutMs / 1000)} s`);
      void this.worker.terminate();
    }, this.timeoutMs);
    this.watchdog.unref();
  }
}

export class DecodePool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 0;
  private unavailable = false;

  constructor(
    private readonly size = Math.max(1, Math.min(4, usableCores() - 1)),
    private readonly start: () => Worker = startDecodeWorker,
    private readonly timeoutMs = DECODE_TIMEOUT_MS,
  ) {}

  /** dicomToPng in a worker thread (or here, where workers are not available). */
  decode(bytes: Uint8Array, path: string, options: DicomRenderOptions = {}): Promise<Uint8Array> {
    const job: DecodeJob = { id: this.nextId++, bytes, path, options };
    return new Promise((resolve, reject) => this.dispatch({ job, resolve, reject }));
  }

  private dispatch(entry: Pending): void {
    const worker = this.leastBusy();
    if (worker) worker.send(entry);
    else
      dicomToPng(entry.job.bytes, entry.job.path, entry.job.options).then(
        entry.resolve,
        entry.reject,
      );
  }

  private leastBusy(): PoolWorker | undefined {
    if (this.unavailable) return undefined;
    if (this.workers.length < this.size) {
      try {
        const worker = new PoolWorker(
          this.start(),
          (gone, reason) => this.bury(gone, reason),
          this.timeoutMs,
        );
        this.workers.push(worker);
        return worker;
      } catch {
        this.unavailable = true;
        return undefined;
      }
    }
    return this.workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
  }

  private bury(gone: PoolWorker, reason: string): void {
    this.workers.splice(this.workers.indexOf(gone), 1);
    const [first, ...rest] = gone.pending.values();
    gone.pending.clear();
    first?.reject(
      new ImageError(`${first.job.path}: the DICOM decoder stopped on this file (${reason})`, {
        code: 'DICOM_DECODER',
      }),
    );
    for (const entry of rest) this.dispatch(entry);
  }
}

let shared: DecodePool | undefined;

/** dicomToPng in the process's shared pool of decoder workers. */
export function dicomToPngInWorker(
  bytes: Uint8Array,
  path: string,
  options: DicomRenderOptions = {},
): Promise<Uint8Array> {
  shared ??= new DecodePool();
  return shared.decode(bytes, path, options);
}
