import { readdir, readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { DatasetError } from '../../core/errors.js';
import { checkInputPath, inputPathError } from '../../core/input-path.js';
import type { Logger } from '../../core/logger.js';
import { outputPaths, splitOfCaptionsFile } from '../../core/paths.js';
import { parseAggregate } from '../../formats/aggregate-json.js';
import {
  type CaptionRow,
  REFERENCE_SEPARATOR,
  readCaptionsCsv,
} from '../../formats/captions-csv.js';
import { isScoredRow } from '../../formats/captions-jsonl.js';
import { readFileLines } from '../../formats/file-lines.js';
import { JOURNAL_LINE_KINDS, type JournalLine } from '../../formats/journal-types.js';
import { readMetricsCsv } from '../../formats/metric-files.js';
import { parseCsv } from '../../formats/parse-csv.js';
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
  let scoresLeftOut: string | undefined;
  if (itemMetrics) {
    const rerun = `run medcap evaluate --captions ${captionsPath} --out ${dir} --split ${split}`;
    scoresLeftOut =
      strangersOf(itemMetrics, captions, metricsPath, captionsPath, rerun, logger) ??
      (captionsPath === paths.withMetrics || !(await exists(paths.withMetrics))
        ? undefined
        : changedSinceScored(
            await readScoredCaptions(paths.withMetrics, logger),
            captions,
            itemMetrics,
            paths.withMetrics,
            captionsPath,
            rerun,
            logger,
          ));
    if (scoresLeftOut !== undefined) {
      itemMetrics = null;
      metricColumns = [];
      aggregate = null;
    } else warnUnscored(itemMetrics, captions, metricsPath, captionsPath, logger);
  }
  if (itemMetrics && metricsPath !== captionsPath) sources.push(basename(metricsPath));
  if (aggregate) sources.push(basename(paths.aggregate));

  let journal: JournalLine[] = [];
  if (await exists(paths.journal)) {
    const { lines, tail } = readFileLines(paths.journal);
    journal = parseJournal([...lines, tail], paths.journal, logger);
    sources.push(basename(paths.journal));
  }

  const files: RunFiles = {
    dir,
    split,
    captions,
    itemMetrics,
    metricColumns,
    aggregate,
    journal,
    sources,
  };
  if (scoresLeftOut !== undefined) files.scoresLeftOut = scoresLeftOut;
  return files;
}

const some = (list: readonly string[]) => list.slice(0, 3).join(', ');

/**
 * Evaluate's per-image scores for images the captions do not hold come from other captions
 * (the folder was captioned or merged again after evaluate ran): why, for the page, after a
 * warning, so the page shows no stale numbers; undefined when every scored image is there.
 */
function strangersOf(
  scores: ReadonlyMap<string, unknown>,
  captions: readonly CaptionRow[],
  scoresPath: string,
  captionsPath: string,
  rerun: string,
  logger: Logger,
): string | undefined {
  const ids = new Set(captions.map((row) => row.imageId));
  const strangers = [...scores.keys()].filter((id) => !ids.has(id));
  if (strangers.length === 0) return undefined;
  logger.warn(
    `${scoresPath}: ${strangers.length} of its ${scores.size} images are not in ${captionsPath} ` +
      `(e.g. ${some(strangers)}): evaluate's outputs there belong to other captions and are left out ` +
      `of the report; ${rerun} to score these`,
  );
  return `${strangers.length} of the ${scores.size} images they score are not in ${basename(captionsPath)} (e.g. ${some(strangers)})`;
}

/** A row of evaluate's with-metrics CSV as it scored it: its cells as written. */
interface ScoredCaption {
  status: string;
  generated: string;
  references: string;
}

/**
 * Scored images whose captions changed after evaluate ran (captioned again with the same
 * ids): evaluate's with-metrics CSV holds the captions it scored, and a score shown beside
 * other captions would be read as theirs. Like strangersOf, one warning and the reason.
 */
function changedSinceScored(
  scored: ReadonlyMap<string, ScoredCaption>,
  captions: readonly CaptionRow[],
  scores: ReadonlyMap<string, unknown>,
  scoredPath: string,
  captionsPath: string,
  rerun: string,
  logger: Logger,
): string | undefined {
  const changed = captions
    .filter((row) => {
      const then = scored.get(row.imageId);
      return (
        then !== undefined &&
        scores.has(row.imageId) &&
        (then.status !== row.status ||
          then.generated !== row.generatedCaption ||
          then.references !== row.references.join(REFERENCE_SEPARATOR))
      );
    })
    .map((row) => row.imageId);
  if (changed.length === 0) return undefined;
  logger.warn(
    `${captionsPath}: the captions of ${changed.length} of the ${scores.size} images evaluate scored ` +
      `have changed since (the first: ${changed[0]}; ${basename(scoredPath)} holds the scored ones): ` +
      `evaluate's outputs belong to the earlier captions and are left out of the report; ${rerun}`,
  );
  return `the captions of ${changed.length} of the ${scores.size} images they score have changed since (the first: ${changed[0]})`;
}

/**
 * The captions evaluate scored, by image id. Only the cells compared are taken, with the fast
 * reader of the metric files (a 60,000-row file is read in a third of the time the captions
 * reader takes). A file that cannot be read only skips the check, with a warning.
 */
async function readScoredCaptions(
  path: string,
  logger: Logger,
): Promise<Map<string, ScoredCaption>> {
  const scored = new Map<string, ScoredCaption>();
  try {
    const [header = [], ...records] = parseCsv(await readFile(path, 'utf8'));
    const [id, status, generated, references] = [
      'image_id',
      'status',
      'generated_caption',
      'reference_caption',
    ].map((column) => header.indexOf(column)) as [number, number, number, number];
    const missing = [id, generated, references].some((index) => index === -1);
    if (missing) throw new Error('no image_id, generated_caption or reference_caption column');
    for (const record of records) {
      scored.set(record[id] ?? '', {
        // As the captions reader takes it: anything but error is ok.
        status: record[status] === 'error' ? 'error' : 'ok',
        generated: record[generated] ?? '',
        references: record[references] ?? '',
      });
    }
  } catch (error) {
    logger.warn(
      `${path}: ${(error as Error).message}: cannot tell whether the captions changed after evaluate ran`,
    );
    scored.clear();
  }
  return scored;
}

/** Captioned images without scores only earn a warning: the scores there are still theirs. */
function warnUnscored(
  scores: ReadonlyMap<string, unknown>,
  captions: readonly CaptionRow[],
  scoresPath: string,
  captionsPath: string,
  logger: Logger,
): void {
  const unscored = captions
    .filter((row) => isScoredRow(row) && !scores.has(row.imageId))
    .map((row) => row.imageId);
  if (unscored.length > 0) {
    logger.warn(
      `${scoresPath}: no scores for ${unscored.length} captioned images of ${captionsPath} ` +
        `(e.g. ${some(unscored)}): the captions changed after evaluate ran; run medcap evaluate again`,
    );
  }
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
