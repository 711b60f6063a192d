import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { ensureWritableDir, removeStaleTempFiles, writeFileAtomic } from '../core/files.js';
import type { Logger } from '../core/logger.js';
import { outputPaths } from '../core/paths.js';
import { type CaptionRow, formatCaptionsCsv, readCaptionsCsv } from '../formats/captions-csv.js';
import type { JournalItem, JournalLine } from '../formats/journal-types.js';
import { readJournal } from './journal.js';
import { journalItemToRow } from './run-state.js';

export interface MergeResult {
  captionsPath: string;
  journalPath: string;
  images: number;
  /** Images found in more than one input (kept once). */
  duplicates: number;
  failed: number;
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
  await ensureWritableDir(resolve(out), '--out');
  const byIndex = new Map<number, JournalItem>();
  const csvOnly = new Map<string, CaptionRow>();
  let duplicates = 0;
  const models = new Set<string>();

  for (const dir of dirs) {
    const paths = outputPaths(resolve(dir), split);
    if (existsSync(paths.journal)) {
      const { items } = await readJournal(paths.journal);
      for (const item of items.values()) {
        models.add(`${item.engine}/${item.model}`);
        const seen = byIndex.get(item.index);
        if (seen) {
          duplicates += 1;
          if (seen.id !== item.id) {
            throw new ConfigError(
              `merge: index ${item.index} is '${seen.id}' in one run and '${item.id}' in ${dir}: not shards of one dataset`,
            );
          }
          if (!preferNew(seen, item)) continue;
        }
        byIndex.set(item.index, item);
      }
      logger.info(`merge: ${items.size} images from ${paths.journal}`);
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
      throw new ConfigError(
        `merge: ${dir} holds neither ${paths.journal} nor ${paths.captions} (is --split ${split} right?)`,
      );
    }
  }
  if (models.size > 1)
    logger.warn(`merge: the runs used different engines/models: ${[...models].join(', ')}`);

  const items = [...byIndex.values()].sort((a, b) => a.index - b.index);
  const journaledIds = new Set(items.map((i) => i.id));
  const rows = [
    ...items.map(journalItemToRow),
    ...[...csvOnly.values()].filter((r) => !journaledIds.has(r.imageId)),
  ];
  const paths = outputPaths(resolve(out), split);
  const ownFiles = new Set([basename(paths.journal), basename(paths.captions)]);
  await removeStaleTempFiles(resolve(out), (name) => ownFiles.has(name));
  const lines: JournalLine[] = items;
  await writeFileAtomic(paths.journal, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  await writeFileAtomic(paths.captions, formatCaptionsCsv(rows));
  if (duplicates > 0)
    logger.warn(`merge: ${duplicates} images appeared in more than one run; each is kept once`);
  const failed = rows.filter((r) => r.status === 'error').length;
  logger.info(`merge: wrote ${rows.length} images (${failed} failed) to ${paths.captions}`);
  return {
    captionsPath: paths.captions,
    journalPath: paths.journal,
    images: rows.length,
    duplicates,
    failed,
  };
}

function preferNew(seen: JournalItem, next: JournalItem): boolean {
  if (seen.status !== next.status) return next.status === 'ok';
  return next.time >= seen.time;
}
