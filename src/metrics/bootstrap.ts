/**
 * Bootstrap resampling of per-item numbers, in chunks that several threads can share.
 *
 * Resample b draws `items` item indexes with the seeded mulberry32 stream of
 * statistics.ts, continuing where resample b - 1 stopped, and sums each of the table's
 * `width` numbers weighted by how often its item was drawn, in item order. Because the
 * stream's state after m draws is `seed + m * step`, any thread can start resample b on
 * its own: the sums are the same whichever thread computes which resample.
 *
 * Drawing is about half the work, and needs no values: threads with nothing else to do
 * (resample helpers from the start, the metric worker once it has scored, the main thread
 * while it waits for the worker) draw resamples ahead into one PrecomputedDraws, each
 * claiming the next resample to draw, and the job then reads them instead of drawing again.
 *
 * The sums are read from one table, a row of numbers ("lanes") per item. Two columns of
 * small non-negative integers (BLEU's counts) share a lane as low + high × 2^26: their
 * weighted sums are integers below 2^26 each, so the lane's sum is exact and splits back
 * into the two. The other columns have a lane each, summed in item order, in WebAssembly
 * (weighted-sums.ts) where it runs.
 */
import { createClaims, runClaimedChunks, runLeftoverChunks, sharedArray } from './shared-memory.js';
import { createWeightedSums, type WeightedSums } from './weighted-sums.js';

/** mulberry32's state increment (statistics.ts seededRandom). */
const STEP = 0x6d2b79f5;
/** Resamples per claim: small enough to balance two threads, large enough to be cheap. */
const CHUNK = 8;
/** The high column of a shared lane is scaled by this. */
const PAIR_SCALE = 2 ** 26;

/** One bootstrap, in shared memory so that a worker thread can take part. */
export interface ResampleJob {
  items: number;
  /** The columns asked for: `sums` holds this many numbers per resample, in their order. */
  columns: number;
  /** Numbers per item in `table`: its lanes. */
  width: number;
  /** Lane i sums column lanes[2i], plus column lanes[2i + 1] × PAIR_SCALE when that is not -1. */
  lanes: Int32Array;
  resamples: number;
  seed: number;
  /** Per item, `width` numbers side by side (item-major). */
  table: Float64Array;
  /** Per resample, the `columns` weighted sums (resample-major). */
  sums: Float64Array;
  /** Chunks of CHUNK resamples (shared-memory.ts createClaims). */
  claims: Int32Array;
  /** Weights drawn ahead, for the same items, seed and resamples. */
  draws?: PrecomputedDraws;
}

/**
 * Resample weights drawn ahead, two items a byte (4 bits each), in shared memory. A
 * resample is ready once its flag is 1; one with a weight above 15 (as good as never
 * drawn) is left not ready and drawn again when it is summed.
 */
export interface PrecomputedDraws {
  items: number;
  seed: number;
  /** Resamples there is room for: 0 to count - 1. */
  count: number;
  packed: Uint8Array;
  ready: Int32Array;
  /** [0]: the next resample to claim for drawing (drawNext). */
  next: Int32Array;
}

/** Room for the first resamples' weights, within `budgetBytes`. */
export function createDraws(
  items: number,
  resamples: number,
  seed: number,
  budgetBytes = 32 * 2 ** 20,
): PrecomputedDraws {
  const rowBytes = Math.ceil(items / 2);
  const count = Math.max(0, Math.min(resamples, Math.floor(budgetBytes / Math.max(1, rowBytes))));
  return {
    items,
    seed,
    count,
    packed: sharedArray(Uint8Array, count * rowBytes),
    ready: sharedArray(Int32Array, count),
    next: sharedArray(Int32Array, 1),
  };
}

/**
 * Claims the next resample not yet claimed by any thread and draws it ahead; false once
 * there is none left. `weights` is scratch.
 */
function drawNext(draws: PrecomputedDraws, weights: Uint32Array): boolean {
  const b = Atomics.add(draws.next, 0, 1);
  if (b >= draws.count) return false;
  drawAhead(draws, b, weights);
  return true;
}

