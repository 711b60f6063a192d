import { describe, expect, it } from 'vitest';
import { ConfigError, MetricError } from '../core/errors.js';
import { rowsOf } from '../testing/metric-rows.js';
import { compareRuns, pairedRandomizationTest } from './compare.js';
import { createMetric, orderColumns } from './registry.js';
import { type CaptionItem, scoreCaptions } from './score.js';
import { seededRandom } from './statistics.js';
import type { Metric } from './types.js';

const items: CaptionItem[] = Array.from({ length: 60 }, (_, i) => ({
  id: `img${i}`,
  candidate:
    i % 7 === 0
      ? ''
      : `Axial CT shows a ${i % 3 === 0 ? 'large' : 'small'} mass (arrow) in the liver.`,
  references: [
    `Axial CT shows a small mass in the ${i % 2 ? 'liver' : 'kidney'}.`,
    'CT of the abdomen.',
  ],
}));

async function metrics() {
  return Promise.all(['cider', 'rouge', 'bleu'].map((id) => createMetric(id)));
}

describe('scoreCaptions', () => {
  it('gives no confidence interval for one item, and intervals from two on', async () => {
    const one = await scoreCaptions(items.slice(1, 2), { metrics: await metrics(), bootstrap: 50 });
    for (const column of one.columns) expect(one.summary[column]!.ci95, column).toBeNull();
    expect(one.summary.cider!.corpus).toBe(0);
    const two = await scoreCaptions(items.slice(1, 3), { metrics: await metrics(), bootstrap: 50 });
    expect(two.summary.bleu_1!.ci95).not.toBeNull();
  });

  it('orders columns as the output files do and scores empty candidates', async () => {
    const scored = await scoreCaptions(items, { metrics: await metrics() });
    expect(scored.columns).toEqual([
      'bleu_1',
      'bleu_2',
      'bleu_3',
      'bleu_4',
      'rouge_l',
      'cider',
      'rouge_1',
      'rouge_2',
    ]);
    const perItem = rowsOf(scored.values, scored.ids);
    expect(perItem.get('img0')).toMatchObject({
      bleu_1: 0,
      rouge_l: 0,
      cider: 0,
      rouge_1: 0,
    });
    expect(perItem.get('img1')!.bleu_1).toBeGreaterThan(0.5);
    expect(scored.corpusDependentColumns).toEqual(['cider']);
    expect(scored.summary.rouge_l!.corpus).toBeCloseTo(scored.summary.rouge_l!.mean, 12);
    expect(scored.summary.bleu_1!.corpus).not.toBeCloseTo(scored.summary.bleu_1!.mean, 6);
    expect(scored.summary.cider!.ci95).toBeNull();
  });

  it('bootstrap intervals are seeded, deterministic and bracket the corpus value', async () => {
    const a = await scoreCaptions(items, { metrics: await metrics(), bootstrap: 300, seed: 1 });
    const b = await scoreCaptions(items, { metrics: await metrics(), bootstrap: 300, seed: 1 });
    const c = await scoreCaptions(items, { metrics: await metrics(), bootstrap: 300, seed: 2 });
    for (const column of a.columns) {
      const ci = a.summary[column]!.ci95!;
      expect(ci).toEqual(b.summary[column]!.ci95);
      expect(ci[0]).toBeLessThanOrEqual(a.summary[column]!.corpus + 1e-9);
      expect(ci[1]).toBeGreaterThanOrEqual(a.summary[column]!.corpus - 1e-9);
      expect(ci[0]).toBeLessThan(ci[1]);
    }
    expect(c.summary.cider!.ci95).not.toEqual(a.summary.cider!.ci95);
  });

  it('refuses an item without references, and duplicate ids', async () => {
    await expect(
      scoreCaptions([{ id: 'x', candidate: 'a', references: [] }], { metrics: await metrics() }),
    ).rejects.toThrow(MetricError);
    await expect(
      scoreCaptions([items[1]!, items[1]!], { metrics: await metrics() }),
    ).rejects.toThrow(/twice/);
  });

  it('names the item or option a library caller got wrong, instead of failing inside a metric', async () => {
    const score = (bad: unknown, options: Record<string, unknown> = {}) =>
      scoreCaptions(bad as CaptionItem[], { metrics: [], ...options });
    await expect(score([{ id: 'x', candidate: null, references: ['a'] }])).rejects.toThrow(
      new MetricError('item x (#1): candidate must be a string, got null'),
    );
    await expect(score([items[0], { id: 'y', candidate: 'a', references: 'a b' }])).rejects.toThrow(
      'item y (#2): references must be an array of strings',
    );
    await expect(score([{ id: 7, candidate: 'a', references: ['a'] }])).rejects.toThrow(
      'item #1: id must be a string',
    );
    for (const bootstrap of [2.5, Number.NaN, -5]) {
      await expect(score(items.slice(0, 2), { bootstrap })).rejects.toThrow(
        new ConfigError(`bootstrap: a whole number from 0 up, got ${bootstrap}`),
      );
    }
  });
});

