/**
 * Runs some of an evaluation's metrics in a worker thread while the others run here. The
 * worker can be started before the captions are even read (prestartWorker), loading its
 * modules meanwhile; it gets the texts, tokenizes the candidates for this thread while
 * this thread tokenizes the references, then gets the captions' token ids as soon as they
 * exist (typed arrays, cheap to copy, unlike millions of token strings) and sends back
 * only its column arrays, moved, not copied.
 */
import { Worker } from 'node:worker_threads';
import { packStrings, unpackStrings } from '../core/packed-strings.js';
import { workerBootCode } from '../core/worker-boot.js';
import type { PrecomputedDraws, ResampleJob } from './bootstrap.js';
import type { EncodedCaptions, EncodedSentences } from './token-ids.js';
import type { TokenizerId } from './tokenize.js';
import type { MetricRecipe, MetricResult } from './types.js';

export interface WorkerJob {
  ids: string[];
  candidates: string[];
  references: (readonly string[])[];
  recipes: MetricRecipe[];
  /** The bootstrap's resamples, which the worker draws ahead (drawNext) once it has scored. */
  draws?: PrecomputedDraws;
  /**
   * Have the worker tokenize the candidates with this tokenizer first, for this thread
   * (RunningJob.candidateTokens), as one run, as this thread would.
   */
  tokenizeCandidates?: TokenizerId;
  /** How many of the candidates, from the first (default: all); this thread does the rest. */
  candidatesToTokenize?: number;
}

/** After the job and the token ids (EncodedCaptions), what the worker may be sent. */
export type ToWorker = { resample: ResampleJob };

export type WorkerReply =
  | { ok: true; results: MetricResult[] }
  | { ok: false; name: string; message: string };

/** What the worker posts: the candidates' tokens (if asked), its reply, then 'resampled's. */
export type FromWorker = { candidates: EncodedSentences } | WorkerReply | 'resampled';

export interface RunningJob {
  /**
   * The candidates' tokens (WorkerJob.candidatesToTokenize of them), encoded on their own,
   * when the job asked for them (WorkerJob.tokenizeCandidates); null when the worker did
   * not send them (tokenize them here).
   */
  readonly candidateTokens: Promise<EncodedSentences | null>;
  /** Hands the worker the captions' tokens (encodedCaptions of the same items). */
  sendTokens(encoded: EncodedCaptions): void;
  /** The recipes' results in order; null when no worker could run them (score them here). */
  readonly results: Promise<MetricResult[] | { failed: Error } | null>;
  /**
   * Once the results are in, has the worker take part in a bootstrap (runResamples);
   * resolves when it has no more resamples to claim, false if it could not help.
   */
  resample(job: ResampleJob): Promise<boolean>;
  stop(): void;
}

/**
 * The job as the worker receives it: the texts as one string and where each ends, which
 * crosses threads as one copy instead of a structured clone of 10^5 strings.
 */
export interface PackedWorkerJob {
  /**
   * Set when the worker parsed the captions file itself (shareCaptionsJsonl): its
   * scored rows are the job's items (checked against these figures), and `text` is empty.
   */
  fromCaptionsJsonl?: CaptionsCheck;
  text: string;
  /** End offset in `text` of each id, then each candidate, then each reference. */
  ends: Uint32Array;
  referenceCounts: Uint32Array;
  recipes: MetricRecipe[];
  draws?: PrecomputedDraws;
  tokenizeCandidates?: TokenizerId;
  candidatesToTokenize?: number;
}

/** Figures of a job's texts that the worker checks its own parse against. */
export interface CaptionsCheck {
  items: number;
  references: number;
  /** Characters of all ids, candidates and references. */
  length: number;
}

export function captionsCheck(
  job: Pick<WorkerJob, 'ids' | 'candidates' | 'references'>,
): CaptionsCheck {
  let references = 0;
  let length = 0;
  for (let k = 0; k < job.ids.length; k++) {
    length += job.ids[k]!.length + job.candidates[k]!.length;
    for (const reference of job.references[k]!) length += reference.length;
    references += job.references[k]!.length;
  }
  return { items: job.ids.length, references, length };
}

/** The job without its texts, for a worker that parsed them itself. */
function packWorkerJobFromJsonl(job: WorkerJob): PackedWorkerJob {
  return {
    ...packWorkerJob({ ...job, ids: [], candidates: [], references: [] }),
    fromCaptionsJsonl: captionsCheck(job),
  };
}

export function packWorkerJob(job: WorkerJob): PackedWorkerJob {
  const items = job.ids.length;
  const references = job.references.flat();
  const { text, ends } = packStrings([...job.ids, ...job.candidates, ...references]);
  const referenceCounts = new Uint32Array(items);
  for (let k = 0; k < items; k++) referenceCounts[k] = job.references[k]!.length;
  return {
    text,
    ends,
    referenceCounts,
    recipes: job.recipes,
    ...(job.draws === undefined ? {} : { draws: job.draws }),
    ...(job.tokenizeCandidates === undefined ? {} : { tokenizeCandidates: job.tokenizeCandidates }),
    ...(job.candidatesToTokenize === undefined
      ? {}
      : { candidatesToTokenize: job.candidatesToTokenize }),
  };
}

