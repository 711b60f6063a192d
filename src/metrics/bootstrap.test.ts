import { describe, expect, it } from 'vitest';
import {
  createDraws,
  createResampleJob,
  drawAhead,
  type ResampleJob,
  runLeftoverResamples,
  runResamples,
} from './bootstrap.js';
import { seededRandom } from './statistics.js';

/** The bootstrap as one loop: one random stream through all resamples, in order. */
function referenceSums(columns: readonly Float64Array[], resamples: number, seed: number) {
  const n = columns[0]!.length;
  const width = columns.length;
  const random = seededRandom(seed);
  const out = new Float64Array(resamples * width);
  for (let b = 0; b < resamples; b++) {
    const weights = new Uint32Array(n);
    for (let i = 0; i < n; i++) weights[Math.floor(random() * n)]! += 1;
    for (let k = 0; k < n; k++) {
      if (weights[k] === 0) continue; // an item not drawn adds nothing, not even a NaN
      for (let j = 0; j < width; j++) out[b * width + j]! += weights[k]! * columns[j]![k]!;
    }
  }
  return out;
}

/** `width` columns of n numbers, a fifth of them 0; `integers` of them (from the first) counts. */
function filledColumns(n: number, width: number, seed: number, integers = 0): Float64Array[] {
  const random = seededRandom(seed + 1);
  return Array.from({ length: width }, (_, j) =>
    Float64Array.from({ length: n }, (_, k) => {
      if ((j * n + k) % 5 === 0) return 0;
      return j < integers ? Math.floor(random() * 40) : random() * 7;
    }),
  );
}

function filledJob(n: number, width: number, resamples: number, seed: number, integers = 0) {
  const columns = filledColumns(n, width, seed, integers);
  return { job: createResampleJob(columns, resamples, seed), columns };
}

/** The job's lanes as [column, paired column or -1] pairs. */
const lanesOf = (job: ResampleJob) =>
  Array.from({ length: job.lanes.length / 2 }, (_, i) => [job.lanes[2 * i], job.lanes[2 * i + 1]]);

