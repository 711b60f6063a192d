import { type Loader, parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { InternalError } from '../../core/errors.js';
import type {
  Breakdown,
  Histogram,
  LengthDistribution,
  MemorySeries,
  ThroughputSeries,
} from './model.js';
import { metricLabel } from './types.js';

/**
 * Charts, rendered at build time to SVG with Vega-Lite → Vega's headless renderer. All data
 * is inline; the loader refuses every fetch, so nothing (fonts, data, images) is ever
 * requested while building or viewing.
 */

export const PALETTE = Object.freeze({
  primary: '#3b6ea8',
  generated: '#3b6ea8',
  reference: '#e08a2c',
  mean: '#c2362f',
  positive: '#2f8f5b',
  negative: '#c2362f',
  neutral: '#9aa3ae',
  series: ['#3b6ea8', '#e08a2c', '#2f8f5b', '#8e5ba8'],
});

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';

const CONFIG = {
  background: '#ffffff',
  aria: false,
  font: FONT,
  padding: 4,
  view: { stroke: null },
  axis: {
    labelColor: '#4a5260',
    titleColor: '#2a303a',
    titleFontWeight: 600,
    labelFontSize: 10.5,
    titleFontSize: 11,
    gridColor: '#edf0f3',
    domainColor: '#9aa3ae',
    tickColor: '#9aa3ae',
    titlePadding: 8,
  },
  legend: {
    orient: 'top',
    direction: 'horizontal',
    labelFontSize: 11,
    title: null,
    labelColor: '#2a303a',
  },
} as const;

const refuse = (): Promise<never> =>
  Promise.reject(new InternalError('the report renderer does not load external resources'));

const OFFLINE_LOADER = {
  options: {},
  load: refuse,
  sanitize: refuse,
  http: refuse,
  file: refuse,
} as unknown as Loader;

const quietLogger = {
  level(): never {
    return this as never;
  },
  error(): never {
    return this as never;
  },
  warn(): never {
    return this as never;
  },
  info(): never {
    return this as never;
  },
  debug(): never {
    return this as never;
  },
};

/** Compiles a Vega-Lite spec and renders it to an SVG string, offline. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const full = { ...spec, config: { ...CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec;
  const vegaSpec = compile(full, { logger: quietLogger as never }).spec;
  const view = new View(parse(vegaSpec), { renderer: 'none', loader: OFFLINE_LOADER });
  try {
    const svg = await view.toSVG();
    // Our class replaces Vega's on the root element: an element may have one class attribute.
    const root = uniqueIds(svg).replace(/^<svg\b([^>]*?) class="[^"]*"/, '<svg$1');
    return root.replace('<svg ', '<svg class="chart-svg" focusable="false" ');
  } finally {
    view.finalize();
  }
}

let chartCount = 0;

/** Prefixes the ids inside one chart (clip paths) so that charts on one page never share one. */
function uniqueIds(svg: string): string {
  chartCount += 1;
  const prefix = `c${chartCount}-`;
  return svg
    .replace(/\sid="([^"]+)"/g, (_, id: string) => ` id="${prefix}${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${prefix}${id})`);
}

const round = (v: number, digits = 6) => Number(v.toFixed(digits));

export function histogramSpec(
  histogram: Histogram,
  options: { width?: number; height?: number; color?: string; xTitle?: string } = {},
): TopLevelSpec {
  // Rects from x to x2 and from 0 to the count, with a hair of space between bars.
  const bins = histogram.bins.map((b) => {
    const gap = (b.end - b.start) * 0.06;
    return { start: round(b.start + gap), end: round(b.end - gap), count: b.count, zero: 0 };
  });
  const lo = histogram.bins[0]?.start ?? 0;
  const hi = histogram.bins.at(-1)?.end ?? 1;
  const layers: unknown[] = [
    {
      mark: { type: 'rect', color: options.color ?? PALETTE.primary },
      encoding: {
        x: {
          field: 'start',
          type: 'quantitative',
          title: options.xTitle ?? histogram.label,
          scale: { domain: [lo, hi], nice: false, zero: false },
          axis: { tickCount: 5, labelFlush: true },
        },
        x2: { field: 'end' },
        y: { field: 'count', type: 'quantitative', title: 'images', axis: { tickCount: 4 } },
        y2: { field: 'zero' },
      },
    },
  ];
  if (histogram.mean !== null) {
    layers.push({
      data: { values: [{ mean: round(histogram.mean) }] },
      mark: { type: 'rule', color: PALETTE.mean, strokeDash: [4, 3], strokeWidth: 1.5 },
      encoding: { x: { field: 'mean', type: 'quantitative' } },
    });
  }
  return {
    width: options.width ?? 250,
    height: options.height ?? 120,
    data: { values: bins },
    layer: layers,
  } as TopLevelSpec;
}

export function lengthSpec(lengths: LengthDistribution): TopLevelSpec {
  const bins = lengths.bins.map((b) => ({
    source: b.source,
    start: round(b.start),
    end: round(b.end),
    share: round(b.share),
    zero: 0,
  }));
  const hi = bins.reduce((max, b) => Math.max(max, b.end), 1);
  return {
    width: 420,
    height: 200,
    data: { values: bins },
    mark: { type: 'rect', opacity: 0.55 },
    encoding: {
      x: {
        field: 'start',
        type: 'quantitative',
        title: 'caption length (words)',
        scale: { domain: [0, hi], nice: false },
      },
      x2: { field: 'end' },
      y: {
        field: 'share',
        type: 'quantitative',
        stack: null,
        title: 'share of captions',
        axis: { format: '.0%', tickCount: 5 },
      },
      y2: { field: 'zero' },
      color: {
        field: 'source',
        type: 'nominal',
        scale: {
          domain: ['generated', 'reference'],
          range: [PALETTE.generated, PALETTE.reference],
        },
      },
    },
  } as TopLevelSpec;
}

const UNIT_TITLE = { s: 'seconds', min: 'minutes', h: 'hours' } as const;

export function throughputSpec(series: ThroughputSeries): TopLevelSpec {
  const points = series.points.map((p) => ({
    t: round(p.t, 4),
    rate: round(p.rate, 4),
    segment: p.segment,
  }));
  return {
    width: 420,
    height: 180,
    layer: [
      {
        data: { values: points },
        mark: {
          type: 'line',
          color: PALETTE.primary,
          strokeWidth: 1.6,
          interpolate: 'monotone',
          point: points.length <= 30 ? { size: 18, filled: true } : false,
        },
        encoding: {
          x: { field: 't', type: 'quantitative', title: `elapsed (${UNIT_TITLE[series.unit]})` },
          y: { field: 'rate', type: 'quantitative', title: 'images / s', axis: { tickCount: 5 } },
          detail: { field: 'segment', type: 'nominal' },
        },
      },
      {
        data: { values: [{ mean: round(series.mean, 4) }] },
        mark: { type: 'rule', color: PALETTE.mean, strokeDash: [4, 3], strokeWidth: 1.3 },
        encoding: { y: { field: 'mean', type: 'quantitative' } },
      },
    ],
  } as TopLevelSpec;
}

export function memorySpec(series: MemorySeries): TopLevelSpec {
  const points = series.points.map((p) => ({
    t: round(p.t, 4),
    series: p.series,
    value: round(p.value, 4),
  }));
  return {
    width: 420,
    height: 180,
    data: { values: points },
    mark: { type: 'line', strokeWidth: 1.6, interpolate: 'linear', point: points.length <= 40 },
    encoding: {
      x: { field: 't', type: 'quantitative', title: `elapsed (${UNIT_TITLE[series.unit]})` },
      y: {
        field: 'value',
        type: 'quantitative',
        title: series.sizeUnit,
        axis: { tickCount: 5 },
        scale: { zero: true },
      },
      color: {
        field: 'series',
        type: 'nominal',
        scale: { domain: series.series, range: PALETTE.series.slice(0, series.series.length) },
      },
    },
  } as TopLevelSpec;
}

/** Horizontal bars: the mean of one metric per group (or the count, without metrics). */
export function breakdownSpec(breakdown: Breakdown, column: string | null): TopLevelSpec {
  const values = breakdown.groups.map((g) => ({
    label: g.label,
    value: column ? (g.means[column as keyof typeof g.means] ?? null) : g.n,
  }));
  return {
    width: 220,
    height: { step: 20 },
    data: { values },
    layer: [
      {
        mark: { type: 'bar', color: PALETTE.primary, cornerRadiusEnd: 2 },
        encoding: {
          y: {
            field: 'label',
            type: 'nominal',
            sort: null,
            title: null,
            axis: { labelLimit: 0 },
          },
          x: {
            field: 'value',
            type: 'quantitative',
            title: column ? `mean ${metricLabel(column)}` : 'images',
            axis: { tickCount: 5 },
          },
        },
      },
      {
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 10, color: '#2a303a' },
        encoding: {
          y: { field: 'label', type: 'nominal', sort: null },
          x: { field: 'value', type: 'quantitative' },
          text: { field: 'value', type: 'quantitative', format: column ? '.3f' : ',d' },
        },
      },
    ],
  } as TopLevelSpec;
}

export interface DifferenceDatum {
  label: string;
  /** (B − A) / |A| × 100, or null when A is 0. */
  relative: number | null;
  difference: number;
  significant: boolean;
}

/** Diverging bars of the relative change from run A to run B, per metric. */
export function differenceSpec(values: DifferenceDatum[], alpha: number): TopLevelSpec {
  const data = values.map((v) => ({
    label: v.label,
    value: round(v.relative ?? 0, 4),
    kind: v.significant ? `p < ${alpha}` : 'not significant',
  }));
  return {
    width: 420,
    height: { step: 22 },
    data: { values: data },
    layer: [
      {
        mark: { type: 'bar', cornerRadiusEnd: 2 },
        encoding: {
          y: { field: 'label', type: 'nominal', sort: null, title: null },
          x: { field: 'value', type: 'quantitative', title: 'change from A to B (%)' },
          color: {
            field: 'kind',
            type: 'nominal',
            scale: {
              domain: [`p < ${alpha}`, 'not significant'],
              range: [PALETTE.primary, PALETTE.neutral],
            },
          },
        },
      },
      {
        data: { values: [{ zero: 0 }] },
        mark: { type: 'rule', color: '#4a5260' },
        encoding: { x: { field: 'zero', type: 'quantitative' } },
      },
    ],
  } as TopLevelSpec;
}
