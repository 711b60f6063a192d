import { basename, dirname, isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import { readUtf8Stream } from '../../core/utf8.js';
import { checkDataPath } from '../data-path.js';
import { DuplicateTracker, fileStem, isFile, readCsvRecords } from '../files.js';
import { finishSample } from '../sample.js';
import type { DatasetLoader, Sample } from '../types.js';

/**
 * A manifest: CSV (header row) or JSONL, one item per row with `image` (path relative to
 * the manifest), optional `id` (default: the image's file name without extension), and
 * `caption` or `references` (JSON array of strings; in CSV a JSON array in the cell).
 */
export const manifestLoader: DatasetLoader = {
  format: 'manifest',

  async detect(source) {
    return /\.(csv|jsonl|ndjson)$/i.test(source.path) && (await isFile(source.path));
  },

  async check(source) {
    await checkDataPath(source.path, 'manifest');
  },

  async *load(source) {
    await checkDataPath(source.path, 'manifest');
    const rows = /\.csv$/i.test(source.path) ? csvRows(source.path) : jsonlRows(source.path);
    const duplicates = new DuplicateTracker();
    const root = dirname(source.path);
    let index = 0;
    for await (const row of rows) {
      yield await manifestSample(index, row, root, duplicates);
      index += 1;
    }
  },
};

interface ManifestRow {
  place: string;
  image: unknown;
  id: unknown;
  caption: unknown;
  references: unknown;
  concepts: unknown;
  /** A problem with the row itself (bad JSON). */
  problem?: string;
}

async function* csvRows(path: string): AsyncGenerator<ManifestRow> {
  for await (const record of readCsvRecords(path, { requiredColumns: ['image'] })) {
    const { line, fields } = record;
    let references: unknown = fields.references;
    let problem = record.problem;
    if (typeof references === 'string' && references.trim().startsWith('[')) {
      try {
        references = JSON.parse(references);
      } catch {
        problem ??= `'references' is not a JSON array of strings`;
      }
    }
    const row: ManifestRow = {
      place: `${path}:${line}`,
      image: fields.image,
      id: fields.id,
      caption: fields.caption,
      references,
      concepts: fields.concepts,
    };
    if (problem) row.problem = problem;
    yield row;
  }
}

/** A JSONL line with no fields to read, and why. */
function unreadableRow(place: string, problem: string): ManifestRow {
  return {
    place,
    image: undefined,
    id: undefined,
    caption: undefined,
    references: undefined,
    concepts: undefined,
    problem,
  };
}

async function* jsonlRows(path: string): AsyncGenerator<ManifestRow> {
  const lines = createInterface({
    input: readUtf8Stream(path),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let lineNumber = 0;
  for await (const raw of lines) {
    lineNumber += 1;
    const line = lineNumber === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (line.trim() === '') continue;
    const place = `${path}:${lineNumber}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      yield unreadableRow(place, `not valid JSON (${(error as Error).message})`);
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      yield unreadableRow(place, 'expected a JSON object');
      continue;
    }
    const fields = value as Record<string, unknown>;
    yield {
      place,
      image: fields.image,
      id: fields.id,
      caption: fields.caption,
      references: fields.references,
      concepts: fields.concepts,
    };
  }
}

async function manifestSample(
  index: number,
  row: ManifestRow,
  root: string,
  duplicates: DuplicateTracker,
): Promise<Sample> {
  const problems: { message: string; fatal: boolean }[] = [];
  if (row.problem) problems.push({ message: `${row.place}: ${row.problem}`, fatal: true });
  const image = typeof row.image === 'string' ? row.image.trim() : '';
  if (image === '' && !row.problem)
    problems.push({ message: `${row.place}: missing 'image'`, fatal: true });
  const imagePath = image === '' ? '' : isAbsolute(image) ? image : join(root, image);
  const explicitId =
    typeof row.id === 'string' || typeof row.id === 'number' ? String(row.id).trim() : '';
  const id = explicitId || (image ? basename(fileStem(image)) : `row-${index + 1}`);
  const first = duplicates.check(id, row.place);
  if (first)
    problems.push({
      message: `${row.place}: duplicate id '${id}' (first at ${first})`,
      fatal: true,
    });

  let references: string[] = [];
  if (Array.isArray(row.references)) {
    if (row.references.every((r) => typeof r === 'string')) references = row.references as string[];
    else
      problems.push({
        message: `${row.place}: 'references' must be an array of strings`,
        fatal: true,
      });
  } else if (typeof row.references === 'string' && row.references !== '') {
    references = [row.references];
  } else if (typeof row.caption === 'string') {
    references = [row.caption];
  }
  const draft = { index, id, imagePath, references, place: row.place, problems };
  const concepts = parseConcepts(row.concepts);
  return finishSample(concepts ? { ...draft, concepts } : draft, true);
}

function parseConcepts(value: unknown): string[] | undefined {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'string' && value.trim() !== '')
    return value
      .split(';')
      .map((c) => c.trim())
      .filter(Boolean);
  return undefined;
}
