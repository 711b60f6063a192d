import { type CaptionRow, hasEmptyCaption } from '../../formats/captions-csv.js';
import { isScoredRow } from '../../formats/captions-jsonl.js';
import {
  type JournalEnd,
  type JournalItem,
  type JournalLine,
  type JournalMemory,
  type JournalStart,
  journalSessions,
} from '../../formats/journal-types.js';
import {
  type Bin,
  binValues,
  mean,
  minMax,
  mode,
  quantileSorted,
  sortedCopy,
  std,
  wordCount,
} from './stats.js';
import {
  type AggregateMetric,
  isMetricColumn,
  METRIC_COLUMNS,
  type MetricColumn,
  metricLabel,
  type RunFiles,
} from './types.js';

/** How much of a large run goes on the page. */
export interface ReportLimits {
  /** Items in each of the best and worst galleries. */
  galleryPerSide: number;
  /** Failed items listed. */
  failures: number;
  /** Bins per metric histogram. */
  histogramBins: number;
  /** Points per time series. */
  timePoints: number;
  /** Concepts in the per-concept table. */
  concepts: number;
}

export const DEFAULT_LIMITS: Readonly<ReportLimits> = Object.freeze({
  galleryPerSide: 24,
  failures: 50,
  histogramBins: 20,
  timePoints: 120,
  concepts: 12,
});

export interface RunSummary {
  model: string | null;
  engine: string | null;
  device: string | null;
  dtype: string | null;
  batchSize: string | null;
  dataset: string | null;
  host: string | null;
  images: number;
  failed: number;
  /** Rows that are ok but whose generated caption is empty. */
  emptyCaptions: number;
  /** Rows that are ok but have no (non-blank) reference caption: evaluate does not score them. */
  noReference: number;
  wallTimeS: number | null;
  /** Where the wall time came from; `captions` means the sum of per-image times (approximate). */
  wallTimeSource: 'aggregate' | 'journal' | 'captions' | null;
  imagesPerS: number | null;
  peakRssBytes: number | null;
  peakGpuBytes: number | null;
  startedAt: number | null;
  /** Number of times the run was resumed (journal start lines − 1). */
  resumes: number;
  /** Other scalar settings from the aggregate's `run` object, for the details list. */
  extra: Array<[string, string]>;
}

export interface MetricRow extends AggregateMetric {
  column: string;
  label: string;
  /** Items with a value (from the per-item CSV), or the aggregate's n. */
  n: number | null;
}

export interface Histogram {
  column: string;
  label: string;
  bins: Bin[];
  mean: number | null;
  n: number;
}

export interface LengthBin {
  source: 'generated' | 'reference';
  start: number;
  end: number;
  count: number;
  /** Fraction of that source's captions. */
  share: number;
}

export interface LengthDistribution {
  bins: LengthBin[];
  generated: { n: number; mean: number | null; median: number | null };
  reference: { n: number; mean: number | null; median: number | null };
  /** Lengths above this went into the last bin. */
  clippedAbove: number | null;
}

export type TimeUnit = 's' | 'min' | 'h';

export interface ThroughputSeries {
  unit: TimeUnit;
  points: Array<{ t: number; rate: number; segment: number }>;
  /** Images per second over the active time. */
  mean: number;
  segments: number;
}

export interface MemorySeries {
  unit: TimeUnit;
  sizeUnit: 'MiB' | 'GiB';
  points: Array<{ t: number; series: string; value: number }>;
  series: string[];
}

export interface BreakdownGroup {
  key: string;
  label: string;
  n: number;
  means: Partial<Record<MetricColumn, number>>;
  generatedWords: number | null;
  referenceWords: number | null;
}

export interface Breakdown {
  kind: 'modality' | 'concept';
  groups: BreakdownGroup[];
  columns: MetricColumn[];
}

export interface GalleryItem {
  id: string;
  imagePath: string;
  references: string[];
  generated: string;
  scores: Array<[string, number]>;
  rankScore: number | null;
  concepts: string[];
}

export interface Gallery {
  rankedBy: MetricColumn | null;
  best: GalleryItem[];
  worst: GalleryItem[];
  /** Without metrics: an evenly spaced sample of items. */
  sample: GalleryItem[];
  ranked: number;
}

