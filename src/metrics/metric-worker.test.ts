import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MetricError } from '../core/errors.js';
import { isScoredRow, parseCaptionsJsonl, scoredItemOf } from '../formats/captions-jsonl.js';
import { packWorkerJob, prestartWorker, startWorkerJob, unpackWorkerJob } from './metric-worker.js';
import { createMetric } from './registry.js';
import { type CaptionItem, metricInput, scoreCaptions, workerCandidateShare } from './score.js';
import { encodedCaptions } from './token-ids.js';

const corpus = fileURLToPath(new URL('../../test/fixtures/parity/corpus.jsonl', import.meta.url));
const items: CaptionItem[] = readFileSync(corpus, 'utf8')
  .split('\n')
  .filter((line) => line !== '')
  .map((line) => JSON.parse(line) as CaptionItem);

async function metrics() {
  return Promise.all(['bleu', 'rouge', 'cider', 'meteor'].map((id) => createMetric(id)));
}

describe('metrics in a worker thread', () => {
  it('runs ROUGE and METEOR there and gives exactly the single-thread scores and intervals', async () => {
    const options = { bootstrap: 300, seed: 3 };
    const serial = await scoreCaptions(items, {
      ...options,
      metrics: await metrics(),
      parallel: false,
    });
    const parallel = await scoreCaptions(items, {
      ...options,
      metrics: await metrics(),
      parallel: true,
    });
    expect(serial.workerMetrics).toEqual([]);
    expect(parallel.workerMetrics).toEqual(['rouge', 'meteor']);
    expect(parallel.columns).toEqual(serial.columns);
    for (const column of serial.columns) {
      expect([...parallel.values[column]!], column).toEqual([...serial.values[column]!]);
      // The worker took part in the bootstrap: the intervals are the same.
      expect(parallel.summary[column]!.ci95).not.toBeNull();
      expect(parallel.summary[column]).toEqual(serial.summary[column]);
    }
  });

  it('has the worker tokenize no candidates when it scores METEOR, half of them for ROUGE alone', async () => {
    const [rouge, meteor] = await Promise.all([createMetric('rouge'), createMetric('meteor')]);
    expect(workerCandidateShare([rouge!, meteor!])).toBe(0);
    expect(workerCandidateShare([meteor!])).toBe(0);
    expect(workerCandidateShare([rouge!])).toBe(0.5);
    // Both ways give the single-thread scores.
    for (const ids of [
      ['bleu', 'rouge'],
      ['cider', 'meteor'],
    ]) {
      const some = () => Promise.all(ids.map((id) => createMetric(id)));
      const serial = await scoreCaptions(items, { metrics: await some(), parallel: false });
      const parallel = await scoreCaptions(items, { metrics: await some(), parallel: true });
      expect(parallel.workerMetrics).toEqual([ids[1]]);
      for (const column of serial.columns) {
        expect([...parallel.values[column]!], column).toEqual([...serial.values[column]!]);
      }
    }
  });

  it('sends the texts packed into one string and unpacks exactly the same arrays', () => {
    const job = {
      ids: ['a', '', 'c\u{1F600}', '4'],
      candidates: ['', 'x\ny', '\ud800 lone', 'é'],
      references: [['r1', ''], ['only'], [], ['p', 'q', 'r']],
      recipes: [{ id: 'meteor' as const }],
    };
    const packed = packWorkerJob(job);
    expect(typeof packed.text).toBe('string');
    expect(unpackWorkerJob(structuredClone(packed))).toEqual(job);
  });

  it('really starts a worker and moves the columns back', async () => {
    const some = items.slice(0, 20);
    const job = startWorkerJob({
      ids: some.map((item) => item.id),
      candidates: some.map((item) => item.candidate),
      references: some.map((item) => item.references),
      recipes: [{ id: 'rouge', rougeStemmer: true }, { id: 'meteor' }],
    });
    const input = metricInput(some, 'coco');
    job.sendTokens(encodedCaptions(input));
    const results = await job.results;
    expect(Array.isArray(results)).toBe(true);
    const [rouge, meteor] = results as { values: Record<string, Float64Array> }[];
    expect(Object.keys(rouge!.values).sort()).toEqual(['rouge_1', 'rouge_2', 'rouge_l']);
    expect(meteor!.values.meteor).toBeInstanceOf(Float64Array);
    expect(meteor!.values.meteor).toHaveLength(20);
    const here = await (await createMetric('meteor')).score(input);
    expect([...meteor!.values.meteor!]).toEqual([...here.values.meteor!]);
  });

  it("reports a metric's failure in the worker as that error, naming the item", async () => {
    const broken = [
      { id: 'fine', candidate: 'a mass', references: ['a mass'] },
      { id: 'img-9', candidate: 'a mass', references: [] },
    ];
    const job = startWorkerJob({
      ids: broken.map((item) => item.id),
      candidates: broken.map((item) => item.candidate),
      references: broken.map((item) => item.references),
      recipes: [{ id: 'meteor' }],
    });
    job.sendTokens(encodedCaptions(metricInput(broken, 'coco')));
    const results = await job.results;
    expect(results).toMatchObject({ failed: { name: 'MetricError' } });
    expect((results as { failed: Error }).failed.message).toMatch(/img-9/);
  });

  it('keeps custom metrics (no recipe) in this thread', async () => {
    const [bleu, rouge] = await metrics();
    const { recipe: _, ...plainRouge } = rouge!;
    const scored = await scoreCaptions(items.slice(0, 10), {
      metrics: [bleu!, plainRouge],
      parallel: true,
    });
    expect(scored.values.rouge_l).toHaveLength(10);
    expect(scored.workerMetrics).toEqual([]);
    await expect(
      scoreCaptions([{ id: 'x', candidate: 'a', references: [] }], {
        metrics: await metrics(),
        parallel: true,
      }),
    ).rejects.toThrow(MetricError);
  });

  it('takes a worker started ahead, which tokenizes the candidates as this thread would', async () => {
    const some = items.slice(0, 30);
    const idle = prestartWorker();
    expect(idle.worker).toBeDefined();
    const job = startWorkerJob(
      {
        ids: some.map((item) => item.id),
        candidates: some.map((item) => item.candidate),
        references: some.map((item) => item.references),
        recipes: [{ id: 'meteor' }],
        tokenizeCandidates: 'coco',
      },
      idle,
    );
    const candidates = await job.candidateTokens;
    const encoded = encodedCaptions(metricInput(some, 'coco'));
    const words = (vocabulary: readonly string[], tokens: Int32Array) =>
      [...tokens].map((id) => vocabulary[id]);
    expect(candidates).not.toBeNull();
    expect(words(candidates!.vocabulary, candidates!.tokens)).toEqual(
      words(encoded.vocabulary, encoded.tokens.subarray(0, encoded.starts[some.length])),
    );
    expect([...candidates!.starts]).toEqual([...encoded.starts.subarray(0, some.length + 1)]);
    job.sendTokens(encoded);
    expect(Array.isArray(await job.results)).toBe(true);
    job.stop();
  });

  it('stops a worker started ahead when none is wanted', async () => {
    const idle = prestartWorker();
    const exited = new Promise((resolve) => idle.worker!.once('exit', resolve));
    const scored = await scoreCaptions(items.slice(0, 10), {
      metrics: await metrics(),
      parallel: false,
      worker: idle,
    });
    expect(scored.workerMetrics).toEqual([]);
    await exited;
  });

  it('gives the same scores with a worker started ahead', async () => {
    const options = { bootstrap: 50, seed: 5 };
    const serial = await scoreCaptions(items, {
      ...options,
      metrics: await metrics(),
      parallel: false,
    });
    const ahead = await scoreCaptions(items, {
      ...options,
      metrics: await metrics(),
      parallel: true,
      worker: prestartWorker(),
    });
    expect(ahead.workerMetrics).toEqual(['rouge', 'meteor']);
    for (const column of serial.columns) {
      expect([...ahead.values[column]!], column).toEqual([...serial.values[column]!]);
      expect(ahead.summary[column]).toEqual(serial.summary[column]);
    }
  });

  it('gives the same scores when the worker parsed the JSONL text itself, and falls back when its items differ', async () => {
    const options = { bootstrap: 50, seed: 5 };
    const jsonl = readFileSync(corpus);
    // The file's scored items, as evaluate reads them (its blank references left out).
    const items = parseCaptionsJsonl(jsonl, corpus).filter(isScoredRow).map(scoredItemOf);
    const serial = await scoreCaptions(items, {
      ...options,
      metrics: await metrics(),
      parallel: false,
    });
    const shared = prestartWorker();
    shared.shareCaptionsJsonl(jsonl, corpus);
    expect(shared.sharedCaptions).toBe(true);
    const fromText = await scoreCaptions(items, {
      ...options,
      metrics: await metrics(),
      parallel: true,
      worker: shared,
    });
    expect(fromText.workerMetrics).toEqual(['rouge', 'meteor']);
    // Items that are not the file's: the worker's check fails, and this thread scores.
    const other = prestartWorker();
    other.shareCaptionsJsonl(jsonl, corpus);
    const changed = items.map((item, k) => (k === 0 ? { ...item, candidate: 'x' } : item));
    const fallback = await scoreCaptions(changed, {
      ...options,
      metrics: await metrics(),
      parallel: true,
      worker: other,
    });
    expect(fallback.workerMetrics).toEqual([]);
    const changedSerial = await scoreCaptions(changed, {
      ...options,
      metrics: await metrics(),
      parallel: false,
    });
    for (const column of serial.columns) {
      expect([...fromText.values[column]!], column).toEqual([...serial.values[column]!]);
      expect(fromText.summary[column]).toEqual(serial.summary[column]);
      expect([...fallback.values[column]!], column).toEqual([...changedSerial.values[column]!]);
    }
  });
});
