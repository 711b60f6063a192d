import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MetricError } from '../core/errors.js';
import { startWorkerJob } from './metric-worker.js';
import { createMetric } from './registry.js';
import { type CaptionItem, scoreCaptions } from './score.js';

const corpus = fileURLToPath(new URL('../../test/fixtures/parity/corpus.jsonl', import.meta.url));
const items: CaptionItem[] = readFileSync(corpus, 'utf8')
  .split('\n')
  .filter((line) => line !== '')
  .map((line) => JSON.parse(line) as CaptionItem);

async function metrics() {
  return Promise.all(['bleu', 'rouge', 'cider', 'meteor'].map((id) => createMetric(id)));
}

describe('metrics in a worker thread', () => {
  it('runs ROUGE and METEOR there and gives exactly the single-thread scores', async () => {
    const serial = await scoreCaptions(items, { metrics: await metrics(), parallel: false });
    const parallel = await scoreCaptions(items, { metrics: await metrics(), parallel: true });
    expect(serial.workerMetrics).toEqual([]);
    expect(parallel.workerMetrics).toEqual(['rouge', 'meteor']);
    expect(parallel.columns).toEqual(serial.columns);
    for (const column of serial.columns) {
      expect([...parallel.values[column]!], column).toEqual([...serial.values[column]!]);
      expect(parallel.summary[column]).toEqual(serial.summary[column]);
    }
  });

  it('really starts a worker and moves the columns back', async () => {
    const job = startWorkerJob({
      ids: items.slice(0, 20).map((item) => item.id),
      candidates: items.slice(0, 20).map((item) => item.candidate),
      references: items.slice(0, 20).map((item) => item.references),
      tokenizer: 'coco',
      recipes: [{ id: 'rouge', rougeStemmer: true }, { id: 'meteor' }],
    });
    const results = await job.results;
    expect(Array.isArray(results)).toBe(true);
    const [rouge, meteor] = results as { values: Record<string, Float64Array> }[];
    expect(Object.keys(rouge!.values).sort()).toEqual(['rouge_1', 'rouge_2', 'rouge_l']);
    expect(meteor!.values.meteor).toBeInstanceOf(Float64Array);
    expect(meteor!.values.meteor).toHaveLength(20);
  });

  it("reports a metric's failure in the worker as that error, naming the item", async () => {
    const job = startWorkerJob({
      ids: ['fine', 'img-9'],
      candidates: ['a mass', 'a mass'],
      references: [['a mass'], []],
      tokenizer: 'coco',
      recipes: [{ id: 'meteor' }],
    });
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
});
