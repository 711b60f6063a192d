import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCaptionsJsonl } from '../formats/captions-jsonl.js';
import { captionParts } from '../formats/metric-files.js';
import { createDraws, createResampleJob, runLeftoverResamples, runResamples } from './bootstrap.js';
import { createMetric } from './registry.js';
import { MAX_RESAMPLE_HELPERS, spareCores, startResampleHelpers } from './resample-helpers.js';
import { type CaptionItem, scoreCaptions } from './score.js';
import { seededRandom } from './statistics.js';

const corpus = fileURLToPath(new URL('../../test/fixtures/parity/corpus.jsonl', import.meta.url));
const items: CaptionItem[] = readFileSync(corpus, 'utf8')
  .split('\n')
  .filter((line) => line !== '')
  .map((line) => JSON.parse(line) as CaptionItem);

/** A 15-column table of n items, like the default metrics' (counts and means). */
function table(n: number): Float64Array[] {
  const random = seededRandom(n);
  return Array.from({ length: 15 }, (_, j) =>
    Float64Array.from({ length: n }, () => (j < 10 ? Math.floor(random() * 30) : random())),
  );
}

describe('resample helpers', () => {
  it('leaves a core each to the main thread and the metric worker, and at most 6 in all', () => {
    expect(spareCores(1, 2)).toBe(0);
    expect(spareCores(0, 2)).toBe(1);
    expect(spareCores(1, 4)).toBe(2);
    expect(spareCores(1, 64)).toBe(MAX_RESAMPLE_HELPERS);
    expect(spareCores(1, 1)).toBe(0);
  });

  it('draw ahead and resample with this thread: the same sums as this thread alone', async () => {
    const columns = table(3001);
    const alone = createResampleJob(columns, 200, 7);
    runResamples(alone);

    const shared = createResampleJob(columns, 200, 7);
    const draws = createDraws(3001, 200, 7);
    const helpers = startResampleHelpers(3);
    expect(helpers.count).toBe(3);
    helpers.draw(draws);
    // Let them draw a while before the job comes, as they do while the metrics are scored.
    while (Atomics.load(draws.next, 0) < 60) await new Promise((r) => setTimeout(r, 5));
    shared.draws = draws;
    const helped = helpers.resample(shared);
    runResamples(shared);
    await helped;
    runLeftoverResamples(shared);
    helpers.stop();
    expect([...shared.sums]).toEqual([...alone.sums]);
    // Every resample claimed was drawn once: none was drawn by two threads.
    const drawn = Array.from(draws.ready).filter((flag) => flag === 1).length;
    expect(drawn).toBeGreaterThanOrEqual(60);
    expect(drawn).toBeLessThanOrEqual(Math.min(Atomics.load(draws.next, 0), 200));
  });

  it('resolves at once when the helpers have stopped, and this thread does their share', async () => {
    const columns = table(500);
    const alone = createResampleJob(columns, 40, 3);
    runResamples(alone);
    const job = createResampleJob(columns, 40, 3);
    const helpers = startResampleHelpers(2);
    helpers.stop();
    await helpers.resample(job);
    runResamples(job);
    runLeftoverResamples(job);
    expect([...job.sums]).toEqual([...alone.sums]);
  });

  it('takes over helpers started ahead (the same sums), and starts more when more are wanted', async () => {
    const ahead = startResampleHelpers(3);
    const helpers = startResampleHelpers(1, ahead);
    expect(helpers.count).toBe(1);
    const columns = table(400);
    const alone = createResampleJob(columns, 30, 2);
    runResamples(alone);
    const job = createResampleJob(columns, 30, 2);
    const helped = helpers.resample(job);
    runResamples(job);
    await helped;
    runLeftoverResamples(job);
    helpers.stop();
    expect([...job.sums]).toEqual([...alone.sums]);
    // More wanted than were started ahead: the rest are started.
    const more = startResampleHelpers(2, startResampleHelpers(1));
    expect(more.count).toBe(2);
    more.stop();
  });

  it('give every metric the same intervals as no helper, with and without the metric worker', async () => {
    const metrics = () =>
      Promise.all(['bleu', 'rouge', 'cider', 'meteor'].map((id) => createMetric(id)));
    const options = { bootstrap: 200, seed: 9 };
    const none = await scoreCaptions(items, {
      ...options,
      metrics: await metrics(),
      parallel: false,
      resampleHelpers: 0,
    });
    for (const parallel of [false, true]) {
      const helped = await scoreCaptions(items, {
        ...options,
        metrics: await metrics(),
        parallel,
        resampleHelpers: 3,
      });
      for (const column of none.columns) {
        expect(helped.summary[column]!.ci95, column).not.toBeNull();
        expect(helped.summary[column], column).toEqual(none.summary[column]);
        expect([...helped.values[column]!], column).toEqual([...none.values[column]!]);
      }
      // With the metric worker, METEOR goes to the helpers (3 of them), ROUGE to the worker.
      expect(helped.workerMetrics).toEqual(parallel ? ['rouge', 'meteor'] : []);
    }
  });

  it('make the with-metrics caption columns of a JSONL file as this thread does, or none', async () => {
    const jsonl = readFileSync(corpus);
    const bytes = new Uint8Array(new SharedArrayBuffer(jsonl.length));
    bytes.set(jsonl);
    const helpers = startResampleHelpers(2);
    try {
      const parts = await helpers.captionParts({ bytes, path: corpus });
      const here = captionParts(parseCaptionsJsonl(jsonl, corpus));
      expect(parts).toBeDefined();
      expect(Buffer.compare(Buffer.from(parts!.bytes), Buffer.from(here.bytes))).toBe(0);
      expect([...parts!.offsets]).toEqual([...here.offsets]);
      // A file that does not parse: none, and the helper goes on.
      const broken = new TextEncoder().encode('{"id": "a", "candidate": \n');
      expect(await helpers.captionParts({ bytes: broken, path: 'broken.jsonl' })).toBeUndefined();
      expect(await helpers.captionParts({ bytes, path: corpus })).toBeDefined();
    } finally {
      helpers.stop();
    }
    expect(await startResampleHelpers(0).captionParts({ bytes, path: corpus })).toBeUndefined();
  });
});
