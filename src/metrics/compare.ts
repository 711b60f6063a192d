/**
 * Paired comparison of two runs on the images they share: per metric, the difference of
 * the mean per-image values and a two-sided paired approximate-randomization test (each
 * image's pair of values is swapped with probability 1/2; p = (hits + 1) / (trials + 1)).
 * Seeded, so the same inputs give the same p-values. Pure: no files.
 */
import { orderColumns } from './registry.js';
import { seededRandom } from './statistics.js';

export interface MetricComparison {
  column: string;
  meanA: number;
  meanB: number;
  /** meanB − meanA. */
  difference: number;
  pValue: number;
  /** Images with a value in both runs for this metric. */
  n: number;
}

/** A comparison of two runs, as a plain object (for the JSON/TXT files and the HTML page). */
export interface RunComparison {
  split: string;
  runA: { label: string; images: number; onlyHere: number };
  runB: { label: string; images: number; onlyHere: number };
  /** Images scored in both runs. */
  shared: number;
  trials: number;
  seed: number;
  metrics: MetricComparison[];
  /** Metrics that only one of the runs has (not compared). */
  unmatchedColumns: string[];
  /** Why the numbers may not be like for like (different image sets, different settings). */
  warnings: string[];
}

export interface CompareOptions {
  split: string;
  labelA: string;
  labelB: string;
  seed?: number;
  /** Randomization trials; default: 10,000 (fewer for very large sets, at least 1,000). */
  trials?: number;
}

export type PerImageScores = ReadonlyMap<string, Readonly<Record<string, number>>>;

/** Two-sided paired approximate-randomization p-value of mean(b − a). */
export function pairedRandomizationTest(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  trials: number,
  random: () => number,
): number {
  const n = a.length;
  const d = new Float64Array(n);
  let observed = 0;
  for (let i = 0; i < n; i++) {
    d[i] = b[i]! - a[i]!;
    observed += d[i]!;
  }
  const threshold = Math.abs(observed) - 1e-12 * Math.max(1, Math.abs(observed));
  let hits = 0;
  for (let t = 0; t < trials; t++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += random() < 0.5 ? -d[i]! : d[i]!;
    if (Math.abs(sum) >= threshold) hits += 1;
  }
  return (hits + 1) / (trials + 1);
}

export function defaultTrials(n: number): number {
  return Math.min(10_000, Math.max(1_000, Math.floor(50_000_000 / Math.max(1, n))));
}

export function compareRuns(
  a: PerImageScores,
  b: PerImageScores,
  options: CompareOptions,
): RunComparison {
  const shared = [...a.keys()].filter((id) => b.has(id));
  const columnsOf = (scores: PerImageScores) => {
    const set = new Set<string>();
    for (const row of scores.values()) for (const c of Object.keys(row)) set.add(c);
    return set;
  };
  const colsA = columnsOf(a);
  const colsB = columnsOf(b);
  const columns = orderColumns([...colsA].filter((c) => colsB.has(c)));
  const unmatched = orderColumns(
    [...colsA, ...colsB].filter((c) => !(colsA.has(c) && colsB.has(c))),
  );
  const seed = options.seed ?? 12345;
  const trials = options.trials ?? defaultTrials(shared.length);
  const metrics: MetricComparison[] = columns.map((column, k) => {
    const va: number[] = [];
    const vb: number[] = [];
    for (const id of shared) {
      const x = a.get(id)?.[column];
      const y = b.get(id)?.[column];
      if (x === undefined || y === undefined || Number.isNaN(x) || Number.isNaN(y)) continue;
      va.push(x);
      vb.push(y);
    }
    const n = va.length;
    const meanA = n ? va.reduce((s, v) => s + v, 0) / n : Number.NaN;
    const meanB = n ? vb.reduce((s, v) => s + v, 0) / n : Number.NaN;
    const pValue = n ? pairedRandomizationTest(va, vb, trials, seededRandom(seed + k)) : Number.NaN;
    return { column, meanA, meanB, difference: meanB - meanA, pValue, n };
  });
  const warnings: string[] = [];
  if (shared.length > 0 && (shared.length < a.size || shared.length < b.size)) {
    warnings.push(
      `the runs scored different images (${a.size - shared.length} only in A, ${b.size - shared.length} only in B): compared on the ${shared.length} shared; CIDEr-D's per-image values come from each run's whole set, so they differ even for the same captions`,
    );
  }
  return {
    split: options.split,
    runA: { label: options.labelA, images: a.size, onlyHere: a.size - shared.length },
    runB: { label: options.labelB, images: b.size, onlyHere: b.size - shared.length },
    shared: shared.length,
    trials,
    seed,
    metrics,
    unmatchedColumns: unmatched,
    warnings,
  };
}

function fmt(v: number, digits = 4): string {
  return Number.isNaN(v) ? '-' : v.toFixed(digits);
}

/** `comparison_{split}.txt`. */
export function formatComparison(c: RunComparison): string {
  const lines = [
    `medcap compare: split ${c.split}`,
    `  A  ${c.runA.label}  (${c.runA.images} images, ${c.runA.onlyHere} only in A)`,
    `  B  ${c.runB.label}  (${c.runB.images} images, ${c.runB.onlyHere} only in B)`,
    `  compared on ${c.shared} shared images; paired approximate randomization, ${c.trials} trials, seed ${c.seed}`,
    '',
  ];
  const rows = [['metric', 'mean A', 'mean B', 'B - A', 'p-value', '']];
  for (const m of c.metrics) {
    rows.push([
      m.column,
      fmt(m.meanA),
      fmt(m.meanB),
      (m.difference >= 0 ? '+' : '') + fmt(m.difference),
      fmt(m.pValue),
      m.pValue < 0.01 ? '**' : m.pValue < 0.05 ? '*' : '',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) {
    lines.push(
      `  ${r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')}`.trimEnd(),
    );
  }
  lines.push('');
  lines.push('  * p < 0.05, ** p < 0.01. Means are of per-image values (sentence-level BLEU);');
  lines.push("  CIDEr-D per-image values depend on each run's evaluated set.");
  if (c.unmatchedColumns.length > 0) {
    lines.push(`  Not compared (only in one run): ${c.unmatchedColumns.join(', ')}`);
  }
  for (const warning of c.warnings) lines.push(`  Warning: ${warning}.`);
  return `${lines.join('\n')}\n`;
}
