import type { Dirent } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import { inputPathError } from '../../core/input-path.js';
import { checkDataPath } from '../data-path.js';
import { isFile } from '../files.js';

/** How deep below `--data` shards are looked for (`default/train/0000.parquet` is 2). */
const MAX_DEPTH = 3;

/** Split names that mark a shard as belonging to some split. */
const KNOWN_SPLITS = Object.freeze(['train', 'validation', 'valid', 'val', 'test', 'dev', 'eval']);

/**
 * The parquet files of `--split` in dataset order. `--data` may be one `.parquet` file (used
 * whatever the split) or a folder of Hugging Face shards: `data/train-00000-of-00012.parquet`,
 * `train.parquet`, `default/train/0000.parquet`. A folder whose shards name no split at all
 * is read whole.
 */
export async function parquetShards(path: string, split: string): Promise<string[]> {
  if ((await checkDataPath(path, 'parquet')).isFile()) {
    if (!/\.parquet$/i.test(path))
      throw inputPathError('--data', path, 'parquet: not a .parquet file or a folder of them');
    return [path];
  }
  const all: string[] = [];
  for await (const file of parquetFiles(path, 0)) all.push(relative(path, file));
  all.sort();
  if (all.length === 0) throw inputPathError('--data', path, 'parquet: no .parquet files in it');
  const mine = all.filter((file) => inSplit(file, split));
  if (mine.length > 0) return mine.map((file) => join(path, file));
  if (!all.some((file) => KNOWN_SPLITS.some((name) => inSplit(file, name))))
    return all.map((file) => join(path, file));
  const shown = all.slice(0, 5).join(', ') + (all.length > 5 ? `, … (${all.length} files)` : '');
  throw inputPathError(
    '--data',
    path,
    `parquet: no shard of --split ${split} in it (expected {split}-*.parquet, found: ${shown})`,
  );
}

/** True when a folder holds at least one `.parquet` file (at most MAX_DEPTH levels down). */
export async function hasParquetFiles(path: string): Promise<boolean> {
  for await (const _ of parquetFiles(path, 0)) return true;
  return false;
}

/**
 * A shard belongs to a split when a folder on its path is named after the split, its file
 * name starts with the split (`train-0000…`, `train.parquet`, `train_0.parquet`), or, inside
 * a `data/` folder, its file name contains the split (`data/rocov2-valid-0.parquet`).
 */
export function inSplit(file: string, split: string): boolean {
  const parts = file.split(sep).join('/').split('/');
  const name = (parts.pop() ?? '').toLowerCase();
  const wanted = split.toLowerCase();
  if (parts.some((dir) => dir.toLowerCase() === wanted)) return true;
  const stem = name.replace(/\.parquet$/, '');
  if (stem === wanted) return true;
  if (stem.startsWith(wanted) && /^[-_.]/.test(stem.slice(wanted.length))) return true;
  return parts.some((dir) => dir.toLowerCase() === 'data') && stem.includes(wanted);
}

async function* parquetFiles(dir: string, depth: number): AsyncGenerator<string> {
  let entries: Awaited<ReturnType<typeof opendir>>;
  try {
    entries = await opendir(dir);
  } catch {
    return;
  }
  for await (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory() && depth < MAX_DEPTH) yield* parquetFiles(path, depth + 1);
    else if (/\.parquet$/i.test(entry.name) && (await isShardFile(entry, path))) yield path;
  }
}

/** A file, or a symbolic link to one: the Hugging Face cache links its shards into `blobs/`. */
async function isShardFile(entry: Dirent, path: string): Promise<boolean> {
  return entry.isFile() || (entry.isSymbolicLink() && (await isFile(path)));
}

/** `train-00000-of-00012` for fallback ids. */
export function shardStem(file: string): string {
  return basename(file).replace(/\.parquet$/i, '');
}