export interface ReportModel {
  title: string;
  dir: string;
  split: string;
  generatedAt: string;
  toolVersion: string;
  sources: string[];
  summary: RunSummary;
  metrics: MetricRow[];
  /** Metric columns shown next to gallery items and in breakdowns. */
  keyColumns: MetricColumn[];
  histograms: Histogram[];
  lengths: LengthDistribution;
  /** Generated words ÷ mean reference words, per image. */
  lengthRatio: Histogram | null;
  latency: Histogram | null;
  throughput: ThroughputSeries | null;
  memory: MemorySeries | null;
  breakdowns: Breakdown[];
  gallery: Gallery;
  failures: Array<{ id: string; error: string }>;
  failedTotal: number;
  hasJournal: boolean;
  /** Why evaluate's outputs in the folder were left out (they score other captions); null: none were. */
  scoresLeftOut: string | null;
}

export interface BuildOptions {
  generatedAt?: Date;
  toolVersion?: string;
  limits?: Partial<ReportLimits>;
}

/** Metrics bounded to [0, 1] (histograms then span the whole range). */
const UNIT_RANGE = new Set<string>(METRIC_COLUMNS.filter((c) => c !== 'cider'));

/** Ranking metric for the best/worst gallery: the first of these that the run has. */
const RANKING_ORDER: readonly MetricColumn[] = [
  'rouge_l',
  'meteor',
  'bertscore_f1',
  'cider',
  'bleu_4',
  'bleu_1',
  'rouge_1',
  'rouge_2',
  'bleu_2',
  'bleu_3',
  'bertscore_recall',
  'bertscore_precision',
];

const KEY_COLUMNS: readonly MetricColumn[] = [
  'bleu_4',
  'rouge_l',
  'meteor',
  'cider',
  'bertscore_f1',
];

/**
 * UMLS concepts that ROCOv2 / ImageCLEFmedical use for the imaging modality and the body
 * region; other concepts are shown by their CUI.
 */
export const MODALITY_CONCEPTS: Readonly<Record<string, string>> = Object.freeze({
  C0040405: 'CT',
  C1306645: 'Plain radiograph',
  C0024485: 'MRI',
  C0041618: 'Ultrasound',
  C0002978: 'Angiography',
  C0032743: 'PET',
});

const REGION_CONCEPTS: Readonly<Record<string, string>> = Object.freeze({
  C0817096: 'Chest',
  C0000726: 'Abdomen',
  C0030797: 'Pelvis',
  C0037303: 'Skull',
  C0006141: 'Breast',
  C0037949: 'Spine',
  C0023216: 'Lower limb',
  C1140618: 'Upper limb',
});

export function conceptLabel(cui: string): string {
  return MODALITY_CONCEPTS[cui] ?? REGION_CONCEPTS[cui] ?? cui;
}

/** Turns the files of a run directory into everything the page shows (pure). */
export function buildReportModel(files: RunFiles, options: BuildOptions = {}): ReportModel {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const rows = files.captions;
  const metricColumns = availableColumns(files);
  const itemMetrics = files.itemMetrics ?? new Map();
  const keyColumns = pickKeyColumns(metricColumns);
  const failedRows = rows.filter((r) => r.status === 'error');
  const valuesByColumn = collectMetricValues(itemMetrics, files.metricColumns);

  return {
    title: `Captioning report · ${files.split}`,
    dir: files.dir,
    split: files.split,
    generatedAt: (options.generatedAt ?? new Date()).toISOString(),
    toolVersion: options.toolVersion ?? '',
    sources: files.sources,
    summary: summarizeRun(files),
    metrics: metricTable(files, metricColumns, valuesByColumn),
    keyColumns,
    histograms: files.metricColumns.map((column) =>
      metricHistogram(column, valuesByColumn.get(column) ?? [], limits.histogramBins),
    ),
    lengths: lengthDistribution(rows),
    lengthRatio: lengthRatioHistogram(rows),
    latency: latencyHistogram(rows),
    throughput: throughputSeries(files.journal, limits.timePoints),
    memory: memorySeries(files.journal, limits.timePoints * 2),
    breakdowns: conceptBreakdowns(rows, itemMetrics, keyColumns, limits.concepts),
    gallery: selectGallery(
      rows,
      itemMetrics,
      files.metricColumns,
      keyColumns,
      limits.galleryPerSide,
    ),
    failures: failedRows.slice(0, limits.failures).map((r) => ({ id: r.imageId, error: r.error })),
    failedTotal: failedRows.length,
    hasJournal: files.journal.length > 0,
    scoresLeftOut: files.scoresLeftOut ?? null,
  };
}