describe('scoreCaptions with an AbortSignal', () => {
  const many: CaptionItem[] = Array.from({ length: 6000 }, (_, i) => ({
    id: `img${i}`,
    candidate: `a ${i % 5 === 0 ? 'large' : 'small'} mass in segment ${i % 8}`,
    references: [`a small mass in segment ${i % 9}`],
  }));
  /** A metric that aborts `controller` while it scores (at once, or once the thread is free). */
  const aborting = (controller: AbortController, later: boolean): Metric => ({
    id: 'aborting',
    columns: ['aborting'],
    corpusDependent: false,
    async score(input) {
      if (later) setTimeout(() => controller.abort(), 0);
      else controller.abort();
      return { corpus: {}, values: { aborting: new Float64Array(input.ids.length) } };
    },
  });

  it('stops while the worker thread scores ROUGE', async () => {
    const controller = new AbortController();
    const metrics = [await createMetric('rouge'), await createMetric('bleu')];
    await expect(
      scoreCaptions(many, {
        metrics: [...metrics, aborting(controller, false)],
        parallel: true,
        bootstrap: 100,
        signal: controller.signal,
      }),
    ).rejects.toThrow(/aborted/i);
  });

  it('stops during the bootstrap', async () => {
    const controller = new AbortController();
    await expect(
      scoreCaptions(many, {
        metrics: [await createMetric('bleu'), aborting(controller, true)],
        parallel: false,
        bootstrap: 4000,
        signal: controller.signal,
      }),
    ).rejects.toThrow(/aborted/i);
    // The next call, not aborted, runs as usual.
    const next = await scoreCaptions(many.slice(0, 50), { metrics: [await createMetric('bleu')] });
    expect(next.ids).toHaveLength(50);
  });
});

describe('registry', () => {
  it('lists the valid ids for an unknown one', async () => {
    await expect(createMetric('spice')).rejects.toThrow(ConfigError);
    await expect(createMetric('spice')).rejects.toThrow(/bleu, rouge, meteor, cider, bertscore/);
    expect(orderColumns(['cider', 'x', 'bleu_1', 'meteor'])).toEqual([
      'bleu_1',
      'meteor',
      'cider',
      'x',
    ]);
  });
});

describe('compare', () => {
  it('gives p = 1 for identical runs and a small p for a consistent shift', () => {
    const random = seededRandom(3);
    const a = Array.from({ length: 200 }, () => random());
    expect(pairedRandomizationTest(a, a, 500, seededRandom(1))).toBe(1);
    const b = a.map((v) => v + 0.05 + (random() - 0.5) * 0.01);
    expect(pairedRandomizationTest(a, b, 500, seededRandom(1))).toBeLessThan(0.01);
    const noise = a.map((v) => v + (random() - 0.5) * 0.01);
    expect(pairedRandomizationTest(a, noise, 500, seededRandom(1))).toBeGreaterThan(0.01);
  });

  it('compares on shared images only and reports the set sizes', () => {
    const runA = new Map([
      ['1', { bleu_1: 0.5, cider: 1 }],
      ['2', { bleu_1: 0.6, cider: 2 }],
      ['3', { bleu_1: 0.7, cider: 3 }],
    ]);
    const runB = new Map([
      ['2', { bleu_1: 0.9, meteor: 0.1 }],
      ['3', { bleu_1: 1.0, meteor: 0.2 }],
      ['4', { bleu_1: 0.1, meteor: 0.3 }],
    ]);
    const c = compareRuns(runA, runB, { split: 'test', labelA: 'A', labelB: 'B', trials: 100 });
    expect(c.shared).toBe(2);
    expect(c.runA).toEqual({ label: 'A', images: 3, onlyHere: 1 });
    expect(c.runB.onlyHere).toBe(1);
    expect(c.metrics.map((m) => m.column)).toEqual(['bleu_1']);
    expect(c.metrics[0]!.meanA).toBeCloseTo(0.65);
    expect(c.metrics[0]!.difference).toBeCloseTo(0.3);
    expect(c.unmatchedColumns).toEqual(['meteor', 'cider']);
    expect(c.warnings).toEqual([
      expect.stringMatching(/different images \(1 only in A, 1 only in B\).*CIDEr-D/),
    ]);
    const same = compareRuns(runA, runA, { split: 'test', labelA: 'A', labelB: 'B', trials: 10 });
    expect(same.warnings).toEqual([]);
    const again = compareRuns(runA, runB, { split: 'test', labelA: 'A', labelB: 'B', trials: 100 });
    expect(again).toEqual(c);
  });
});

describe('the library entry point', () => {
  it('scores in-memory captions with registry metrics, as the README shows', async () => {
    const medcap = await import('../index.js');
    const metrics = await Promise.all(
      ['bleu', 'rouge', 'cider', 'meteor'].map((id) => medcap.createMetric(id)),
    );
    const scored = await medcap.scoreCaptions(
      [
        {
          id: 'img1',
          candidate: 'Axial CT shows a mass.',
          references: ['Axial CT showing a liver mass.'],
        },
      ],
      { metrics, bootstrap: 0 },
    );
    expect(scored.ids).toEqual(['img1']);
    expect(scored.values.meteor![0]).toBeGreaterThan(0.4);
    expect(scored.summary.meteor!.corpus).toBe(scored.values.meteor![0]);
  });

  it("scores a Metric of the caller's own, named as it likes, beside the registry ones, bootstrapped too", async () => {
    const medcap = await import('../index.js');
    const lengthRatio: Metric = {
      id: 'length_ratio',
      columns: ['length_ratio'],
      corpusDependent: false,
      async score(input) {
        const values = Float64Array.from(
          input.candidates,
          (candidate, i) => candidate.length / input.references[i]![0]!.length,
        );
        return { corpus: {}, values: { length_ratio: values } };
      },
    };
    const items = ['a mass', 'a large mass', 'mass'].map((candidate, i) => ({
      id: `img${i}`,
      candidate,
      references: ['a mass'],
    }));
    const scored = await medcap.scoreCaptions(items, {
      metrics: [await medcap.createMetric('bleu'), lengthRatio],
      bootstrap: 200,
    });
    expect(Array.from(scored.values.length_ratio!)).toEqual([1, 2, 4 / 6]);
    expect(scored.summary.length_ratio!.mean).toBeCloseTo((1 + 2 + 4 / 6) / 3, 12);
    expect(scored.summary.length_ratio!.ci95).not.toBeNull();
  });
});
