/** Small numeric helpers for the report (pure). */

export function mean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Sample standard deviation (n − 1); null below two values. */
export function std(values: readonly number[]): number | null {
  if (values.length < 2) return null;
  const m = mean(values)!;
  let sum = 0;
  for (const v of values) sum += (v - m) ** 2;
  return Math.sqrt(sum / (values.length - 1));
}

/** Linear-interpolated quantile (q in [0, 1]) of already sorted values. */
export function quantileSorted(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const position = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const weight = position - lower;
  return sorted[lower]! * (1 - weight) + sorted[upper]! * weight;
}

export function sortedCopy(values: readonly number[]): number[] {
  return Array.from(Float64Array.from(values).sort());
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
