import { type CaptionRow, captionRowToRecord, captionsCsvHeader } from './captions-csv.js';
import { csvLine } from './csv-text.js';

/** Rows per block: small enough that rebuilding one block is cheap, large enough that a
 * 60,000-row file is a few hundred pieces. */
const BLOCK_ROWS = 512;

interface Block {
  /** Dataset indices, ascending. */
  indices: number[];
  rows: CaptionRow[];
  /** Each row's CSV text; dropped once a full block is joined (rebuilt from `rows` if needed). */
  texts: string[] | undefined;
  /** The block's rows as one piece of CSV text; rebuilt after a change. */
  joined: Buffer | undefined;
}

/**
 * The captions CSV held as text while rows arrive in any order. Each row is formatted once
 * and kept in blocks of consecutive rows whose joined bytes are cached, so writing the file
 * again after more rows (a checkpoint every 100 images) costs about one copy of the bytes,
 * not a re-format of every row. The bytes equal `formatCaptionsCsv` of the same rows.
 */
export class CaptionsCsvText {
  private readonly blocks: Block[] = [];
  private withConcepts = false;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Adds the row at dataset position `index`, or replaces the row already there. */
  set(index: number, row: CaptionRow): void {
    if (!this.withConcepts && row.concepts !== undefined) {
      // The concepts column appears: every row already held gains a cell.
      this.withConcepts = true;
      for (const block of this.blocks) {
        block.texts = undefined;
        block.joined = undefined;
      }
    }
    const text = formatRow(row, this.withConcepts);
    const block = this.blockFor(index);
    const at = insertionPoint(block.indices, index);
    const texts = this.textsOf(block);
    block.joined = undefined;
    if (block.indices[at] === index) {
      block.rows[at] = row;
      texts[at] = text;
      return;
    }
    block.indices.splice(at, 0, index);
    block.rows.splice(at, 0, row);
    texts.splice(at, 0, text);
    this.count += 1;
    if (block.indices.length >= 2 * BLOCK_ROWS) this.split(block);
  }

  /** Header + every row held, in dataset order, as a few large pieces (for a vectored write). */
  toParts(): Buffer[] {
    const parts: Buffer[] = [Buffer.from(`${csvLine(captionsCsvHeader(this.withConcepts))}\n`)];
    for (const block of this.blocks) {
      if (block.joined === undefined) {
        block.joined = Buffer.from(this.textsOf(block).join(''));
        // A full block rarely changes again: keep its bytes only.
        if (block.indices.length >= BLOCK_ROWS) block.texts = undefined;
      }
      parts.push(block.joined);
    }
    return parts;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.toParts());
  }

  /** The block `index` belongs in: the last one starting at or before it. */
  private blockFor(index: number): Block {
    const last = this.blocks.at(-1);
    if (last === undefined || index > last.indices.at(-1)!) {
      // The common case: after every row held; a full last block starts a new one.
      if (last !== undefined && last.indices.length < BLOCK_ROWS) return last;
      const fresh: Block = { indices: [], rows: [], texts: [], joined: undefined };
      this.blocks.push(fresh);
      return fresh;
    }
    let low = 0;
    let high = this.blocks.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.blocks[middle]!.indices[0]! <= index) low = middle;
      else high = middle - 1;
    }
    return this.blocks[low]!;
  }

  private textsOf(block: Block): string[] {
    block.texts ??= block.rows.map((row) => formatRow(row, this.withConcepts));
    return block.texts;
  }

  private split(block: Block): void {
    const half = block.indices.length >> 1;
    const tail: Block = {
      indices: block.indices.splice(half),
      rows: block.rows.splice(half),
      texts: this.textsOf(block).splice(half),
      joined: undefined,
    };
    block.joined = undefined;
    this.blocks.splice(this.blocks.indexOf(block) + 1, 0, tail);
  }
}

function formatRow(row: CaptionRow, withConcepts: boolean): string {
  return `${csvLine(captionRowToRecord(row, withConcepts))}\n`;
}

/** Where `index` goes in the ascending `sorted`; try the end first. */
function insertionPoint(sorted: readonly number[], index: number): number {
  let high = sorted.length;
  if (high === 0 || sorted[high - 1]! < index) return high;
  let low = 0;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < index) low = middle + 1;
    else high = middle;
  }
  return low;
}
