/**
 * Report build time and page size for a synthetic run of 60,000 images (captions CSV,
 * detailed metrics CSV, aggregate JSON, journal with memory lines, concepts).
 *
 *   npx tsx bench/report.ts [rows]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeReport } from '../src/reports/html/index.js';
import { writeSyntheticRun } from '../test/e2e/report-fixture.js';

export interface ReportBenchResult {
  rows: number;
  /** Writing the synthetic run directory (not part of the report). */
  fixtureMs: number;
  /** writeReport: read every file, build the model, render charts and thumbnails, write. */
  buildMs: number;
  pageBytes: number;
  peakRssBytes: number;
}

export async function benchReport(
  options: { rows?: number; log?: (line: string) => void } = {},
): Promise<ReportBenchResult> {
  const rows = options.rows ?? 60_000;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dir = await mkdtemp(join(tmpdir(), 'medcap-bench-report-'));
  try {
    let t = performance.now();
    await writeSyntheticRun(dir, {
      rows,
      images: 100,
      metrics: true,
      aggregate: true,
      journal: true,
      concepts: true,
      failures: Math.min(120, Math.floor(rows / 500)),
      bertscore: true,
      seed: 1,
    });
    const fixtureMs = performance.now() - t;
    t = performance.now();
    const result = await writeReport({ dir, split: 'train' });
    const buildMs = performance.now() - t;
    const out: ReportBenchResult = {
      rows,
      fixtureMs,
      buildMs,
      pageBytes: result.bytes,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
    };
    log(
      `report: ${rows.toLocaleString('en-US')} images → ${(out.pageBytes / 1024 ** 2).toFixed(2)} MiB page in ${(
        buildMs / 1000
      ).toFixed(2)} s (process peak RSS ${(out.peakRssBytes / 1024 ** 2).toFixed(0)} MiB)`,
    );
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = process.argv[2] ? Number(process.argv[2]) : undefined;
  await benchReport(rows === undefined ? {} : { rows });
}
