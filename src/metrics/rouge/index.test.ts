import { describe, expect, it } from 'vitest';
import { runMetricContract } from '../../testing/metric-contract.js';
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
