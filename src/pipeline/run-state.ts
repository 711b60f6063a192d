import type { CaptionConfig } from '../config/types.js';
import type { CaptionRow } from '../formats/captions-csv.js';
import type { JournalItem } from '../formats/journal-types.js';

/** `--batch-size auto` starts here and halves on out-of-memory. */
export const AUTO_BATCH_START = 32;

/** Bookkeeping of finished rows: dataset order, checkpoints, batch size in force. */
export class RunState {
  private readonly rows = new Map<number, CaptionRow>();
  /** Row indices in the order they finished, for checkpoints. */
  private readonly finishOrder: number[] = [];
  batchSize: number;
  finishedHere = 0;
  failedHere = 0;

  constructor(
    private readonly config: CaptionConfig,
    previous: Map<number, JournalItem>,
    readonly alreadyDone: number,
    engineBatchSize: number | undefined,
  ) {
    this.batchSize =
      engineBatchSize ?? (config.batchSize === 'auto' ? AUTO_BATCH_START : config.batchSize);
    for (const item of previous.values()) {
      this.rows.set(item.index, journalItemToRow(item));
      this.finishOrder.push(item.index);
    }
  }

  get finished(): number {
    return this.finishOrder.length;
  }

  /** Records finished items; returns the checkpoint counts crossed. */
  record(items: readonly JournalItem[]): number[] {
    const every = this.config.checkpointEvery;
    const before = this.finishOrder.length;
    for (const item of items) {
      if (!this.rows.has(item.index)) this.finishOrder.push(item.index);
      this.rows.set(item.index, journalItemToRow(item));
      this.finishedHere += 1;
      if (item.status === 'error') this.failedHere += 1;
    }
    if (every <= 0) return [];
    const crossed: number[] = [];
    for (let n = (Math.floor(before / every) + 1) * every; n <= this.finishOrder.length; n += every)
      crossed.push(n);
    return crossed;
  }

  /** The first `n` rows to finish, in dataset order. */
  rowsAfter(n: number): CaptionRow[] {
    return this.finishOrder
      .slice(0, n)
      .sort((a, b) => a - b)
      .map((index) => this.rows.get(index)!);
  }

  rowsInOrder(): CaptionRow[] {
    return [...this.rows.keys()].sort((a, b) => a - b).map((index) => this.rows.get(index)!);
  }
}

export function journalItemToRow(item: JournalItem): CaptionRow {
  const row: CaptionRow = {
    imageId: item.id,
    imagePath: item.path,
    references: item.references,
    generatedCaption: item.caption,
    processingTimeS: item.processingTimeS,
    batchSize: item.batchSize,
    engine: item.engine,
    model: item.model,
    status: item.status,
    error: item.error,
  };
  if (item.concepts !== undefined) row.concepts = item.concepts;
  return row;
}
