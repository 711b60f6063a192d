import type { CaptionConfig } from '../config/types.js';
import type { CaptionRow } from '../formats/captions-csv.js';
import { CaptionsCsvText } from '../formats/captions-csv-text.js';
import type { JournalItem } from '../formats/journal-types.js';

/** `--batch-size auto` starts here and halves on out-of-memory. */
export const AUTO_BATCH_START = 32;

/** A checkpoint crossed: `checkpoint_{n}.csv` and its bytes, in pieces. */
export interface Checkpoint {
  n: number;
  parts: Buffer[];
}

/** Bookkeeping of finished rows: dataset order, checkpoints, batch size in force. */
export class RunState {
  private readonly rows = new Map<number, CaptionRow>();
  /** The captions CSV of every row finished so far, formatted once per row. */
  private readonly csv = new CaptionsCsvText();
  private finishedCount = 0;
  /** Checkpoints the journal had crossed whose files are missing (a crash came between). */
  readonly rebuiltCheckpoints: Checkpoint[] = [];
  batchSize: number;
  finishedHere = 0;
  failedHere = 0;

  /**
   * `rebuild` names checkpoints already crossed by the journaled items whose files should be
   * written again; they are rebuilt as they stood after their n-th journaled image.
   */
  constructor(
    private readonly config: CaptionConfig,
    previous: Map<number, JournalItem>,
    readonly alreadyDone: number,
    engineBatchSize: number | undefined,
    rebuild: ReadonlySet<number> = new Set(),
  ) {
    this.batchSize =
      engineBatchSize ?? (config.batchSize === 'auto' ? autoStart(previous) : config.batchSize);
    for (const item of previous.values()) {
      this.add(item);
      if (rebuild.has(this.finishedCount))
        this.rebuiltCheckpoints.push({ n: this.finishedCount, parts: this.csv.toParts() });
    }
  }

  get finished(): number {
    return this.finishedCount;
  }

  /**
   * Records finished items (in the order they finished); returns the checkpoints crossed,
   * each holding the first n rows to finish, in dataset order.
   */
  record(items: readonly JournalItem[]): Checkpoint[] {
    const every = this.config.checkpointEvery;
    const crossed: Checkpoint[] = [];
    for (const item of items) {
      const isNew = this.add(item);
      this.finishedHere += 1;
      if (item.status === 'error') this.failedHere += 1;
      if (isNew && every > 0 && this.finishedCount % every === 0)
        crossed.push({ n: this.finishedCount, parts: this.csv.toParts() });
    }
    return crossed;
  }

  rowsInOrder(): CaptionRow[] {
    return [...this.rows.keys()].sort((a, b) => a - b).map((index) => this.rows.get(index)!);
  }

  /** The captions CSV of every row, in dataset order. */
  captionsCsv(): Buffer[] {
    return this.csv.toParts();
  }

  private add(item: JournalItem): boolean {
    const isNew = !this.rows.has(item.index);
    const row = journalItemToRow(item);
    this.rows.set(item.index, row);
    this.csv.set(item.index, row);
    if (isNew) this.finishedCount += 1;
    return isNew;
  }
}

/**
 * `--batch-size auto` resumes at the size the journal's last batch used, when smaller: a run
 * that backed off after out-of-memory would otherwise fail the same way again on resume (or,
 * where the kernel kills it instead, never get past it).
 */
function autoStart(previous: Map<number, JournalItem>): number {
  let latest: JournalItem | undefined;
  for (const item of previous.values()) if (!latest || item.time >= latest.time) latest = item;
  return latest && latest.batchSize >= 1
    ? Math.min(AUTO_BATCH_START, latest.batchSize)
    : AUTO_BATCH_START;
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