function availableColumns(files: RunFiles): string[] {
  const columns: string[] = [...files.metricColumns];
  for (const name of Object.keys(files.aggregate?.metrics ?? {})) {
    if (!columns.includes(name)) columns.push(name);
  }
  const known = METRIC_COLUMNS.filter((c) => columns.includes(c));
  const unknown = columns.filter((c) => !isMetricColumn(c)).sort();
  return [...known, ...unknown];
}

function pickKeyColumns(columns: readonly string[]): MetricColumn[] {
  const known = columns.filter(isMetricColumn);
  const key = KEY_COLUMNS.filter((c) => known.includes(c));
  return key.length > 0 ? key : known.slice(0, 5);
}

/** Per-item values of each metric column (every scored item, in file order). */
export function collectMetricValues(
  itemMetrics: ReadonlyMap<string, Partial<Record<MetricColumn, number>>>,
  columns: readonly MetricColumn[],
): Map<MetricColumn, number[]> {
  const out = new Map<MetricColumn, number[]>(columns.map((c) => [c, []]));
  for (const scores of itemMetrics.values()) {
    for (const column of columns) {
      const value = scores[column];
      if (value !== undefined) out.get(column)!.push(value);
    }
  }
  return out;
}

/** BERTScore rescaled with a baseline (the aggregate's run.bertscore.baseline) is labelled so. */
function rescaledBertScore(files: RunFiles): boolean {
  const setup = files.aggregate?.run?.bertscore as { baseline?: unknown } | undefined;
  return Boolean(setup?.baseline);
}

export function metricTable(
  files: RunFiles,
  columns: readonly string[],
  valuesByColumn: ReadonlyMap<string, number[]>,
): MetricRow[] {
  const labelOptions = { rescaledBertScore: rescaledBertScore(files) };
  return columns.map((column) => {
    const fromAggregate: AggregateMetric | undefined = files.aggregate?.metrics[column];
    const values = valuesByColumn.get(column) ?? [];
    const sorted = sortedCopy(values);
    const range = minMax(values);
    return {
      column,
      label: metricLabel(column, labelOptions),
      corpus: fromAggregate?.corpus ?? null,
      mean: fromAggregate?.mean ?? mean(values),
      std: fromAggregate?.std ?? std(values),
      median: fromAggregate?.median ?? quantileSorted(sorted, 0.5),
      min: fromAggregate?.min ?? range?.[0] ?? null,
      max: fromAggregate?.max ?? range?.[1] ?? null,
      ci95: fromAggregate?.ci95 ?? null,
      n: values.length > 0 ? values.length : (files.aggregate?.n ?? null),
    };
  });
}

export function metricHistogram(
  column: MetricColumn,
  values: readonly number[],
  binCount: number,
): Histogram {
  const range = minMax(values) ?? [0, 1];
  let lo = range[0];
  let hi = range[1];
  if (UNIT_RANGE.has(column)) {
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 1);
  } else {
    lo = Math.min(lo, 0);
    if (hi <= lo) hi = lo + 1;
  }
  return {
    column,
    label: metricLabel(column),
    bins: binValues(values, lo, hi, binCount),
    mean: mean(values),
    n: values.length,
  };
}

export function lengthDistribution(rows: readonly CaptionRow[], maxBins = 40): LengthDistribution {
  const generated = rows.filter((r) => r.status === 'ok').map((r) => rowWords(r).generated);
  const reference = rows.flatMap((r) => rowWords(r).references);
  const all = sortedCopy([...generated, ...reference]);
  const p99 = Math.ceil(quantileSorted(all, 0.99) ?? 1);
  const top = Math.max(1, p99);
  const width = Math.max(1, Math.ceil((top + 1) / maxBins));
  const binCount = Math.ceil((top + 1) / width);
  const hi = binCount * width;
  const max = all.at(-1) ?? 0;
  const bins: LengthBin[] = [];
  for (const [source, values] of [
    ['generated', generated],
    ['reference', reference],
  ] as const) {
    const counted = binValues(values, 0, hi, binCount);
    for (const bin of counted) {
      bins.push({
        source,
        start: bin.start,
        end: bin.end,
        count: bin.count,
        share: values.length > 0 ? bin.count / values.length : 0,
      });
    }
  }
  const describe = (values: number[]) => ({
    n: values.length,
    mean: mean(values),
    median: quantileSorted(sortedCopy(values), 0.5),
  });
  return {
    bins,
    generated: describe(generated),
    reference: describe(reference),
    clippedAbove: max >= hi ? hi : null,
  };
}

