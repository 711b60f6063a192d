import type { AsyncBuffer, FileMetaData } from 'hyparquet';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { ImageError } from '../../core/errors.js';
import type { ParquetColumns } from './columns.js';

/**
 * Image column bytes above which a row group is read in several blocks of rows, when the
 * file has an offset index to find the pages of a block. Hugging Face image shards use
 * row groups of 100 rows (a few MB to tens of MB), which are read whole.
 */
export const BLOCK_BYTES = 64 * 1024 * 1024;

/** Rows `[start, end)` of a shard whose image bytes are read together. */
export interface RowBlock {
  start: number;
  end: number;
}

/**
 * Reads image bytes of a shard for `Sample.readImage`, one block of rows (a row group, or a
 * slice of a very large one) at a time, and keeps only the most recently read block.
 *
 * Why a block and not one row: parquet stores a row group's image bytes as one compressed
 * column chunk, so reading a single row costs reading (and decompressing) its whole row
 * group; reading it again for each of its 100 rows would cost 100 times the I/O. The run
 * asks for images in dataset order, so keeping the current block serves each block from
 * one read. Images of rows not yet asked for are therefore held at most one block ahead,
 * and a block is dropped as soon as all its rows have been served (or when another block
 * is read), so memory stays near one block whatever the shard size. Each image is copied
 * out of the block, so a prepared image never pins the block's buffers.
 */
export class ParquetImages {
  private readonly blocks: readonly RowBlock[];
  private current: { block: number; values: Promise<unknown[]>; served: Set<number> } | undefined;
  /** Number of block reads, for tests. */
  reads = 0;

  constructor(
    private readonly file: string,
    private readonly buffer: AsyncBuffer,
    private readonly metadata: FileMetaData,
    private readonly column: ParquetColumns['image'],
    blockBytes: number = BLOCK_BYTES,
  ) {
    this.blocks = rowBlocks(metadata, column.name, blockBytes);
  }

  /** The encoded image of `row` (0-based row of this file). */
  async read(row: number): Promise<Uint8Array> {
    const place = `${this.file}#${row}`;
    const block = this.blockOf(row);
    if (block === undefined) throw new ImageError(`${place}: no such row in the file`);
    let current = this.current;
    if (current?.block !== block) {
      current = { block, values: this.readBlock(block), served: new Set() };
      this.current = current;
    }
    let values: unknown[];
    try {
      values = await current.values;
    } catch (error) {
      // The failed block stays current, so its other rows fail at once instead of re-reading.
      const range = this.blocks[block]!;
      throw new ImageError(
        `${place}: cannot read rows ${range.start}-${range.end - 1} of the image column '${this.column.name}' (${(error as Error).message})`,
        { code: 'IMAGE_READ', cause: error },
      );
    }
    const range = this.blocks[block]!;
    current.served.add(row);
    if (current.served.size >= range.end - range.start && this.current === current)
      this.current = undefined;
    return this.imageBytes(values[row - range.start], place);
  }

  private imageBytes(value: unknown, place: string): Uint8Array {
    let bytes: unknown = value;
    let path = '';
    if (this.column.kind === 'struct') {
      const struct = (value ?? {}) as { bytes?: unknown; path?: unknown };
      bytes = struct.bytes;
      if (typeof struct.path === 'string') path = struct.path;
    }
    const where = path ? ` (path '${path}')` : '';
    if (bytes === null || bytes === undefined)
      throw new ImageError(`${place}: no image bytes in column '${this.column.name}'${where}`, {
        code: 'IMAGE_MISSING',
      });
    if (!(bytes instanceof Uint8Array))
      throw new ImageError(`${place}: column '${this.column.name}' does not hold bytes`, {
        code: 'IMAGE_CORRUPT',
      });
    if (bytes.byteLength === 0)
      throw new ImageError(`${place}: empty image bytes in column '${this.column.name}'${where}`, {
        code: 'IMAGE_EMPTY',
      });
    return bytes.slice();
  }

  private blockOf(row: number): number | undefined {
    let low = 0;
    let high = this.blocks.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const block = this.blocks[middle]!;
      if (row < block.start) high = middle - 1;
      else if (row >= block.end) low = middle + 1;
      else return middle;
    }
    return undefined;
  }

  private async readBlock(block: number): Promise<unknown[]> {
    this.reads += 1;
    const range = this.blocks[block]!;
    const rows = await parquetReadObjects({
      file: this.buffer,
      metadata: this.metadata,
      columns: [this.column.name],
      rowStart: range.start,
      rowEnd: range.end,
      utf8: false,
      useOffsetIndex: true,
      compressors,
    });
    return rows.map((row) => row[this.column.name]);
  }
}

/**
 * Splits the file into blocks: one per row group, except that a row group whose image
 * column is larger than `blockBytes` and has an offset index is cut into equal slices
 * (hyparquet then reads only the pages of a slice).
 */
export function rowBlocks(metadata: FileMetaData, column: string, blockBytes: number): RowBlock[] {
  const blocks: RowBlock[] = [];
  let start = 0;
  for (const group of metadata.row_groups) {
    const rows = Number(group.num_rows);
    const chunks = group.columns.filter((c) => c.meta_data?.path_in_schema[0] === column);
    // Writers index only chunks of several pages (`image.bytes`, not `image.path`): slice when
    // the chunks without an index are small, by the size of those with one.
    let indexed = 0;
    let unindexed = 0;
    for (const chunk of chunks) {
      const size = Number(chunk.meta_data?.total_compressed_size ?? 0);
      if (chunk.offset_index_offset !== undefined && chunk.offset_index_length) indexed += size;
      else unindexed += size;
    }
    const pieces = unindexed < blockBytes ? Math.min(rows, Math.ceil(indexed / blockBytes)) : 1;
    const size = Math.ceil(rows / Math.max(1, pieces));
    for (let first = start; first < start + rows; first += size)
      blocks.push({ start: first, end: Math.min(first + size, start + rows) });
    start += rows;
  }
  return blocks;
}
