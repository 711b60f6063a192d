import { join } from 'node:path';
import { DatasetError } from '../../core/errors.js';
import { type CsvRecord, DuplicateTracker, folderIndex, isFile, readCsvRecords } from '../files.js';
import { finishSample } from '../sample.js';
import type { DatasetLoader, DatasetSource, Sample } from '../types.js';

/**
 * ROCOv2 (ImageCLEFmedical Caption): `{split}_captions.csv` (ID,Caption), images in
 * `{split}/{ID}.jpg`, optional `{split}_concepts.csv` (ID,CUIs with `;` between CUIs).
 */
export const rocov2Loader: DatasetLoader = {
  format: 'rocov2',

  async detect(source) {
    return isFile(captionsFile(source));
  },

  async *load(source) {
    const captions = captionsFile(source);
    if (!(await isFile(captions))) {
      throw new DatasetError(
        `rocov2: ${captions} not found (expected {split}_captions.csv for --split ${source.split})`,
      );
    }
    const concepts = await readConcepts(join(source.path, `${source.split}_concepts.csv`));
    const imageDir = join(source.path, source.split);
    const duplicates = new DuplicateTracker();
    const exists = folderIndex(imageDir);
    let index = 0;
    for await (const record of readCsvRecords(captions, {
      requiredColumns: ['ID', 'Caption'],
    })) {
      yield await rocov2Sample(index, record, {
        captions,
        imageDir,
        concepts,
        duplicates,
        exists,
      });
      index += 1;
    }
  },
};

function captionsFile(source: DatasetSource): string {
  return join(source.path, `${source.split}_captions.csv`);
}

async function rocov2Sample(
  index: number,
  { line, fields, problem }: CsvRecord,
  context: {
    captions: string;
    imageDir: string;
    concepts: Map<string, string[]> | undefined;
    duplicates: DuplicateTracker;
    exists: (path: string) => Promise<boolean>;
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
  const draft = {
    index,
    id: id === '' ? `row-${line}` : id,
    imagePath: join(context.imageDir, `${id}.jpg`),
    references: [fields.Caption ?? ''],
    place,
    problems,
    ...(context.concepts ? { concepts: context.concepts.get(id) ?? [] } : {}),
  };
  return finishSample(draft, true, context.exists);
}

/**
 * The concepts file is small (ids and CUIs only), so it is read into a map. A bad row here is
 * an error for the whole file: it is read before anything runs, and a guess would put the
 * wrong CUIs into every output.
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
    const first = lines.get(id);
    if (first !== undefined)
      throw new DatasetError(`${path}:${line}: duplicate ID '${id}' (first at line ${first})`);
    lines.set(id, line);
    const cuis = (fields.CUIs ?? '')
      .split(';')
      .map((c) => c.trim())
      .filter(Boolean);
    concepts.set(id, cuis);
  }
  return concepts;
}