/**
 * Draws resamples ahead (drawNext) until none is left or `stop()` says so, yielding to the
 * event loop every `yieldEvery` resamples so that a message (the bootstrap's start, the
 * worker's results) gets in.
 */
export async function drawAheadUntil(
  draws: PrecomputedDraws,
  stop: () => boolean,
  yieldEvery: number,
): Promise<void> {
  const weights = new Uint32Array(draws.items);
  for (let n = 1; !stop() && drawNext(draws, weights); n++) {
    if (n % yieldEvery === 0) await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Draws resample b's weights into `draws` (b < draws.count); `weights` is scratch. */
export function drawAhead(draws: PrecomputedDraws, b: number, weights: Uint32Array): void {
  drawWeights(draws.items, draws.seed, b, weights);
  const rowBytes = Math.ceil(draws.items / 2);
  const row = b * rowBytes;
  for (let p = 0; p < rowBytes; p++) {
    const low = weights[2 * p]!;
    const high = 2 * p + 1 < draws.items ? weights[2 * p + 1]! : 0;
    if (low > 15 || high > 15) return;
    draws.packed[row + p] = low | (high << 4);
  }
  Atomics.store(draws.ready, b, 1);
}

/** A job over `columns`, each one number per item (all of the same length). */
export function createResampleJob(
  columns: readonly ArrayLike<number>[],
  resamples: number,
  seed: number,
): ResampleJob {
  const items = columns[0]?.length ?? 0;
  const lanes = laneColumns(columns, items);
  const width = lanes.length / 2;
  const table = sharedArray(Float64Array, items * width);
  for (let lane = 0; lane < width; lane++) {
    const low = columns[lanes[2 * lane]!]!;
    const high = lanes[2 * lane + 1]! < 0 ? undefined : columns[lanes[2 * lane + 1]!]!;
    for (let k = 0; k < items; k++) {
      table[k * width + lane] = high === undefined ? low[k]! : low[k]! + high[k]! * PAIR_SCALE;
    }
  }
  return {
    items,
    columns: columns.length,
    width,
    lanes,
    resamples,
    seed,
    table,
    sums: sharedArray(Float64Array, resamples * columns.length),
    claims: createClaims(Math.ceil(resamples / CHUNK)),
  };
}

/**
 * The lanes, in column order, as (column, paired column or -1): columns that can share a
 * lane (see canShareLane) are paired in the order they come.
 */
function laneColumns(columns: readonly ArrayLike<number>[], items: number): Int32Array {
  const lanes: number[] = [];
  let waiting = -1; // the lane of a sharable column still without a partner
  columns.forEach((column, j) => {
    if (!canShareLane(column, items)) {
      lanes.push(j, -1);
    } else if (waiting < 0) {
      waiting = lanes.length;
      lanes.push(j, -1);
    } else {
      lanes[waiting + 1] = j;
      waiting = -1;
    }
  });
  return Int32Array.from(lanes);
}

/**
 * Whether a column can share a lane: non-negative integers whose weighted sums stay below
 * 2^26 (the weights sum to `items`), so a lane of two stays an exact integer below 2^53.
 */
function canShareLane(column: ArrayLike<number>, items: number): boolean {
  let largest = 0;
  for (let k = 0; k < column.length; k++) {
    const v = column[k]!;
    if (!Number.isInteger(v) || v < 0) return false;
    if (v > largest) largest = v;
  }
  return items * largest < PAIR_SCALE;
}

/**
 * Claims and computes chunks until none is left to claim, or `limit` chunks were done;
 * true once none is left.
 */
export function runResamples(job: ResampleJob, limit = Number.POSITIVE_INFINITY): boolean {
  const scratch = scratchFor(job);
  return runClaimedChunks(job.claims, (c) => runChunk(job, c, scratch), limit);
}

/** Computes the chunks claimed but not done (by a helper thread that stopped partway). */
export function runLeftoverResamples(job: ResampleJob): void {
  const scratch = scratchFor(job);
  runLeftoverChunks(job.claims, (c) => runChunk(job, c, scratch));
}

interface Scratch {
  /** The WebAssembly kernel over a copy of the table, where it runs and may be used. */
  kernel: WeightedSums | undefined;
  /** Otherwise: the weights, and the lanes' sums. */
  weights: Uint32Array;
  sums: Float64Array;
  /**
   * Whether items drawn zero times must be skipped: only when the table holds a NaN or an
   * infinity (0 × either is NaN), which the kernel does not do. Otherwise 0 × x adds a
   * zero, which leaves a sum that starts at +0 unchanged, and not branching on the weight
   * is faster than a branch that a third of the items take at random.
   */
  skipZeros: boolean;
}

/** Per job (and thread): the scratch, made once for all its calls. */
const scratches = new WeakMap<ResampleJob, Scratch>();

function scratchFor(job: ResampleJob): Scratch {
  let scratch = scratches.get(job);
  if (scratch === undefined) {
    const skipZeros = !job.table.every(Number.isFinite);
    const kernel = skipZeros ? undefined : createWeightedSums(job.table, job.items, job.width);
    scratch = {
      kernel,
      weights: kernel?.weights ?? new Uint32Array(job.items),
      sums: kernel?.sums ?? new Float64Array(job.width),
      skipZeros,
    };
    scratches.set(job, scratch);
  }
  return scratch;
}

function runChunk(job: ResampleJob, c: number, scratch: Scratch): void {
  const end = Math.min(job.resamples, (c + 1) * CHUNK);
  const { sums } = scratch;
  const { lanes, columns } = job;
  for (let b = c * CHUNK; b < end; b++) {
    resampleOnce(job, b, scratch);
    for (let lane = 0; lane < lanes.length / 2; lane++) {
      const low = b * columns + lanes[2 * lane]!;
      const paired = lanes[2 * lane + 1]!;
      if (paired < 0) {
        job.sums[low] = sums[lane]!;
        continue;
      }
      const high = Math.floor(sums[lane]! / PAIR_SCALE);
      job.sums[b * columns + paired] = high;
      job.sums[low] = sums[lane]! - high * PAIR_SCALE;
    }
  }
}

/** Resample b's weights: how many times each item is drawn. */
function drawWeights(n: number, seed: number, b: number, weights: Uint32Array): void {
  weights.fill(0);
  // The stream's state after b * n draws (mod 2^32).
  let state = ((seed >>> 0) + Math.imul((b * n) | 0, STEP)) >>> 0;
  for (let i = 0; i < n; i++) {
    state = (state + STEP) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    weights[Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n)]! += 1;
  }
}

/** Resample b's weighted sums into scratch.sums (in item order). */
function resampleOnce(job: ResampleJob, b: number, scratch: Scratch): void {
  const { items: n, width, table, draws } = job;
  const { kernel, weights, sums, skipZeros } = scratch;
  const rowBytes = Math.ceil(n / 2);
  const drawn = draws !== undefined && b < draws.count && Atomics.load(draws.ready, b) === 1;
  if (drawn && kernel !== undefined) {
    kernel.packed.set(draws.packed.subarray(b * rowBytes, (b + 1) * rowBytes));
    kernel.sumPacked();
    return;
  }
  if (drawn) {
    const row = b * rowBytes;
    const { packed } = draws;
    const whole = n >> 1;
    for (let p = 0; p < whole; p++) {
      const pair = packed[row + p]!;
      weights[2 * p] = pair & 15;
      weights[2 * p + 1] = pair >> 4;
    }
    if (n & 1) weights[n - 1] = packed[row + whole]! & 15;
  } else {
    drawWeights(n, job.seed, b, weights);
  }
  if (kernel !== undefined) {
    kernel.sumWeights();
    return;
  }
  sums.fill(0);
  for (let k = 0; k < n; k++) {
    const w = weights[k]!;
    if (skipZeros && w === 0) continue;
    const base = k * width;
    for (let j = 0; j < width; j++) sums[j]! += w * table[base + j]!;
  }
}