export function lengthRatioHistogram(rows: readonly CaptionRow[], binCount = 30): Histogram | null {
  const values: number[] = [];
  for (const row of rows) {
    if (row.status !== 'ok' || row.references.length === 0) continue;
    const words = rowWords(row);
    const reference = mean(words.references) ?? 0;
    if (reference > 0) values.push(words.generated / reference);
  }
  if (values.length === 0) return null;
  const p99 = quantileSorted(sortedCopy(values), 0.99) ?? 1;
  const hi = Math.max(1.5, Math.min(4, Math.ceil(p99 * 4) / 4));
  return {
    column: 'length_ratio',
    label: 'Length ratio',
    bins: binValues(values, 0, hi, binCount),
    mean: mean(values),
    n: values.length,
  };
}

export function latencyHistogram(rows: readonly CaptionRow[], binCount = 30): Histogram | null {
  const values = rows
    .filter(
      (r) => r.status === 'ok' && Number.isFinite(r.processingTimeS) && r.processingTimeS >= 0,
    )
    .map((r) => r.processingTimeS);
  if (values.length === 0) return null;
  const sorted = sortedCopy(values);
  const hi = Math.max(quantileSorted(sorted, 0.99) ?? 0, 1e-3);
  return {
    column: 'processing_time_s',
    label: 'Seconds per image',
    bins: binValues(values, 0, hi * 1.0001, binCount),
    mean: mean(values),
    n: values.length,
  };
}

function journalOf<K extends JournalLine['kind']>(
  journal: readonly JournalLine[],
  kind: K,
): Extract<JournalLine, { kind: K }>[] {
  return journal.filter((line) => line.kind === kind) as Extract<JournalLine, { kind: K }>[];
}

function timeUnitFor(spanS: number): TimeUnit {
  if (spanS < 180) return 's';
  if (spanS < 3 * 3600) return 'min';
  return 'h';
}

const UNIT_SECONDS: Record<TimeUnit, number> = { s: 1, min: 60, h: 3600 };

/**
 * Images per second over time from the journal's item lines: at up to `points` moments per
 * session, the images finished in the trailing window divided by its length. The window
 * spans several batches (items finish a batch at a time) and about 3% of the run.
 */
export function throughputSeries(
  journal: readonly JournalLine[],
  points: number,
): ThroughputSeries | null {
  const parts = journalSessions(journal)
    .map((lines) => {
      const start = lines.find((l): l is JournalStart => l.kind === 'start');
      // An item written again by a resume (its references refreshed) keeps its first time.
      const items = lines.filter(
        (l): l is JournalItem => l.kind === 'item' && (start === undefined || l.time >= start.time),
      );
      if (items.length === 0) return null;
      const times = items.map((i) => i.time).sort((a, b) => a - b);
      const from = Math.min(start?.time ?? times[0]! - 1000, times[0]! - 1);
      return { from, to: times.at(-1)!, times };
    })
    .filter((p) => p !== null);
  if (parts.length === 0) return null;
  const origin = parts[0]!.from;
  const active = parts.reduce((sum, p) => sum + (p.to - p.from), 0);
  const unit = timeUnitFor((parts.at(-1)!.to - origin) / 1000);
  const gaps: number[] = [];
  for (const part of parts) {
    for (let i = 1; i < part.times.length; i += 1) {
      const gap = part.times[i]! - part.times[i - 1]!;
      if (gap > 0) gaps.push(gap);
    }
  }
  const typicalGap = quantileSorted(sortedCopy(gaps), 0.5) ?? 0;
  const windowMs = Math.max(100, active / 30, typicalGap * 3);
  const out: ThroughputSeries['points'] = [];
  let total = 0;
  parts.forEach((part, segment) => {
    total += part.times.length;
    const finishes = [...new Set(part.times)];
    const share = Math.max(2, Math.round((points * (part.to - part.from)) / Math.max(active, 1)));
    const moments =
      finishes.length <= share
        ? finishes
        : Array.from(
            { length: share },
            (_, i) => finishes[0]! + ((part.to - finishes[0]!) * i) / (share - 1),
          );
    for (const t of moments) {
      const from = Math.max(part.from, t - windowMs);
      const count = upperBound(part.times, t) - upperBound(part.times, from);
      out.push({
        t: (t - origin) / 1000 / UNIT_SECONDS[unit],
        rate: count / ((t - from) / 1000),
        segment,
      });
    }
  });
  return {
    unit,
    points: out,
    mean: total / Math.max(active / 1000, 1e-3),
    segments: parts.length,
  };
}

