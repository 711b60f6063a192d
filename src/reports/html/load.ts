import { readdir, readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { DatasetError } from '../../core/errors.js';
import { checkInputPath, inputPathError } from '../../core/input-path.js';
import type { Logger } from '../../core/logger.js';
import { outputPaths, splitOfCaptionsFile } from '../../core/paths.js';
import { parseAggregate } from '../../formats/aggregate-json.js';
import { type CaptionRow, readCaptionsCsv } from '../../formats/captions-csv.js';
import { isScoredRow } from '../../formats/captions-jsonl.js';
import { readFileLines } from '../../formats/file-lines.js';
import { JOURNAL_LINE_KINDS, type JournalLine } from '../../formats/journal-types.js';
import { readMetricsCsv } from '../../formats/metric-files.js';
import { type Aggregate, METRIC_COLUMNS, type MetricColumn, type RunFiles } from './types.js';

/**
 * Splits that have a captions CSV in `dir`, sorted. Evaluate's captions-with-metrics CSV
 * counts: `evaluate --out` may be a folder of its own, without the captions CSV.
 */
export async function findSplits(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  const splits = new Set<string>();
  for (const name of names) {
    const split = splitOfCaptionsFile(name);
    if (split !== undefined) splits.add(split);
  }
  return [...splits].sort();
}

/**
 * The split to report: the requested one when its captions CSV exists; otherwise the only
 * split present (said in the log); otherwise a ConfigError listing what is there (the folder
 * named is not a run folder of that split: a wrong argument, exit 1).
 */
export async function resolveSplit(
  dir: string,
  requested: string,
  logger: Logger,
): Promise<string> {
  await checkInputPath('run folder', dir, 'folder');
  const splits = await findSplits(dir);
  if (splits.includes(requested)) return requested;
  if (splits.length === 1) {
    const only = splits[0]!;
    logger.info(
      `${dir} has no ${basename(outputPaths(dir, requested).captions)}; reporting split '${only}', the only one there`,
    );
    return only;
  }
  const found =
    splits.length === 0
      ? 'no medical_captions_{split}.csv at all'
      : `splits found: ${splits.join(', ')} (pick one with --split)`;
  throw inputPathError(
    'run folder',
    dir,
    `no ${basename(outputPaths(dir, requested).captions)}; ${found}`,
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Reads every output file of one split that exists in `dir`. Only the captions (either CSV) are required. */
export async function readRunFiles(dir: string, split: string, logger: Logger): Promise<RunFiles> {
  const paths = outputPaths(dir, split);
  const sources: string[] = [];
  // The captions CSV, else evaluate's copy of it with the metric columns added.
  let captionsPath = paths.captions;
  if (!(await exists(captionsPath))) {
    if (!(await exists(paths.withMetrics))) {
      throw new DatasetError(
        `${dir}: no ${basename(paths.captions)} or ${basename(paths.withMetrics)} (the report needs the captions)`,
      );
    }
    captionsPath = paths.withMetrics;
  }
  const captions = await readCaptionsCsv(captionsPath);
  sources.push(basename(captionsPath));

  let itemMetrics: RunFiles['itemMetrics'] = null;
  let metricColumns: MetricColumn[] = [];
  let metricsPath = '';
  for (const path of [paths.detailed, paths.withMetrics]) {
    if (!(await exists(path))) continue;
    const read = await readMetricsCsv(path);
    if (read.columns.length === 0) {
      logger.warn(`${path}: no metric columns (expected some of ${METRIC_COLUMNS.join(', ')})`);
      continue;
    }
    itemMetrics = read.values;
    metricColumns = read.columns;
    metricsPath = path;
    break;
  }

  let aggregate: Aggregate | null = null;
  if (await exists(paths.aggregate)) {
    aggregate = parseAggregate(await readFile(paths.aggregate, 'utf8'), paths.aggregate);
  }
  if (itemMetrics && !scoresFit(itemMetrics, captions, metricsPath, captionsPath, logger)) {
    itemMetrics = null;
    metricColumns = [];
    aggregate = null;
  }
  if (itemMetrics && metricsPath !== captionsPath) sources.push(basename(metricsPath));
  if (aggregate) sources.push(basename(paths.aggregate));

  let journal: JournalLine[] = [];
  if (await exists(paths.journal)) {
    const { lines, tail } = readFileLines(paths.journal);
    journal = parseJournal([...lines, tail], paths.journal, logger);
    sources.push(basename(paths.journal));
  }

  return { dir, split, captions, itemMetrics, metricColumns, aggregate, journal, sources };
}

/**
 * Whether evaluate's per-image scores belong to these captions. Scores for images the
 * captions do not hold come from other captions (the folder was captioned or merged again
 * after evaluate ran): false, with a warning, so the page shows no stale numbers. Captioned
 * images without scores only earn a warning.
 */
function scoresFit(
  scores: ReadonlyMap<string, unknown>,
  captions: readonly CaptionRow[],
  scoresPath: string,
  captionsPath: string,
  logger: Logger,
): boolean {
  const ids = new Set(captions.map((row) => row.imageId));
  const strangers = [...scores.keys()].filter((id) => !ids.has(id));
  const some = (list: readonly string[]) => list.slice(0, 3).join(', ');
  if (strangers.length > 0) {
    logger.warn(
      `${scoresPath}: ${strangers.length} of its ${scores.size} images are not in ${captionsPath} ` +
        `(e.g. ${some(strangers)}): evaluate's outputs there belong to other captions and are left out ` +
        `of the report; run medcap evaluate --captions ${captionsPath} to score these`,
    );
    return false;
  }
  const unscored = captions
    .filter((row) => isScoredRow(row) && !scores.has(row.imageId))
    .map((row) => row.imageId);
  if (unscored.length > 0) {
    logger.warn(
      `${scoresPath}: no scores for ${unscored.length} captioned images of ${captionsPath} ` +
        `(e.g. ${some(unscored)}): the captions changed after evaluate ran; run medcap evaluate again`,
    );
  }
  return true;
}

const JOURNAL_KINDS = new Set<string>(JOURNAL_LINE_KINDS);

/**
 * Parses the journal's lines. A torn last line (a run killed mid-write) is dropped quietly; other
 * unreadable lines are skipped with one warning that counts them.
 */
export function parseJournal(
  lines: readonly string[],
  path: string,
  logger: Logger,
): JournalLine[] {
  const out: JournalLine[] = [];
  let bad = 0;
  let firstBad = 0;
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      const isLast = lines.slice(i + 1).every((rest) => rest.trim() === '');
      if (isLast) {
        logger.debug(`${path}: ignoring a torn last line`);
      } else {
        bad += 1;
        if (firstBad === 0) firstBad = i + 1;
      }
      continue;
    }
    if (
      typeof value === 'object' &&
      value !== null &&
      JOURNAL_KINDS.has((value as { kind?: unknown }).kind as string) &&
      typeof (value as { time?: unknown }).time === 'number'
    ) {
      out.push(value as JournalLine);
    } else {
      bad += 1;
      if (firstBad === 0) firstBad = i + 1;
    }
  }
  if (bad > 0) {
    logger.warn(`${path}: skipped ${bad} unreadable line(s), the first at line ${firstBad}`);
  }
  return out;
}
