/**
 * METEOR of many items in chunks of items that helper threads take (resample-helpers.ts),
 * for the METEOR that the registry makes (the bundled WordNet, NLTK's parameters): on a
 * machine with cores to spare it is the longest metric by far. Each thread has a scorer,
 * WordNet and caches of its own; an item's value does not depend on which thread scores
 * it, and the corpus value is summed in item order, as createMeteorMetric does.
 */

import {
  createClaims,
  runClaimedChunks,
  runLeftoverChunks,
  sharedArray,
  sharedCopy,
} from '../shared-memory.js';
import type { EncodedCaptions } from '../token-ids.js';
import type { MetricResult } from '../types.js';
import { METEOR_COLUMN, sharedDefaultWordNet } from './index.js';
import { MeteorScorer } from './scorer.js';

/** Items per claim. */
const CHUNK_ITEMS = 512;

export interface MeteorJob {
  /** The captions split as METEOR scores them (pythonSplitCaptions), arrays in shared memory. */
  captions: EncodedCaptions;
  values: Float64Array;
  /** Chunks of CHUNK_ITEMS items (shared-memory.ts createClaims). */
  claims: Int32Array;
}

export function createMeteorJob(captions: EncodedCaptions): MeteorJob {
  const items = captions.referenceStarts.length - 1;
  return {
    captions: {
      vocabulary: captions.vocabulary,
      tokens: sharedCopy(captions.tokens),
      starts: sharedCopy(captions.starts),
      referenceStarts: sharedCopy(captions.referenceStarts),
      sentences: captions.sentences,
    },
    values: sharedArray(Float64Array, items),
    claims: createClaims(Math.ceil(items / CHUNK_ITEMS)),
  };
}

/** The scorer of the registry's METEOR (a thread's own). */
export function defaultMeteorScorer(): MeteorScorer {
  return new MeteorScorer({ loadWordNet: sharedDefaultWordNet });
}

/** Claims chunks until none is left, and scores their items with `scorer`. */
export function runMeteorChunks(job: MeteorJob, scorer: MeteorScorer): void {
  let words: Int32Array | undefined;
  runClaimedChunks(job.claims, (c) => {
    words ??= scorer.wordIdsOfCaptions(job.captions);
    scoreChunk(job, scorer, words, c);
  });
}

/**
 * The result, once no thread scores any more: the chunks a thread claimed and did not
 * finish (it died) are scored here, with `scorer`.
 */
export function meteorResultOf(job: MeteorJob, scorer: () => MeteorScorer): MetricResult {
  let own: { scorer: MeteorScorer; words: Int32Array } | undefined;
  runLeftoverChunks(job.claims, (c) => {
    if (own === undefined) {
      const made = scorer();
      own = { scorer: made, words: made.wordIdsOfCaptions(job.captions) };
    }
    scoreChunk(job, own.scorer, own.words, c);
  });
  const { values } = job;
  let sum = 0;
  for (let k = 0; k < values.length; k++) sum += values[k]!;
  const corpus = { meteor: values.length === 0 ? Number.NaN : sum / values.length };
  return { corpus, values: { [METEOR_COLUMN]: values } };
}

function scoreChunk(job: MeteorJob, scorer: MeteorScorer, words: Int32Array, c: number): void {
  const items = job.values.length;
  const to = Math.min(items, (c + 1) * CHUNK_ITEMS);
  for (let k = c * CHUNK_ITEMS; k < to; k++) {
    job.values[k] = scorer.scoreEncoded(job.captions, words, k);
  }
}
