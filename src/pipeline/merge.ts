import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { removeStaleTempFiles, writeFileAtomic } from '../core/files.js';
import { checkInputPath } from '../core/input-path.js';
import type { Logger } from '../core/logger.js';
import { withOutputLock } from '../core/out-lock.js';
import { outputPaths } from '../core/paths.js';
import { type CaptionRow, formatCaptionsCsv, readCaptionsCsv } from '../formats/captions-csv.js';
import {
  type JournalItem,
  type JournalLine,
  type JournalStart,
  sessionsPeakRssBytes,
  sessionsWallTimeS,
} from '../formats/journal-types.js';
import { generationDifferences } from './generation-settings.js';
import { readJournal } from './journal.js';
import { journalItemToRow } from './run-state.js';
import { shardOf } from './shard.js';

export interface MergeResult {
  captionsPath: string;
  journalPath: string;
  images: number;
  /** Images found in more than one input (kept once). */
  duplicates: number;
  failed: number;
  /**
   * Why the merge may lack images: a run with no end line (still running, or stopped), shards
   * of `--shard I/N` that none of the inputs ran. Empty when every input is complete.
   */
  incomplete: string[];
}

/**
 * Merges the outputs of shards (`--shard I/N` runs) into one run folder, each image exactly
 * once, in dataset order. Journals are preferred (they hold the dataset index); a folder
 * with only a captions CSV contributes its rows in file order after the journaled ones.
 * When an image appears twice, a success beats an error, then the later one wins.
 */
export async function mergeRuns(
  dirs: readonly string[],
  out: string,
  split: string,
  logger: Logger,
): Promise<MergeResult> {
  if (dirs.length === 0) throw new ConfigError('merge: name at least one run folder');
  // Every input is checked before --out is made or locked.
  for (const dir of dirs) {
    await checkInputPath('run folder', resolve(dir), 'folder');
    const paths = outputPaths(resolve(dir), split);
    if (!existsSync(paths.journal) && !existsSync(paths.captions)) throw holdsNoRun(dir, split);
  }
  return withOutputLock(resolve(out), split, logger, () => mergeInto(dirs, out, split, logger));
}

/** A folder to merge that holds no run of `split`: a wrong argument, exit 1. */
function holdsNoRun(dir: string, split: string): ConfigError {
  const paths = outputPaths(resolve(dir), split);
  return new ConfigError(
    `merge: ${dir} holds neither ${paths.journal} nor ${paths.captions} (is --split ${split} right?)`,
  );
}

