/** Small, deterministic statistics helpers for evaluation summaries. */

/** Seeded PRNG (mulberry32): uniform floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function mean(values: ArrayLike<number>): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return sum / values.length;
}

/** Population standard deviation (numpy's default, ddof = 0). */
export function std(values: ArrayLike<number>): number {
  if (values.length === 0) return Number.NaN;
  const m = mean(values);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (values[i]! - m) ** 2;
  return Math.sqrt(sum / values.length);
}

/** Percentile with linear interpolation between order statistics (numpy's default). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * (q / 100);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  return a + (sorted[hi]! - a) * (pos - lo);
}

export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values as ArrayLike<number>).sort();
}

export interface Distribution {
  mean: number;
  std: number;
  median: number;
  min: number;
  max: number;
}

export function describe(values: ArrayLike<number>): Distribution {
  const n = values.length;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    // A NaN sorts last: the sorted order gives it its place (rare, so the slow way).
    if (Number.isNaN(v)) return describeSorted(values);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (n === 0) return describeSorted(values);
  // The two middle order statistics without sorting it all (a column has 10^4-10^5 values).
  const copy = Float64Array.from(values);
  const lo = Math.floor((n - 1) / 2);
  const a = select(copy, lo);
  let b = a;
  if (n % 2 === 0) {
    b = copy[lo + 1]!;
    for (let i = lo + 2; i < n; i++) if (copy[i]! < b) b = copy[i]!;
  }
  return { mean: mean(values), std: std(values), median: a + (b - a) * 0.5, min, max };
}

export function describeSorted(values: ArrayLike<number>): Distribution {
  const sorted = sortedCopy(values);
  return {
    mean: mean(values),
    std: std(values),
    median: percentile(sorted, 50),
    min: sorted.length ? sorted[0]! : Number.NaN,
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
  };
}

/**
 * The k-th smallest of `values` (Hoare's selection, median of three), which it reorders:
 * values[0, k) are then no larger and values(k, n) no smaller.
 */
function select(values: Float64Array, k: number): number {
  let left = 0;
  let right = values.length - 1;
  while (right > left) {
    const mid = (left + right) >>> 1;
    const pivot = medianOfThree(values[left]!, values[mid]!, values[right]!);
    let i = left;
    let j = right;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) {
        const t = values[i]!;
        values[i++] = values[j]!;
        values[j--] = t;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else break;
  }
  return values[k]!;
}

function medianOfThree(a: number, b: number, c: number): number {
  if (a < b) return b < c ? b : Math.max(a, c);
  return a < c ? a : Math.max(b, c);
}

/** The most common value (first seen wins a tie); undefined for an empty list. */
export function mode<T>(values: Iterable<T>): T | undefined {
  const counts = new Map<T, number>();
  let best: T | undefined;
  let bestCount = 0;
  for (const v of values) {
    const c = (counts.get(v) ?? 0) + 1;
    counts.set(v, c);
    if (c > bestCount) {
      best = v;
      bestCount = c;
    }
  }
  return best;
}
