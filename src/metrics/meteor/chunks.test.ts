import { describe, expect, it } from 'vitest';
import { randomCaption, tokenizedInput } from '../../../test/support/metric-input.js';
import { startResampleHelpers } from '../resample-helpers.js';
import { seededRandom } from '../statistics.js';
import { pythonSplitCaptions } from '../token-ids.js';
import type { MetricInput } from '../types.js';
import { createMeteorJob, defaultMeteorScorer, meteorResultOf, runMeteorChunks } from './chunks.js';
import { createMeteorMetric } from './index.js';

/** Captions over words with stems and synonyms in common, so that every stage matches. */
function input(items: number): MetricInput {
  const random = seededRandom(items);
  const words =
    'the a lesion lesions mass masses tumor tumour chest thorax lung lungs left right shows showing image scan ct mri'.split(
      ' ',
    );
  const caption = () => randomCaption(random, words, 3, 12);
  const candidates = Array.from({ length: items }, caption);
  return tokenizedInput(
    candidates,
    candidates.map(() => Array.from({ length: 1 + Math.floor(random() * 3) }, caption)),
  );
}

describe('METEOR in chunks', () => {
  it('gives the values and corpus value of the metric, whichever thread scores a chunk', async () => {
    const data = input(1800);
    const alone = await createMeteorMetric().score(data);
    const job = createMeteorJob(pythonSplitCaptions(data));
    // A thread that claimed the first chunk and died before finishing it.
    Atomics.add(job.claims, 0, 1);
    job.values.fill(0.5, 0, 10);
    runMeteorChunks(job, defaultMeteorScorer());
    expect(Atomics.load(job.claims, 1)).toBe(0);
    const result = meteorResultOf(job, defaultMeteorScorer);
    expect([...result.values.meteor!]).toEqual([...alone.values.meteor!]);
    expect(result.corpus).toEqual(alone.corpus);
  });

  it('is scored by helper threads with WordNet of their own as here', async () => {
    const data = input(1500);
    const alone = await createMeteorMetric().score(data);
    const job = createMeteorJob(pythonSplitCaptions(data));
    const helpers = startResampleHelpers(3, undefined, { meteorHelpers: 2 });
    expect(helpers.meteorCount).toBe(2);
    try {
      await helpers.meteor(job);
    } finally {
      helpers.stop();
    }
    expect([...job.claims.subarray(1)].every((done) => done === 1)).toBe(true);
    const result = meteorResultOf(job, () => {
      throw new Error('no chunk is left to score here');
    });
    expect([...result.values.meteor!]).toEqual([...alone.values.meteor!]);
  });
});
