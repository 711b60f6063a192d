import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MetricError } from '../../core/errors.js';
import { rowsOf } from '../../testing/metric-rows.js';
import type { MetricInput } from '../types.js';
import { createMeteorMetric, MeteorScorer, WordNet } from './index.js';

interface CorpusItem {
  id: string;
  candidate: string[];
  references: string[][];
}

const fixtureDir = new URL('../../../test/fixtures/meteor/', import.meta.url);
const corpus = readFileSync(new URL('corpus.jsonl', fixtureDir), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as CorpusItem);
const reference = JSON.parse(readFileSync(new URL('nltk-scores.json', fixtureDir), 'utf8')) as {
  nltk_version: string;
  scores: Record<string, number>;
};

function inputOf(items: readonly CorpusItem[]): MetricInput {
  return {
    ids: items.map((item) => item.id),
    candidates: items.map((item) => item.candidate.join(' ')),
    references: items.map((item) => item.references.map((tokens) => tokens.join(' '))),
    candidateTokens: items.map((item) => item.candidate),
    referenceTokens: items.map((item) => item.references),
  };
}

describe('meteor metric: parity with NLTK meteor_score', () => {
  const metricPromise = createMeteorMetric().score(inputOf(corpus));

  it('matches every per-item NLTK value to 1e-6', async () => {
    expect(corpus.length).toBeGreaterThanOrEqual(500);
    expect(reference.nltk_version).toMatch(/^3\.(9|1\d)/);
    const perItem = rowsOf(
      (await metricPromise).values,
      corpus.map((item) => item.id),
    );
    const off: string[] = [];
    for (const item of corpus) {
      const ours = perItem.get(item.id)?.meteor;
      const theirs = reference.scores[item.id];
      if (ours === undefined || theirs === undefined || !(Math.abs(ours - theirs) <= 1e-6)) {
        off.push(`${item.id}: ${ours} vs ${theirs}`);
      }
    }
    expect(off).toEqual([]);
  });

  it('is bit-identical to NLTK (glibc pow) on the whole fixture', async () => {
    const perItem = rowsOf(
      (await metricPromise).values,
      corpus.map((item) => item.id),
    );
    const inexact = corpus.filter(
      (item) => perItem.get(item.id)?.meteor !== reference.scores[item.id],
    );
    expect(inexact.map((item) => item.id)).toEqual([]);
  });

  it('reports the mean of the per-item values as the corpus value', async () => {
    const { corpus: value } = await metricPromise;
    const values = corpus.map((item) => reference.scores[item.id]!);
    const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
    expect(value.meteor).toBeCloseTo(mean, 12);
    // The fixture covers the interesting regions, not just zeros and ones.
    expect(values.filter((v) => v > 0 && v < 0.999).length).toBeGreaterThan(400);
  });
});

