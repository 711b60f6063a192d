import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { DatasetError } from '../../core/errors.js';
import { inputPathError } from '../../core/input-path.js';
import { readUtf8Stream } from '../../core/utf8.js';
import { checkDataPath } from '../data-path.js';
import { DuplicateTracker, folderImages, isDirectory, isFile } from '../files.js';
import { finishSample } from '../sample.js';
import { splitNames } from '../splits.js';
import type { DatasetLoader, DatasetSource } from '../types.js';

/**
 * ROCO v1 as its repository lays it out: `{split}/radiology/captions.txt` (ID<TAB>caption),
 * `dlinks.txt` beside it (ID<TAB>download command<TAB>file name), and the images that
 * `scripts/fetch.py` writes to `images/{PMC id}_{file name}`. Without `dlinks.txt` an image
 * is `images/{ID}.jpg`. `--data` may be the repository (its `data/` folder is looked in),
 * or a split's `radiology` or `non-radiology` folder; `--split valid` also finds `validation/`.
 */
export const rocoLoader: DatasetLoader = {
  format: 'roco',

  async detect(source) {
    return (await categoryDir(source)) !== undefined;
  },

  async check(source, logger) {
    const dir = await splitDir(source);
    if (dir !== source.path && basename(dir) !== 'radiology')
      logger?.info(
        `dataset: no ${source.split}/radiology/captions.txt, reading ${join(dir, 'captions.txt')}`,
      );
  },

  async *load(source) {
    const dir = await splitDir(source);
    const captions = join(dir, 'captions.txt');
    const imageDir = join(dir, 'images');
    const fileNames = await readDownloadLinks(join(dir, 'dlinks.txt'));
    const duplicates = new DuplicateTracker();
    const findImage = folderImages(imageDir);
    const lines = createInterface({
      input: readUtf8Stream(captions),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    let lineNumber = 0;
    let index = 0;
    for await (const raw of lines) {
      lineNumber += 1;
      const line = lineNumber === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (line.trim() === '') continue;
      const place = `${captions}:${lineNumber}`;
      const tab = line.indexOf('\t');
      if (tab === -1 && index === 0) throw new DatasetError(noTabMessage(place, line));
      const id = (tab === -1 ? line : line.slice(0, tab)).trim();
      const caption = tab === -1 ? '' : line.slice(tab + 1).trim();
      const problems: { message: string; fatal: boolean }[] = [];
      if (tab === -1) problems.push({ message: noTabMessage(place, line), fatal: true });
      if (id === '') problems.push({ message: `${place}: empty ID`, fatal: true });
      const first = id === '' ? undefined : duplicates.check(id, place);
      if (first)
        problems.push({
          message: `${place}: duplicate ID '${id}' (first at ${first})`,
          fatal: true,
        });
      const name = fileNames?.get(id) ?? `${id}.jpg`;
      const image = id === '' ? undefined : await findImage(id, name);
      yield await finishSample(
        {
          index,
          id: id === '' ? `row-${lineNumber}` : id,
          imagePath: image ?? join(imageDir, name),
          references: [caption],
          place,
          problems,
        },
        true,
        async () => image !== undefined,
      );
      index += 1;
    }
  },
};

/** A line with no TAB: on the first line the whole file is in another layout. */
function noTabMessage(place: string, line: string): string {
  const other = [',', ';', '|'].find((d) => line.includes(d));
  const hint = other ? ` (the file looks '${other}'-separated)` : '';
  return `${place}: expected ID<TAB>caption, found no TAB${hint}`;
}

/** ROCO's two halves of each split; radiology is what a run wants unless told otherwise. */
const CATEGORIES = Object.freeze(['radiology', 'non-radiology']);

/**
 * The folder holding `captions.txt`: `--data` itself when it is a `radiology` or
 * `non-radiology` folder (the way to choose non-radiology), else `{split}/radiology` in
 * `--data` or its `data/` folder, else `{split}/non-radiology` when radiology is absent.
 */
async function categoryDir(source: DatasetSource): Promise<string | undefined> {
  if (
    CATEGORIES.includes(basename(source.path)) &&
    (await isFile(join(source.path, 'captions.txt')))
  )
    return source.path;
  for (const category of CATEGORIES)
    for (const root of [source.path, join(source.path, 'data')]) {
      if (!(await isDirectory(root))) continue;
      for (const split of splitNames(source.split)) {
        const dir = join(root, split, category);
        if (await isFile(join(dir, 'captions.txt'))) return dir;
      }
    }
  return undefined;
}

/** categoryDir, or a ConfigError naming --data when the folder has no such split. */
async function splitDir(source: DatasetSource): Promise<string> {
  const dir = await categoryDir(source);
  if (dir !== undefined) return dir;
  await checkDataPath(source.path, 'roco');
  throw inputPathError(
    '--data',
    source.path,
    `roco: no ${join(source.split, 'radiology', 'captions.txt')} in it (expected {split}/radiology/captions.txt for --split ${source.split}, or a radiology or non-radiology folder with captions.txt)`,
  );
}

/**
 * `dlinks.txt`: ID, the command that downloads the article's archive (`…/PMC3970251.tar.gz`)
 * and the image's file name in it; fetch.py saves the image as `{PMC id}_{file name}`.
 * Undefined when there is no such file; a line that does not parse maps nothing.
 */
async function readDownloadLinks(path: string): Promise<Map<string, string> | undefined> {
  if (!(await isFile(path))) return undefined;
  const names = new Map<string, string>();
  const lines = createInterface({
    input: readUtf8Stream(path),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const line of lines) {
    const cells = line.split('\t');
    const pmc = /(PMC\d+)\.tar\.gz/.exec(line)?.[1];
    const file = cells.length >= 3 ? cells[cells.length - 1]!.trim() : '';
    if (pmc && file) names.set(cells[0]!.trim(), `${pmc}_${file}`);
  }
  return names;
}