describe('bootstrap resampling', () => {
  it('gives the sums of one sequential random stream, resample by resample', () => {
    for (const [n, width, resamples, seed] of [
      [257, 3, 37, 12345],
      [1, 1, 5, 0],
      [1000, 12, 64, 0xffffffff],
      [777, 15, 30, 99],
      [500, 16, 17, 5],
      [120, 40, 9, 1], // more lanes than the WebAssembly kernel takes
    ] as const) {
      const { job, columns } = filledJob(n, width, resamples, seed);
      runResamples(job);
      expect([...job.sums]).toEqual([...referenceSums(columns, resamples, seed)]);
    }
  });

  it('sums two columns of counts in one lane, exactly, and splits them back', () => {
    // [items, columns, counts among them]: 10 lanes (BLEU's 10 counts and 5 means), 16,
    // one left over, and counts alone.
    for (const [n, width, integers, lanes] of [
      [400, 15, 10, 10],
      [300, 20, 8, 16],
      [257, 3, 3, 2],
      [500, 6, 6, 3],
    ] as const) {
      const { job, columns } = filledJob(n, width, 21, 77, integers);
      expect(job.lanes.length / 2).toBe(lanes);
      runResamples(job);
      expect([...job.sums]).toEqual([...referenceSums(columns, 21, 77)]);
    }
  });

  it('gives a lane of its own to a column that is not small non-negative integers', () => {
    const n = 1000;
    const column = (f: (k: number) => number) => Float64Array.from({ length: n }, (_, k) => f(k));
    const counts = column((k) => k % 7);
    const columns = [
      counts,
      column((k) => (k === 3 ? 67_109 : k % 3)), // items × 67,109 ≥ 2^26: its sums could carry
      column((k) => (k % 2) - 1), // negative
      column((k) => k / 8), // fractions
      column((k) => k % 5),
      column((k) => (k === 9 ? 67_108 : 1)), // items × 67,108 < 2^26
    ];
    const job = createResampleJob(columns, 12, 3);
    expect(lanesOf(job)).toEqual([
      [0, 4],
      [1, -1],
      [2, -1],
      [3, -1],
      [5, -1],
    ]);
    runResamples(job);
    expect([...job.sums]).toEqual([...referenceSums(columns, 12, 3)]);
    expect(lanesOf(createResampleJob([counts, columns[5]!], 1, 1))).toEqual([[0, 1]]);
  });

  it('leaves out the NaNs and infinities of items that a resample did not draw', () => {
    for (const width of [3, 15]) {
      const columns = filledColumns(40, width, 8);
      columns[1]![7] = Number.NaN;
      columns[2]![9] = Number.POSITIVE_INFINITY;
      const job = createResampleJob(columns, 30, 8);
      runResamples(job);
      expect([...job.sums]).toEqual([...referenceSums(columns, 30, 8)]);
      // Some resamples did not draw item 7: their sums are numbers.
      const finite = (b: number) => Number.isFinite(job.sums[b * width + 1]!);
      expect(Array.from({ length: 30 }, (_, b) => finite(b))).toContain(true);
      expect(Array.from({ length: 30 }, (_, b) => finite(b))).toContain(false);
    }
  });

  it('computes a chunk at a time when asked, and says when none is left', () => {
    const { job, columns } = filledJob(100, 2, 20, 3);
    expect(runResamples(job, 1)).toBe(false);
    expect(runResamples(job, 1)).toBe(false);
    expect(runResamples(job, 5)).toBe(true);
    expect([...job.sums]).toEqual([...referenceSums(columns, 20, 3)]);
  });

  it('finishes the chunks a helper claimed and left undone', () => {
    const { job, columns } = filledJob(300, 4, 50, 7);
    // A helper claimed the first two chunks, then died.
    job.claims[0] = 2;
    runResamples(job);
    expect(job.sums.subarray(0, 2 * 8 * job.columns).every((v) => v === 0)).toBe(true);
    runLeftoverResamples(job);
    expect([...job.sums]).toEqual([...referenceSums(columns, 50, 7)]);
  });

  it('reads weights drawn ahead where they are ready, and draws the others itself', () => {
    for (const [items, width] of [
      [301, 3],
      [300, 3],
      [300, 15],
      [301, 15],
      [300, 16],
      [301, 16],
    ] as const) {
      const { job, columns } = filledJob(items, width, 40, 11, 10);
      // Room for 25 of the 40 resamples; 0-9 and 15-19 drawn ahead, the rest not.
      const draws = createDraws(items, 40, 11, 25 * Math.ceil(items / 2));
      expect(draws.count).toBe(25);
      const weights = new Uint32Array(items);
      for (let b = 0; b < 20; b++) if (b < 10 || b >= 15) drawAhead(draws, b, weights);
      expect(draws.ready[12]).toBe(0);
      expect(draws.ready[17]).toBe(1);
      job.draws = draws;
      runResamples(job);
      expect([...job.sums]).toEqual([...referenceSums(columns, 40, 11)]);
    }
  });

  it('really takes the weights drawn ahead (here: emptied by hand) for a ready resample', () => {
    // 2 columns: a lane each; 15 and 16 columns (10 of them counts): 10 and 11 lanes, the
    // tables read by the 10- and 16-wide kernels.
    for (const width of [2, 15, 16]) {
      const { job } = filledJob(51, width, 8, 4, width > 2 ? 10 : 0);
      const draws = createDraws(51, 8, 4);
      drawAhead(draws, 3, new Uint32Array(51));
      draws.packed.fill(0, 3 * 26, 4 * 26);
      job.draws = draws;
      runResamples(job);
      expect([...job.sums.subarray(3 * width, 4 * width)]).toEqual(new Array(width).fill(0));
      expect(job.sums[2 * width + 1]).toBeGreaterThan(0);
    }
  });

  it('skips the undrawn NaNs and infinities with weights drawn ahead too', () => {
    for (const width of [3, 15, 16]) {
      const columns = filledColumns(301, width, 8, width > 3 ? 10 : 0);
      columns[width - 1]![7] = Number.NaN;
      columns[width - 1]![8] = Number.POSITIVE_INFINITY;
      const job = createResampleJob(columns, 20, 8);
      const draws = createDraws(301, 20, 8);
      const weights = new Uint32Array(301);
      for (let b = 0; b < 20; b++) drawAhead(draws, b, weights);
      job.draws = draws;
      runResamples(job);
      expect([...job.sums]).toEqual([...referenceSums(columns, 20, 8)]);
    }
  });
});