/** Index of the first element greater than `value` in ascending `sorted`. */
function upperBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Memory over time from the journal's memory lines, downsampled to at most `points` per
 * series by keeping the peak of each window (a spike never disappears).
 */
export function memorySeries(journal: readonly JournalLine[], points: number): MemorySeries | null {
  const lines = journalOf(journal, 'memory').sort((a, b) => a.time - b.time);
  if (lines.length === 0) return null;
  const origin = journal.find((l) => l.kind === 'start')?.time ?? lines[0]!.time;
  const start = Math.min(origin, lines[0]!.time);
  const span = (lines.at(-1)!.time - start) / 1000;
  const unit = timeUnitFor(span);
  const fields: Array<[string, (m: JournalMemory) => number | null]> = [
    ['RSS', (m) => m.rssBytes],
    ['JS heap', (m) => m.heapUsedBytes],
    ['Image cache', (m) => m.cacheBytes],
    ['GPU', (m) => m.gpuUsedBytes],
  ];
  const peak = lines.reduce((max, m) => Math.max(max, m.rssBytes, m.gpuUsedBytes ?? 0), 0);
  const sizeUnit = peak >= 1024 ** 3 ? 'GiB' : 'MiB';
  const divisor = sizeUnit === 'GiB' ? 1024 ** 3 : 1024 ** 2;
  const buckets = Math.min(points, lines.length);
  const width = (lines.at(-1)!.time - start) / buckets || 1;
  const out: MemorySeries['points'] = [];
  const series: string[] = [];
  for (const [name, read] of fields) {
    const values = lines.map(read);
    if (values.every((v) => v === null || v === undefined || !(v > 0))) continue;
    series.push(name);
    const best = new Map<number, { time: number; value: number }>();
    lines.forEach((line, i) => {
      const value = values[i];
      if (value === null || value === undefined || !Number.isFinite(value)) return;
      const bucket = Math.min(buckets - 1, Math.floor((line.time - start) / width));
      const current = best.get(bucket);
      if (!current || value > current.value) best.set(bucket, { time: line.time, value });
    });
    for (const bucket of [...best.keys()].sort((a, b) => a - b)) {
      const { time, value } = best.get(bucket)!;
      out.push({
        t: (time - start) / 1000 / UNIT_SECONDS[unit],
        series: name,
        value: value / divisor,
      });
    }
  }
  if (series.length === 0) return null;
  return { unit, sizeUnit, points: out, series };
}

