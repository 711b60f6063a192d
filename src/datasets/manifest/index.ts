import { basename, dirname, isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import { readUtf8Stream } from '../../core/utf8.js';
import { checkDataPath } from '../data-path.js';
import { DuplicateTracker, fileStem, isFile, readCsvRecords } from '../files.js';
import { finishSample } from '../sample.js';
import type { DatasetLoader, Sample } from '../types.js';

/**
 * A manifest: CSV (header row) or JSONL, one item per row with `image` (path relative to
 * the manifest), optional `id` (default: the image's file name without extension, or its
 * path relative to the manifest without extension when another row's image has the same
 * file name), and `caption` (a string; in JSONL also an array of strings) or `references`
 * (JSON array of strings; in CSV a JSON array in the cell).
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
    const context = {
      root: dirname(source.path),
      duplicates: new DuplicateTracker(),
      sharedNames: await sharedFileNames(source.path),
    };
    let index = 0;
    for await (const row of manifestRows(source.path)) {
      yield await manifestSample(index, row, context);
      index += 1;
    }
  },
};

/** The fields a row is read by; one spelled in another case would be ignored without a word. */
const FIELDS = Object.freeze(['image', 'id', 'caption', 'references', 'concepts'] as const);

function manifestRows(path: string): AsyncGenerator<ManifestRow> {
  return /\.csv$/i.test(path) ? csvRows(path) : jsonlRows(path);
}

/**
 * The default ids (file names without extension) that rows without an `id` naming different
 * images would share: those rows are told apart by their path (`p1/image`, `p2/image`). Read
 * in a pass of its own, so that a row's id does not depend on --limit or --shard.
 */
async function sharedFileNames(path: string): Promise<Set<string>> {
  const firstPath = new Map<string, string>();
  const shared = new Set<string>();
  for await (const row of manifestRows(path)) {
    const image = imageOf(row);
    if (image === '' || explicitId(row) !== '') continue;
    const name = fileNameId(image);
    const first = firstPath.get(name);
    if (first === undefined) firstPath.set(name, pathId(image));
    else if (first !== pathId(image)) shared.add(name);
  }
  return shared;
}

function imageOf(row: ManifestRow): string {
  return typeof row.image === 'string' ? row.image.trim() : '';
}

function explicitId(row: ManifestRow): string {
  return typeof row.id === 'string' || typeof row.id === 'number' ? String(row.id).trim() : '';
}

function fileNameId(image: string): string {
  return basename(fileStem(image.split('\\').join('/')));
}

/** The image's path without extension, with `/` separators, as a folder dataset's ids. */
function pathId(image: string): string {
  return fileStem(image)
    .split('\\')
    .join('/')
    .replace(/^(\.\/)+/, '');
}

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
  const columns = {
    requiredColumns: ['image'],
    optionalColumns: FIELDS.filter((name) => name !== 'image'),
    explainHeader: imageFolderHint,
  };
  for await (const record of readCsvRecords(path, columns)) {
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
    const row: ManifestRow = {
      place,
      image: fields.image,
      id: fields.id,
      caption: fields.caption,
      references: fields.references,
      concepts: fields.concepts,
    };
    const problem = keyProblem(Object.keys(fields));
    if (problem !== undefined) row.problem = problem;
    yield row;
  }
}

/** A JSONL line's key that names a field in another case (`Caption`), which would be ignored. */
function keyProblem(keys: readonly string[]): string | undefined {
  const wrong = FIELDS.flatMap((field) => {
    if (keys.includes(field)) return [];
    const near = keys.find((key) => key.toLowerCase() === field);
    return near === undefined ? [] : [`key '${near}' must be spelled '${field}'`];
  });
  if (wrong.length > 0) return `${wrong.join(', ')} (as written it would be ignored)`;
  const hint = keys.includes('image') ? undefined : imageFolderHint(keys);
  return hint === undefined ? undefined : `missing 'image' (${hint})`;
}

/**
 * A Hugging Face ImageFolder `metadata.csv`/`metadata.jsonl` names the image `file_name`
 * (and the caption, often, `text`): say what to rename.
 */
function imageFolderHint(names: readonly string[]): string | undefined {
  if (!names.includes('file_name')) return undefined;
  const text =
    names.includes('text') && !names.includes('caption') ? " and 'text' to 'caption'" : '';
  return `this looks like a Hugging Face ImageFolder metadata file: rename 'file_name' to 'image'${text}`;
}

async function manifestSample(
  index: number,
  row: ManifestRow,
  context: { root: string; duplicates: DuplicateTracker; sharedNames: ReadonlySet<string> },
): Promise<Sample> {
  const problems: { message: string; fatal: boolean }[] = [];
  if (row.problem) problems.push({ message: `${row.place}: ${row.problem}`, fatal: true });
  const image = imageOf(row);
  if (image === '' && !row.problem)
    problems.push({ message: `${row.place}: missing 'image'`, fatal: true });
  const imagePath = image === '' ? '' : isAbsolute(image) ? image : join(context.root, image);
  const id = explicitId(row) || defaultId(image, index, context.sharedNames);
  const first = context.duplicates.check(id, row.place);
  if (first)
    problems.push({
      message: `${row.place}: duplicate id '${id}' (first at ${first})`,
      fatal: true,
    });
  const { references, problem } = rowReferences(row);
  if (problem) problems.push({ message: `${row.place}: ${problem}`, fatal: true });
  const draft = { index, id, imagePath, references, place: row.place, problems };
  const concepts = parseConcepts(row.concepts);
  return finishSample(concepts ? { ...draft, concepts } : draft, true);
}

function defaultId(image: string, index: number, sharedNames: ReadonlySet<string>): string {
  if (image === '') return `row-${index + 1}`;
  const name = fileNameId(image);
  return sharedNames.has(name) ? pathId(image) : name;
}

/**
 * The row's references: `references` (an array of strings, or one string), else `caption`
 * (a string, or in JSONL an array of strings); a value of another type is a problem.
 */
function rowReferences(row: ManifestRow): { references: string[]; problem?: string } {
  const listed = stringList(row.references);
  if (listed === undefined && !isBlank(row.references))
    return { references: [], problem: "'references' must be an array of strings" };
  if (listed !== undefined && listed.length > 0) return { references: listed };
  const caption = stringList(row.caption);
  if (caption === undefined && !isBlank(row.caption))
    return { references: [], problem: "'caption' must be a string or an array of strings" };
  return { references: caption ?? [] };
}

/** A string as a one-element list, an array of strings as itself, else undefined. */
function stringList(value: unknown): string[] | undefined {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  return undefined;
}

function isBlank(value: unknown): boolean {
  return value === undefined || value === null;
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
