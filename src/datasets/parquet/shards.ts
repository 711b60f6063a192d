import type { Dirent } from 'node:fs';
import { opendir, readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { inputPathError } from '../../core/input-path.js';
import { checkDataPath } from '../data-path.js';
import { isDirectory, isFile } from '../files.js';
import { splitNames } from '../splits.js';

/** How deep below `--data` shards are looked for (`default/train/0000.parquet` is 2). */
const MAX_DEPTH = 3;

/** Split names that mark a shard as belonging to some split. */
const KNOWN_SPLITS = Object.freeze(['train', 'validation', 'valid', 'val', 'test', 'dev', 'eval']);

/** Where the shards were found, when it is not plain: said in the log. */
export type TellShards = (message: string) => void;

/**
 * The parquet files of `--split` in dataset order. `--data` may be one `.parquet` file (used
 * whatever the split) or a folder of Hugging Face shards: `data/train-00000-of-00012.parquet`,
 * `train.parquet`, `default/train/0000.parquet`. A folder whose shards name no split at all
 * is read whole. `--split valid` reads the `validation` shards when there are no `valid`
 * ones (see splitNames), and a Hugging Face cache folder only the snapshot
 * refs/main names: both are told to `tell`.
 */
export async function parquetShards(
  path: string,
  split: string,
  tell: TellShards = () => {},
): Promise<string[]> {
  if ((await checkDataPath(path, 'parquet')).isFile()) {
    if (!/\.parquet$/i.test(path))
      throw inputPathError('--data', path, 'parquet: not a .parquet file or a folder of them');
    return [path];
  }
  const all: string[] = [];
  for await (const file of parquetFiles(path, 0, tell)) all.push(relative(path, file));
  all.sort();
  if (all.length === 0) throw inputPathError('--data', path, 'parquet: no .parquet files in it');
  for (const name of splitNames(split)) {
    const mine = splitShards(all, name);
    if (mine.length === 0) continue;
    if (name !== split)
      tell(`dataset: --split ${split}: no ${split} shards, reading the ${name} shards`);
    return mine.map((file) => join(path, file));
  }
  if (!all.some((file) => KNOWN_SPLITS.some((name) => inSplit(file, name))))
    return all.map((file) => join(path, file));
  const shown = all.slice(0, 5).join(', ') + (all.length > 5 ? `, … (${all.length} files)` : '');
  throw inputPathError(
    '--data',
    path,
    `parquet: no shard of --split ${split} in it (expected {split}-*.parquet, {split}.parquet or {split}/*.parquet, found: ${shown})`,
  );
}

/** True when a folder holds at least one `.parquet` file (at most MAX_DEPTH levels down). */
export async function hasParquetFiles(path: string): Promise<boolean> {
  for await (const _ of parquetFiles(path, 0, () => {})) return true;
  return false;
}

/**
 * The shards of `split` among `files`, by the Hub's rules: those it names (see namesSplit);
 * when none does, those whose name has the split as a word of its own (`train_part2`,
 * `rocov2-valid-0`).
 */
export function splitShards(files: readonly string[], split: string): string[] {
  const named = files.filter((file) => namesSplit(file, split));
  return named.length > 0 ? named : files.filter((file) => mentionsSplit(file, split));
}

/** True when `file` is a shard of `split` by either of splitShards' rules. */
export function inSplit(file: string, split: string): boolean {
  return namesSplit(file, split) || mentionsSplit(file, split);
}

/** A shard path's folders and its file name without `.parquet`, in lower case. */
function shardParts(file: string): { dirs: string[]; stem: string } {
  const dirs = file.split(sep).join('/').toLowerCase().split('/');
  const stem = (dirs.pop() ?? '').replace(/\.parquet$/, '');
  return { dirs, stem };
}

/**
 * `{split}/…`, `{split}.parquet`, or a name that starts with the split and `-` or `.`
 * (`train-00000-of-00012.parquet`): `test_unlabeled-00000-of-00001` is another split's.
 */
function namesSplit(file: string, split: string): boolean {
  const { dirs, stem } = shardParts(file);
  const wanted = split.toLowerCase();
  if (dirs.includes(wanted) || stem === wanted) return true;
  return stem.startsWith(wanted) && /^[-.]/.test(stem.slice(wanted.length));
}

/**
 * The split as a word of the file name, between separators (`-`, `_`, `.`, a space or a
 * digit), as the Hub's keyword rule takes it; not in a Hub shard name of another split.
 */
function mentionsSplit(file: string, split: string): boolean {
  const { stem } = shardParts(file);
  const wanted = split.toLowerCase();
  const hubSplit = /^(.+)-\d{5}-of-\d{5}$/.exec(stem)?.[1];
  if (hubSplit !== undefined && hubSplit !== wanted) return false;
  const at = stem.indexOf(wanted);
  for (let i = at; i !== -1; i = stem.indexOf(wanted, i + 1)) {
    const before = i === 0 ? '' : stem[i - 1]!;
    const after = stem[i + wanted.length] ?? '';
    if (/^[-._ 0-9]?$/.test(before) && /^[-._ 0-9]?$/.test(after)) return true;
  }
  return false;
}

async function* parquetFiles(dir: string, depth: number, tell: TellShards): AsyncGenerator<string> {
  const only = basename(dir) === 'snapshots' ? await cacheSnapshot(dir, tell) : undefined;
  let entries: Awaited<ReturnType<typeof opendir>>;
  try {
    entries = await opendir(dir);
  } catch {
    return;
  }
  for await (const entry of entries) {
    if (entry.name.startsWith('.') || (only !== undefined && entry.name !== only)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory() && depth < MAX_DEPTH) yield* parquetFiles(path, depth + 1, tell);
    else if (/\.parquet$/i.test(entry.name) && (await isShardFile(entry, path))) yield path;
  }
}

/**
 * The snapshot to read of a Hugging Face cache folder (`datasets--org--name/snapshots/`,
 * beside `blobs/`), when it holds more than one: each revision downloaded has its own, and
 * reading them all would repeat the rows. The one `refs/main` names; without it, the newest.
 */
async function cacheSnapshot(dir: string, tell: TellShards): Promise<string | undefined> {
  const repo = dirname(dir);
  if (!(await isDirectory(join(repo, 'blobs')))) return undefined;
  const names = (await readdir(dir).catch(() => [] as string[])).filter(
    (name) => !name.startsWith('.'),
  );
  if (names.length < 2) return undefined;
  const main = (await readFile(join(repo, 'refs', 'main'), 'utf8').catch(() => '')).trim();
  if (names.includes(main)) {
    tell(
      `dataset: ${dir} holds ${names.length} snapshots: reading ${main}, the one refs/main names`,
    );
    return main;
  }
  const times = await Promise.all(
    names.map(async (name) => ({ name, time: (await stat(join(dir, name))).mtimeMs })),
  );
  const newest = times.reduce((a, b) => (b.time > a.time ? b : a));
  const why = main === '' ? 'no refs/main' : `refs/main names ${main}, which is not there`;
  tell(
    `dataset: ${dir} holds ${names.length} snapshots and ${why}: reading the newest, ${newest.name} (modified ${new Date(newest.time).toISOString()})`,
  );
  return newest.name;
}

/** A file, or a symbolic link to one: the Hugging Face cache links its shards into `blobs/`. */
async function isShardFile(entry: Dirent, path: string): Promise<boolean> {
  return entry.isFile() || (entry.isSymbolicLink() && (await isFile(path)));
}

/** `train-00000-of-00012` for fallback ids. */
export function shardStem(file: string): string {
  return basename(file).replace(/\.parquet$/i, '');
}
