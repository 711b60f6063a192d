import { describe, expect, it } from 'vitest';
import type { CaptionRow } from '../../formats/captions-csv.js';
import type { JournalLine } from '../../formats/journal-types.js';
import {
  buildReportModel,
  conceptBreakdowns,
  lengthDistribution,
  memorySeries,
  metricTable,
  selectGallery,
  summarizeRun,
  throughputSeries,
} from './model.js';
import { binValues, quantileSorted, wordCount } from './stats.js';
import type { MetricColumn, RunFiles } from './types.js';

function row(i: number, overrides: Partial<CaptionRow> = {}): CaptionRow {
  return {
    imageId: `img${i}`,
    imagePath: `/nowhere/${i}.png`,
    references: ['a chest x-ray with a small nodule'],
    generatedCaption: 'a chest radiograph',
    processingTimeS: 0.5,
    batchSize: 4,
    engine: 'openai',
    model: 'qwen2-vl',
    status: 'ok',
    error: '',
    ...overrides,
  };
}

function files(overrides: Partial<RunFiles> = {}): RunFiles {
  return {
    dir: '/runs/a',
    split: 'test',
    captions: [row(1), row(2)],
    itemMetrics: null,
    metricColumns: [],
    aggregate: null,
    journal: [],
    sources: ['medical_captions_test.csv'],
    ...overrides,
  };
}

const T0 = Date.UTC(2025, 0, 1);

function start(time: number): JournalLine {
  return {
    kind: 'start',
    time,
    engine: 'transformers',
    model: 'm',
    device: 'cpu',
    dtype: 'q8',
    batchSize: 8,
    split: 'test',
    dataset: '/d',
    format: 'rocov2',
    resumed: false,
    planned: 100,
    host: { platform: 'linux', cpus: 4, totalMemoryBytes: 8 * 1024 ** 3, node: 'v20' },
  };
}

function item(i: number, time: number): JournalLine {
  return {
    kind: 'item',
    id: `img${i}`,
    index: i,
    path: '',
    references: [],
    caption: '',
    status: 'ok',
    error: '',
    processingTimeS: 0.1,
    batchSize: 8,
    engine: 'transformers',
    model: 'm',
    time,
  };
}

describe('stats helpers', () => {
  it('counts words and bins values (clamping the ends)', () => {
    expect(wordCount('  a  chest\tx-ray\n')).toBe(3);
    expect(wordCount('')).toBe(0);
    const bins = binValues([0, 0.1, 0.5, 0.99, 1, 2, -1], 0, 1, 2);
    expect(bins.map((b) => b.count)).toEqual([3, 4]);
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
  });
});

describe('lengthDistribution', () => {
  it('gives each source shares that sum to 1; failed rows have no generated length', () => {
    const rows = [
      row(1, { generatedCaption: 'one two', references: ['one two three four'] }),
      row(2, { generatedCaption: 'one two three', references: ['a b', 'c d e f g h'] }),
      row(3, { status: 'error', generatedCaption: '' }),
    ];
    const d = lengthDistribution(rows);
    const sum = (source: string) =>
      d.bins.filter((b) => b.source === source).reduce((a, b) => a + b.share, 0);
    expect(sum('generated')).toBeCloseTo(1, 9);
    expect(sum('reference')).toBeCloseTo(1, 9);
    expect(d.generated).toEqual({ n: 2, mean: 2.5, median: 2.5 });
    // References of failed rows still describe the dataset.
    expect(d.reference.n).toBe(4);
    expect(d.reference.mean).toBeCloseTo((4 + 2 + 6 + 7) / 4, 9);
  });
});

describe('throughputSeries', () => {
  it('recovers a steady rate from batches of items', () => {
    // 8 images every 2 s for 200 s = 4 images/s.
    const journal: JournalLine[] = [start(T0)];
    for (let b = 1; b <= 100; b += 1) {
      for (let k = 0; k < 8; k += 1) journal.push(item(b * 8 + k, T0 + b * 2000));
    }
    const series = throughputSeries(journal, 50)!;
    expect(series.mean).toBeCloseTo(4, 6);
    expect(series.unit).toBe('min');
    expect(series.points.length).toBeLessThanOrEqual(51);
    const settled = series.points.filter((p) => p.t > 0.5);
    for (const p of settled) expect(p.rate).toBeGreaterThan(3.2);
    for (const p of settled) expect(p.rate).toBeLessThan(4.8);
  });

  it('draws one segment per session of a resumed run, and nothing without items', () => {
    const journal: JournalLine[] = [start(T0), item(1, T0 + 1000), item(2, T0 + 2000)];
    journal.push(start(T0 + 60_000), item(3, T0 + 61_000), item(4, T0 + 62_000));
    const series = throughputSeries(journal, 20)!;
    expect(series.segments).toBe(2);
    expect(new Set(series.points.map((p) => p.segment))).toEqual(new Set([0, 1]));
    expect(throughputSeries([start(T0)], 20)).toBeNull();
  });
});

