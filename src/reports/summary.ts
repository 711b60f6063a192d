/** `medical_{split}_summary.txt`: a plain-text summary that reads well in a terminal. */

import type { AggregateReport, BertScoreSetup } from '../formats/metric-files.js';
import { metricLabel } from '../metrics/columns.js';

export interface ExcludedItem {
  id: string;
  reason: string;
}

export interface SummaryInput {
  report: AggregateReport;
  /** Rows with status=error (not scored). */
  failed: readonly ExcludedItem[];
  /** Rows without any reference caption (not scored). */
  unreferenced: readonly ExcludedItem[];
  /** Rows that are ok but whose generated caption is empty (scored as they are). */
  emptyCaptions: readonly ExcludedItem[];
  corpusDependentColumns: readonly string[];
}

const LIST_LIMIT = 20;

function num(value: number | null | undefined, digits = 4): string {
  return value === null || value === undefined || Number.isNaN(value) ? '-' : value.toFixed(digits);
}

function bytes(value: number | null): string {
  if (value === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = value;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
}

function listItems(title: string, items: readonly ExcludedItem[], note = 'not scored'): string[] {
  if (items.length === 0) return [];
  const lines = ['', `${title} (${items.length}, ${note}):`];
  for (const item of items.slice(0, LIST_LIMIT)) {
    lines.push(`  ${item.id}${item.reason ? `: ${item.reason.replace(/\s+/g, ' ')}` : ''}`);
  }
  if (items.length > LIST_LIMIT) lines.push(`  ... and ${items.length - LIST_LIMIT} more`);
  return lines;
}

function bertScoreLine(setup: BertScoreSetup): string {
  const { baseline } = setup;
  return (
    `model ${setup.model}, layer ${setup.layer}, ${setup.idf ? 'idf' : 'no idf'}, ${setup.dtype}, ` +
    (baseline
      ? `rescaled with the baseline of layer ${baseline.layer} in ${baseline.file} ` +
        `(P ${baseline.precision}, R ${baseline.recall}, F ${baseline.f1})`
      : 'raw values (no baseline rescaling)')
  );
}

export function formatSummary(input: SummaryInput): string {
  const { report, failed, unreferenced, emptyCaptions } = input;
  const run = report.run;
  const lines: string[] = [];
  lines.push(`medcap evaluation: split ${report.split}`);
  lines.push(`  captions   ${run.evaluatedFile}`);
  lines.push(
    `  items      ${report.n} scored, ${failed.length} failed captioning, ${unreferenced.length} without a reference, ` +
      `${emptyCaptions.length} with an empty caption`,
  );
  lines.push(
    `  settings   tokenizer ${run.tokenizer}, metrics ${run.metrics.join(',')}, ` +
      (run.bootstrap > 0 ? `bootstrap ${run.bootstrap} (seed ${run.seed})` : 'no bootstrap') +
      (run.rougeStemmer ? ', ROUGE-1/2 stemmed' : ''),
  );
  if (run.source !== 'none') {
    const parts = [
      run.engine && `engine ${run.engine}`,
      run.model && `model ${run.model}`,
      run.device && `device ${run.device}`,
      run.dtype && `dtype ${run.dtype}`,
      run.batchSize !== null && `batch size ${run.batchSize}`,
    ].filter(Boolean);
    lines.push(`  run        ${parts.join(', ')}`);
    if (run.images !== null) {
      lines.push(
        `             ${run.images} images (${run.failed ?? 0} failed)` +
          (run.wallTimeS !== null ? ` in ${num(run.wallTimeS, 1)} s` : '') +
          (run.imagesPerS !== null ? `, ${num(run.imagesPerS, 2)} images/s` : '') +
          (run.peakRssBytes !== null ? `, peak RSS ${bytes(run.peakRssBytes)}` : ''),
      );
    }
  }
  if (run.bertscore) lines.push(`  bertscore  ${bertScoreLine(run.bertscore)}`);
  lines.push(`  medcap     ${run.medcapVersion}`);
  lines.push('');
  const rows = [['metric', 'corpus', 'mean', 'std', 'median', 'min', 'max', '95% CI']];
  const rescaledBertScore = Boolean(run.bertscore?.baseline);
  for (const [column, s] of Object.entries(report.metrics)) {
    rows.push([
      metricLabel(column, { rescaledBertScore }),
      num(s.corpus),
      num(s.mean),
      num(s.std),
      num(s.median),
      num(s.min),
      num(s.max),
      s.ci95 ? `[${num(s.ci95[0])}, ${num(s.ci95[1])}]` : '-',
    ]);
  }
  lines.push(...table(rows).map((l) => `  ${l}`));
  lines.push('');
  lines.push('  BLEU corpus values pool n-gram counts over all items; the others are means.');
  if (run.bertscore?.baseline) {
    lines.push(
      "  BERTScore values are rescaled with a baseline, (raw - b) / (1 - b), as bert_score's rescale_with_baseline: compare them only with rescaled values.",
    );
  }
  if (input.corpusDependentColumns.length > 0) {
    lines.push(
      `  ${input.corpusDependentColumns.map((c) => metricLabel(c)).join(', ')}: per-item values depend on the evaluated set (document frequencies from its references).`,
    );
  }
  lines.push(...listItems('Failed captioning', failed));
  lines.push(...listItems('Without a reference caption', unreferenced));
  lines.push(...listItems('Empty generated caption', emptyCaptions, 'scored as empty'));
  return `${lines.join('\n')}\n`;
}
