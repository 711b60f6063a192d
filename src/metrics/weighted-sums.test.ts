import { describe, expect, it } from 'vitest';
import { seededRandom } from './statistics.js';
import { createWeightedSums } from './weighted-sums.js';

/** The sums as one JavaScript loop: per lane, item by item, a multiply then an add. */
function plainSums(table: Float64Array, weights: Uint32Array, width: number): Float64Array {
  const sums = new Float64Array(width);
  for (let k = 0; k < weights.length; k++) {
    for (let j = 0; j < width; j++) sums[j]! += weights[k]! * table[k * width + j]!;
  }
  return sums;
}

/** Numbers whose sums round at every step: large and tiny, negative, subnormal, zero. */
function awkwardTable(items: number, width: number, seed: number): Float64Array {
  const random = seededRandom(seed);
  return Float64Array.from({ length: items * width }, (_, i) => {
    const r = random();
    if (i % 11 === 0) return 0;
    if (i % 13 === 0) return -5e-324;
    if (i % 17 === 0) return -0;
    return (r - 0.4) * 10 ** Math.floor(random() * 30 - 15);
  });
}

function randomWeights(items: number, seed: number): Uint32Array {
  const random = seededRandom(seed);
  return Uint32Array.from({ length: items }, () => Math.floor(random() * random() * 16));
}

describe('bootstrap sums in WebAssembly', () => {
  it('equal the JavaScript loop to the bit, for every width up to 32 lanes', () => {
    for (let width = 1; width <= 32; width++) {
      for (const items of [1, 2, 7, 100]) {
        const table = awkwardTable(items, width, width * 100 + items);
        const weights = randomWeights(items, width + items);
        const kernel = createWeightedSums(table, items, width);
        expect(kernel).toBeDefined();
        kernel!.weights.set(weights);
        kernel!.sumWeights();
        const expected = plainSums(table, weights, width);
        expect([...kernel!.sums]).toEqual([...expected]);
        // The same weights two a byte, for an odd and an even number of items.
        kernel!.sums.fill(Number.NaN);
        for (let p = 0; p < kernel!.packed.length; p++) {
          kernel!.packed[p] = weights[2 * p]! | ((weights[2 * p + 1] ?? 0) << 4);
        }
        kernel!.sumPacked();
        expect([...kernel!.sums]).toEqual([...expected]);
      }
    }
  });

  it('starts every call from zero sums', () => {
    const table = Float64Array.of(1.5, -2, 4, 8);
    const kernel = createWeightedSums(table, 2, 2)!;
    kernel.weights.set([2, 1]);
    kernel.sumWeights();
    kernel.sumWeights();
    expect([...kernel.sums]).toEqual([7, 4]);
  });

  it('leaves a table wider than 32 lanes to JavaScript', () => {
    expect(createWeightedSums(new Float64Array(33), 1, 33)).toBeUndefined();
    expect(createWeightedSums(new Float64Array(0), 0, 0)).toBeUndefined();
  });
});
