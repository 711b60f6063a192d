import { stringify } from 'csv-stringify/sync';
import { type CaptionRow, captionRowToRecord, captionsCsvHeader } from './captions-csv.js';

/**
 * The captions CSV held as text while rows arrive in any order. Each row is formatted once;
 * the file is the header plus the cached rows in dataset order, so writing it again after
 * more rows (a checkpoint every 100 images) costs a copy, not a re-format of every row.
 * The bytes equal `formatCaptionsCsv` of the same rows.
 */
export class CaptionsCsvText {
  /** Dataset indices held, ascending. */
  private readonly indices: number[] = [];
  private readonly entries = new Map<number, { row: CaptionRow; text: Buffer }>();
  private withConcepts = false;

  get size(): number {
    return this.indices.length;
  }

  /** Adds the row at dataset position `index`, or replaces the row already there. */
  set(index: number, row: CaptionRow): void {
    if (!this.withConcepts && row.concepts !== undefined) {
      // The concepts column appears: every row already held gains a cell.
      this.withConcepts = true;
      for (const entry of this.entries.values()) entry.text = formatRow(entry.row, true);
    }
    if (!this.entries.has(index)) {
      this.indices.splice(insertionPoint(this.indices, index), 0, index);
    }
    this.entries.set(index, { row, text: formatRow(row, this.withConcepts) });
  }

  /** Header + every row held, in dataset order. */
  toBuffer(): Buffer {
    const parts: Buffer[] = [Buffer.from(stringify([captionsCsvHeader(this.withConcepts)]))];
    for (const index of this.indices) parts.push(this.entries.get(index)!.text);
    return Buffer.concat(parts);
  }
}

function formatRow(row: CaptionRow, withConcepts: boolean): Buffer {
  return Buffer.from(stringify([captionRowToRecord(row, withConcepts)]));
}

/** Where `index` goes in the ascending `sorted`; rows mostly arrive in order, so try the end first. */
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
