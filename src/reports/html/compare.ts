import { type DifferenceDatum, differenceSpec, renderSvg } from './charts.js';
import { type Html, html, raw } from './escape.js';
import { formatInteger, formatMetric, formatPValue, formatSigned } from './format.js';
import { pageShell } from './layout.js';
import { metricLabel } from './types.js';

/** One metric of a paired comparison of two runs on the same images. */
export interface ComparisonPageMetric {
  /** Metric column name, e.g. `bleu_4` (shown as BLEU-4). */
  name: string;
  /** The score of run A and of run B on the shared images (corpus value or mean). */
  a: number;
  b: number;
  /** B − A. */
  difference: number;
  /** Two-sided p-value of the paired test, or null when not computed. */
  pValue: number | null;
  /** Images both runs scored. */
  n: number;
}

/** What `medcap compare` hands to the page. */
export interface ComparisonPageInput {
  a: { label: string; details?: Record<string, string | number> };
  b: { label: string; details?: Record<string, string | number> };
  split?: string;
  metrics: ComparisonPageMetric[];
  /** How p-values were computed, e.g. "paired approximate randomization, 10,000 trials". */
  method?: string;
  /** Significance level for highlighting (default 0.05). */
  alpha?: number;
  generatedAt?: Date;
}

/** The comparison page as one self-contained HTML string, in the report's style. */
export async function renderComparisonPage(comparison: ComparisonPageInput): Promise<string> {
  const alpha = comparison.alpha ?? 0.05;
  const significant = (m: ComparisonPageMetric) => m.pValue !== null && m.pValue < alpha;
  const relative = (m: ComparisonPageMetric) =>
    m.a !== 0 && Number.isFinite(m.a) ? (m.difference / Math.abs(m.a)) * 100 : null;
  const data: DifferenceDatum[] = comparison.metrics.map((m) => ({
    label: metricLabel(m.name),
    relative: relative(m),
    difference: m.difference,
    significant: significant(m),
  }));
  const chart = comparison.metrics.length > 0 ? await renderSvg(differenceSpec(data, alpha)) : null;
  const shared = comparison.metrics.reduce((max, m) => Math.max(max, m.n), 0);
  const better = comparison.metrics.filter((m) => significant(m) && m.difference > 0).length;
  const worse = comparison.metrics.filter((m) => significant(m) && m.difference < 0).length;
  const generatedAt = (comparison.generatedAt ?? new Date()).toISOString();
  const { a, b } = comparison;

  const keys = [...new Set([...Object.keys(a.details ?? {}), ...Object.keys(b.details ?? {})])];
  const body = html`<div class="page">
<header class="top"><div>
<h1>Run comparison${comparison.split ? html` <span class="badge">${comparison.split}</span>` : ''}</h1>
<div class="sub">A: ${a.label} · B: ${b.label}</div>
</div></header>
<section class="card" id="runs">
<h2>Runs</h2>
<div class="tiles">
<div class="tile"><div class="k">Shared images</div><div class="v">${formatInteger(shared)}</div><div class="n">paired on image id</div></div>
<div class="tile"><div class="k">B better</div><div class="v pos">${better}</div><div class="n">metrics with p &lt; ${alpha}</div></div>
<div class="tile"><div class="k">B worse</div><div class="v neg">${worse}</div><div class="n">metrics with p &lt; ${alpha}</div></div>
<div class="tile"><div class="k">No significant change</div><div class="v">${comparison.metrics.length - better - worse}</div><div class="n">of ${comparison.metrics.length} metrics</div></div>
</div>
<div class="scroll"><table class="data">
<thead><tr><th></th><th class="wrap">A</th><th class="wrap">B</th></tr></thead>
<tbody><tr><td>Label</td><td class="wrap">${a.label}</td><td class="wrap">${b.label}</td></tr>
${keys.map(
  (k) =>
    html`<tr><td>${k}</td><td class="wrap">${a.details?.[k] ?? '—'}</td><td class="wrap">${b.details?.[k] ?? '—'}</td></tr>`,
)}</tbody></table></div>
</section>
<section class="card" id="metrics">
<h2>Metrics</h2>
<p class="lead">Each run's score on the images both runs have; Δ = B − A.${comparison.method ? ` p-values: ${comparison.method}.` : ''} Bold p-values are below ${alpha}.</p>
<div class="scroll"><table class="data">
<thead><tr><th>Metric</th><th>A</th><th>B</th><th>Δ (B − A)</th><th>Relative</th><th>p-value</th><th>n</th></tr></thead>
<tbody>${comparison.metrics.map((m) => {
    const rel = relative(m);
    const cls = significant(m) ? (m.difference > 0 ? 'pos' : 'neg') : '';
    return html`<tr><td>${metricLabel(m.name)}</td><td>${formatMetric(m.a)}</td><td>${formatMetric(m.b)}</td><td class="${cls}">${formatSigned(m.difference)}</td><td class="${cls}">${
      rel === null ? '—' : `${formatSigned(rel, 1)}%`
    }</td><td>${significant(m) ? html`<span class="sig">${formatPValue(m.pValue)}</span>` : formatPValue(m.pValue)}</td><td>${formatInteger(m.n)}</td></tr>`;
  })}</tbody></table></div>
${
  chart
    ? html`<div class="charts wide">${chartFigure('Change from A to B', `relative to A, per metric; blue: p < ${alpha}`, chart)}</div>`
    : html`<p class="note">No metrics to compare.</p>`
}
</section>
<footer>Generated by medcap on ${generatedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}. Charts are static SVG; the page needs no network.</footer>
</div>`;
  return pageShell({
    title: `Run comparison: ${a.label} vs ${b.label} — medcap`,
    body,
    script: false,
  });
}

function chartFigure(title: string, subtitle: string, svg: string): Html {
  return html`<figure class="chart"><figcaption>${title}<span>${subtitle}</span></figcaption>${raw(svg)}</figure>`;
}
