import type { CaptionConfig } from '../config/types.js';
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { DatasetLoader, DatasetSource, Sample } from '../datasets/types.js';
import type { CaptionEngine } from '../engines/types.js';
import type { JournalItem, JournalStart } from '../formats/journal-types.js';
import { type CrashSuspects, crashSuspects } from './crash-suspects.js';
import { readJournal } from './journal.js';
import { SkippedFiles, selectedSamples } from './selection.js';

/** Warnings about individual dataset rows printed before they are only counted. */
const MAX_ROW_WARNINGS = 20;

export interface Plan {
  todo: number;
  alreadyDone: number;
  samples: () => AsyncIterable<Sample>;
}

/**
 * First pass over the dataset index: counts what this run will caption (for the progress
 * bar and ETA) and reports dataset problems up front. The second pass streams the samples.
 */
export async function planRun(
  loader: DatasetLoader,
  source: DatasetSource,
  config: CaptionConfig,
  done: Map<number, JournalItem>,
  logger: Logger,
): Promise<Plan> {
  const selected = () => selectedSamples(loader, source, config);
  let todo = 0;
  let alreadyDone = 0;
  let problems = 0;
  const skipped = new SkippedFiles();
  const moved: string[] = [];
  for await (const sample of selectedSamples(loader, source, config, skipped)) {
    const journaled = done.get(sample.index);
    if (journaled) alreadyDone += 1;
    else todo += 1;
    if (journaled && journaled.id !== sample.id)
      moved.push(`image ${sample.index + 1} is ${sample.id} now, ${journaled.id} in the journal`);
    if (sample.problem) {
      problems += 1;
      if (problems <= MAX_ROW_WARNINGS) {
        logger.warn(
          `dataset: ${sample.problem.message}${sample.problem.fatal ? ' (becomes an error row)' : ''}`,
        );
      }
    }
  }
  if (moved.length > 0) {
    // The journal keys its images by position: resuming would skip the wrong ones.
    throw new ConfigError(
      `--resume: --data ${source.path} is not the dataset the journal was written from ` +
        `(${moved.slice(0, 3).join('; ')}${moved.length > 3 ? `; ${moved.length - 3} more` : ''}): ` +
        'files added or removed since shift the order. Resume with the dataset as it was, or start ' +
        'again into another --out (or with --overwrite)',
    );
  }
  skipped.report(logger);
  if (problems > MAX_ROW_WARNINGS) {
    logger.warn(
      `dataset: ${problems - MAX_ROW_WARNINGS} more rows with problems (see the error column of the output)`,
    );
  }
  return {
    todo,
    alreadyDone,
    samples: async function* () {
      for await (const sample of selected()) if (!done.has(sample.index)) yield sample;
    },
  };
}

export interface PreviousWork extends CrashSuspects {
  items: Map<number, JournalItem>;
  start?: JournalStart;
}

/** Reads the journal for --resume; refuses to overwrite earlier work without --resume or --overwrite. */
export async function previousWork(
  journalPath: string,
  config: CaptionConfig,
  logger: Logger,
): Promise<PreviousWork> {
  if (config.retryFailed && !config.resume) {
    throw new ConfigError(
      '--retry-failed: only with --resume (it retries the failed images of the journal in --out)',
    );
  }
  const journal = await readJournal(journalPath);
  if (!config.resume) {
    if (journal.items.size > 0 && !config.overwrite) {
      throw new ConfigError(
        `--out ${config.out} already holds a journal with ${journal.items.size} captioned images (${journalPath}); ` +
          `pass --resume to continue it, --overwrite to start again, or choose another --out`,
      );
    }
    return { items: new Map(), suspects: new Map(), poisoned: new Map() };
  }
  if (journal.tornBytes > 0)
    logger.warn(`journal: dropped a torn last line (${journal.tornBytes} bytes) left by a crash`);
  if (config.retryFailed) {
    // Their new lines, appended, supersede the error lines (a later line for an image wins).
    const failed = [...journal.items.values()].filter((item) => item.status === 'error');
    for (const item of failed) journal.items.delete(item.index);
    logger.info(`resume: --retry-failed captions the ${failed.length} failed images again`);
  }
  logger.info(`resume: ${journal.items.size} images already done in ${journalPath}`);
  const crash = crashSuspects(journal.lines);
  if (crash.suspects.size > 0) {
    const count = crash.suspects.size;
    logger.warn(
      `resume: the run before ended abruptly (killed, crashed, out of memory or hung) while ${count} ` +
        `image${count === 1 ? ' was' : 's were'} being read or captioned; ${count === 1 ? 'it is' : 'each is'} ` +
        'tried alone first, so that an image that brings the process down again is named and left out',
    );
  }
  const start = journal.lines.find((line): line is JournalStart => line.kind === 'start');
  return { items: journal.items, ...crash, ...(start ? { start } : {}) };
}

export function warnIfEngineChanged(
  start: JournalStart | undefined,
  engine: CaptionEngine,
  logger: Logger,
): void {
  if (start && (start.model !== engine.model || start.engine !== engine.id)) {
    logger.warn(
      `resume: the journal was written by engine ${start.engine} with model ${start.model}; ` +
        `this run uses ${engine.id} with ${engine.model}`,
    );
  }
}
