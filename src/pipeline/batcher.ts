import { formatBytes } from '../config/size.js';
import type { Logger } from '../core/logger.js';
import type { PreparedImage } from '../engines/types.js';
import { preparedBytes } from '../images/preprocess.js';
import type { PreparedItem } from './prefetch.js';

export type ReadyItem = PreparedItem & { image: PreparedImage };
export type FailedItem = PreparedItem & { error: string };

/** What the batcher hands the run: a batch for the engine, or items that already failed. */
export type BatcherOutput =
  | { kind: 'batch'; items: ReadyItem[] }
  | { kind: 'failed'; items: FailedItem[] };

export interface BatcherOptions {
  /** Read before each batch is closed: `--batch-size auto` lowers it after out-of-memory. */
  batchSize: () => number;
  /** Cache budget in bytes; 0 (`--no-cache`) holds only the batch being assembled. */
  cacheBudget: number;
  /**
   * Group images by visual-token grid (the embedded engine needs it to batch without
   * padding). Servers take any mix of sizes, so for them every image is one group.
   */
  groupByGrid: boolean;
  logger: Logger;
}

/**
 * Groups prepared images into batches of one visual-token grid (so the engine needs no
 * padding).
 *
 * With a cache budget, images wait in per-grid buckets until a bucket is full; the buckets'
 * bytes never exceed the budget. When the next image would not fit, caching stops for the
 * rest of the run (said once): the waiting buckets are sent as they are and later images
 * stream through, batching runs of consecutive images of one grid. Without a cache, only
 * that streaming mode is used.
 */
export class Batcher {
  private readonly buckets = new Map<string, ReadyItem[]>();
  private assembly: ReadyItem[] = [];
  private caching: boolean;
  private heldBytes = 0;
  /** Largest number of bytes ever held in the cache's buckets. */
  peakCacheBytes = 0;

  constructor(private readonly options: BatcherOptions) {
    this.caching = options.cacheBudget > 0;
  }

  /** Bytes of prepared images waiting in the cache right now. */
  get cacheBytes(): number {
    return this.heldBytes;
  }

  get cachingStopped(): boolean {
    return this.options.cacheBudget > 0 && !this.caching;
  }

  async *batches(items: AsyncIterable<PreparedItem>): AsyncGenerator<BatcherOutput> {
    for await (const item of items) {
      if (item.error !== undefined || item.image === undefined) {
        yield { kind: 'failed', items: [item as FailedItem] };
        continue;
      }
      yield* this.add(item as ReadyItem);
    }
    yield* this.flushAll();
  }

  private *add(item: ReadyItem): Generator<BatcherOutput> {
    const key = this.groupKey(item.image);
    const size = Math.max(1, this.options.batchSize());
    if (this.caching) {
      const bucket = this.buckets.get(key) ?? [];
      if (bucket.length + 1 >= size) {
        this.buckets.delete(key);
        this.release(bucket);
        yield* this.split([...bucket, item], size);
        return;
      }
      const bytes = preparedBytes(item.image);
      if (this.heldBytes + bytes <= this.options.cacheBudget) {
        bucket.push(item);
        this.buckets.set(key, bucket);
        this.heldBytes += bytes;
        this.peakCacheBytes = Math.max(this.peakCacheBytes, this.heldBytes);
        return;
      }
      this.caching = false;
      this.options.logger.warn(
        `cache: budget of ${formatBytes(this.options.cacheBudget)} reached; caching stops and images stream from here ` +
          `(raise --cache-memory to batch mixed image sizes more fully)`,
      );
      yield* this.flushBuckets();
    }
    const current = this.assembly[0];
    if (current && this.groupKey(current.image) !== key) yield* this.flushAssembly();
    this.assembly.push(item);
    if (this.assembly.length >= size) yield* this.flushAssembly();
  }

  private *flushAssembly(): Generator<BatcherOutput> {
    if (this.assembly.length === 0) return;
    const items = this.assembly;
    this.assembly = [];
    yield* this.split(items, Math.max(1, this.options.batchSize()));
  }

  private *flushBuckets(): Generator<BatcherOutput> {
    const buckets = [...this.buckets.values()];
    this.buckets.clear();
    for (const bucket of buckets) {
      this.release(bucket);
      yield* this.split(bucket, Math.max(1, this.options.batchSize()));
    }
  }

  private *flushAll(): Generator<BatcherOutput> {
    yield* this.flushBuckets();
    yield* this.flushAssembly();
  }

  private *split(items: ReadyItem[], size: number): Generator<BatcherOutput> {
    for (let start = 0; start < items.length; start += size) {
      yield { kind: 'batch', items: items.slice(start, start + size) };
    }
  }

  private groupKey(image: PreparedImage): string {
    return this.options.groupByGrid ? gridKey(image) : 'any';
  }

  private release(bucket: readonly ReadyItem[]): void {
    for (const item of bucket) this.heldBytes -= preparedBytes(item.image);
  }
}

export function gridKey(image: PreparedImage): string {
  return `${image.height}x${image.width}`;
}