/** mergeRuns() once `out` exists and its lock is held. */
async function mergeInto(
  dirs: readonly string[],
  out: string,
  split: string,
  logger: Logger,
): Promise<MergeResult> {
  const byIndex = new Map<number, JournalItem>();
  /** Where each image is in the dataset, as the first run that holds it says. */
  const indexOf = new Map<string, { index: number; dir: string }>();
  const csvOnly = new Map<string, CaptionRow>();
  let duplicates = 0;
  /** Images captioned in two runs with different captions (both ok): how many, the first. */
  const differing = { count: 0, first: '' };
  /** The folder each kept item came from. */
  const keptFrom = new Map<number, string>();
  const models = new Set<string>();
  const incomplete: string[] = [];
  /** `--shard` of each input whose journal says so, as `I/N`. */
  const shards: { index: number; count: number }[] = [];
  /** Each journaled input's last start line: how it was run. */
  const starts: { dir: string; start: JournalStart }[] = [];
  /** `--shard` (or `all`) of each input run that finished, and of each that did not. */
  const finished = new Set<string>();
  const unfinishedHere = new Set<string>();
  /** Runs a merged input was made from while they were unfinished. */
  const pending: { dir: string; shard: string }[] = [];
  /** What the inputs' sessions took, for the merged folder's own start and end lines. */
  const sessions = {
    firstStart: Number.POSITIVE_INFINITY,
    lastLine: Number.NEGATIVE_INFINITY,
    wallTimeS: 0,
    peakRssBytes: 0,
  };

  for (const dir of dirs) {
    const paths = outputPaths(resolve(dir), split);
    if (existsSync(paths.journal)) {
      const { items, lines } = await readJournal(paths.journal);
      const start = lines.findLast((line): line is JournalStart => line.kind === 'start');
      if (start?.shard) shards.push(start.shard);
      if (start) starts.push({ dir, start });
      for (const line of lines) {
        if (line.kind === 'start') sessions.firstStart = Math.min(sessions.firstStart, line.time);
        sessions.lastLine = Math.max(sessions.lastLine, line.time);
      }
      sessions.wallTimeS += sessionsWallTimeS(lines) ?? 0;
      sessions.peakRssBytes = Math.max(sessions.peakRssBytes, sessionsPeakRssBytes(lines) ?? 0);
      // A merged folder made from an unfinished run lacks its images still, unless this merge
      // is given the finished run too.
      for (const shard of start?.merged?.unfinished ?? []) pending.push({ dir, shard });
      const unfinished = unfinishedRun(lines);
      if (start !== undefined && start.merged === undefined) {
        (unfinished === undefined ? finished : unfinishedHere).add(shardName(start.shard));
      }
      if (unfinished !== undefined) {
        // A resumed session plans only what was left, so its count is no total.
        const done = unfinished.resumed
          ? `${items.size} images so far`
          : `${items.size} of the ${unfinished.planned} images it planned`;
        incomplete.push(
          `${dir}: its journal has no end line: the run is still going or was stopped ` +
            `(${done}); finish it with caption --resume, then merge again`,
        );
      }
      for (const item of items.values()) {
        models.add(`${item.engine}/${item.model}`);
        const placed = indexOf.get(item.id);
        if (placed === undefined) indexOf.set(item.id, { index: item.index, dir });
        else if (placed.index !== item.index) {
          // Kept by index, the image would be written twice.
          throw new ConfigError(
            `merge: image '${item.id}' is at index ${placed.index} of the dataset in ${placed.dir} and at index ${item.index} in ${dir}: not shards of one dataset (was its index file changed between the runs?)`,
          );
        }
        const seen = byIndex.get(item.index);
        if (seen) {
          duplicates += 1;
          if (seen.id !== item.id) {
            throw new ConfigError(
              `merge: index ${item.index} is '${seen.id}' in ${indexOf.get(seen.id)?.dir} and '${item.id}' in ${dir}: not shards of one dataset`,
            );
          }
          if (seen.status === 'ok' && item.status === 'ok' && seen.caption !== item.caption) {
            differing.count += 1;
            differing.first ||= `${item.id}, in ${keptFrom.get(item.index)} and ${dir}`;
          }
          if (!preferNew(seen, item)) continue;
        }
        byIndex.set(item.index, item);
        keptFrom.set(item.index, dir);
      }
      logger.info(`merge: ${items.size} images from ${paths.journal}`);
      // A merged folder lists rows of inputs that had no journal only in its CSV.
      if (existsSync(paths.captions)) {
        const journaled = new Set([...items.values()].map((item) => item.id));
        for (const row of await readCaptionsCsv(paths.captions)) {
          if (!journaled.has(row.imageId) && !csvOnly.has(row.imageId))
            csvOnly.set(row.imageId, row);
        }
      }
    } else if (existsSync(paths.captions)) {
      const rows = await readCaptionsCsv(paths.captions);
      for (const row of rows) {
        if (csvOnly.has(row.imageId)) duplicates += 1;
        if (!csvOnly.has(row.imageId) || row.status === 'ok') csvOnly.set(row.imageId, row);
      }
      logger.warn(
        `merge: ${dir} has no journal; using ${paths.captions} (rows keep their file order)`,
      );
    } else {
      throw holdsNoRun(dir, split);
    }
  }
  if (models.size > 1)
    logger.warn(`merge: the runs used different engines/models: ${[...models].join(', ')}`);
  refuseOtherGeneration(starts);
  for (const { dir, shard } of pending) {
    if (finished.has(shard)) continue;
    unfinishedHere.add(shard);
    incomplete.push(
      `${dir} was merged from ${shard === 'all' ? 'a run' : `shard ${shard}`} that had not finished: ` +
        'finish it with caption --resume, then merge it with this folder again',
    );
  }
  incomplete.push(...otherLimits(starts));
  warnIfOtherDatasets(starts, logger);
  const ids = [...[...byIndex.values()].map((i) => i.id), ...csvOnly.keys()];
  incomplete.push(...missingShards(shards, ids));
  for (const reason of incomplete) logger.warn(`merge: ${reason}`);

  const items = [...byIndex.values()].sort((a, b) => a.index - b.index);
  const journaledIds = new Set(items.map((i) => i.id));
  const rows = [
    ...items.map(journalItemToRow),
    ...[...csvOnly.values()].filter((r) => !journaledIds.has(r.imageId)),
  ];
  const paths = outputPaths(resolve(out), split);
  const ownFiles = new Set([basename(paths.journal), basename(paths.captions)]);
  await removeStaleTempFiles(resolve(out), (name) => ownFiles.has(name));
  const failed = rows.filter((r) => r.status === 'error').length;
  const lines: JournalLine[] =
    starts.length === 0
      ? items
      : [
          mergedStart(starts, [...models], rows.length, sessions.firstStart, {
            inputs: dirs.length,
            unfinished: [...unfinishedHere].sort(),
          }),
          ...items,
          {
            kind: 'end',
            // The inputs' last moment, not now: merging the same folders gives the same bytes.
            time: sessions.lastLine,
            done: rows.length,
            failed,
            wallTimeS: sessions.wallTimeS,
            peakRssBytes: sessions.peakRssBytes,
          },
        ];
  await writeFileAtomic(paths.journal, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  await writeFileAtomic(paths.captions, formatCaptionsCsv(rows));
  if (duplicates > 0)
    logger.warn(`merge: ${duplicates} images appeared in more than one run; each is kept once`);
  if (differing.count > 0) {
    logger.warn(
      `merge: ${differing.count} of them have different captions in different runs (the first: ` +
        `${differing.first}); for each, the one captioned last is kept`,
    );
  }
  const stale = [paths.detailed, paths.withMetrics, paths.aggregate, paths.report].filter((p) =>
    existsSync(p),
  );
  if (stale.length > 0) {
    logger.warn(
      `merge: ${out} still holds ${stale.map((p) => basename(p)).join(', ')} from before this merge; ` +
        'run medcap evaluate (and report) on the merged captions',
    );
  }
  logger.info(`merge: wrote ${rows.length} images (${failed} failed) to ${paths.captions}`);
  return {
    captionsPath: paths.captions,
    journalPath: paths.journal,
    images: rows.length,
    duplicates,
    failed,
    incomplete,
  };
}

/**
 * Shards captioned with another prompt, token limit or image size would put captions made
 * two ways into one CSV (as `--resume` refuses): exit 1, naming both runs.
 */
function refuseOtherGeneration(starts: readonly { dir: string; start: JournalStart }[]): void {
  const recorded = starts.filter(({ start }) => start.generation !== undefined);
  const [first, ...others] = recorded;
  for (const other of others) {
    const differences = generationDifferences(first!.start.generation!, other.start.generation!, {
      before: `in ${first!.dir}`,
      now: `in ${other.dir}`,
    });
    if (differences.length === 0) continue;
    throw new ConfigError(
      `merge: ${first!.dir} and ${other.dir} were captioned with other settings that change the ` +
        `captions (${differences.join('; ')}): merging would mix captions made two ways; ` +
        'caption those shards again with the same settings',
    );
  }
}

/** Runs of another `--limit` cover other images: some may be missing from the merge. */
function otherLimits(starts: readonly { dir: string; start: JournalStart }[]): string[] {
  const recorded = starts.filter(({ start }) => start.limit !== undefined);
  const limits = new Set(recorded.map(({ start }) => start.limit));
  if (limits.size <= 1) return [];
  const named = recorded.map(({ dir, start }) => `${dir}: ${start.limit ?? 'all'}`).join(', ');
  return [`the runs used different --limit (${named}): images may be missing`];
}

/** Another dataset path may be the same dataset on another machine: said, not refused. */
function warnIfOtherDatasets(
  starts: readonly { dir: string; start: JournalStart }[],
  logger: Logger,
): void {
  const datasets = new Set(starts.map(({ start }) => start.dataset));
  if (datasets.size <= 1) return;
  logger.warn(
    `merge: the runs read --data from different paths (${starts.map(({ dir, start }) => `${dir}: ${start.dataset}`).join(', ')}); ` +
      'the merged rows keep the references each run read',
  );
}

/**
 * The merged folder's start line: how its inputs were run (the settings merge checked they
 * share; every model when they differ), and the merge itself, so that merging the folder
 * again checks it as it checks a shard, and evaluate's run facts add up the inputs' sessions
 * (the end line written after its items: their wall times added up, the highest memory).
 */
function mergedStart(
  starts: readonly { dir: string; start: JournalStart }[],
  models: readonly string[],
  images: number,
  firstStart: number,
  merged: NonNullable<JournalStart['merged']>,
): JournalStart {
  const first = starts[0]!.start;
  const limits = new Set(starts.map(({ start }) => start.limit ?? null));
  const shardNames = new Set(starts.map(({ start }) => shardName(start.shard)));
  const several = models.length > 1;
  const start: JournalStart = {
    kind: 'start',
    time: firstStart,
    engine: several
      ? [...new Set(models.map((m) => m.slice(0, m.indexOf('/'))))].join(', ')
      : first.engine,
    model: several ? models.map((m) => m.slice(m.indexOf('/') + 1)).join(', ') : first.model,
    device: first.device,
    dtype: first.dtype,
    batchSize: first.batchSize,
    split: first.split,
    dataset: first.dataset,
    format: first.format,
    resumed: false,
    planned: images,
    limit: limits.size === 1 ? (first.limit ?? null) : null,
    host: first.host,
    merged,
  };
  // Copies of one shard merged are still that shard.
  if (shardNames.size === 1 && first.shard) start.shard = first.shard;
  const generation = starts.find(({ start }) => start.generation !== undefined)?.start.generation;
  if (generation) start.generation = generation;
  return start;
}

const shardName = (shard: JournalStart['shard']) =>
  shard === undefined ? 'all' : `${shard.index}/${shard.count}`;

/** The last session of a journal when it has a start line but no end line after it. */
function unfinishedRun(lines: readonly JournalLine[]): JournalStart | undefined {
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    const line = lines[i]!;
    if (line.kind === 'end') return undefined;
    if (line.kind === 'start') return line;
  }
  return undefined;
}

/**
 * Shards of `--shard I/N` that no input covers: neither a run of that shard nor any image
 * whose id falls in it. Inputs cut into different N are named instead.
 */
function missingShards(
  shards: readonly { index: number; count: number }[],
  ids: readonly string[],
): string[] {
  const counts = [...new Set(shards.map((s) => s.count))];
  if (counts.length === 0) return [];
  if (counts.length > 1) {
    const named = shards.map((s) => `${s.index}/${s.count}`).join(', ');
    return [`the runs were cut into different numbers of shards (${named}): images may be missing`];
  }
  const count = counts[0]!;
  const covered = new Set(shards.map((s) => s.index));
  for (const id of ids) covered.add(shardOf(id, count));
  const missing = [];
  for (let i = 0; i < count; i += 1) if (!covered.has(i)) missing.push(`${i}/${count}`);
  if (missing.length === 0) return [];
  return [
    `no input holds shard${missing.length === 1 ? '' : 's'} ${missing.join(', ')}: ` +
      `caption ${missing.length === 1 ? 'it' : 'them'} and merge again`,
  ];
}

function preferNew(seen: JournalItem, next: JournalItem): boolean {
  if (seen.status !== next.status) return next.status === 'ok';
  return next.time >= seen.time;
}
