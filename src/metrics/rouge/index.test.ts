import { describe, expect, it } from 'vitest';
import { runMetricContract } from '../../testing/metric-contract.js';
import { metricInput } from '../score.js';
import { seededRandom } from '../statistics.js';
import { createRougeMetric, lcsLength } from './index.js';

runMetricContract('rouge', () => createRougeMetric());

/** The textbook O(n·m) table, as the oracle. */
function lcsOracle(a: readonly number[], b: readonly number[]): number {
  const table = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      table[i]![j] =
        a[i - 1] === b[j - 1]
          ? table[i - 1]![j - 1]! + 1
          : Math.max(table[i - 1]![j]!, table[i]![j - 1]!);
    }
  }
  return table[a.length]![b.length]!;
}

describe('lcsLength', () => {
  it('equals the LCS table on random sequences, short (bit-parallel) and long', () => {
    const random = seededRandom(3);
    for (let trial = 0; trial < 3000; trial++) {
      const alphabet = 1 + Math.floor(random() * 12);
      const draw = (max: number) =>
        Array.from(
          { length: Math.floor(random() * max) },
          () => Math.floor(random() * alphabet) - 1,
        );
      const a = draw(trial % 3 === 0 ? 70 : 34);
      const b = draw(trial % 5 === 0 ? 70 : 34);
      expect(lcsLength(Int32Array.from(a), Int32Array.from(b)), `${a} | ${b}`).toBe(
        lcsOracle(a, b),
      );
    }
  });

  it('handles the 31-token boundary and token ids far apart', () => {
    const a = Int32Array.from({ length: 31 }, (_, i) => i * 1000);
    const b = Int32Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? (i / 2) * 1000 : 7));
    expect(lcsLength(a, b)).toBe(lcsOracle([...a], [...b]));
    expect(lcsLength(a, a)).toBe(31);
  });
});

describe('rouge prepare', () => {
  const text = {
    ids: ['a', 'b', 'c'],
    candidates: ['Axial CT shows a mass.', '', 'Left kidney cyst, 2 cm'],
    references: [
      ['A mass on axial CT.', 'CT: mass'],
      ['Normal chest.'],
      ['Cyst of the left kidney'],
    ],
  };

  it('gives the same scores as scoring without it, and is redone for other text', async () => {
    const plain = await createRougeMetric().score(metricInput(text.ids.map(itemOf), 'coco'));
    const metric = createRougeMetric();
    metric.prepare!(text);
    const input = { ...metricInput(text.ids.map(itemOf), 'coco'), ...text };
    expect(await metric.score(input)).toEqual(plain);
    // Different arrays (here: other candidates) are not taken for the prepared ones.
    const other = { ...input, candidates: ['', '', ''] };
    const otherScores = await metric.score(other);
    expect([...otherScores.values.rouge_1!]).toEqual([0, 0, 0]);
  });

  function itemOf(id: string, k: number) {
    return { id, candidate: text.candidates[k]!, references: text.references[k]! };
  }
});

/** rouge_score's n-gram F-measure over multisets of n-gram strings, as the oracle. */
function rougeNOracle(candidate: string[], reference: string[], n: number): number {
  const grams = (tokens: string[]) => {
    const counts = new Map<string, number>();
    for (let i = 0; i + n <= tokens.length; i++) {
      const gram = tokens.slice(i, i + n).join(' ');
      counts.set(gram, (counts.get(gram) ?? 0) + 1);
    }
    return counts;
  };
  const c = grams(candidate);
  const r = grams(reference);
  let shared = 0;
  for (const [gram, count] of c) shared += Math.min(count, r.get(gram) ?? 0);
  const candCount = Math.max(0, candidate.length - n + 1);
  const refCount = Math.max(0, reference.length - n + 1);
  const precision = shared / Math.max(candCount, 1);
  const recall = shared / Math.max(refCount, 1);
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

describe('rouge-1 and rouge-2', () => {
  it('equal the multiset oracle, with repeated n-grams and captions long and short', async () => {
    const random = seededRandom(8);
    const words = ['mass', 'ct', 'left', 'a', 'of', 'the', 'cyst', '2', 'cm'];
    const caption = () => {
      const length = Math.floor(random() ** 3 * 300);
      return Array.from({ length }, () => words[Math.floor(random() * words.length)]!);
    };
    const items = Array.from({ length: 200 }, (_, k) => ({
      id: `i${k}`,
      candidate: caption(),
      references: Array.from({ length: 1 + Math.floor(random() * 3) }, caption),
    }));
    const text = items.map((item) => ({
      id: item.id,
      candidate: item.candidate.join(' '),
      references: item.references.map((r) => r.join(' ')),
    }));
    const result = await createRougeMetric().score(metricInput(text, 'coco'));
    items.forEach((item, k) => {
      for (const [column, n] of [
        ['rouge_1', 1],
        ['rouge_2', 2],
      ] as const) {
        const best = Math.max(...item.references.map((r) => rougeNOracle(item.candidate, r, n)));
        expect(result.values[column]![k], `${item.id} ${column}`).toBe(best);
      }
    });
  });
});