export function unpackWorkerJob(packed: PackedWorkerJob): WorkerJob {
  const { referenceCounts } = packed;
  const items = referenceCounts.length;
  const strings = unpackStrings(packed);
  const ids = strings.slice(0, items);
  const candidates = strings.slice(items, 2 * items);
  let start = 2 * items;
  const references = Array.from(referenceCounts, (count) => {
    start += count;
    return strings.slice(start - count, start);
  });
  return {
    ids,
    candidates,
    references,
    recipes: packed.recipes,
    ...(packed.draws === undefined ? {} : { draws: packed.draws }),
    ...(packed.tokenizeCandidates === undefined
      ? {}
      : { tokenizeCandidates: packed.tokenizeCandidates }),
    ...(packed.candidatesToTokenize === undefined
      ? {}
      : { candidatesToTokenize: packed.candidatesToTokenize }),
  };
}

/** What a worker started ahead may do while it waits for its job. */
export interface WorkerAhead {
  /** Load the bundled WordNet (METEOR's) meanwhile. */
  wordnet?: boolean;
}

/** A worker started ahead of its job (see prestartWorker). */
export interface IdleWorker {
  /** Undefined when it could not start. */
  readonly worker: Worker | undefined;
  /**
   * Hands it the bytes of the JSONL captions file that this thread parses meanwhile (in
   * shared memory, they are not copied): it parses them too, and the job then goes without
   * texts, its items being the file's scored rows (isScoredRow). Only for a job of exactly
   * those items.
   */
  shareCaptionsJsonl(bytes: Uint8Array, path: string): void;
  /** Whether shareCaptionsJsonl was called. */
  readonly sharedCaptions: boolean;
  /** Ends it, unless a job took it (startWorkerJob). */
  stop(): void;
}

/** What the worker may get before its job. */
export type BeforeJob = { captionsJsonl: { bytes: Uint8Array; path: string } };

const taken = new WeakSet<Worker>();

/**
 * Starts a worker before its job exists, so that its start-up (Node's, its modules')
 * overlaps this thread's reading of the captions. Hand it to startWorkerJob, or stop it.
 * It holds the process open only once it has a job.
 */
export function prestartWorker(options: WorkerAhead = {}): IdleWorker {
  let worker: Worker | undefined;
  try {
    worker = new Worker(workerBootCode(import.meta.url, 'score-worker'), {
      eval: true,
      workerData: options,
    });
    worker.unref();
    worker.on('error', () => {});
  } catch {
    worker = undefined;
  }
  let sharedCaptions = false;
  return {
    worker,
    shareCaptionsJsonl(bytes, path) {
      if (worker === undefined) return;
      worker.postMessage({ captionsJsonl: { bytes, path } } satisfies BeforeJob);
      sharedCaptions = true;
    },
    get sharedCaptions() {
      return sharedCaptions;
    },
    stop: () => {
      if (worker !== undefined && !taken.has(worker)) void worker.terminate();
    },
  };
}

/** Starts (or, given an idle worker, hands that one) the job. */
export function startWorkerJob(job: WorkerJob, idle?: IdleWorker): RunningJob {
  let worker: Worker;
  try {
    if (idle !== undefined && idle.worker === undefined) throw new Error('no worker');
    worker =
      idle?.worker ?? new Worker(workerBootCode(import.meta.url, 'score-worker'), { eval: true });
    taken.add(worker);
    worker.ref();
    worker.postMessage(
      idle?.sharedCaptions === true ? packWorkerJobFromJsonl(job) : packWorkerJob(job),
    );
  } catch {
    return {
      candidateTokens: Promise.resolve(null),
      sendTokens: () => {},
      results: Promise.resolve(null),
      resample: async () => false,
      stop: () => {},
    };
  }
  let alive = true;
  /** Set once the worker's results are in (so resample can post without waiting a tick). */
  let scored = false;
  /** Who waits for the worker's 'resampled'. */
  let onResampled: (() => void) | undefined;
  const ended = new Promise<void>((resolve) => {
    worker.once('exit', () => {
      alive = false;
      resolve();
    });
  });
  let gotCandidates: (tokens: EncodedSentences | null) => void = () => {};
  const candidateTokens = new Promise<EncodedSentences | null>((resolve) => {
    gotCandidates = resolve;
  });
  const results = new Promise<MetricResult[] | { failed: Error } | null>((resolve) => {
    worker.on('message', (message: FromWorker) => {
      if (message === 'resampled') {
        onResampled?.();
        return;
      }
      if ('candidates' in message) {
        gotCandidates(message.candidates);
        return;
      }
      // The reply: candidates not sent by now never will be.
      gotCandidates(null);
      if (message.ok) {
        scored = true;
        // It stays for the bootstrap, without holding the process open meanwhile.
        worker.unref();
        resolve(message.results);
      } else {
        const failed = new Error(message.message);
        failed.name = message.name;
        resolve({ failed });
        void worker.terminate();
      }
    });
    // The worker could not start or died: the caller scores those metrics itself.
    worker.once('error', () => {
      gotCandidates(null);
      resolve(null);
    });
    void ended.then(() => {
      gotCandidates(null);
      resolve(null);
    });
  });
  return {
    candidateTokens,
    sendTokens: (encoded) => worker.postMessage(encoded),
    results,
    async resample(job) {
      // Posted before the first await when the results are in: the caller goes on with
      // its own share at once, and the worker must not wait for that to yield.
      if (!scored && !Array.isArray(await results)) return false;
      if (!alive) return false;
      worker.ref();
      const done = new Promise<boolean>((resolve) => {
        onResampled = () => resolve(true);
        void ended.then(() => resolve(false));
      });
      worker.postMessage({ resample: job } satisfies ToWorker);
      const helped = await done;
      onResampled = undefined;
      worker.unref();
      return helped;
    },
    stop: () => void worker.terminate(),
  };
}
