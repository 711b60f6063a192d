import type { AsyncBuffer, FileMetaData } from 'hyparquet';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { DatasetError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { DuplicateTracker, isDirectory, isFile, isGitLfsPointerFile } from '../files.js';
import { finishSample } from '../sample.js';
import type { DatasetLoader, DatasetSource, Sample } from '../types.js';
import {
  conceptList,
  idText,
  type ParquetColumns,
  parquetColumns,
  referenceList,
} from './columns.js';
import { ParquetImages } from './images.js';
import { hasParquetFiles, parquetShards, shardStem } from './shards.js';

/**
 * Hugging Face dataset shards (parquet): ROCOv2 on the Hub has `image` ({bytes, path}),
 * `image_id`, `caption` and `cui`; `id`, `text` and a plain binary image column also work.
 * Shards are read one row group at a time, and only the small columns while listing items;
 * image bytes are read when the run asks for them (see ParquetImages).
 */
export const parquetLoader: DatasetLoader = {
  format: 'parquet',

  async detect(source) {
    if (await isFile(source.path)) return /\.parquet$/i.test(source.path);
    return (await isDirectory(source.path)) && hasParquetFiles(source.path);
  },

  async check(source, logger) {
    await shardsOf(source, logger);
  },

  async *load(source) {
    const shards = await shardsOf(source);
    const duplicates = new DuplicateTracker();
    let index = 0;
    for (const file of shards) {
      for await (const sample of shardSamples(file, index, duplicates)) {
        yield sample;
        index += 1;
      }
    }
  },
};

/**
 * The shards of a dataset source, looked for once: check() finds them before --out is made,
 * and a run's passes over the items (the plan, then the stream) read the same list.
 */
const shardLists = new WeakMap<DatasetSource, Promise<string[]>>();

function shardsOf(source: DatasetSource, logger?: Logger): Promise<string[]> {
  let shards = shardLists.get(source);
  if (shards === undefined) {
    shards = parquetShards(source.path, source.split, (message) => logger?.info(message));
    shardLists.set(source, shards);
  }
  return shards;
}

async function* shardSamples(
  file: string,
  firstIndex: number,
  duplicates: DuplicateTracker,
): AsyncGenerator<Sample> {
  const { buffer, metadata } = await openShard(file);
  const columns = parquetColumns(metadata, file);
  const images = new ParquetImages(file, buffer, metadata, columns.image);
  const small = [columns.id, columns.caption, columns.concepts].filter(
    (c): c is string => c !== undefined,
  );
  let index = firstIndex;
  let groupStart = 0;
  for (const group of metadata.row_groups) {
    const groupRows = Number(group.num_rows);
    const rows = await readSmallColumns(file, buffer, metadata, small, groupStart, groupRows);
    for (const [offset, fields] of rows.entries()) {
      yield await parquetSample(file, groupStart + offset, index, fields, columns, {
        duplicates,
        images,
      });
      index += 1;
    }
    groupStart += groupRows;
  }
}

export async function openShard(
  file: string,
): Promise<{ buffer: AsyncBuffer; metadata: FileMetaData }> {
  try {
    const buffer = await asyncBufferFromFile(file);
    const metadata = await parquetMetadataAsync(buffer);
    return { buffer, metadata };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DatasetError(`${file}: file not found`, { cause: error });
    if (await isGitLfsPointerFile(file))
      throw new DatasetError(
        `${file}: is a Git LFS pointer, not the file: run \`git lfs pull\` in the clone`,
        { cause: error },
      );
    throw new DatasetError(`${file}: not a readable parquet file (${(error as Error).message})`, {
      cause: error,
    });
  }
}

/** The id, caption and concept cells of one row group (no image bytes). */
async function readSmallColumns(
  file: string,
  buffer: AsyncBuffer,
  metadata: FileMetaData,
  columns: string[],
  rowStart: number,
  rowCount: number,
): Promise<Record<string, unknown>[]> {
  if (columns.length === 0) return Array.from({ length: rowCount }, () => ({}));
  try {
    return await parquetReadObjects({
      file: buffer,
      metadata,
      columns,
      rowStart,
      rowEnd: rowStart + rowCount,
      compressors,
    });
  } catch (error) {
    throw new DatasetError(
      `${file}: cannot read rows ${rowStart}-${rowStart + rowCount - 1} (${(error as Error).message})`,
      { cause: error },
    );
  }
}

async function parquetSample(
  file: string,
  row: number,
  index: number,
  fields: Record<string, unknown>,
  columns: ParquetColumns,
  context: { duplicates: DuplicateTracker; images: ParquetImages },
): Promise<Sample> {
  const place = `${file}#${row}`;
  const problems: { message: string; fatal: boolean }[] = [];
  let id = columns.id ? idText(fields[columns.id]) : '';
  if (id === '') {
    const fallback = `${shardStem(file)}-${row}`;
    if (columns.id)
      problems.push({
        message: `${place}: empty '${columns.id}', using '${fallback}'`,
        fatal: false,
      });
    id = fallback;
  }
  const first = context.duplicates.check(id, place);
  if (first)
    problems.push({ message: `${place}: duplicate id '${id}' (first at ${first})`, fatal: true });
  const draft = {
    index,
    id,
    imagePath: place,
    references: columns.caption ? referenceList(fields[columns.caption]) : [],
    place,
    problems,
    ...(columns.concepts ? { concepts: conceptList(fields[columns.concepts]) } : {}),
  };
  const sample = await finishSample(draft, columns.caption !== undefined, async () => true);
  sample.readImage = () => context.images.read(row);
  return sample;
}

/**
 * The encoded image of one row, named as the loader names it (`file.parquet#row`), for
 * readers outside a run (the report's thumbnails).
 */
export async function readParquetImage(file: string, row: number): Promise<Uint8Array> {
  const { buffer, metadata } = await openShard(file);
  return new ParquetImages(file, buffer, metadata, parquetColumns(metadata, file).image).read(row);
}