export function summarizeRun(files: RunFiles): RunSummary {
  const run = files.aggregate?.run ?? {};
  const rows = files.captions;
  const starts = journalOf(files.journal, 'start');
  const ends = journalOf(files.journal, 'end');
  const memory = journalOf(files.journal, 'memory');
  const first = starts[0];

  const str = (key: string): string | null => {
    const v = run[key];
    return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null;
  };
  const num = (key: string): number | null => {
    const v = run[key];
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  };

  const okRows = rows.filter((r) => r.status === 'ok');
  const images = num('images') ?? rows.length;
  const failed = num('failed') ?? rows.length - okRows.length;

  let wallTimeS = num('wallTimeS');
  let wallTimeSource: RunSummary['wallTimeSource'] = wallTimeS === null ? null : 'aggregate';
  if (wallTimeS === null && files.journal.length > 0) {
    const journalWall = journalWallTime(files.journal);
    if (journalWall !== null) {
      wallTimeS = journalWall;
      wallTimeSource = 'journal';
    }
  }
  if (wallTimeS === null) {
    const times = rows.map((r) => r.processingTimeS).filter((t) => Number.isFinite(t) && t >= 0);
    if (times.length > 0) {
      wallTimeS = times.reduce((a, b) => a + b, 0);
      wallTimeSource = 'captions';
    }
  }
  const imagesPerS =
    num('imagesPerS') ?? (wallTimeS !== null && wallTimeS > 0 ? images / wallTimeS : null);

  let peakFromJournal = 0;
  for (const e of ends) peakFromJournal = Math.max(peakFromJournal, e.peakRssBytes ?? 0);
  let peakGpu = 0;
  for (const m of memory) {
    peakFromJournal = Math.max(peakFromJournal, m.rssBytes ?? 0);
    peakGpu = Math.max(peakGpu, m.gpuUsedBytes ?? 0);
  }

  const batchFromRows = mode(rows.map((r) => r.batchSize).filter((b) => Number.isFinite(b)));
  const batchSize =
    str('batchSize') ??
    (first ? String(first.batchSize) : batchFromRows === undefined ? null : String(batchFromRows));

  const host = first?.host
    ? `${first.host.platform}, ${first.host.cpus} CPUs, ${formatGiB(first.host.totalMemoryBytes)}, Node ${first.host.node}`
    : null;

  const known = new Set([
    'engine',
    'model',
    'device',
    'dtype',
    'batchSize',
    'images',
    'failed',
    'wallTimeS',
    'imagesPerS',
    'peakRssBytes',
  ]);
  const extra: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(run)) {
    if (known.has(key)) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      extra.push([key, String(value)]);
    } else if (Array.isArray(value) && value.every((v) => typeof v !== 'object')) {
      extra.push([key, value.join(', ')]);
    }
  }

  return {
    model: str('model') ?? first?.model ?? nonEmpty(mode(rows.map((r) => r.model))),
    engine: str('engine') ?? first?.engine ?? nonEmpty(mode(rows.map((r) => r.engine))),
    device: str('device') ?? first?.device ?? null,
    dtype: str('dtype') ?? first?.dtype ?? null,
    batchSize,
    dataset: str('dataset') ?? first?.dataset ?? null,
    host,
    images,
    failed,
    emptyCaptions: rows.filter(hasEmptyCaption).length,
    noReference: okRows.filter((r) => !isScoredRow(r)).length,
    wallTimeS,
    wallTimeSource,
    imagesPerS,
    peakRssBytes: num('peakRssBytes') ?? (peakFromJournal > 0 ? peakFromJournal : null),
    peakGpuBytes: peakGpu > 0 ? peakGpu : null,
    startedAt: first?.time ?? null,
    resumes: Math.max(0, starts.length - 1),
    extra,
  };
}

function nonEmpty(value: string | undefined): string | null {
  return value === undefined || value === '' ? null : value;
}

