import { type FileHandle, open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { CaptionConfig } from '../config/types.js';
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { outputPaths } from '../core/paths.js';
import type { DatasetLoader, DatasetSource, Sample } from '../datasets/types.js';
import type { CaptionEngine } from '../engines/types.js';
import type { JournalItem, JournalStart } from '../formats/journal-types.js';
import { type CrashSuspects, crashSuspects } from './crash-suspects.js';
import { generationDifferences, generationSettings } from './generation-settings.js';
import { readJournal } from './journal.js';
import { SkippedFiles, selectedSamples } from './selection.js';

/** Warnings about individual dataset rows printed before they are only counted. */
const MAX_ROW_WARNINGS = 20;

export interface Plan {
  todo: number;
  alreadyDone: number;
  /**
   * Journaled items whose references, concepts or image path the dataset now gives otherwise
   * (a corrected reference): appended to the journal again, so that merge reads them too.
   */
  refreshed: JournalItem[];
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
  const refreshed: JournalItem[] = [];
  for await (const sample of selectedSamples(loader, source, config, skipped)) {
    const journaled = done.get(sample.index);
    if (journaled) alreadyDone += 1;
    else todo += 1;
    if (journaled && journaled.id !== sample.id)
      moved.push(`image ${sample.index + 1} is ${sample.id} now, ${journaled.id} in the journal`);
    else if (journaled) {
      const fresh = withDatasetFacts(journaled, sample);
      if (factsDiffer(journaled, fresh)) refreshed.push(fresh);
      done.set(sample.index, fresh);
    }
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
    refreshed,
    samples: async function* () {
      for await (const sample of selected()) if (!done.has(sample.index)) yield sample;
    },
  };
}

/**
 * A journaled item with the references, concepts and image path of the dataset as read now
 * (a corrected reference must reach the resumed CSV); what the engine made stays.
 */
function withDatasetFacts(item: JournalItem, sample: Sample): JournalItem {
  const { concepts: _old, ...rest } = item;
  return {
    ...rest,
    path: sample.imagePath,
    references: sample.references,
    ...(sample.concepts !== undefined ? { concepts: sample.concepts } : {}),
  };
}

function factsDiffer(before: JournalItem, after: JournalItem): boolean {
  const facts = (item: JournalItem) => JSON.stringify([item.path, item.references, item.concepts]);
  return facts(before) !== facts(after);
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
  if (journal.items.size === 0 && !config.overwrite) {
    await refuseUnjournaledCaptions(outputPaths(dirname(journalPath), config.split).captions);
  }
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
  const starts = journal.lines.filter((line): line is JournalStart => line.kind === 'start');
  refuseOtherShard(starts.at(-1), config, journalPath);
  if (journal.items.size > 0) refuseOtherGeneration(starts, config, journalPath, logger);
  warnIfOtherDataset(starts.at(-1), config, logger);
  noteOtherLimit(starts.at(-1), config, journal.items.size, logger);
  const start = starts[0];
  return { items: journal.items, ...crash, ...(start ? { start } : {}) };
}

/**
 * A captions CSV with rows but no journal beside it (written by import-batch, or its journal
 * was lost): this run would replace it with its own rows, and nothing in --out would tell
 * that the captions were there.
 */
async function refuseUnjournaledCaptions(captions: string): Promise<void> {
  if (!(await hasDataRows(captions))) return;
  throw new ConfigError(
    `${captions} holds captioned images but there is no journal beside it (import-batch writes ` +
      'such a folder; or its journal was lost): captioning into this --out would replace them. ' +
      'Pass --overwrite to replace them, or choose another --out',
  );
}

/** Whether a CSV file has a line after its header (reads its first 64 KiB at most). */
async function hasDataRows(path: string): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch {
    return false;
  }
  try {
    const { buffer, bytesRead } = await handle.read({ buffer: Buffer.alloc(64 * 1024) });
    const text = buffer.toString('utf8', 0, bytesRead);
    const newline = text.indexOf('\n');
    return newline >= 0 && text.slice(newline + 1).trim() !== '';
  } finally {
    await handle.close();
  }
}

/**
 * Resuming with another prompt, token limit or image size would put captions made two ways
 * into one CSV, with nothing in it to tell them apart.
 */
function refuseOtherGeneration(
  starts: readonly JournalStart[],
  config: CaptionConfig,
  journalPath: string,
  logger: Logger,
): void {
  const recorded = starts.findLast((start) => start.generation !== undefined)?.generation;
  if (recorded === undefined) {
    logger.info(
      `resume: ${journalPath} does not record the prompt and image settings (an older medcap wrote it); ` +
        'make sure this run uses the same ones',
    );
    return;
  }
  const differences = generationDifferences(recorded, generationSettings(config));
  if (differences.length === 0) return;
  throw new ConfigError(
    `--resume: the journal ${journalPath} was written with other settings that change the captions ` +
      `(${differences.join('; ')}): resuming would mix captions made two ways in one CSV. ` +
      'Use the same settings, or --overwrite to start over, or another --out',
  );
}

/**
 * Resuming a shard's folder as another shard (or as the whole split) would mix two shards'
 * images in one folder, and merge would count the first shard as held although most of its
 * images are missing. A journal older than the start line's generation settings may not
 * record its shard either: not judged.
 */
function refuseOtherShard(
  start: JournalStart | undefined,
  config: CaptionConfig,
  journalPath: string,
): void {
  if (start === undefined || (start.shard === undefined && start.generation === undefined)) return;
  const name = (shard: { index: number; count: number } | undefined) =>
    shard === undefined ? 'the whole split (no --shard)' : `shard ${shard.index}/${shard.count}`;
  const before = name(start.shard);
  const now = name(config.shard);
  if (before === now) return;
  throw new ConfigError(
    `--resume: the journal ${journalPath} was written for ${before}, and this run asks for ${now}: ` +
      `resuming would mix their images in one folder, and merge would count ${before} as done. ` +
      `Resume with ${start.shard === undefined ? 'no --shard' : `--shard ${start.shard.index}/${start.shard.count}`}, ` +
      'or give this one another --out',
  );
}

function warnIfOtherDataset(
  start: JournalStart | undefined,
  config: CaptionConfig,
  logger: Logger,
): void {
  const data = resolve(config.data);
  if (start && start.dataset !== data) {
    logger.warn(
      `resume: the journal was written from the dataset ${start.dataset}; this run reads --data ${data} ` +
        '(references, concepts and image paths are taken from it)',
    );
  }
}

/**
 * Resuming with another --limit is how a trial run on a few images grows into the whole split,
 * so it is allowed; the log says so, since the run's counts then differ from the first one's.
 */
function noteOtherLimit(
  start: JournalStart | undefined,
  config: CaptionConfig,
  journaled: number,
  logger: Logger,
): void {
  if (start?.limit === undefined) return; // journals from before medcap recorded it
  const now = Number.isFinite(config.limit) ? config.limit : null;
  if (start.limit === now) return;
  const name = (limit: number | null) => (limit === null ? 'no --limit' : `--limit ${limit}`);
  logger.info(
    `resume: the journal was started with ${name(start.limit)}, and this run has ${name(now)}; ` +
      `the ${journaled} image(s) it holds are kept, and the split is taken up to the new limit`,
  );
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
