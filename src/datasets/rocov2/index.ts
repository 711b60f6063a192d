import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DatasetError } from '../../core/errors.js';
import { inputPathError } from '../../core/input-path.js';
import { checkDataPath } from '../data-path.js';
import {
  type CsvRecord,
  DuplicateTracker,
  folderImages,
  IMAGE_EXTENSIONS,
  idWithoutImageExtension,
  isDirectory,
  isFile,
  readCsvRecords,
} from '../files.js';
import { folderSamples } from '../folder/index.js';
import { finishSample } from '../sample.js';
import { splitNames } from '../splits.js';
import type { DatasetLoader, DatasetSource, Sample } from '../types.js';

/**
 * ROCOv2 (ImageCLEFmedical Caption): `{split}_captions.csv` (ID,Caption), images in
 * `{split}/{ID}.jpg`, optional `{split}_concepts.csv` (ID,CUIs with `;` between CUIs).
 * A split released without captions (a challenge's test images) is its `{split}/` folder
 * beside the other splits' captions files: captioned without references.
 */
export const rocov2Loader: DatasetLoader = {
  format: 'rocov2',

  // Any split's captions file says ROCOv2, so that a --split it lacks is an error (check)
  // rather than the whole tree captioned as a plain folder of images.
  async detect(source) {
    return (
      (await isFile(captionsFile(source.path, source.split))) ||
      (await captionsFiles(source.path)).length > 0
    );
  },

  async check(source, logger) {
    const { split, captions } = await splitFiles(source);
    if (split !== source.split)
      logger?.info(
        `dataset: --split ${source.split}: no ${source.split}_captions.csv, reading ${captions === undefined ? `${split}/ (images without captions)` : basename(captions)}`,
      );
  },

  async *load(source) {
    const { split, captions } = await splitFiles(source);
    const imageDir = join(source.path, split);
    if (captions === undefined) {
      yield* folderSamples(imageDir, { extensions: IMAGE_EXTENSIONS });
      return;
    }
    const concepts = await readConcepts(join(source.path, `${split}_concepts.csv`));
    const duplicates = new DuplicateTracker();
    const findImage = folderImages(imageDir);
    let index = 0;
    for await (const record of readCsvRecords(captions, {
      requiredColumns: ['ID', 'Caption'],
    })) {
      yield await rocov2Sample(index, record, {
        captions,
        imageDir,
        concepts,
        duplicates,
        findImage,
      });
      index += 1;
    }
  },
};

function captionsFile(path: string, split: string): string {
  return join(path, `${split}_captions.csv`);
}

/**
 * The split's name in the folder (`--split validation` reads `valid_captions.csv` when there
 * is no `validation_captions.csv`, see splitNames) and its captions file, undefined for a split
 * released without captions; a ConfigError naming --data when the folder holds neither.
 */
async function splitFiles(source: DatasetSource): Promise<{ split: string; captions?: string }> {
  const names = splitNames(source.split);
  for (const split of names) {
    const captions = captionsFile(source.path, split);
    if (await isFile(captions)) return { split, captions };
  }
  await checkDataPath(source.path, 'rocov2');
  const others = await captionsFiles(source.path);
  // A split released without captions: its `{split}/` folder beside the others' files.
  if (others.length > 0)
    for (const split of names) if (await isDirectory(join(source.path, split))) return { split };
  const holds = others.length > 0 ? `; it holds ${others.join(', ')}` : '';
  throw inputPathError(
    '--data',
    source.path,
    `rocov2: no ${source.split}_captions.csv in it (expected {split}_captions.csv for --split ${source.split}${holds})`,
  );
}

/** The `*_captions.csv` files (any split's) in `dir`, by name. */
async function captionsFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((name) => name.endsWith('_captions.csv')).sort();
}

async function rocov2Sample(
  index: number,
  { line, fields, problem }: CsvRecord,
  context: {
    captions: string;
    imageDir: string;
    concepts: Map<string, string[]> | undefined;
    duplicates: DuplicateTracker;
    findImage: (id: string, name: string) => Promise<string | undefined>;
  },
): Promise<Sample> {
  const place = `${context.captions}:${line}`;
  const id = (fields.ID ?? '').trim();
  const problems: { message: string; fatal: boolean }[] = [];
  if (problem) problems.push({ message: `${place}: ${problem}`, fatal: true });
  if (id === '') problems.push({ message: `${place}: empty ID`, fatal: true });
  const first = id === '' ? undefined : context.duplicates.check(id, place);
  if (first)
    problems.push({ message: `${place}: duplicate ID '${id}' (first at ${first})`, fatal: true });
  const image = id === '' ? undefined : await context.findImage(id, `${id}.jpg`);
  const draft = {
    index,
    id: id === '' ? `row-${line}` : id,
    imagePath: image ?? join(context.imageDir, `${id}.jpg`),
    references: [fields.Caption ?? ''],
    place,
    problems,
    ...(context.concepts
      ? { concepts: context.concepts.get(idWithoutImageExtension(id)) ?? [] }
      : {}),
  };
  return finishSample(draft, true, async () => image !== undefined);
}

/**
 * The concepts file is small (ids and CUIs only), so it is read into a map, keyed by the ID
 * without an image extension (the captions file may write `x` where this one has `x.jpg`).
 * A bad row here is an error for the whole file: it is read before anything runs, and a
 * guess would put the wrong CUIs into every output.
 */
async function readConcepts(path: string): Promise<Map<string, string[]> | undefined> {
  if (!(await isFile(path))) return undefined;
  const concepts = new Map<string, string[]>();
  const lines = new Map<string, number>();
  for await (const { line, fields, problem } of readCsvRecords(path, {
    requiredColumns: ['ID', 'CUIs'],
  })) {
    const id = (fields.ID ?? '').trim();
    if (problem)
      throw new DatasetError(`${path}:${line}: ${problem} (CUIs go in one cell, separated by ';')`);
    if (id === '') throw new DatasetError(`${path}:${line}: empty ID`);
    const key = idWithoutImageExtension(id);
    const first = lines.get(key);
    if (first !== undefined)
      throw new DatasetError(`${path}:${line}: duplicate ID '${id}' (first at line ${first})`);
    lines.set(key, line);
    const cuis = (fields.CUIs ?? '')
      .split(';')
      .map((c) => c.trim())
      .filter(Boolean);
    concepts.set(key, cuis);
  }
  return concepts;
}
