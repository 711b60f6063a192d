/**
 * Tokenizes many sentences on several threads. onnxruntime-node runs a session on the thread
 * that calls it and blocks it, so BERTScore's tokenizing (3.3 s of a 34 s GPU run on 13,000
 * pairs) could not overlap the encoder anyway; split over worker threads it takes a fraction
 * of that. Each worker loads the tokenizer itself and encodes its share exactly as this
 * thread would (sentence-ids.ts); a share whose worker cannot run is encoded here.
 */

import { Worker } from 'node:worker_threads';
import { usableCores } from '../../core/cgroup.js';
import { type PackedStrings, packStrings } from '../../core/packed-strings.js';
import { workerBootCode } from '../../core/worker-boot.js';
import type { SentenceIdsSettings } from './sentence-ids.js';

export interface TokenizeJob extends PackedStrings {
  folder: string;
  settings: SentenceIdsSettings;
}

export type TokenizeReply =
  | { ok: true; ids: Int32Array; ends: Uint32Array }
  | { ok: false; message: string };

/** Below this many sentences a worker costs more to start (about 0.5 s) than it saves. */
export const SENTENCES_PER_WORKER = 2000;
const MAX_WORKERS = 8;

/** How many workers help with `sentences` on this machine (0: this thread alone). */
export function tokenizeWorkers(sentences: number, cores = usableCores()): number {
  return Math.max(
    0,
    Math.min(cores - 1, MAX_WORKERS, Math.floor(sentences / SENTENCES_PER_WORKER)),
  );
}

function runWorker(job: TokenizeJob): Promise<number[][]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerBootCode(import.meta.url, 'tokenize-worker'), {
      eval: true,
      workerData: job,
    });
    let settled = false;
    worker.once('message', (reply: TokenizeReply) => {
      settled = true;
      void worker.terminate();
      if (!reply.ok) return reject(new Error(reply.message));
      const out: number[][] = [];
      let start = 0;
      for (const end of reply.ends) {
        out.push(Array.from(reply.ids.subarray(start, end)));
        start = end;
      }
      resolve(out);
    });
    worker.once('error', (error) => {
      if (!settled) reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`tokenizer worker exited with code ${code}`));
    });
  });
}

/**
 * `encode` of every sentence, in order: this thread takes the first share, `workers` threads
 * (tokenizeWorkers() by default) one share each, loading the tokenizer of `folder`.
 */
export async function encodeSentences(
  sentences: readonly string[],
  encode: (sentence: string) => number[],
  remote: {
    folder: string;
    settings: SentenceIdsSettings;
    /** Told when a worker fails (its share is then encoded here). */
    onWorkerError?: (error: unknown) => void;
  },
  workers = tokenizeWorkers(sentences.length),
): Promise<number[][]> {
  if (workers <= 0) return sentences.map(encode);
  const share = Math.ceil(sentences.length / (workers + 1));
  const shares: string[][] = [];
  for (let start = share; start < sentences.length; start += share) {
    shares.push(sentences.slice(start, start + share));
  }
  const pending = shares.map((part) => {
    const job = { folder: remote.folder, settings: remote.settings, ...packStrings(part) };
    return runWorker(job).catch((error: unknown) => {
      remote.onWorkerError?.(error);
      return part.map(encode);
    });
  });
  const mine = sentences.slice(0, share).map(encode);
  return [mine, ...(await Promise.all(pending))].flat();
}