describe('memorySeries', () => {
  it('downsamples but keeps the peak, and leaves out empty series', () => {
    const journal: JournalLine[] = [start(T0)];
    for (let i = 0; i < 1000; i += 1) {
      journal.push({
        kind: 'memory',
        time: T0 + i * 1000,
        rssBytes: (i === 777 ? 5 : 1) * 1024 ** 3,
        heapUsedBytes: 0.2 * 1024 ** 3,
        cacheBytes: 0,
        gpuUsedBytes: null,
        done: i,
      });
    }
    const series = memorySeries(journal, 100)!;
    expect(series.series).toEqual(['RSS', 'JS heap']);
    expect(series.sizeUnit).toBe('GiB');
    const rss = series.points.filter((p) => p.series === 'RSS');
    expect(rss.length).toBeLessThanOrEqual(100);
    expect(Math.max(...rss.map((p) => p.value))).toBeCloseTo(5, 9);
  });
});

describe('selectGallery', () => {
  const rows = Array.from({ length: 100 }, (_, i) => row(i));
  const metrics = new Map<string, Partial<Record<MetricColumn, number>>>(
    rows.map((r, i) => [r.imageId, { rouge_l: i / 100, bleu_4: (99 - i) / 100 }]),
  );

  it('ranks by ROUGE-L when present: best highest first, worst lowest first, capped', () => {
    const g = selectGallery(rows, metrics, ['bleu_4', 'rouge_l'], ['bleu_4', 'rouge_l'], 5);
    expect(g.rankedBy).toBe('rouge_l');
    expect(g.best.map((i) => i.id)).toEqual(['img99', 'img98', 'img97', 'img96', 'img95']);
    expect(g.worst.map((i) => i.id)).toEqual(['img0', 'img1', 'img2', 'img3', 'img4']);
    expect(g.best[0]!.scores).toEqual([
      ['bleu_4', 0],
      ['rouge_l', 0.99],
    ]);
    expect(g.ranked).toBe(100);
  });

  it('splits a small run into halves without repeating items', () => {
    const few = rows.slice(0, 7);
    const g = selectGallery(few, metrics, ['rouge_l'], ['rouge_l'], 24);
    expect(g.best).toHaveLength(4);
    expect(g.worst).toHaveLength(3);
    const ids = [...g.best, ...g.worst].map((i) => i.id);
    expect(new Set(ids).size).toBe(7);
  });

  it('shows an evenly spaced sample without metrics', () => {
    const g = selectGallery(rows, new Map(), [], [], 5);
    expect(g.rankedBy).toBeNull();
    expect(g.sample.map((i) => i.id)).toEqual([
      'img0',
      'img10',
      'img20',
      'img30',
      'img40',
      'img50',
      'img60',
      'img70',
      'img80',
      'img90',
    ]);
  });
});

describe('conceptBreakdowns', () => {
  it('groups by modality and by other concepts with per-group means', () => {
    const rows = [
      row(1, { concepts: ['C0040405', 'C0817096'] }),
      row(2, { concepts: ['C0040405'] }),
      row(3, { concepts: ['C0024485', 'C0817096'] }),
      row(4, { concepts: [] }),
    ];
    const metrics = new Map<string, Partial<Record<MetricColumn, number>>>([
      ['img1', { rouge_l: 0.2 }],
      ['img2', { rouge_l: 0.4 }],
      ['img3', { rouge_l: 0.9 }],
    ]);
    const [modality, concept] = conceptBreakdowns(rows, metrics, ['rouge_l'], 10);
    expect(modality!.kind).toBe('modality');
    expect(modality!.groups.map((g) => [g.label, g.n])).toEqual([
      ['CT', 2],
      ['MRI', 1],
    ]);
    expect(modality!.groups[0]!.means.rouge_l).toBeCloseTo(0.3, 12);
    expect(concept!.kind).toBe('concept');
    expect(concept!.groups.map((g) => [g.key, g.label, g.n])).toEqual([['C0817096', 'Chest', 2]]);
    expect(concept!.groups[0]!.means.rouge_l).toBeCloseTo(0.55, 12);
    expect(conceptBreakdowns([row(1)], metrics, ['rouge_l'], 10)).toEqual([]);
  });
});