function formatGiB(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(0)} GiB RAM`;
}

/** Sum over sessions of (end or last line) − start, in seconds. */
function journalWallTime(journal: readonly JournalLine[]): number | null {
  let total = 0;
  let any = false;
  for (const lines of journalSessions(journal)) {
    const start = lines.find((l) => l.kind === 'start');
    const end = lines.find((l): l is JournalEnd => l.kind === 'end');
    if (end && Number.isFinite(end.wallTimeS)) {
      total += end.wallTimeS;
      any = true;
      continue;
    }
    if (!start) continue;
    const last = lines.reduce((max, l) => Math.max(max, l.time), start.time);
    total += (last - start.time) / 1000;
    any = true;
  }
  return any ? total : null;
}

const wordsCache = new WeakMap<CaptionRow, { generated: number; references: number[] }>();

/** Word counts of a row's captions, computed once per row. */
function rowWords(row: CaptionRow): { generated: number; references: number[] } {
  let words = wordsCache.get(row);
  if (!words) {
    words = {
      generated: wordCount(row.generatedCaption),
      references: row.references.map(wordCount),
    };
    wordsCache.set(row, words);
  }
  return words;
}

export function conceptBreakdowns(
  rows: readonly CaptionRow[],
  itemMetrics: ReadonlyMap<string, Partial<Record<MetricColumn, number>>>,
  columns: readonly MetricColumn[],
  topConcepts: number,
): Breakdown[] {
  if (!rows.some((r) => (r.concepts?.length ?? 0) > 0)) return [];
  // Row-aligned columns (NaN = no value), so each group is a list of row indexes.
  const scores = columns.map(() => new Float64Array(rows.length).fill(Number.NaN));
  const generated = new Float64Array(rows.length).fill(Number.NaN);
  const reference = new Float64Array(rows.length).fill(Number.NaN);
  const byModality = new Map<string, number[]>();
  const byConcept = new Map<string, number[]>();
  rows.forEach((row, index) => {
    if (!row.concepts || row.concepts.length === 0) return;
    const item = itemMetrics.get(row.imageId);
    columns.forEach((column, k) => {
      const value = item?.[column];
      if (value !== undefined) scores[k]![index] = value;
    });
    const words = rowWords(row);
    if (row.status === 'ok') generated[index] = words.generated;
    if (words.references.length > 0) reference[index] = mean(words.references)!;
    for (const cui of new Set(row.concepts.map((c) => c.trim()))) {
      if (cui === '') continue;
      if (cui in MODALITY_CONCEPTS) push(byModality, cui, index);
      push(byConcept, cui, index);
    }
  });
  const meanAt = (values: Float64Array, members: readonly number[]): number | null => {
    let sum = 0;
    let n = 0;
    for (const i of members) {
      const v = values[i]!;
      if (!Number.isNaN(v)) {
        sum += v;
        n += 1;
      }
    }
    return n === 0 ? null : sum / n;
  };
  const group = (key: string, members: number[]): BreakdownGroup => {
    const means: Partial<Record<MetricColumn, number>> = {};
    columns.forEach((column, k) => {
      const m = meanAt(scores[k]!, members);
      if (m !== null) means[column] = m;
    });
    return {
      key,
      label: conceptLabel(key),
      n: members.length,
      means,
      generatedWords: meanAt(generated, members),
      referenceWords: meanAt(reference, members),
    };
  };
  const ordered = (map: Map<string, number[]>, limit: number, skip: ReadonlySet<string>) =>
    [...map.entries()]
      .filter(([key]) => !skip.has(key))
      .sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1))
      .slice(0, limit)
      .map(([key, members]) => group(key, members));
  const out: Breakdown[] = [];
  if (byModality.size > 0) {
    out.push({
      kind: 'modality',
      groups: ordered(byModality, byModality.size, new Set()),
      columns: [...columns],
    });
  }
  // Modality concepts have their own table; the concept table shows the others.
  const others = ordered(byConcept, topConcepts, new Set(byModality.keys()));
  if (others.length > 0) out.push({ kind: 'concept', groups: others, columns: [...columns] });
  return out;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** The ranking metric for the gallery: the first of RANKING_ORDER the run has. */
export function rankingColumn(columns: readonly MetricColumn[]): MetricColumn | null {
  return RANKING_ORDER.find((c) => columns.includes(c)) ?? null;
}

export function selectGallery(
  rows: readonly CaptionRow[],
  itemMetrics: Map<string, Partial<Record<MetricColumn, number>>>,
  metricColumns: readonly MetricColumn[],
  keyColumns: readonly MetricColumn[],
  perSide: number,
): Gallery {
  const rankedBy = rankingColumn(metricColumns);
  const toItem = (row: CaptionRow): GalleryItem => {
    const scores = itemMetrics.get(row.imageId) ?? {};
    const shown: Array<[string, number]> = [];
    const columns =
      rankedBy && !keyColumns.includes(rankedBy) ? [rankedBy, ...keyColumns] : keyColumns;
    for (const column of columns) {
      const value = scores[column];
      if (value !== undefined) shown.push([column, value]);
    }
    return {
      id: row.imageId,
      imagePath: row.imagePath,
      references: row.references,
      generated: row.generatedCaption,
      scores: shown,
      rankScore: rankedBy ? (scores[rankedBy] ?? null) : null,
      concepts: row.concepts ?? [],
    };
  };
  if (rankedBy === null) {
    const count = Math.min(rows.length, perSide * 2);
    const step = rows.length / Math.max(count, 1);
    const sample = Array.from({ length: count }, (_, i) => rows[Math.floor(i * step)]!).map(toItem);
    return { rankedBy, best: [], worst: [], sample, ranked: 0 };
  }
  const ranked = rows
    .map((row, index) => ({ row, index, score: itemMetrics.get(row.imageId)?.[rankedBy] }))
    .filter((r): r is { row: CaptionRow; index: number; score: number } => r.score !== undefined)
    .sort((a, b) => b.score - a.score || a.index - b.index);
  const bestCount = Math.min(perSide, Math.ceil(ranked.length / 2));
  const worstCount = Math.min(perSide, ranked.length - bestCount);
  const best = ranked.slice(0, bestCount).map((r) => toItem(r.row));
  const worst = ranked
    .slice(ranked.length - worstCount)
    .reverse()
    .map((r) => toItem(r.row));
  return { rankedBy, best, worst, sample: [], ranked: ranked.length };
}
