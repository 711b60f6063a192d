import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { writeFileAtomic } from '../../core/files.js';
import { type Logger, silentLogger } from '../../core/logger.js';
import { outputPaths } from '../../core/paths.js';
import { readRunFiles, resolveSplit } from './load.js';
import { type BuildOptions, buildReportModel, type ReportLimits } from './model.js';
import { renderReportPage } from './page.js';
import { makeThumbnails } from './thumbnails.js';

export {
  type ComparisonPageInput,
  type ComparisonPageMetric,
  renderComparisonPage,
} from './compare.js';
export { escapeHtml } from './escape.js';
export { findSplits, readRunFiles, resolveSplit } from './load.js';
export { buildReportModel, DEFAULT_LIMITS, type ReportLimits, type ReportModel } from './model.js';
export { renderReportPage, type Thumbnails } from './page.js';

export interface WriteReportOptions {
  /** The run directory (output folder of caption / evaluate). */
  dir: string;
  /** Split to report; when its captions CSV is absent and only one split is there, that one. */
  split: string;
  logger?: Logger;
  /** Relative image paths are resolved against this first (default: process.cwd()). */
  cwd?: string;
  limits?: Partial<ReportLimits>;
  /** For reproducible output in tests. */
  now?: Date;
}

export interface WriteReportResult {
  path: string;
  split: string;
  bytes: number;
}

/**
 * Builds `medical_{split}_report.html` in the run directory from the files there
 * (SPEC §8): one self-contained page, charts as inline SVG, thumbnails as data: URIs.
 */
export async function writeReport(options: WriteReportOptions): Promise<WriteReportResult> {
  const logger = options.logger ?? silentLogger;
  const dir = resolve(options.dir);
  const split = await resolveSplit(dir, options.split, logger);
  const files = await readRunFiles(dir, split, logger);
  const build: BuildOptions = { toolVersion: await packageVersion() };
  if (options.limits) build.limits = options.limits;
  if (options.now) build.generatedAt = options.now;
  const model = buildReportModel(files, build);
  const items = [...model.gallery.best, ...model.gallery.worst, ...model.gallery.sample];
  const thumbnails = await makeThumbnails(items, {
    cwd: options.cwd ?? process.cwd(),
    dir,
    logger,
  });
  const page = await renderReportPage(model, thumbnails);
  const path = outputPaths(dir, split).report;
  await writeFileAtomic(path, page);
  const bytes = Buffer.byteLength(page);
  logger.info(`report: wrote ${path} (${(bytes / 1024).toFixed(0)} KiB)`);
  return { path, split, bytes };
}

async function packageVersion(): Promise<string> {
  for (const up of ['../../../package.json', '../../../../package.json']) {
    try {
      const json = JSON.parse(await readFile(new URL(up, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (json.name === 'medcap' && json.version) return json.version;
    } catch {
      // not there in this layout
    }
  }
  return '';
}
