import { describe, expect, it } from 'vitest';
import {
  createDraws,
  createResampleJob,
  drawAhead,
  runLeftoverResamples,
  runResamples,
} from './bootstrap.js';
import { seededRandom } from './statistics.js';

/** The bootstrap as one loop: one random stream through all resamples, in order. */
function referenceSums(
  table: Float64Array,
  n: number,
  width: number,
  resamples: number,
  seed: number,
) {
  const random = seededRandom(seed);
  const out = new Float64Array(resamples * width);
  for (let b = 0; b < resamples; b++) {
    const weights = new Uint32Array(n);
    for (let i = 0; i < n; i++) weights[Math.floor(random() * n)]! += 1;
    for (let k = 0; k < n; k++) {
      if (weights[k] === 0) continue; // an item not drawn adds nothing, not even a NaN
      for (let j = 0; j < width; j++) out[b * width + j]! += weights[k]! * table[k * width + j]!;
    }
  }
  return out;
}

function filledJob(n: number, width: number, resamples: number, seed: number) {
  const job = createResampleJob(n, width, resamples, seed);
  const random = seededRandom(seed + 1);
  for (let i = 0; i < job.table.length; i++) job.table[i] = i % 5 === 0 ? 0 : random() * 7;
  return job;
}

describe('bootstrap resampling', () => {
  it('gives the sums of one sequential random stream, resample by resample', () => {
    for (const [n, width, resamples, seed] of [
      [257, 3, 37, 12345],
      [1, 1, 5, 0],
      [1000, 12, 64, 0xffffffff],
      [777, 15, 30, 99],
      [500, 16, 17, 5],
    ] as const) {
      const job = filledJob(n, width, resamples, seed);
      runResamples(job);
      expect([...job.sums]).toEqual([...referenceSums(job.table, n, job.width, resamples, seed)]);
    }
  });

  it('leaves out the NaNs and infinities of items that a resample did not draw', () => {
    for (const width of [3, 15]) {
      const job = filledJob(40, width, 30, 8);
      job.table[7 * job.width + 1] = Number.NaN;
      job.table[9 * job.width + 2] = Number.POSITIVE_INFINITY;
      runResamples(job);
      const expected = referenceSums(job.table, 40, job.width, 30, 8);
      expect([...job.sums]).toEqual([...expected]);
      // Some resamples drew neither item: their sums are numbers.
      const finite = (b: number) => Number.isFinite(job.sums[b * job.width + 1]!);
      expect(Array.from({ length: 30 }, (_, b) => finite(b))).toContain(true);
      expect(Array.from({ length: 30 }, (_, b) => finite(b))).toContain(false);
    }
  });

  it('computes a chunk at a time when asked, and says when none is left', () => {
    const job = filledJob(100, 2, 20, 3);
    expect(runResamples(job, 1)).toBe(false);
    expect(runResamples(job, 1)).toBe(false);
    expect(runResamples(job, 5)).toBe(true);
    expect([...job.sums]).toEqual([...referenceSums(job.table, 100, job.width, 20, 3)]);
  });

  it('finishes the chunks a helper claimed and left undone', () => {
    const job = filledJob(300, 4, 50, 7);
    // A helper claimed the first two chunks, then died.
    job.claims[0] = 2;
    runResamples(job);
    expect(job.sums.subarray(0, 2 * 8 * job.width).every((v) => v === 0)).toBe(true);
    runLeftoverResamples(job);
    expect([...job.sums]).toEqual([...referenceSums(job.table, 300, job.width, 50, 7)]);
  });

  it('reads weights drawn ahead where they are ready, and draws the others itself', () => {
    for (const items of [301, 300]) {
      const job = filledJob(items, 3, 40, 11);
      // Room for 25 of the 40 resamples; 0-9 and 15-19 drawn ahead, the rest not.
      const draws = createDraws(items, 40, 11, 25 * Math.ceil(items / 2));
      expect(draws.count).toBe(25);
      const weights = new Uint32Array(items);
      for (let b = 0; b < 20; b++) if (b < 10 || b >= 15) drawAhead(draws, b, weights);
      expect(draws.ready[12]).toBe(0);
      expect(draws.ready[17]).toBe(1);
      job.draws = draws;
      runResamples(job);
      expect([...job.sums]).toEqual([...referenceSums(job.table, items, job.width, 40, 11)]);
    }
  });

  it('really takes the weights drawn ahead (here: emptied by hand) for a ready resample', () => {
    const job = filledJob(50, 2, 8, 4);
    const draws = createDraws(50, 8, 4);
    drawAhead(draws, 3, new Uint32Array(50));
    draws.packed.fill(0, 3 * 25, 4 * 25);
    job.draws = draws;
    runResamples(job);
    expect([...job.sums.subarray(6, 8)]).toEqual([0, 0]);
    expect(job.sums[4]).toBeGreaterThan(0);
  });
});
