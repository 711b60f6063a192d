/** Small numeric helpers for the report (pure). */
import * as statistics from '../../metrics/statistics.js';

// The same definitions evaluate uses (population std, numpy's interpolated percentile),
// so a report built without the aggregate JSON shows the numbers evaluate would write;
// null instead of NaN where there is nothing to describe.

export function mean(values: readonly number[]): number | null {
  return values.length === 0 ? null : statistics.mean(values);
}

/** Population standard deviation (ddof = 0), as in the aggregate JSON; null when empty. */
export function std(values: readonly number[]): number | null {
  return values.length === 0 ? null : statistics.std(values);
}

/** Linear-interpolated quantile (q in [0, 1]) of already sorted values. */
export function quantileSorted(sorted: readonly number[], q: number): number | null {
  return sorted.length === 0
    ? null
    : statistics.percentile(sorted, Math.min(1, Math.max(0, q)) * 100);
}

export function sortedCopy(values: readonly number[]): number[] {
  return Array.from(statistics.sortedCopy(values));
}

export function minMax(values: readonly number[]): [number, number] | null {
  if (values.length === 0) return null;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

export interface Bin {
  start: number;
  end: number;
  count: number;
}

/**
 * Equal-width bins over [lo, hi]; values outside are clamped into the first or last bin
 * (the caller says so on the chart when it clips).
 */
export function binValues(values: readonly number[], lo: number, hi: number, count: number): Bin[] {
  const span = hi > lo ? hi - lo : 1;
  const width = span / count;
  const bins: Bin[] = Array.from({ length: count }, (_, i) => ({
    start: lo + i * width,
    end: lo + (i + 1) * width,
    count: 0,
  }));
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    const index = Math.min(count - 1, Math.max(0, Math.floor((v - lo) / width)));
    bins[index]!.count += 1;
  }
  return bins;
}

/** Words in a caption: runs of non-space characters. */
export function wordCount(text: string): number {
  let count = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    const space = c === 32 || (c >= 9 && c <= 13) || c === 160 || (c > 255 && /\s/.test(text[i]!));
    if (space) inWord = false;
    else if (!inWord) {
      inWord = true;
      count += 1;
    }
  }
  return count;
}

export { mode } from '../../metrics/statistics.js';
