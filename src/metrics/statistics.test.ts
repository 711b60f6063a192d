import { expect, it, describe as suite } from 'vitest';
import { describe, describeSorted, seededRandom } from './statistics.js';

/** The same numbers, a zero's sign aside (no output writes it: String(-0) is '0'). */
const unsigned = (d: Record<string, number>) =>
  Object.fromEntries(Object.entries(d).map(([k, v]) => [k, Object.is(v, -0) ? 0 : v]));

suite('describe', () => {
  it('gives what sorting gives, for columns of every shape', () => {
    const random = seededRandom(3);
    const shapes: ((i: number) => number)[] = [
      () => random(),
      () => Math.floor(random() * 5), // many ties, as BLEU's counts
      () => (random() < 0.4 ? 0 : random()), // many zeros, as an empty caption's scores
      (i) => i, // sorted already
      (i) => -i, // reversed
      () => (random() < 0.5 ? -0 : 0),
      () => [Number.NEGATIVE_INFINITY, 1, Number.POSITIVE_INFINITY][Math.floor(random() * 3)]!,
    ];
    for (const shape of shapes) {
      for (const n of [1, 2, 3, 4, 5, 10, 11, 100, 1001, 6000]) {
        const values = Float64Array.from({ length: n }, (_, i) => shape(i));
        expect(unsigned({ ...describe(values) }), `${shape} ${n}`).toEqual(
          unsigned({ ...describeSorted(values) }),
        );
      }
    }
  });

  it('leaves the values as they were, and sorts a column with a NaN as before', () => {
    const values = [3, 1, 2, 5, 4];
    describe(values);
    expect(values).toEqual([3, 1, 2, 5, 4]);
    const withNan = [1, Number.NaN, 3, 2];
    expect(describe(withNan)).toEqual(describeSorted(withNan));
    expect(describe([])).toEqual(describeSorted([]));
  });
});