describe('meteor metric: contract', () => {
  it('declares its id and column and is not corpus-dependent', () => {
    const metric = createMeteorMetric();
    expect(metric.id).toBe('meteor');
    expect(metric.columns).toEqual(['meteor']);
    expect(metric.corpusDependent).toBe(false);
  });

  it('scores the tokens it is given, not the raw strings', async () => {
    const metric = createMeteorMetric();
    const result = await metric.score({
      ids: ['x'],
      candidates: ['completely different'],
      references: [['strings here']],
      candidateTokens: [['a', 'small', 'nodule']],
      referenceTokens: [[['a', 'small', 'nodule']]],
    });
    expect(result.values.meteor![0]).toBeCloseTo(0.9814814814814815, 15);
  });

  it('splits tokens at Python white space, as .split() of the PTB tokens does', async () => {
    // The PTB tokenizer keeps `3 1/2` as one token with a no-break space. NLTK on
    // ['3', '1/2'] against [['3', '1/2'], ['3']]: F-mean 1, two matches in one chunk,
    // penalty 0.5 × (1/2)^3 = 0.0625. Kept whole, it would be one match: 0.5.
    const nbsp = '3\u00a01/2';
    const result = await createMeteorMetric().score({
      ids: ['x'],
      candidates: ['3 1/2'],
      references: [['3 1/2', '3']],
      candidateTokens: [[nbsp]],
      referenceTokens: [[[nbsp], ['3']]],
    });
    expect(result.values.meteor![0]).toBeCloseTo(0.9375, 15);
  });

  it('takes the best reference, and a per-item value does not depend on the others', async () => {
    const metric = createMeteorMetric();
    const one = await metric.score(inputOf(corpus.slice(0, 1)));
    const many = await metric.score(inputOf(corpus.slice(0, 50)));
    expect(one.values.meteor![0]).toBe(many.values.meteor![0]);
    const scorer = new MeteorScorer({ loadWordNet: () => WordNet.load() });
    const candidate = ['large', 'liver', 'lesion'];
    const best = scorer.score(candidate, [
      ['no', 'match'],
      ['large', 'liver', 'lesion'],
    ]);
    expect(best).toBe(scorer.scorePair(candidate, ['large', 'liver', 'lesion']));
    expect(best).toBeGreaterThan(scorer.scorePair(candidate, ['no', 'match']));
  });

  it('loads WordNet only when the synonym stage has work to do', () => {
    let loads = 0;
    const scorer = new MeteorScorer({
      loadWordNet: () => {
        loads += 1;
        return WordNet.load();
      },
    });
    expect(scorer.score(['showed', 'lesions'], [['shows', 'lesion']])).toBeGreaterThan(0.9);
    expect(loads).toBe(0);
    expect(scorer.score(['tumour'], [['neoplasm']])).toBe(0.5);
    expect(loads).toBe(1);
    scorer.score(['tumour'], [['growth']]);
    expect(loads).toBe(1);
  });

  it('gives 0 for an empty candidate, an empty reference or no match', async () => {
    const metric = createMeteorMetric();
    const result = await metric.score({
      ids: ['empty-candidate', 'empty-reference', 'no-match'],
      candidates: ['', 'a b', 'a b'],
      references: [['a b'], [''], ['c d']],
      candidateTokens: [[], ['a', 'b'], ['a', 'b']],
      referenceTokens: [[['a', 'b']], [[]], [['c', 'd']]],
    });
    expect([...result.values.meteor!]).toEqual([0, 0, 0]);
    expect(result.corpus.meteor).toBe(0);
  });

  it('rejects an item without references, naming it', async () => {
    const metric = createMeteorMetric();
    const input: MetricInput = {
      ids: ['ok', 'img-7'],
      candidates: ['a', 'b'],
      references: [['a'], []],
      candidateTokens: [['a'], ['b']],
      referenceTokens: [[['a']], []],
    };
    await expect(metric.score(input)).rejects.toThrow(MetricError);
    await expect(metric.score(input)).rejects.toThrow(/img-7 \(row 2\)/);
  });

  it('rejects inputs whose arrays differ in length', async () => {
    const metric = createMeteorMetric();
    await expect(
      metric.score({
        ids: ['a', 'b'],
        candidates: ['x', 'y'],
        references: [['x'], ['y']],
        candidateTokens: [['x']],
        referenceTokens: [[['x']], [['y']]],
      }),
    ).rejects.toThrow(MetricError);
  });

  it('gives NaN as the corpus value of an empty set', async () => {
    const result = await createMeteorMetric().score(inputOf([]));
    expect(result.values.meteor).toHaveLength(0);
    expect(Number.isNaN(result.corpus.meteor)).toBe(true);
  });

  it('reports a missing WordNet folder as a MetricError', async () => {
    const metric = createMeteorMetric({ wordnetDir: '/nonexistent/wordnet' });
    await expect(
      metric.score({
        ids: ['a'],
        candidates: ['tumour'],
        references: [['neoplasm']],
        candidateTokens: [['tumour']],
        referenceTokens: [[['neoplasm']]],
      }),
    ).rejects.toThrow(/\/nonexistent\/wordnet\/index\.noun/);
  });
});