describe('summarizeRun', () => {
  it('prefers the aggregate, then the journal, then the captions CSV', () => {
    const fromCsv = summarizeRun(files());
    expect(fromCsv).toMatchObject({
      engine: 'openai',
      model: 'qwen2-vl',
      batchSize: '4',
      images: 2,
      failed: 0,
      wallTimeS: 1,
      wallTimeSource: 'captions',
      imagesPerS: 2,
      peakRssBytes: null,
    });

    const journal: JournalLine[] = [
      start(T0),
      item(1, T0 + 2000),
      item(2, T0 + 4000),
      {
        kind: 'memory',
        time: T0 + 4000,
        rssBytes: 2e9,
        heapUsedBytes: 1e8,
        cacheBytes: 0,
        gpuUsedBytes: 3e9,
        done: 2,
      },
    ];
    const fromJournal = summarizeRun(files({ journal }));
    expect(fromJournal).toMatchObject({
      engine: 'transformers',
      device: 'cpu',
      dtype: 'q8',
      batchSize: '8',
      wallTimeS: 4,
      wallTimeSource: 'journal',
      imagesPerS: 0.5,
      peakRssBytes: 2e9,
      peakGpuBytes: 3e9,
      startedAt: T0,
    });

    const aggregate = {
      metrics: {},
      run: { engine: 'openai', wallTimeS: 10, imagesPerS: 0.2, peakRssBytes: 1e9, seed: 42 },
    };
    const fromAggregate = summarizeRun(files({ journal, aggregate }));
    expect(fromAggregate).toMatchObject({
      engine: 'openai',
      wallTimeS: 10,
      wallTimeSource: 'aggregate',
      imagesPerS: 0.2,
      peakRssBytes: 1e9,
    });
    expect(fromAggregate.extra).toEqual([['seed', '42']]);
  });
});

describe('buildReportModel', () => {
  it('builds a metric table from per-item values when there is no aggregate', () => {
    const captions = [row(1), row(2), row(3), row(4, { status: 'error', error: 'corrupt' })];
    const itemMetrics = new Map<string, Partial<Record<MetricColumn, number>>>([
      ['img1', { bleu_4: 0.1, cider: 2 }],
      ['img2', { bleu_4: 0.2, cider: 0 }],
      ['img3', { bleu_4: 0.6, cider: 1 }],
      ['img4', {}],
    ]);
    const model = buildReportModel(
      files({ captions, itemMetrics, metricColumns: ['bleu_4', 'cider'] }),
      { generatedAt: new Date(T0) },
    );
    expect(model.metrics.map((m) => m.column)).toEqual(['bleu_4', 'cider']);
    const bleu = model.metrics[0]!;
    expect(bleu.corpus).toBeNull();
    expect(bleu.mean).toBeCloseTo(0.3, 12);
    expect(bleu.median).toBeCloseTo(0.2, 12);
    // population std, as evaluate writes it into the aggregate JSON
    expect(bleu.std).toBeCloseTo(Math.sqrt((0.2 ** 2 + 0.1 ** 2 + 0.3 ** 2) / 3), 12);
    expect([bleu.min, bleu.max, bleu.n]).toEqual([0.1, 0.6, 3]);
    expect(model.histograms).toHaveLength(2);
    expect(model.histograms[1]!.bins.reduce((a, b) => a + b.count, 0)).toBe(3);
    // CIDEr is not bounded by 1: its histogram spans the data.
    expect(model.histograms[1]!.bins.at(-1)!.end).toBe(2);
    expect(model.histograms[0]!.bins.at(-1)!.end).toBe(1);
    expect(model.failedTotal).toBe(1);
    expect(model.failures).toEqual([{ id: 'img4', error: 'corrupt' }]);
    expect(model.generatedAt).toBe('2025-01-01T00:00:00.000Z');
  });

  it('takes corpus values and intervals from the aggregate', () => {
    const aggregate = {
      n: 2,
      metrics: {
        bleu_4: {
          corpus: 0.25,
          mean: 0.3,
          std: 0.1,
          median: 0.3,
          min: 0.2,
          max: 0.4,
          ci95: [0.2, 0.4] as [number, number],
        },
      },
    };
    const model = buildReportModel(files({ aggregate }));
    expect(model.metrics).toEqual([
      expect.objectContaining({
        column: 'bleu_4',
        label: 'BLEU-4',
        corpus: 0.25,
        ci95: [0.2, 0.4],
        n: 2,
      }),
    ]);
    expect(model.histograms).toEqual([]);
    expect(model.gallery.rankedBy).toBeNull();
  });
});

describe('metric table labels', () => {
  const metric = { corpus: 0.1, mean: 0.1, std: 0, median: 0.1, min: 0.1, max: 0.1, ci95: null };
  const withBertScore = (baseline: unknown) =>
    files({
      aggregate: {
        metrics: { bleu_4: metric, bertscore_f1: metric },
        run: { bertscore: { model: 'm', layer: 17, idf: false, dtype: 'fp32', baseline } },
      },
    });
  const labels = (f: RunFiles) =>
    metricTable(f, ['bleu_4', 'bertscore_f1'], new Map()).map((m) => m.label);

  it('marks BERTScore rescaled with a baseline, and only then', () => {
    expect(
      labels(withBertScore({ file: '/b.tsv', layer: 17, precision: 0.8, recall: 0.8, f1: 0.8 })),
    ).toEqual(['BLEU-4', 'BERTScore F1 (rescaled)']);
    expect(labels(withBertScore(null))).toEqual(['BLEU-4', 'BERTScore F1']);
  });
});
